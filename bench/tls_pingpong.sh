#!/usr/bin/env bash
# One connection, one request for a 100-byte file, and its close, over an emulated path of 20 ms
# and 200 ms: plain TCP, TLS 1.2, TLS 1.3, and TLS 1.3 with TCP Fast Open, each measured by synack
# compare (non-persistent mode, one file). Prints a Markdown table of the means: connect → last
# byte, and with the close. Nothing is asserted. Needs root (the emulated link).
#
# Knobs (environment): ROUNDS=5 RTTS="20ms 200ms"
set -euo pipefail

ROUNDS=${ROUNDS:-5}
RTTS=${RTTS:-20ms 200ms}
VARIANTS=tcp,tls1.2,tls1.3,tls1.3+tfo

cd "$(dirname "$0")/.."
BIN=target/release/synack
if [[ $(id -u) -ne 0 ]]; then
    echo "bench/tls_pingpong.sh emulates a path: run it as root" >&2
    exit 1
fi
echo "building synack (release)" >&2
timeout 600 cargo build --release -q

work=$(mktemp -d /tmp/synack-pingpong.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/files"
head -c 100 /dev/urandom >"$work/files/ping.bin"

for rtt in $RTTS; do
    echo "measuring at $rtt" >&2
    timeout 1800 "$BIN" compare --files "$work/files" --modes non-persistent --rtt "$rtt" \
        --rounds "$ROUNDS" --variants "$VARIANTS" --captures "$work/captures" \
        --out "$work/received" --json "$work/$rtt.json" >/dev/null
done

python3 - "$work" $RTTS <<'EOF'
import json, sys
work, rtts = sys.argv[1], sys.argv[2:]
reports = {rtt: json.load(open(f"{work}/{rtt}.json")) for rtt in rtts}
names = list(next(iter(reports.values()))["variants"])
print("| variant | " + " | ".join(f"{rtt}: to last byte | {rtt}: with close" for rtt in rtts) + " |")
print("|---|" + "---:|---:|" * len(rtts))
for name in names:
    cells = []
    for rtt in rtts:
        summary = reports[rtt]["variants"][name]["modes"]["non-persistent"]["summary"]
        total, close = summary["total_s"]["mean"], summary["close_s"]["mean"]
        cells += [f"{total * 1000:.1f} ms", f"{(total + close) * 1000:.1f} ms"]
    print(f"| {name} | " + " | ".join(cells) + " |")
EOF
