#!/usr/bin/env bash
# Makes the README's pictures of a real report: `synack compare --rtt 40ms` over the emulated link
# (root), then headless Chromium's screenshots of its report.html — docs/report.png (verdict,
# waterfall, ladders) and docs/report-time-sequence.png (the time–sequence graphs). Extra
# arguments go to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cargo build --release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo target/release/synack compare --rtt 40ms --captures "$work/captures" --out "$work/received" "$@" >/dev/null
page=$(ls "$work"/captures/*/report.html)
shoot() { # shoot OUT.png HEIGHT [CSS hiding sections]
    local shown="$work/shown.html"
    sed "s|</style>|${3:-}</style>|" "$page" >"$shown"
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/profile" \
        --window-size=1400,"$2" --screenshot="$PWD/$1" "file://$shown" 2>/dev/null
}
shoot docs/report.png 2600
shoot docs/report-time-sequence.png 1250 "#verdict,#waterfall,#ladders,h1,p.meta{display:none}"
echo "docs/report.png and docs/report-time-sequence.png from $(basename "$(dirname "$page")")"
