#!/usr/bin/env bash
# Runs ../shared/anchors/compare-http.sh with its one defect fixed: the anchor serves from a
# `mktemp -d` root (mode 0700) that nginx's workers (user nobody) cannot read, so nginx
# answers every request with 403 and the comparison measures error pages. This makes the
# root 0755 and changes nothing else. Same arguments as the anchor:
#   bench/compare-http-fixed.sh URINGD_BIN [rounds=3] [seconds=5] [conns=64] [path=/4k.bin] [serve args...]
set -euo pipefail
anchors=$(cd "$(dirname "$0")/../../shared/anchors" && pwd)
fixed=$(mktemp); trap 'rm -f "$fixed"' EXIT
sed -e 's|^root=$(mktemp -d); trap|root=$(mktemp -d); chmod 755 "$root"; trap|' \
    -e "s|^here=.*|here=$anchors|" "$anchors/compare-http.sh" >"$fixed"
grep -q 'chmod 755 "$root"' "$fixed" || { echo "compare-http.sh changed: fix not applied" >&2; exit 1; }
bash "$fixed" "$@"
