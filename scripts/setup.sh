#!/usr/bin/env bash
# Installs the system packages Octet builds against (Debian/Ubuntu), if missing.
set -euo pipefail
need=()
for p in libdnnl-dev libcpuid-dev pkg-config zlib1g-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
