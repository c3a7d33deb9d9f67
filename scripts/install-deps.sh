#!/usr/bin/env bash
# Installs the Debian packages the tests use, when missing: Redis (feature-store
# integration tests, and the Redis image of the real node), Alertmanager's amtool (config
# checks), openssl (cluster certificates), and the real node's runtime: containerd, runc,
# the CNI plugins, nftables (kube-proxy and the pods' bridge) and socat (the pods' route to
# the API server). Runs as root on CI machines; uses sudo otherwise.
set -euo pipefail

packages=(redis-server prometheus-alertmanager openssl curl
	containerd runc containernetworking-plugins nftables socat)

# alerts/check.sh and the operator's YAML 1.1 round-trip tests read YAML with PyYAML.
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet 'PyYAML>=6'

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
	echo "system packages present: ${packages[*]}"
	exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The packaged services are not wanted: tests start their own on free ports.
for svc in redis-server prometheus-alertmanager containerd; do
	$sudo systemctl disable --now "$svc" >/dev/null 2>&1 || $sudo service "$svc" stop >/dev/null 2>&1 || true
done
