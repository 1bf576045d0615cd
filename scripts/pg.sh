#!/usr/bin/env bash
# Starts and stops a throwaway PostgreSQL cluster for ecplan's tests.
#
# Sourced (exports into the current shell):
#   source scripts/pg.sh start [DIR]   start a cluster in DIR (default: a new mktemp dir)
#   ecplan_pg_stop [DIR]               stop it and remove DIR (default: $ECPLAN_PG_DIR)
#   source scripts/pg.sh stop [DIR]    same as ecplan_pg_stop
#   source scripts/pg.sh functions     only define ecplan_pg_start / ecplan_pg_stop
# Executed:
#   eval "$(bash scripts/pg.sh start [DIR])"   prints `export ...` lines on stdout
#   bash scripts/pg.sh stop [DIR]
#
# After start: PGHOST (socket dir), PGPORT, PGUSER=postgres, PGDATABASE=postgres,
# ECPLAN_PG_DIR (the cluster's directory) and ECPLAN_PG_BIN (the PostgreSQL bin dir).
# Set ECPLAN_PG_BIN beforehand to pick a PostgreSQL version; by default the highest
# /usr/lib/postgresql/<major>/bin is used.
#
# Layout of DIR: data/ (PGDATA), sock/ (socket), postgres.log, .ecplan-pg (marker:
# stop only deletes a directory that has it).
#
# initdb and postgres refuse to run as root, so as root they run as the `postgres`
# OS user (created by Debian's postgresql package) and DIR is chowned to it.
#
# This file is sourced into callers' shells, so it does not `set -euo pipefail`
# at top level (that would change the caller's options); the functions check
# every step themselves. When executed it does set them.

_ecplan_pg_me=pg.sh

_ecplan_pg_err() { echo "$_ecplan_pg_me: $*" >&2; }

# Runs a command as the cluster owner: `postgres` when we are root, else ourselves.
# cd to the cluster dir first: the postgres user may not be able to read our cwd
# (e.g. /root), which makes initdb/pg_ctl complain.
_ecplan_pg_as_owner() {
	local dir=$1
	shift
	if [[ $(id -u) -eq 0 ]]; then
		(cd "$dir" && runuser -u postgres -- "$@")
	else
		(cd "$dir" && "$@")
	fi
}

_ecplan_pg_find_bin() {
	if [[ -n "${ECPLAN_PG_BIN:-}" ]]; then
		if [[ -x "$ECPLAN_PG_BIN/initdb" && -x "$ECPLAN_PG_BIN/pg_ctl" ]]; then
			echo "$ECPLAN_PG_BIN"
			return 0
		fi
		_ecplan_pg_err "ECPLAN_PG_BIN=$ECPLAN_PG_BIN has no initdb/pg_ctl"
		return 1
	fi
	# Highest major version wins: sort -V orders 9.6 < 10 < 15 < 16 correctly.
	local d best=
	best=$(for d in /usr/lib/postgresql/*/bin; do
		[[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && echo "$d"
	done | sort -V | tail -n 1)
	if [[ -z "$best" ]]; then
		_ecplan_pg_err "no PostgreSQL server found under /usr/lib/postgresql/*/bin" \
			"(install it: bash scripts/install-deps.sh)"
		return 1
	fi
	echo "$best"
}

# Prints a TCP port that was free on 127.0.0.1 a moment ago. Another process can
# still grab it before postgres binds; the caller retries with a new port then.
_ecplan_pg_free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
		return
	fi
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		# A refused connection means nobody listens there.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	_ecplan_pg_err "could not find a free port"
	return 1
}

# ecplan_pg_start [DIR]: starts the cluster and sets/exports the variables in
# the current shell. Returns non-zero (after printing why) on failure.
ecplan_pg_start() {
	local dir=${1:-} bin port attempt log opts rc
	bin=$(_ecplan_pg_find_bin) || return 1

	if [[ -z "$dir" ]]; then
		dir=$(mktemp -d "${TMPDIR:-/tmp}/ecplan-pg.XXXXXX") || {
			_ecplan_pg_err "mktemp failed"
			return 1
		}
	else
		# pg_ctl -o passes the options through a shell, and the socket path ends up
		# in them: refuse paths that would need quoting rather than mis-quote them.
		if [[ "$dir" =~ [^A-Za-z0-9_./+-] ]]; then
			_ecplan_pg_err "directory name '$dir' has characters pg_ctl -o cannot take (use [A-Za-z0-9_./+-])"
			return 1
		fi
		if [[ -e "$dir" && -n "$(ls -A "$dir" 2>/dev/null)" ]]; then
			_ecplan_pg_err "$dir exists and is not empty"
			return 1
		fi
		mkdir -p "$dir" || return 1
		dir=$(cd "$dir" && pwd -P) || return 1
	fi
	if [[ "$dir" =~ [^A-Za-z0-9_./+-] ]]; then
		_ecplan_pg_err "directory name '$dir' has characters pg_ctl -o cannot take (use [A-Za-z0-9_./+-];" \
			"set TMPDIR to a plainer directory)"
		rmdir "$dir"
		return 1
	fi

	: >"$dir/.ecplan-pg"
	mkdir -p "$dir/data" "$dir/sock"
	log=$dir/postgres.log
	: >"$log"
	# 0755 on the top and socket dirs lets any client (root or not) reach the
	# socket; PGDATA itself stays 0700 as postgres demands.
	chmod 0755 "$dir" "$dir/sock"
	chmod 0700 "$dir/data"
	if [[ $(id -u) -eq 0 ]]; then
		if ! id postgres >/dev/null 2>&1; then
			_ecplan_pg_err "running as root but there is no 'postgres' user to run the server as" \
				"(install the postgresql package: bash scripts/install-deps.sh)"
			rm -rf -- "$dir"
			return 1
		fi
		chown -R postgres:postgres "$dir"
		if ! runuser -u postgres -- test -w "$dir/data"; then
			_ecplan_pg_err "user postgres cannot write $dir/data (is a parent directory private to root?)"
			rm -rf -- "$dir"
			return 1
		fi
	fi

	# C.UTF-8 gives UTF-8 semantics with byte-order collation, the same on every
	# machine; fall back to C where that locale does not exist.
	if ! _ecplan_pg_as_owner "$dir" "$bin/initdb" -D "$dir/data" --auth=trust -U postgres \
		-E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
		_ecplan_pg_as_owner "$dir" rm -rf "$dir/data"
		mkdir -p "$dir/data" && chmod 0700 "$dir/data"
		[[ $(id -u) -eq 0 ]] && chown postgres:postgres "$dir/data"
		if ! _ecplan_pg_as_owner "$dir" "$bin/initdb" -D "$dir/data" --auth=trust -U postgres \
			-E UTF8 --locale=C --no-sync >>"$dir/initdb.log" 2>&1; then
			_ecplan_pg_err "initdb failed:"
			cat "$dir/initdb.log" >&2
			rm -rf -- "$dir"
			return 1
		fi
	fi

	rc=1
	for attempt in 1 2 3 4 5; do
		port=$(_ecplan_pg_free_port) || break
		opts="-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c fsync=off"
		opts+=" -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
		opts+=" -c log_min_messages=warning"
		# No checkpoint noise; each line names its database, so a failing test can
		# show the lines of its own database (tests/integration/lib.sh).
		opts+=" -c log_checkpoints=off -c log_line_prefix='%m [%p] db=%d '"
		if _ecplan_pg_as_owner "$dir" "$bin/pg_ctl" -D "$dir/data" -l "$log" -w -t 60 \
			-o "$opts" start >"$dir/pg_ctl.log" 2>&1; then
			rc=0
			break
		fi
		# Lost the race for the port: try another. Anything else is fatal.
		if grep -q "could not bind\|Address already in use" "$log"; then
			_ecplan_pg_err "port $port was taken, retrying ($attempt)"
			continue
		fi
		break
	done
	if [[ $rc -eq 0 ]]; then
		rc=1
		for _ in $(seq 1 100); do
			if "$bin/pg_isready" -q -h "$dir/sock" -p "$port" -U postgres -d postgres; then
				rc=0
				break
			fi
			sleep 0.1
		done
	fi
	if [[ $rc -ne 0 ]]; then
		_ecplan_pg_err "PostgreSQL failed to start; pg_ctl said:"
		cat "$dir/pg_ctl.log" >&2
		_ecplan_pg_err "server log ($log):"
		cat "$log" >&2
		_ecplan_pg_as_owner "$dir" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
		rm -rf -- "$dir"
		return 1
	fi

	# PGHOSTADDR and PGSERVICE would override or redirect PGHOST.
	unset PGHOSTADDR PGSERVICE
	export PGHOST="$dir/sock" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
	export ECPLAN_PG_DIR="$dir" ECPLAN_PG_BIN="$bin"
	_ecplan_pg_err "PostgreSQL $("$bin/postgres" -V | awk '{print $3}') running: PGHOST=$PGHOST PGPORT=$PGPORT"
	return 0
}

# ecplan_pg_stop [DIR]: stops the cluster in DIR (default $ECPLAN_PG_DIR) and
# removes DIR. Safe to call twice. Unsets the variables if they point at DIR.
ecplan_pg_stop() {
	local dir=${1:-${ECPLAN_PG_DIR:-}} bin rc=0 pid
	if [[ -z "$dir" ]]; then
		_ecplan_pg_err "stop: no directory given and ECPLAN_PG_DIR is not set"
		return 1
	fi
	if [[ ! -d "$dir" ]]; then
		# Already stopped and removed (e.g. a trap running after an explicit stop).
		return 0
	fi
	if [[ ! -e "$dir/.ecplan-pg" ]]; then
		_ecplan_pg_err "stop: $dir was not made by pg.sh (no .ecplan-pg marker); not touching it"
		return 1
	fi
	bin=${ECPLAN_PG_BIN:-}
	[[ -x "$bin/pg_ctl" ]] || bin=$(ECPLAN_PG_BIN="" _ecplan_pg_find_bin) || return 1
	if [[ -f "$dir/data/postmaster.pid" ]]; then
		if ! _ecplan_pg_as_owner "$dir" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1; then
			_ecplan_pg_err "stop: fast shutdown failed, trying immediate"
			_ecplan_pg_as_owner "$dir" "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
		fi
		# If the postmaster is still there, do not delete its directory under it.
		if [[ -f "$dir/data/postmaster.pid" ]]; then
			pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
			if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
				_ecplan_pg_err "stop: postmaster $pid in $dir is still running; leaving $dir"
				return 1
			fi
		fi
	fi
	rm -rf -- "$dir" || rc=1
	if [[ "${ECPLAN_PG_DIR:-}" == "$dir" ]]; then
		unset PGHOST PGPORT PGUSER PGDATABASE ECPLAN_PG_DIR
	fi
	return $rc
}

_ecplan_pg_main() {
	local cmd=${1:-}
	shift || true
	case "$cmd" in
	start)
		ecplan_pg_start "$@" || return 1
		if [[ ${_ecplan_pg_sourced:-0} -eq 0 ]]; then
			printf 'export PGHOST=%q PGPORT=%q PGUSER=%q PGDATABASE=%q\n' \
				"$PGHOST" "$PGPORT" "$PGUSER" "$PGDATABASE"
			printf 'export ECPLAN_PG_DIR=%q ECPLAN_PG_BIN=%q\n' "$ECPLAN_PG_DIR" "$ECPLAN_PG_BIN"
			printf 'unset PGHOSTADDR PGSERVICE\n'
		fi
		;;
	stop) ecplan_pg_stop "$@" ;;
	functions) return 0 ;;
	"")
		# Sourced with no arguments: just define the functions.
		[[ ${_ecplan_pg_sourced:-0} -eq 1 ]] && return 0
		_ecplan_pg_err "usage: source scripts/pg.sh start [DIR] | scripts/pg.sh start [DIR] | scripts/pg.sh stop [DIR]"
		return 2
		;;
	*)
		_ecplan_pg_err "usage: source scripts/pg.sh start [DIR] | scripts/pg.sh start [DIR] | scripts/pg.sh stop [DIR]"
		return 2
		;;
	esac
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
	# Sourced. `source pg.sh` with no arguments sees the caller's own positional
	# parameters, so only act on an explicit command.
	_ecplan_pg_sourced=1
	_ecplan_pg_main "$@"
	# shellcheck disable=SC2317
	return $?
fi
set -euo pipefail
_ecplan_pg_sourced=0
_ecplan_pg_main "$@"
