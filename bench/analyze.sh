#!/usr/bin/env bash
# Benchmark of `synack analyze` on a large capture of short connections, against tshark and tcpdump.
#
# Captures on lo while ab (apache2-utils, no -k: one connection per request) fetches a small file
# from synack's own server, so ≥ 1 M packets over ≥ 100 k connections whose client ports cycle
# through the ephemeral range and reuse 4-tuples. Then times and measures the peak RSS of
#   synack analyze --json, tshark -z conv,tcp, tcpdump to text, tcpdump -w /dev/null (the floor)
# and prints a table with the ratios the issue names as targets: time within 2× of the read-only
# floor, memory ≤ 1/10 of tshark's. Nothing is asserted.
#
# Needs root (tcpdump captures on lo). Installs what is missing with apt-get. Knobs (environment):
#   REQUESTS=130000 CONCURRENCY=8 PORT=18080 RUNS=3 LOAD_LIMIT_S=600 KEEP=0 CROSSCHECK=1
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "bench/analyze.sh must run as root: tcpdump captures on lo. Run: sudo $0" >&2
    exit 1
fi

REQUESTS=${REQUESTS:-130000}
CONCURRENCY=${CONCURRENCY:-8}
PORT=${PORT:-18080}
RUNS=${RUNS:-3}
LOAD_LIMIT_S=${LOAD_LIMIT_S:-600}
KEEP=${KEEP:-0}
CROSSCHECK=${CROSSCHECK:-1}
# Each measured command and each helper step is cut off after this long.
STEP_LIMIT_S=600

cd "$(dirname "$0")/.."
BIN=target/release/synack

# --- Tools ---------------------------------------------------------------------------------------
packages=(apache2-utils tcpdump tshark time jq libpcap-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing ${missing[*]}" >&2
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
echo "building synack (release)" >&2
timeout "$STEP_LIMIT_S" cargo build --release -q

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

if ss -Htln "sport = :$PORT" | grep -q .; then
    echo "port $PORT is in use; choose another with PORT=..." >&2
    exit 1
fi

# --- Traffic and capture -------------------------------------------------------------------------
mkdir "$work/site"
head -c 512 /dev/zero | tr '\0' 'x' >"$work/site/small.txt"
"$BIN" serve --root "$work/site" --bind "127.0.0.1:$PORT" --max-connections 256 \
    >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    ss -Htln "sport = :$PORT" | grep -q . && break
    sleep 0.1
done
ss -Htln "sport = :$PORT" | grep -q . || { echo "synack serve did not start:" >&2; cat "$work/server.log" >&2; exit 1; }

pcap="$work/bench.pcap"
# -B: a 64 MiB kernel buffer so a burst of short connections is not dropped.
tcpdump -i lo -w "$pcap" -s 128 -B 65536 "tcp port $PORT" 2>"$work/tcpdump.log" &
capture_pid=$!
for _ in $(seq 100); do
    grep -q "listening on" "$work/tcpdump.log" && break
    sleep 0.1
done
grep -q "listening on" "$work/tcpdump.log" || { echo "tcpdump did not start:" >&2; cat "$work/tcpdump.log" >&2; exit 1; }

echo "load: ab -n $REQUESTS -c $CONCURRENCY (one connection per request), at most ${LOAD_LIMIT_S}s" >&2
load_start=$SECONDS
timeout "$LOAD_LIMIT_S" ab -q -r -n "$REQUESTS" -c "$CONCURRENCY" "http://127.0.0.1:$PORT/small.txt" \
    >"$work/ab.log" 2>&1 || echo "ab stopped early (see its output below)" >&2
load_s=$((SECONDS - load_start))
sleep 1 # the last FIN/ACK exchanges
kill -INT "$capture_pid"
wait "$capture_pid" || true
capture_pid=""
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""

# --- Measurements --------------------------------------------------------------------------------
# One command's seconds and peak RSS (KiB): the median time and the largest RSS over $RUNS runs.
# Its output goes to /dev/null (stderr to a file, shown if it fails).
measure() {
    local name=$1
    shift
    local times=() rss=0 t m
    for _ in $(seq "$RUNS"); do
        if ! /usr/bin/time -f '%e %M' -o "$work/time.txt" timeout "$STEP_LIMIT_S" "$@" \
            >/dev/null 2>"$work/stderr.txt"; then
            echo "$name failed or ran over ${STEP_LIMIT_S}s:" >&2
            tail -n 5 "$work/stderr.txt" >&2
            return 1
        fi
        read -r t m <"$work/time.txt"
        times+=("$t")
        if ((m > rss)); then rss=$m; fi
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p")
    printf '%s\t%s\t%s\n' "$name" "$median" "$rss" >>"$work/results.txt"
}

cat "$pcap" >/dev/null # page cache: every tool reads the file from memory
export HOME=$work       # tshark keeps its profile here, not in root's home
echo "measuring, $RUNS runs each" >&2
measure "tcpdump -w /dev/null (floor)" tcpdump -r "$pcap" -w /dev/null
measure "tcpdump -nn (text)" tcpdump -nn -r "$pcap"
measure "synack analyze --json" "$BIN" analyze --json "$pcap"
measure "tshark -q -z conv,tcp" tshark -q -z conv,tcp -r "$pcap"

# --- Counts --------------------------------------------------------------------------------------
timeout "$STEP_LIMIT_S" "$BIN" analyze --json "$pcap" >"$work/report.json"
# packets, connections, distinct 4-tuples, 4-tuples that carried more than one connection
read -r packets connections tuples reused < <(jq -r '
    [.connections[] | .client + " " + .server] as $t
    | [.packets, .totals.connections, ($t | unique | length),
       ($t | group_by(.) | map(select(length > 1)) | length)] | @tsv' "$work/report.json")
capinfos_packets=$(capinfos -c -M "$pcap" | awk -F': *' '/Number of packets/ {print $2}')
if [[ $CROSSCHECK == 1 ]]; then
    tshark_streams=$(timeout "$STEP_LIMIT_S" tshark -n -r "$pcap" -T fields -e tcp.stream 2>/dev/null |
        sort -u | wc -l)
else
    tshark_streams="skipped (CROSSCHECK=0)"
fi

# --- Report --------------------------------------------------------------------------------------
echo
echo "capture: $(du -m "$pcap" | cut -f1) MB, snap length 128, loaded in ${load_s}s by ab -n $REQUESTS -c $CONCURRENCY"
echo "  ab:      $(grep -E '^(Complete|Failed) requests' "$work/ab.log" | tr -s ' ' | paste -sd';' -)"
echo "  tcpdump: $(grep -E 'captured|dropped by kernel' "$work/tcpdump.log" | paste -sd';' -)"
echo "packets:     $packets (synack), $capinfos_packets (capinfos)"
echo "connections: $connections (synack totals), $tshark_streams (tshark distinct tcp.stream)"
echo "4-tuples:    $tuples distinct; $reused of them carried more than one connection"
echo
echo "median seconds of $RUNS runs; peak RSS is the largest of them"
awk -F'\t' '
    { names[NR] = $1; secs[$1] = $2; kib[$1] = $3 }
    END {
        floor = secs["tcpdump -w /dev/null (floor)"]; tshark = kib["tshark -q -z conv,tcp"]
        printf "%-30s %8s %8s %13s %16s\n", "tool", "seconds", "peak MB", "time / floor", "memory / tshark"
        for (i = 1; i <= NR; i++) {
            n = names[i]
            printf "%-30s %8.2f %8.1f %12.1fx %16.3f\n", n, secs[n], kib[n] / 1024,
                (floor > 0 ? secs[n] / floor : 0), kib[n] / tshark
        }
        s = "synack analyze --json"
        printf "\ntargets (printed, not asserted): time within 2x of the floor: %.1fx; memory at most 1/10 of tshark: %.3f\n",
            (floor > 0 ? secs[s] / floor : 0), kib[s] / tshark
    }' "$work/results.txt"
