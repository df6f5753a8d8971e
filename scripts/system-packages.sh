#!/usr/bin/env bash
# Debian packages the data-plane tests and agents use. Installs only what is missing (as
# root); without root it prints what is missing and the tests that need it skip.
set -euo pipefail
packages=(iproute2 iputils-ping ethtool busybox dnsmasq-base dnsmasq-utils socat
          nftables conntrack iputils-arping procps openvswitch-switch)
# to build mysqlclient, the C MariaDB driver (scripts/bootstrap.sh; PyMySQL without them)
packages+=(libmariadb-dev pkg-config build-essential python3-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "system-packages: missing ${missing[*]} (run as root to install)" >&2
    exit 0
fi
echo "system-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
