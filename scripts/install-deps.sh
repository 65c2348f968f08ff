#!/usr/bin/env bash
# Installs the Debian packages tortie's tests and lab use. Idempotent; needs root.
set -euo pipefail
# gcc and libc6-dev build tortie-nl (the dataplane's netlink relay), the CNI front end and the
# TCP MD5 addon for BGP passwords (npm postinstall, or first use).
pkgs=(gcc libc6-dev iproute2 iputils-ping bird2 frr gobgpd exabgp tshark containernetworking-plugins python3-scapy docker-compose)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packages try to start their daemons in the root namespace; where something did, stop it:
# tests run every daemon inside namespaces of their own.
for svc in bird frr gobgpd exabgp; do
  if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
