#!/usr/bin/env bash
# Time to the first response byte of one request on a new connection, over the emulated path:
# TCP + TLS 1.3 (three round trips), QUIC (two), QUIC resuming with 0-RTT (one), as the QUIC
# paper measured them (Langley et al., SIGCOMM 2017). A 1000-byte file, `compare --modes
# persistent,h3 --tls 1.3`, then again with --early-data (later runs resume). Prints the median
# over the rounds of connect → first byte, from each run's first file's phases. Needs root.
set -euo pipefail
ROUNDS=${ROUNDS:-5}
RTTS=${RTTS:-"20ms 200ms"}
BIN=${BIN:-target/release/synack}
[[ -x "$BIN" ]] || cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/one"
head -c 1000 /dev/urandom >"$work/one/x.bin"
echo "| RTT | TCP + TLS 1.3 | QUIC | QUIC, 0-RTT |"
echo "|---|---:|---:|---:|"
for rtt in $RTTS; do
    for extra in "" --early-data; do
        "$BIN" compare --files "$work/one" --rtt "$rtt" --rounds "$ROUNDS" --tls 1.3 $extra \
            --modes persistent,h3 --json "$work/$rtt$extra.json" --captures "$work/captures" \
            --out "$work/received" >/dev/null 2>&1
    done
    python3 - "$work/$rtt.json" "$work/$rtt--early-data.json" "$rtt" <<'PY'
import json, statistics, sys
def first_byte(path, mode):
    runs = json.load(open(path))["modes"][mode]["runs"]
    f = [r["file_phases"][0] for r in runs]
    return statistics.median(p["handshake_s"] + p["tls_s"] + p["client_s"] + p["wait_s"] for p in f) * 1e3
plain, early, rtt = sys.argv[1:]
print(f"| {rtt} | {first_byte(plain, 'persistent'):.1f} ms | {first_byte(plain, 'h3'):.1f} ms | {first_byte(early, 'h3'):.1f} ms |")
PY
done
