#!/usr/bin/env bash
# Installs what ecplan needs to build and test on Debian 12.
#
# Idempotent: asks dpkg which packages are already installed and only runs
# apt-get (update + install) when something is missing, so a second run on a
# prepared machine does no network access and needs no root.
#
# Usage: bash scripts/install-deps.sh
set -euo pipefail

me=install-deps.sh

# clang is only needed for the optional libFuzzer targets (-DECPLAN_FUZZ=ON);
# it is listed anyway so every machine prepared by this script can build them.
packages=(
	build-essential cmake pkg-config
	libpq-dev libjansson-dev libcurl4-openssl-dev libssl-dev libcmocka-dev
	postgresql postgresql-contrib
	python3 python3-jsonschema
	curl ca-certificates procps
	jq
	clang
)

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "$me: dpkg-query not found: this script supports Debian/Ubuntu only" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	# Status is "install ok installed" only for a fully installed package;
	# removed-but-configured ("deinstall ok config-files") counts as missing.
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	if [[ "$status" != "install ok installed" ]]; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "$me: all ${#packages[@]} packages already installed"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "$me: missing packages: ${missing[*]}" >&2
	echo "$me: installing them needs root; run: sudo bash scripts/install-deps.sh" >&2
	exit 1
fi

echo "$me: installing: ${missing[*]}"
# noninteractive: the postgresql and tzdata postinst scripts must not prompt.
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "$me: done"
