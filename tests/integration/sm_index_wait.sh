#!/usr/bin/env bash
# Index builds on a busy database (issue 10, item 2).
#
# CREATE INDEX CONCURRENTLY waits for every transaction in the database that
# holds an older snapshot, even one that never touches the table. A session
# in a REPEATABLE READ transaction (a snapshot, no lock on users) stands for
# a long report query. With the plan's short lock_timeout_ms (200) and
# lock_retries 0, the build used to give up at once with exit 6 naming
# nobody. Now:
#   1. the build waits; ecplan records an index_wait event naming the
#      blocker's pid (seen by polling ecplan.events, no timing), says so on
#      its output, and finishes once the test ends that transaction;
#   2. with safety.max_index_wait_s 2, the build is cancelled after waiting
#      2 s in total: exit 6 naming the blocker, no invalid index left, and the
#      same command succeeds once the blocker is gone.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

# start_snapshot_holder N: a psql (fd N+2 feeds it through a fifo) in a
# REPEATABLE READ transaction that has taken its snapshot; sets $holder.
start_snapshot_holder() {
	local fifo=$IT_TMP/holder.$1.fifo outf=$IT_TMP/holder.$1.out
	mkfifo "$fifo"
	psql -XAtq -v ON_ERROR_STOP=1 <"$fifo" >"$outf" 2>&1 &
	exec 5>"$fifo"
	printf 'BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT pg_backend_pid() FROM pg_class LIMIT 1;\n' >&5
	holder=
	for _ in $(seq 1 600); do
		holder=$(head -n 1 "$outf")
		[[ -n "$holder" ]] && break
		sleep 0.1
	done
	[[ "$holder" =~ ^[0-9]+$ ]] || fail "snapshot holder did not start: $(cat "$outf")"
	assert_eq t "$(q "SELECT backend_xmin IS NOT NULL FROM pg_stat_activity WHERE pid = $holder")" \
		"the holder keeps a snapshot"
}
stop_snapshot_holder() {
	printf 'COMMIT;\n' >&5
	exec 5>&-
}
it_defer "exec 5>&- 2>/dev/null"

# wait_event KIND NEEDLE: polls ecplan.events until an event of KIND whose
# message contains NEEDLE exists, while the ecplan process $apid lives.
wait_event() {
	for _ in $(seq 1 1200); do
		[[ "$(q "SELECT count(*) FROM ecplan.events WHERE kind = :'k' AND strpos(message, :'n') > 0" \
			-v k="$1" -v n="$2")" != 0 ]] && return 0
		kill -0 "$apid" 2>/dev/null || fail "ecplan exited before recording a $1 event: $(cat "$IT_TMP/adv.out" "$IT_TMP/adv.err")"
		sleep 0.1
	done
	fail "no $1 event naming $2"
}

sm_mk_users 3000
P=$IT_TMP/p.json
sm_plan "$src/plans/users-email-lower.json" "$P" name='"idxwait"' safety.lock_timeout_ms=200 \
	safety.lock_retries=0 safety.max_transaction_age_s=3600
assert_exit 0 ecplan advance "$P" --to sync

# --- 1. the build waits for the old snapshot and reports whom it waits for ---
start_snapshot_holder 1
ecplan advance "$P" >"$IT_TMP/adv.out" 2>"$IT_TMP/adv.err" &
apid=$!
wait_event index_wait "pid $holder"
assert_eq backfill "$(q "SELECT running_phase FROM ecplan.plans WHERE name = 'idxwait'")" "backfill is running"
assert_eq 1 "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ecplan' AND datname = current_database()
	AND query ILIKE 'CREATE UNIQUE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'")" \
	"ecplan's index build waits (no lock_timeout)"
data=$(q "SELECT data FROM ecplan.events WHERE kind = 'index_wait' ORDER BY id LIMIT 1")
assert_contains "$data" "\"pid\": $holder" "the event's data names the holder's pid"
stop_snapshot_holder
rc=0
wait $apid || rc=$?
assert_eq 0 "$rc" "advance succeeded once the old transaction ended: $(cat "$IT_TMP/adv.out" "$IT_TMP/adv.err")"
assert_contains "$(cat "$IT_TMP/adv.out")" "pid $holder" "advance's output names the blocker"
assert_eq backfilled "$(sm_state idxwait)" "backfilled"
assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'idxwait' AND kind = 'lock_timeout'")" \
	"no lock_timeout retry for the index build"
assert_ne 0 "$(q "SELECT count(*) FROM ecplan.events WHERE kind = 'index_wait'
	AND message = 'no longer waiting for other sessions'")" "the end of the wait is recorded"
assert_eq 0 "$(q "SELECT count(*) FROM pg_index WHERE NOT indisvalid")" "no invalid index"
assert_exit 0 ecplan verify "$P"

# --- 2. max_index_wait_s: cancelled, cleaned up, exit 6 naming the blocker ---
db2=$(sm_extra_db limit)
export PGDATABASE=$db2
sm_mk_users 3000
P2=$IT_TMP/p2.json
sm_plan "$P" "$P2" name='"idxlimit"' safety.max_index_wait_s=2
assert_exit 0 ecplan advance "$P2" --to sync
start_snapshot_holder 2
assert_exit 6 ecplan advance "$P2"
assert_contains "$(cat "$ERR")" "pid $holder" "exit 6 names the session in the way"
assert_contains "$(cat "$ERR")" "max_index_wait_s" "exit 6 names the setting"
assert_eq 0 "$(q "SELECT count(*) FROM pg_index WHERE NOT indisvalid")" "the cancelled build left no invalid index"
assert_eq 0 "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ecplan' AND datname = current_database()")" \
	"no ecplan session left"
assert_eq synced "$(sm_state idxlimit)" "state unchanged"
assert_eq backfill "$(q "SELECT running_phase FROM ecplan.plans WHERE name = 'idxlimit'")" "backfill stays resumable"
stop_snapshot_holder
assert_exit 0 ecplan advance "$P2"
assert_eq backfilled "$(sm_state idxlimit)" "backfilled after the blocker ended"
assert_exit 0 ecplan verify "$P2"
pass
