#!/usr/bin/env bash
# Shared helpers for ecplan's integration tests.
#
# Every tests/integration/<name>.sh starts with
#   source "$(dirname "$0")/lib.sh"
#   it_setup                      # fresh database it_<name>_<random>, PGDATABASE points at it
# and ends with
#   pass
#
# ctest runs each test with ECPLAN_BIN, ECPLAN_SOURCE_DIR, ECPLAN_BUILD_DIR and the
# PG* variables of the throwaway server (scripts/pg.sh, started by scripts/test.sh).
#
# Helpers:
#   q "SQL" [psql args]            run SQL (psql -XAtq, ON_ERROR_STOP), print the rows
#   ecplan ARGS...                 run "$ECPLAN_BIN"
#   assert_eq EXPECTED ACTUAL MSG
#   assert_ne UNEXPECTED ACTUAL MSG
#   assert_contains HAYSTACK NEEDLE MSG
#   assert_not_contains HAYSTACK NEEDLE MSG
#   assert_exit CODE CMD...        run CMD with stdout in $OUT, stderr in $ERR (files),
#                                  check its exit code; prints both on mismatch
#   fail MSG                       stop the test here
#   it_defer "shell code"          run at exit (before the database is dropped), LIFO
#   pass                           print "ok" and the number of assertions; call last
# Variables: IT_NAME (test name), IT_DB (its database), IT_TMP (scratch dir, removed
# at exit), OUT/ERR (files written by assert_exit).
# ECPLAN_KEEP_DB=1 keeps the database (and prints its name) for post-mortems.
#
# Running this file directly runs a self-test of these helpers (ctest: it.lib).

set -euo pipefail
# errtrace: let the ERR trap see failures inside functions too, so an unchecked
# failing command (a `q` with bad SQL, say) reports where it happened.
set -o errtrace
# Command substitutions ($(q ...)) obey set -e too.
shopt -s inherit_errexit

IT_LIB_FILE=${BASH_SOURCE[0]}
IT_NAME=${IT_NAME:-$(basename "$0" .sh)}
IT_ASSERTS=0
IT_DB=
_it_deferred=()
_it_db_created=0

# Prints "file:line" of the nearest caller outside this library.
_it_where() {
	local i
	for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
		if [[ "${BASH_SOURCE[i]}" != "$IT_LIB_FILE" ]]; then
			echo "${BASH_SOURCE[i]}:${BASH_LINENO[i - 1]}"
			return
		fi
	done
	echo "${BASH_SOURCE[-1]}:${BASH_LINENO[-2]:-?}"
}

_it_say() { echo "[$IT_NAME] $*" >&2; }

fail() {
	_it_say "FAIL at $(_it_where): $*"
	# The ERR trap must not report this deliberate exit a second time.
	trap - ERR
	exit 1
}

_it_on_err() {
	local rc=$1 cmd=$2
	trap - ERR
	_it_say "FAIL at $(_it_where): command exited $rc: $cmd"
	exit "$rc"
}
trap '_it_on_err $? "$BASH_COMMAND"' ERR

# The tests are about a live server: no server is an error, never a skip, so a
# misconfigured CI run cannot go green by testing nothing.
if [[ -z "${PGHOST:-}" ]]; then
	_it_say "FAIL: PGHOST is not set. Integration tests need the throwaway server:"
	_it_say "      run them through scripts/test.sh, or: source scripts/pg.sh start; ctest --test-dir build"
	exit 1
fi
if ! command -v psql >/dev/null 2>&1; then
	_it_say "FAIL: psql not found (bash scripts/install-deps.sh)"
	exit 1
fi

IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ecplan-it-$IT_NAME.XXXXXX")
OUT=$IT_TMP/stdout
ERR=$IT_TMP/stderr
: >"$OUT"
: >"$ERR"
export IT_NAME IT_TMP OUT ERR

# On failure: the server's warnings and errors about this test's database
# (scripts/pg.sh prefixes every line with db=NAME; checkpoint lines are off).
_it_server_log() {
	local log=${ECPLAN_PG_DIR:-}/postgres.log lines
	[[ -n "$IT_DB" && -r "$log" ]] || return 0
	lines=$(grep -F "db=$IT_DB " "$log" | grep -vE 'LOG: +(checkpoint|duration)' | tail -n 20)
	[[ -n "$lines" ]] || return 0
	_it_say "server log lines of database $IT_DB (last 20):"
	sed 's/^/  | /' <<<"$lines" >&2
}

_it_on_exit() {
	local rc=$? i
	trap - ERR
	set +e
	((rc == 0)) || _it_server_log
	# Deferred actions first: they may need the database.
	for ((i = ${#_it_deferred[@]} - 1; i >= 0; i--)); do
		eval "${_it_deferred[i]}"
	done
	# Background jobs this test started (workload generators and the like) would
	# otherwise outlive it and keep connections open.
	local pids
	pids=$(jobs -p)
	if [[ -n "$pids" ]]; then
		# shellcheck disable=SC2086
		kill $pids 2>/dev/null
		wait 2>/dev/null
	fi
	if [[ $_it_db_created -eq 1 ]]; then
		if [[ "${ECPLAN_KEEP_DB:-0}" == 1 ]]; then
			_it_say "ECPLAN_KEEP_DB=1: keeping database $IT_DB"
		else
			# FORCE (PG 13+) ends sessions the test left behind (e.g. a killed ecplan).
			PGDATABASE=postgres psql -XAtq -v ON_ERROR_STOP=1 \
				-c "DROP DATABASE IF EXISTS \"$IT_DB\" WITH (FORCE)" >/dev/null ||
				_it_say "warning: could not drop database $IT_DB"
		fi
	fi
	rm -rf -- "$IT_TMP"
	exit "$rc"
}
trap _it_on_exit EXIT
# Turn Ctrl-C / kill into a normal exit so the EXIT trap cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

it_defer() { _it_deferred+=("$1"); }

# Creates this test's own database and points PGDATABASE at it.
it_setup() {
	local name rand
	# Database names here are unquoted-safe: lower case, digits, underscores; at most
	# 63 bytes (NAMEDATALEN - 1) with the it_ prefix and the _xxxxxxxx suffix.
	# ASCII only on purpose: the name must be a plain identifier.
	# shellcheck disable=SC2018,SC2019
	name=$(printf '%s' "$IT_NAME" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_' '_' | cut -c1-50)
	rand=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
	IT_DB="it_${name}_${rand}"
	PGDATABASE=postgres psql -XAtq -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$IT_DB\"" >/dev/null ||
		fail "could not create database $IT_DB on PGHOST=$PGHOST PGPORT=${PGPORT:-}"
	_it_db_created=1
	export PGDATABASE=$IT_DB IT_DB
}

# q "SQL" [extra psql args]: SQL goes through stdin so that several statements
# run one by one (as in a script: each in its own transaction, CREATE INDEX
# CONCURRENTLY allowed) and psql variables (-v x=..., :'x') work.
q() {
	local sql=$1
	shift
	printf '%s\n' "$sql" | psql -XAtq -v ON_ERROR_STOP=1 "$@"
}

ecplan() {
	local bin=${ECPLAN_BIN:-}
	if [[ -z "$bin" && -n "${ECPLAN_BUILD_DIR:-}" ]]; then
		bin=$ECPLAN_BUILD_DIR/ecplan
	fi
	if [[ -z "$bin" || ! -x "$bin" ]]; then
		fail "ecplan binary not found (ECPLAN_BIN='${ECPLAN_BIN:-}', ECPLAN_BUILD_DIR='${ECPLAN_BUILD_DIR:-}')"
	fi
	"$bin" "$@"
}

assert_eq() {
	local expected=$1 actual=$2 msg=${3:-values differ}
	IT_ASSERTS=$((IT_ASSERTS + 1))
	if [[ "$expected" != "$actual" ]]; then
		_it_say "assert_eq failed at $(_it_where): $msg"
		_it_say "  expected: [$expected]"
		_it_say "  actual:   [$actual]"
		trap - ERR
		exit 1
	fi
}

assert_ne() {
	local unexpected=$1 actual=$2 msg=${3:-values are equal}
	IT_ASSERTS=$((IT_ASSERTS + 1))
	if [[ "$unexpected" == "$actual" ]]; then
		_it_say "assert_ne failed at $(_it_where): $msg"
		_it_say "  both are: [$actual]"
		trap - ERR
		exit 1
	fi
}

assert_contains() {
	local haystack=$1 needle=$2 msg=${3:-text not found}
	IT_ASSERTS=$((IT_ASSERTS + 1))
	if [[ "$haystack" != *"$needle"* ]]; then
		_it_say "assert_contains failed at $(_it_where): $msg"
		_it_say "  looked for: [$needle]"
		_it_say "  in:         [$haystack]"
		trap - ERR
		exit 1
	fi
}

assert_not_contains() {
	local haystack=$1 needle=$2 msg=${3:-unexpected text found}
	IT_ASSERTS=$((IT_ASSERTS + 1))
	if [[ "$haystack" == *"$needle"* ]]; then
		_it_say "assert_not_contains failed at $(_it_where): $msg"
		_it_say "  found: [$needle]"
		_it_say "  in:    [$haystack]"
		trap - ERR
		exit 1
	fi
}

# assert_exit CODE CMD...: CMD's stdout goes to the file $OUT, its stderr to $ERR.
assert_exit() {
	local expected=$1 rc=0
	shift
	IT_ASSERTS=$((IT_ASSERTS + 1))
	# `|| rc=$?` keeps errexit and the ERR trap out of it: a non-zero exit is the
	# very thing being tested.
	"$@" >"$OUT" 2>"$ERR" || rc=$?
	if [[ "$rc" != "$expected" ]]; then
		_it_say "assert_exit failed at $(_it_where): expected exit $expected, got $rc from: $*"
		_it_say "  --- stdout ---"
		sed 's/^/  | /' "$OUT" >&2
		_it_say "  --- stderr ---"
		sed 's/^/  | /' "$ERR" >&2
		trap - ERR
		exit 1
	fi
}

pass() {
	echo "ok - $IT_NAME: $IT_ASSERTS assertions passed"
}

# ---------------------------------------------------------------------------
# Self-test, when this file is run rather than sourced (ctest picks up every
# tests/integration/*.sh, this one included, as it.lib).
# shellcheck disable=SC2016 # child bodies are expanded by the child
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	it_setup
	assert_eq "$IT_DB" "$(q 'select current_database()')" "it_setup points PGDATABASE at the new database"
	assert_contains "$IT_DB" "it_lib_" "database name has the it_<test>_ prefix"
	assert_eq "2" "$(q 'create table t(a int); insert into t values (1), (1); select count(*) from t')" \
		"q runs several statements and prints the last result"
	assert_eq "x|y" "$(q "select :'a', :'b'" -v a=x -v b=y)" "q passes psql variables"
	assert_exit 3 q 'select nosuchcolumn from t'
	assert_contains "$(cat "$ERR")" 'nosuchcolumn' "psql error lands in \$ERR"
	assert_exit 0 sh -c 'echo out; echo err >&2'
	assert_eq out "$(cat "$OUT")" "stdout captured"
	assert_eq err "$(cat "$ERR")" "stderr captured"

	lib=$IT_LIB_FILE
	child() { # child SCRIPT-BODY: runs a throwaway test, output into $OUT/$ERR
		printf 'source %q\n%s\n' "$lib" "$1" >"$IT_TMP/child.sh"
		IT_NAME=child bash "$IT_TMP/child.sh"
	}
	# Each failing helper must exit non-zero and name the failing line of the test
	# (line 2 of child.sh: line 1 is the `source`).
	for body in 'assert_eq a b "my message"' 'assert_ne a a "my message"' \
		'assert_contains abc x "my message"' 'assert_not_contains abc b "my message"' \
		'assert_exit 0 false' 'fail "my message"'; do
		assert_exit 1 child "$body"
		assert_contains "$(cat "$ERR")" "child.sh:2" "failure of [$body] reports its line"
	done
	# An unchecked failing command stops the test with its own exit code (psql: 3).
	assert_exit 3 child 'q "select syntax error"'
	assert_contains "$(cat "$ERR")" "child.sh:2" "failed q reports its line"
	assert_contains "$(cat "$ERR")" "syntax error" "failed q shows psql's error"
	assert_exit 3 child 'x=$(q "select syntax error"); echo "reached $x"'
	assert_not_contains "$(cat "$OUT")" reached "failed q in \$(...) stops the test"
	assert_exit 1 child 'false; echo reached'
	assert_not_contains "$(cat "$OUT")" reached "set -e is on"
	assert_exit 1 child 'assert_eq a b "my message"'
	assert_contains "$(cat "$ERR")" "my message" "assertion message is printed"
	assert_exit 1 child 'assert_exit 0 sh -c "echo to-out; echo to-err >&2; exit 4"'
	assert_contains "$(cat "$ERR")" "to-out" "assert_exit shows the command's stdout on mismatch"
	assert_contains "$(cat "$ERR")" "to-err" "assert_exit shows the command's stderr on mismatch"
	assert_contains "$(cat "$ERR")" "got 4" "assert_exit shows the exit code"

	# The per-test database is dropped at exit, failing or not, unless ECPLAN_KEEP_DB=1.
	assert_exit 0 child 'it_setup; echo "$IT_DB"'
	db=$(cat "$OUT")
	assert_eq 0 "$(q "select count(*) from pg_database where datname = '$db'")" "database dropped after success"
	assert_exit 1 child 'it_setup; echo "$IT_DB"; fail boom'
	db=$(cat "$OUT")
	assert_eq 0 "$(q "select count(*) from pg_database where datname = '$db'")" "database dropped after failure"
	assert_exit 0 env ECPLAN_KEEP_DB=1 IT_NAME=child bash -c "source $(printf %q "$lib"); it_setup; echo \$IT_DB"
	db=$(cat "$OUT")
	assert_eq 1 "$(q "select count(*) from pg_database where datname = '$db'")" "ECPLAN_KEEP_DB=1 keeps it"
	q "drop database \"$db\""
	assert_exit 0 child 'it_defer "echo deferred-ran"; true'
	assert_contains "$(cat "$OUT")" deferred-ran "it_defer runs at exit"
	assert_exit 0 child 'sleep 300 & echo $!'
	pid=$(cat "$OUT")
	sleep 0.2
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		fail "background job $pid of a finished test is still running"
	fi
	assert_exit 0 child 'pass'
	assert_eq "ok - child: 0 assertions passed" "$(cat "$OUT")" "pass prints ok and the tally"

	# No server: fail loudly, never skip.
	assert_exit 1 env -u PGHOST IT_NAME=child bash -c "source $(printf %q "$lib"); echo reached"
	assert_contains "$(cat "$ERR")" "PGHOST is not set" "missing PGHOST is an error"
	assert_not_contains "$(cat "$OUT")" reached "missing PGHOST stops the test"
	pass
fi
