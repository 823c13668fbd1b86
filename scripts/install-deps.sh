#!/usr/bin/env bash
# Installs what synack needs on Debian: libpcap-dev to build; with --test, also tshark and tcpdump,
# which the tests use to check synack's counts against Wireshark's, curl, openssl and nginx (TLS
# clients and servers synack did not write), chromium, in which the tests open the HTML report
# headless, and aioquic (an HTTP/3 client and server synack did not write) in a Python venv at
# /opt/synack-aioquic. Does nothing when all are present.
set -euo pipefail
packages=(libpcap-dev pkg-config)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(tshark tcpdump util-linux iproute2 curl openssl nginx chromium python3-venv)
fi
aioquic_venv=/opt/synack-aioquic
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"

# aioquic from PyPI, pinned, in a venv of its own: the h3 interop tests run its client and server
# (tests/fixtures/aioquic).
install_aioquic() {
    [[ "${1:-}" == "--test" ]] || return 0
    "$aioquic_venv/bin/python" -c 'import aioquic' 2>/dev/null && return 0
    echo "installing aioquic in $aioquic_venv" >&2
    $sudo python3 -m venv "$aioquic_venv"
    $sudo "$aioquic_venv/bin/pip" install -q --disable-pip-version-check 'aioquic==1.7.2'
}
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    install_aioquic "${1:-}"
    exit 0
fi
echo "installing ${missing[*]}" >&2
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
install_aioquic "${1:-}"
