#!/usr/bin/env bash
# Server CPU time per request under the same wrk load as compare-http.sh: user+sys of every
# thread of the server's processes (io-wq workers included: they are threads of the process),
# divided by the requests wrk completed. Servers run one at a time, in alternating rounds.
#   bench/cpu-per-request.sh URINGD_BIN [rounds=2] [seconds=5] [conns=64] [path=/4k.bin] ["serve args" ...]
# Each extra argument is one uringd configuration ("" is the default); nginx and net/http are
# measured too, as in ../shared/anchors. Prints "NAME req/s cpu_us_per_req" per run.
set -euo pipefail
bin=$(realpath "$1"); rounds=${2:-2}; secs=${3:-5}; conns=${4:-64}; path=${5:-/4k.bin}; shift $(( $# < 5 ? $# : 5 ))
configs=("$@"); ((${#configs[@]})) || configs=("")
anchors=$(cd "$(dirname "$0")/../../shared/anchors" && pwd)
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
root=$(mktemp -d); chmod 755 "$root"; trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$root"' EXIT
head -c 4096 /dev/urandom >"$root/4k.bin"; head -c 65536 /dev/urandom >"$root/64k.bin"; head -c 1048576 /dev/urandom >"$root/1m.bin"
(cd "$anchors/gofileserver" && go build -o "$root/.gofs" .)
tick=$(getconf CLK_TCK)
# cpu PID...: user+sys clock ticks of the processes (all their threads, living and exited).
cpu() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
measure() { # NAME URL PIDS...
  local name=$1 url=$2; shift 2
  for _ in $(seq 50); do curl -sf -o /dev/null "$url" && break; sleep 0.2; done
  local c0 c1 out reqs
  c0=$(cpu "$@"); out=$(wrk -t1 -c"$conns" -d"${secs}s" "$url"); c1=$(cpu "$@")
  reqs=$(awk '/requests in/{print $1}' <<<"$out")
  awk -v n="$name" -v r="$reqs" -v s="$secs" -v c=$((c1 - c0)) -v hz="$tick" \
    'BEGIN{printf "%-40s %10.0f req/s %8.1f us/req\n", n, r/s, (r>0)?c/hz*1e6/r:0}'
}
for i in $(seq "$rounds"); do
  port=18401
  for cfg in "${configs[@]}"; do
    # shellcheck disable=SC2086
    "$bin" serve --root "$root" --addr 127.0.0.1:$port $cfg >/dev/null 2>&1 & pid=$!
    measure "uringd ${cfg:-(default)}" "http://127.0.0.1:$port$path" $pid
    kill $pid; wait $pid 2>/dev/null || true; port=$((port + 1))
  done
  "$anchors/nginx-static.sh" "$root" 127.0.0.1:18411 >/dev/null 2>&1 & sleep 0.5
  measure nginx "http://127.0.0.1:18411$path" $(pgrep -f "nginx: (master|worker)" | tr '\n' ' ')
  pkill -f "nginx: master" || true; wait 2>/dev/null || true
  "$root/.gofs" "$root" 127.0.0.1:18412 >/dev/null 2>&1 & pid=$!
  measure net/http "http://127.0.0.1:18412$path" $pid
  kill $pid; wait $pid 2>/dev/null || true
done
