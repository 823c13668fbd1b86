#!/usr/bin/env bash
# The 43-file page of 1997 over a lossy emulated path: six parallel HTTP/1.1 connections, HTTP/2
# (one TLS 1.3 connection, every request a stream) and HTTP/3 (one QUIC connection), at each loss
# rate in LOSSES, 40 ms RTT. Per mode and loss: the run's median total, and over the page's files
# the median and the slowest time from the run's start to the file's last byte (medians over the
# rounds), and the retransmissions or lost packets the link counted. The link's loss is seeded,
# so a rerun meets the same losses at the same packets. Needs root (the emulated link).
set -euo pipefail
ROUNDS=${ROUNDS:-5}
RTT=${RTT:-40ms}
LOSSES=${LOSSES:-"0% 1% 3%"}
MODES=${MODES:-parallel,h2,h3}
SEED=${SEED:-1}
# The congestion control of both TCP and h3's server (quinn's of the same kind).
CONGESTION=${CONGESTION:-bbr}
BIN=${BIN:-target/release/synack}
cd "$(dirname "$0")/.."
[[ -x "$BIN" ]] || cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BIN" files --set page-1997 "$work/page" >/dev/null
echo "| loss | mode | run, median | a file's last byte, median | slowest file, median | lost on the link |"
echo "|---:|---|---:|---:|---:|---:|"
for loss in $LOSSES; do
    # `timeout` bounds each comparison: a lossy link slows it, never past this.
    timeout 600 "$BIN" compare --files "$work/page" --rtt "$RTT" --loss "$loss" --seed "$SEED" \
        --rounds "$ROUNDS" --modes "$MODES" --congestion "$CONGESTION" --no-pdf --json "$work/$loss.json" \
        --captures "$work/captures" --out "$work/received" >/dev/null 2>&1
    python3 - "$work/$loss.json" "$loss" <<'PY'
import json, statistics, sys
path, loss = sys.argv[1:]
report = json.load(open(path))
stats = report.get("link_stats", {})
lost = sum(stats.get(d, {}).get("lost", 0) for d in ("to_server", "to_client"))
def ends(run):
    # Each file's last byte, from the run's start: where its waterfall bar ends.
    keys = ("between_s", "handshake_s", "tls_s", "client_s", "wait_s", "transfer_s")
    return [f["start_s"] + sum(f[k] for k in keys) for f in run["file_phases"]]
for mode, result in report["modes"].items():
    runs = result["runs"]
    total = statistics.median(r["total_s"] for r in runs) * 1e3
    median_file = statistics.median(statistics.median(ends(r)) for r in runs) * 1e3
    slowest = statistics.median(max(ends(r)) for r in runs) * 1e3
    print(f"| {loss} | {mode} | {total:.0f} ms | {median_file:.0f} ms | {slowest:.0f} ms | {lost} (all modes) |")
PY
done
