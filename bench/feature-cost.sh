#!/usr/bin/env bash
# What serve's features cost on the plain path, and what serving a precompressed sibling costs
# (issue 16). Same sitting, alternating rounds, medians:
#  1. ../shared/anchors/compare-http.sh's uringd/nginx ratio on /4k.bin and /1m.bin for a
#     binary without the features (BEFORE) and one with them unused (AFTER), round by round;
#  2. AFTER with --precompressed br: /app.js asked for as brotli, against the same file asked
#     for plain, and against a plain file as large as app.js.br (the cost of the sibling path
#     itself, bytes apart). Every answer is checked for status and bytes before timing.
# Usage: bench/feature-cost.sh BEFORE_BIN AFTER_BIN [rounds=5] [seconds=5] [conns=64]
# PARTS=2 runs part 2 alone (PARTS=1 part 1; default both).
set -euo pipefail
before=$(realpath "$1"); after=$(realpath "$2"); rounds=${3:-5}; secs=${4:-5}; conns=${5:-64}
here=$(cd "$(dirname "$0")" && pwd)
anchors=${ANCHORS:-$here/../../shared/anchors}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v brotli >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq brotli >/dev/null; }
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

ratio() { PEERS=nginx "$anchors/compare-http.sh" "$1" 1 "$secs" "$conns" "$2" | tail -1 | sed 's/.*=//'; }

parts=${PARTS:-12}
[[ $parts == *1* ]] && echo "== 1. the plain path, before and after (uringd/nginx, compare-http.sh, 1 round each, order alternating)"
[[ $parts == *1* ]] && for path in /4k.bin /1m.bin; do
  b=() a=()
  for i in $(seq "$rounds"); do
    # ABBA: which binary goes first alternates, so that drift within a pair favours neither
    # (one binary against a copy of itself, in a fixed order, differed by up to 18% a pair).
    if (( i % 2 )); then
      rb=$(ratio "$before" "$path"); ra=$(ratio "$after" "$path")
    else
      ra=$(ratio "$after" "$path"); rb=$(ratio "$before" "$path")
    fi
    echo "  $path round $i: before uringd/nginx=$rb after uringd/nginx=$ra"
    b+=("$rb") a+=("$ra")
  done
  mb=$(med "${b[@]}") ma=$(med "${a[@]}")
  echo "  $path median: before=$mb after=$ma after/before=$(awk -v a="$ma" -v b="$mb" 'BEGIN{printf "%.3f", a/b}')"
done

[[ $parts == *2* ]] || exit 0
echo "== 2. /app.js as brotli against plain (AFTER --precompressed br)"
root=$(mktemp -d); chmod 755 "$root"
trap 'kill $pid 2>/dev/null; rm -rf "$root"' EXIT
# A bundle-like script: varied lines, so it compresses as real JavaScript does, not 1000:1.
for i in $(seq 4000); do echo "export function f$i(a, b) { return a * $i + b - $((i * 7 % 13)); } // $RANDOM"; done >"$root/app.js"
brotli -k -q 11 "$root/app.js"
head -c "$(stat -c %s "$root/app.js.br")" /dev/urandom >"$root/same-size.bin"
chmod 644 "$root"/*
"$after" serve --root "$root" --addr 127.0.0.1:18301 --precompressed br >/dev/null 2>&1 & pid=$!
check() { # path, accept-encoding, the file whose bytes must come back, the Content-Encoding
  for _ in $(seq 100); do
    hdr=$(curl -s -D - -o "$root/.got" -H "Accept-Encoding: $2" "http://127.0.0.1:18301$1" 2>/dev/null || true)
    if grep -q '^HTTP/1.1 200' <<<"$hdr" && cmp -s "$root/.got" "$3"; then
      grep -qi "^Content-Encoding: $4" <<<"$hdr" || [[ -z $4 ]] || { echo "feature-cost: $1 ($2) came without Content-Encoding $4" >&2; exit 1; }
      return
    fi
    sleep 0.1
  done
  echo "feature-cost: $1 ($2) does not answer 200 with $3's bytes" >&2; exit 1
}
check /app.js br "$root/app.js.br" br
check /app.js identity "$root/app.js" ""
check /same-size.bin br "$root/same-size.bin" ""
rps() { # path, accept-encoding
  local out; out=$(wrk -t1 -c"$conns" -d"${secs}s" -H "Accept-Encoding: $2" "http://127.0.0.1:18301$1")
  if grep -q 'Non-2xx' <<<"$out"; then echo "feature-cost: non-2xx answers during the round" >&2; exit 1; fi
  awk '/Requests\/sec/{print $2}' <<<"$out"
}
echo "  app.js $(stat -c %s "$root/app.js") bytes, app.js.br $(stat -c %s "$root/app.js.br") bytes"
br=() plain=() same=()
for i in $(seq "$rounds"); do
  if (( i % 2 )); then
    x=$(rps /app.js br) y=$(rps /app.js identity) z=$(rps /same-size.bin identity)
  else
    z=$(rps /same-size.bin identity) y=$(rps /app.js identity) x=$(rps /app.js br)
  fi
  echo "  round $i: br=$x plain=$y same-size-plain=$z"
  br+=("$x") plain+=("$y") same+=("$z")
done
mb=$(med "${br[@]}") mp=$(med "${plain[@]}") ms=$(med "${same[@]}")
echo "  median req/s: br=$mb plain=$mp same-size-plain=$ms br/plain=$(awk -v a="$mb" -v b="$mp" 'BEGIN{printf "%.3f", a/b}') br/same-size=$(awk -v a="$mb" -v b="$ms" 'BEGIN{printf "%.3f", a/b}')"
