#!/usr/bin/env bash
# The npm tools the tests use, pinned, installed into a cache directory (never
# globally): ajv (JSON Schema, the JavaScript validator) and
# vscode-json-languageservice (the JSON validation VS Code runs), for plans_schema, and
# squawk-cli (the PostgreSQL migration linter, for render_squawk). squawk-cli's
# npm package carries its binary (@squawk-cli/linux-x64): no download besides npm.
#
# Usage: bash scripts/npm-tools.sh install   install (or check) the pinned versions
#        bash scripts/npm-tools.sh dir       print the directory (bin/ under it: node_modules/.bin)
# The directory is $ECPLAN_NPM_TOOLS, else ${XDG_CACHE_HOME:-$HOME/.cache}/ecplan/npm-tools.
set -euo pipefail

me=npm-tools.sh
# Bump these together with the tests that read their output.
pins=(ajv@8.17.1 vscode-json-languageservice@5.7.2 squawk-cli@2.66.0)

dir=${ECPLAN_NPM_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ecplan/npm-tools}

case "${1:-}" in
dir)
	echo "$dir"
	exit 0
	;;
install) ;;
*)
	echo "usage: $me install | dir" >&2
	exit 2
	;;
esac

stamp=$dir/.pins
if [[ -f "$stamp" && "$(cat "$stamp")" == "${pins[*]}" && -x "$dir/node_modules/.bin/squawk" &&
	-d "$dir/node_modules/ajv" ]]; then
	echo "$me: ${pins[*]} already in $dir"
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "$me: npm not found (bash scripts/install-deps.sh installs nodejs and npm)" >&2
	exit 1
fi
mkdir -p "$dir"
[[ -f "$dir/package.json" ]] || echo '{"name":"ecplan-npm-tools","private":true}' >"$dir/package.json"
echo "$me: installing ${pins[*]} into $dir"
# Bounded: a registry that cannot be reached fails in about a minute, not ten.
npm_install() {
	npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --save-exact \
		--fetch-retries=2 --fetch-retry-maxtimeout=20000 --fetch-timeout=60000 "$@" "${pins[@]}"
}
# Node trusts its own CA list, not the system's: behind a proxy whose CA is only
# in the system store (update-ca-certificates), try again with that store.
if ! npm_install; then
	ca=/etc/ssl/certs/ca-certificates.crt
	[[ -r "$ca" ]] || exit 1
	echo "$me: trying again with the system's certificate store ($ca)" >&2
	npm_install --cafile="$ca"
fi
"$dir/node_modules/.bin/squawk" --version >/dev/null
echo "${pins[*]}" >"$stamp"
