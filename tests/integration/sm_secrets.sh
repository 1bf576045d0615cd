#!/usr/bin/env bash
# Secrets (issue 10, item 6): a password given with --db never shows in the
# process list while ecplan runs (ps -o args, /proc/PID/cmdline), in a URI or
# a keyword string; --help recommends PGPASSWORD / ~/.pgpass / ECPLAN_DB.
# The test server trusts local connections, so any password connects.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}
PW=pw$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')

# running PID: waits until PID's ecplan session is connected (it connected
# with the --db given), then prints its ps line and its /proc cmdline.
running() {
	local pid=$1 n=0
	for _ in $(seq 1 1000); do
		n=$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ecplan' AND datname = current_database()")
		[[ $n != 0 ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	[[ $n != 0 ]] || fail "ecplan never connected"
	ps -o args= -p "$pid"
	tr '\0' ' ' <"/proc/$pid/cmdline"
}

sm_mk_users 20000
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" backfill.batch_size=200 backfill.target_batch_ms=0 backfill.pause_ms=20
assert_exit 0 ecplan advance "$P" --to expand

# 1. wait (for a phase still to come), with a URI
uri="postgresql://$PGUSER:$PW@/$IT_DB?host=$PGHOST&port=${PGPORT:-5432}"
"$BIN" wait users-email-lower --until contract --timeout 600 --interval 0.2 --db "$uri" >"$IT_TMP/w.out" 2>&1 &
pid=$!
seen=$(running $pid)
kill $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
assert_not_contains "$seen" "$PW" "ps does not show the password of a --db URI"
assert_contains "$seen" "$PGUSER:***@" "ps shows *** in its place"
sm_wait_no_runner 120 || fail "the wait session is still there"

# 2. advance during a backfill, with a keyword string and --db=
kw="host=$PGHOST port=${PGPORT:-5432} dbname=$IT_DB password='$PW x' user=$PGUSER"
"$BIN" advance "$P" --to backfill "--db=$kw" >"$IT_TMP/a.out" 2>&1 &
pid=$!
seen=$(running $pid)
assert_not_contains "$seen" "$PW" "ps does not show the password of a --db keyword string"
assert_contains "$seen" "password=***" "ps shows *** in its place"
rc=0
wait $pid || rc=$?
assert_eq 0 "$rc" "advance ran with the masked argument: $(cat "$IT_TMP/a.out")"
assert_eq backfilled "$(sm_state users-email-lower)" "backfilled"

# 3. --help says where a password belongs
assert_exit 0 ecplan --help
assert_contains "$(cat "$OUT")" "PGPASSWORD" "ecplan --help recommends PGPASSWORD"
assert_contains "$(cat "$OUT")" ".pgpass" "and ~/.pgpass"
assert_exit 0 ecplan advance --help
assert_contains "$(cat "$OUT")" "PGPASSWORD" "advance --help too"
pass
