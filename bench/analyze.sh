#!/usr/bin/env bash
# Benchmark of `synack analyze` on a large capture of short connections, against the read floor
# (tcpdump reading the file and writing it to /dev/null) and tshark, all in one run.
#
# Makes the capture unless CAPTURE names one: nginx on 127.0.0.1, loaded for DURATION seconds by
# wrk -c4 -H 'Connection: close' (one connection per request), captured on lo by tcpdump with its
# default snap length: about 0.8 M packets over 80 k connections in 2 s on a 2-core machine, the
# client ports cycling through the ephemeral range so that 4-tuples are used again. Then times
# (median of RUNS) and measures the peak RSS of
#   tcpdump -r FILE -w /dev/null (the floor), synack analyze (tables, --json, --jsonl),
#   tshark -q -z conv,tcp
# and prints packets per second and each time over the floor's and over tshark's. The target
# (analyze within 2x of the floor) is printed, not asserted: speed is measured here, never in tests.
#
# Making the capture needs root (tcpdump on lo). Missing tools (nginx, wrk, tcpdump, tshark, time,
# jq) are installed with apt-get when run as root. Knobs (environment):
#   CAPTURE=FILE DURATION=2 PORT=18480 RUNS=3 KEEP=0 CROSSCHECK=1
#   BIN=PATH times that synack binary instead of building this tree's (a build from before a
#   change, to compare in the same conditions).
set -euo pipefail

DURATION=${DURATION:-2}
PORT=${PORT:-18480}
RUNS=${RUNS:-3}
KEEP=${KEEP:-0}
CROSSCHECK=${CROSSCHECK:-1}
CAPTURE=${CAPTURE:-}
# Each measured command and each helper step is cut off after this long.
STEP_LIMIT_S=600

BIN=${BIN:+$(realpath "$BIN")}
cd "$(dirname "$0")/.."

# --- Tools ---------------------------------------------------------------------------------------
packages=(tcpdump tshark time jq)
[[ -z $CAPTURE ]] && packages+=(nginx wrk)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing ${missing[*]}: install them, or run as root to have them installed" >&2
        exit 1
    fi
    echo "installing ${missing[*]}" >&2
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
if [[ -z $BIN ]]; then
    echo "building synack (release)" >&2
    timeout "$STEP_LIMIT_S" cargo build --release -q
    BIN=target/release/synack
fi

# --- Clean-up of everything this script starts or writes -----------------------------------------
work=$(mktemp -d /tmp/synack-bench.XXXXXX)
server_pid="" capture_pid=""
cleanup() {
    local status=$?
    [[ -n $capture_pid ]] && kill "$capture_pid" 2>/dev/null && wait "$capture_pid" 2>/dev/null
    [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    if [[ $KEEP == 1 ]]; then
        echo "kept $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Traffic and capture -------------------------------------------------------------------------
if [[ -n $CAPTURE ]]; then
    pcap=$CAPTURE
    made="given"
else
    if [[ $(id -u) -ne 0 ]]; then
        echo "making the capture needs root (tcpdump on lo): run with sudo, or give CAPTURE=FILE" >&2
        exit 1
    fi
    if ss -Htln "sport = :$PORT" | grep -q .; then
        echo "port $PORT is in use; choose another with PORT=..." >&2
        exit 1
    fi
    mkdir "$work/www"
    head -c 612 /dev/zero | tr '\0' 'x' >"$work/www/index.html"
    cat >"$work/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
  uwsgi_temp_path $work; scgi_temp_path $work;
  server { listen 127.0.0.1:$PORT; root $work/www; }
}
EOF
    nginx -c "$work/nginx.conf" -p "$work" >"$work/nginx.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        ss -Htln "sport = :$PORT" | grep -q . && break
        sleep 0.1
    done
    ss -Htln "sport = :$PORT" | grep -q . || { echo "nginx did not start:" >&2; cat "$work/error.log" "$work/nginx.log" >&2; exit 1; }

    pcap="$work/analyze.pcap"
    # -B: a 64 MiB kernel buffer so a burst of short connections is not dropped.
    tcpdump -i lo -w "$pcap" -B 65536 "tcp port $PORT" 2>"$work/tcpdump.log" &
    capture_pid=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$work/tcpdump.log" && break
        sleep 0.1
    done
    grep -q "listening on" "$work/tcpdump.log" || { echo "tcpdump did not start:" >&2; cat "$work/tcpdump.log" >&2; exit 1; }
    echo "load: wrk -c4 -H 'Connection: close' for ${DURATION}s" >&2
    timeout $((DURATION + 30)) wrk -t2 -c4 -d"${DURATION}s" -H 'Connection: close' \
        "http://127.0.0.1:$PORT/" >"$work/wrk.log" 2>&1 || echo "wrk stopped early (see its output below)" >&2
    sleep 1 # the last FIN/ACK exchanges
    kill -INT "$capture_pid"
    wait "$capture_pid" || true
    capture_pid=""
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    made="wrk -c4 -H 'Connection: close' for ${DURATION}s against nginx: $(grep -E 'requests in' "$work/wrk.log" | tr -s ' ' | sed 's/^ //'); tcpdump: $(grep -E 'dropped by kernel' "$work/tcpdump.log")"
fi

# --- Measurements --------------------------------------------------------------------------------
# One command's seconds and peak RSS (KiB): the median time and the largest RSS over $RUNS runs.
# Its output goes to /dev/null (stderr to a file, shown if it fails).
measure() {
    local name=$1
    shift
    local times=() rss=0 m start end
    for _ in $(seq "$RUNS"); do
        # Wall time to the microsecond (time's own is in hundredths, a tenth of the floor).
        start=$EPOCHREALTIME
        if ! /usr/bin/time -f '%M' -o "$work/time.txt" timeout "$STEP_LIMIT_S" "$@" \
            >/dev/null 2>"$work/stderr.txt"; then
            echo "$name failed or ran over ${STEP_LIMIT_S}s:" >&2
            tail -n 5 "$work/stderr.txt" >&2
            return 1
        fi
        end=$EPOCHREALTIME
        read -r m <"$work/time.txt"
        times+=("$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f", e - s }')")
        if ((m > rss)); then rss=$m; fi
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p")
    printf '%s\t%s\t%s\n' "$name" "$median" "$rss" >>"$work/results.txt"
}

cat "$pcap" >/dev/null # page cache: every tool reads the file from memory
export HOME=$work       # tshark keeps its profile here, not in the user's home
echo "measuring, $RUNS runs each" >&2
measure "tcpdump -w /dev/null (floor)" tcpdump -r "$pcap" -w /dev/null
measure "synack analyze" "$BIN" analyze "$pcap"
measure "synack analyze --json" "$BIN" analyze --json "$pcap"
measure "synack analyze --jsonl" "$BIN" analyze --jsonl "$pcap"
measure "tshark -q -z conv,tcp" tshark -q -z conv,tcp -r "$pcap"

# --- Counts --------------------------------------------------------------------------------------
summary=$(timeout "$STEP_LIMIT_S" "$BIN" analyze --jsonl "$pcap" | tail -n 1)
packets=$(jq .summary.packets <<<"$summary")
connections=$(jq .summary.totals.connections <<<"$summary")
if [[ $CROSSCHECK == 1 ]]; then
    tshark_streams=$(timeout "$STEP_LIMIT_S" tshark -n -r "$pcap" -T fields -e tcp.stream 2>/dev/null |
        sort -u | wc -l)
else
    tshark_streams="not counted (CROSSCHECK=0)"
fi

# --- Report --------------------------------------------------------------------------------------
echo
echo "capture: $(du -m "$pcap" | cut -f1) MB; $made"
echo "packets:     $packets"
echo "connections: $connections (synack), $tshark_streams (tshark's distinct tcp.stream)"
echo
echo "median seconds of $RUNS runs; peak RSS is the largest of them"
awk -F'\t' -v packets="$packets" '
    { names[NR] = $1; secs[$1] = $2; kib[$1] = $3 }
    END {
        floor = secs["tcpdump -w /dev/null (floor)"]; tshark = secs["tshark -q -z conv,tcp"]
        printf "%-30s %8s %12s %8s %8s %9s\n", "tool", "seconds", "packets/s", "peak MB", "/ floor", "/ tshark"
        for (i = 1; i <= NR; i++) {
            n = names[i]
            printf "%-30s %8.3f %12.0f %8.1f %7.2fx %8.3fx\n", n, secs[n],
                (secs[n] > 0 ? packets / secs[n] : 0), kib[n] / 1024,
                (floor > 0 ? secs[n] / floor : 0), (tshark > 0 ? secs[n] / tshark : 0)
        }
        printf "\ntarget (printed, not asserted): analyze within 2x of the floor: %.2fx tables, %.2fx --json, %.2fx --jsonl\n",
            secs["synack analyze"] / floor, secs["synack analyze --json"] / floor,
            secs["synack analyze --jsonl"] / floor
    }' "$work/results.txt"
