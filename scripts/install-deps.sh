#!/usr/bin/env bash
# Installs what synack needs on Debian: libpcap-dev to build; with --test, also tshark and tcpdump,
# which the tests use to check synack's counts against Wireshark's, curl, openssl, nginx and
# nghttp2-client's nghttp (TLS and HTTP/2 clients and servers synack did not write), and chromium, in which the tests open the HTML report
# headless. Does nothing when all are present.
set -euo pipefail
packages=(libpcap-dev pkg-config)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(tshark tcpdump util-linux iproute2 curl openssl nginx nghttp2-client chromium)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "installing ${missing[*]}" >&2
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
