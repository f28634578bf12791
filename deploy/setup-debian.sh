#!/usr/bin/env bash
# Set up a fresh Debian 12 machine (as root) for tyndau: the system packages the lab and the tests
# use, and a virtual environment in .venv with tyndau and all its extras. Safe to run again: it
# installs only what is missing. Services are NOT started here; the lab and the tests start their
# own instances (nginx, unbound, influxd, alertmanager) inside network namespaces or on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  iproute2 nftables iptables          # namespaces, veth, packet filtering
  unbound                             # resolvers (ISP, public, authoritative)
  nginx-light                         # platform servers, blockpage server
  openssl ca-certificates             # lab CA; s_client in tests
  dnsutils curl                       # dig and curl: independent observers in tests and benches
  influxdb influxdb-client            # InfluxDB 1.x server (influxd) and the influx CLI
  prometheus-alertmanager             # the real Alertmanager for alert tests
  python3 python3-venv python3-dev    # the virtual environment
  build-essential                     # wheels that compile on odd architectures
  procps psmisc                       # ps, fuser: teardown of lab processes
  libpcap0.8                          # scapy compiles its capture filters with libpcap: raw tests
  chromium chromium-driver            # headless browser: tests of the collector's web page
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Package scripts must not start system-wide daemons: tyndau runs its own instances.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's own interpreter (the python3 package above; built with PGO and LTO), not whichever
# python3 comes first on PATH: a locally built one can be much slower (docs/ooni.md, speed).
PYTHON=${PYTHON:-/usr/bin/python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.tyndau-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing tyndau and its extras into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[raw,lab,collector,dev]'
  touch "$stamp"
fi
echo "setup: ready (.venv/bin/tyndau)" >&2
