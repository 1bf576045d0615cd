#!/usr/bin/env bash
# Installs what ecplan needs to build and test on Debian 12 and 13: every
# program a script or test calls comes from here (or from the base system).
#
# Idempotent: asks dpkg which packages are already installed and only runs
# apt-get (update + install) when something is missing, so a second run on a
# prepared machine does no network access and needs no root. Then installs the
# npm tools the tests use (ajv, squawk) into a cache directory
# (scripts/npm-tools.sh; skipped when already there).
#
# Usage: bash scripts/install-deps.sh
# Exit: 0 done; 1 packages missing and not root, or apt failed; 3 only the npm
# tools could not be installed.
set -euo pipefail

me=install-deps.sh

# Real packages only: a virtual package (postgresql-contrib on Debian 13, where
# the server package provides it) is never "installed" for dpkg. pgbench, used
# by chaos.sh and bench.sh, ships in the server package (postgresql-NN).
# What needs what:
#   bc                  the integration tests' arithmetic (sm_concurrency, sm_locks, ...)
#   python3-jsonschema  plans_schema (Python validator); check_schema.py
#   nodejs npm          the npm tools of scripts/npm-tools.sh (ajv, squawk)
#   file dpkg-dev       CPack's .deb (dpkg-shlibdeps), tested by it.install_package
#   zsh                 it.install_package parses the zsh completion with it
#   clang               only the optional libFuzzer targets (-DECPLAN_FUZZ=ON);
#                       listed so every machine prepared here can build them
packages=(
	build-essential cmake pkg-config
	libpq-dev libjansson-dev libcurl4-openssl-dev libssl-dev libcmocka-dev
	postgresql
	python3 python3-jsonschema
	curl ca-certificates procps bc jq
	nodejs npm
	file dpkg-dev zsh
	clang
)

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "$me: dpkg-query not found: this script supports Debian/Ubuntu only" >&2
	exit 1
fi

# Installed packages and what they provide: a name counts as present when a
# fully installed package ("ii": removed-but-configured does not count) is
# called so or provides it (nodejs from another repository provides npm, say).
declare -A present=()
while IFS='|' read -r abbrev name provides; do
	[[ "$abbrev" == ii* ]] || continue
	present[$name]=1
	present[${name%%:*}]=1
	IFS=',' read -ra provided <<<"$provides"
	for v in "${provided[@]}"; do
		v=${v%%(*}
		v=${v//[[:space:]]/}
		[[ -n "$v" ]] && present[$v]=1
	done
done < <(dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' 2>/dev/null)

missing=()
for p in "${packages[@]}"; do
	[[ -n "${present[$p]:-}" ]] || missing+=("$p")
done

# The npm tools are needed only by it.plans_schema and it.render_squawk: when
# npm cannot install them (no route to the npm registry, TLS interception
# without its CA), say so loudly and exit 3 after everything else is installed,
# so scripts/test.sh can still build and run the other tests.
npm_tools() {
	if ! bash "$(dirname "${BASH_SOURCE[0]}")/npm-tools.sh" install; then
		echo "$me: ERROR: the npm tools (ajv, vscode-json-languageservice, squawk-cli) could not be installed;" >&2
		echo "$me: it.plans_schema and it.render_squawk will fail. Every apt package is installed." >&2
		exit 3
	fi
}

if ((${#missing[@]} == 0)); then
	echo "$me: all ${#packages[@]} packages already installed"
	npm_tools
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
npm_tools
echo "$me: done"
