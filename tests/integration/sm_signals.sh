#!/usr/bin/env bash
# SIGINT / SIGTERM during advance (issue 10, item 3).
#
# 1. SIGINT while the index build waits for an old snapshot (a REPEATABLE
#    READ transaction elsewhere): exit 130, an `interrupted` event, no backend
#    left running ecplan's CREATE INDEX, the plan not "running", the message
#    says how to resume; `advance` again (the old transaction gone) drops the
#    invalid leftover and finishes with 0 divergent rows.
# 2. SIGTERM while a backfill batch waits for a row lock held by another
#    session (lock_timeout_ms is long here, so the batch is certainly inside
#    its UPDATE): exit 143, the batch rolled back (nothing of it written),
#    an `interrupted` event, no backend left, and `advance` resumes to the
#    end with 0 divergent rows.
# 3. SIGINT to `ecplan wait`: exit 130 at once, nothing changed.
# Every wait below polls the database for a state; nothing depends on speed.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
# The binary itself in the background (not the `ecplan` shell function), so
# that $! is ecplan's pid and the signals reach it. A background job of a
# script starts with SIGINT ignored, and ecplan keeps an ignored SIGINT
# ignored (as nohup wants): env --default-signal gives it back, as an
# interactive shell would.
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}
RUN=(env --default-signal=INT "$BIN")

# start_holder SQL: a psql fed through a fifo on fd 5 runs SQL (which must
# end by printing one line) and stays in its transaction; sets $holder to
# what it printed (its pid).
start_holder() {
	local fifo=$IT_TMP/holder.$RANDOM.fifo outf=$IT_TMP/holder.$RANDOM.out
	mkfifo "$fifo"
	psql -XAtq -v ON_ERROR_STOP=1 <"$fifo" >"$outf" 2>&1 &
	exec 5>"$fifo"
	printf '%s\n' "$1" >&5
	holder=
	for _ in $(seq 1 600); do
		holder=$(head -n 1 "$outf")
		[[ -n "$holder" ]] && break
		sleep 0.1
	done
	[[ "$holder" =~ ^[0-9]+$ ]] || fail "holder did not start: $(cat "$outf")"
}
stop_holder() {
	printf 'COMMIT;\n' >&5
	exec 5>&-
}
it_defer "exec 5>&- 2>/dev/null"

# poll_until SQL: polls until SQL returns t, while ecplan ($apid) runs.
poll_until() {
	for _ in $(seq 1 1200); do
		[[ "$(q "$1")" == t ]] && return 0
		kill -0 "$apid" 2>/dev/null || fail "ecplan exited early: $(cat "$IT_TMP/adv.out" "$IT_TMP/adv.err")"
		sleep 0.1
	done
	fail "timed out polling for: $1"
}

# wait_exit: sets rc to the exit code of $apid, which must end (a safety net of 300 s
# against a hang, not a measure of speed).
wait_exit() {
	for _ in $(seq 1 3000); do
		kill -0 "$apid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$apid" 2>/dev/null && fail "ecplan did not end after the signal"
	rc=0
	wait "$apid" || rc=$?
}

# after_interrupt NAME: what every interrupted run must leave behind.
after_interrupt() {
	local name=$1
	assert_eq 1 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = :'n' AND kind = 'interrupted'" -v n="$name")" \
		"$name: one interrupted event"
	assert_eq 0 "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ecplan' AND datname = current_database()")" \
		"$name: no ecplan backend left running"
	assert_exit 0 ecplan status "$name" --json
	assert_eq false "$(sm_json "$OUT" 'd["running"]')" "$name: status says not running"
	assert_eq backfill "$(sm_json "$OUT" 'd["running_phase"]')" "$name: backfill stays resumable"
	assert_contains "$(cat "$IT_TMP/adv.err")" "interrupted (SIG" "$name: says it was interrupted"
	assert_contains "$(cat "$IT_TMP/adv.err")" "again to resume" "$name: says how to resume"
}

sm_mk_users 3000

# --- 1. SIGINT during an index build ---------------------------------------
P=$IT_TMP/p.json
sm_plan "$src/plans/users-email-lower.json" "$P" name='"sig-int"' safety.max_transaction_age_s=3600
assert_exit 0 ecplan advance "$P" --to sync
start_holder 'BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pg_backend_pid() FROM pg_class LIMIT 1;'
"${RUN[@]}" advance "$P" >"$IT_TMP/adv.out" 2>"$IT_TMP/adv.err" &
apid=$!
poll_until "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'ecplan' AND datname = current_database()
	AND query ILIKE 'CREATE UNIQUE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'"
kill -INT "$apid"
wait_exit
assert_eq 130 "$rc" "SIGINT: exit 130 ($(cat "$IT_TMP/adv.err"))"
after_interrupt sig-int
assert_contains "$(cat "$IT_TMP/adv.err")" "build index" "says which step was interrupted"
assert_eq '"SIGINT"' "$(q "SELECT data->'signal' FROM ecplan.events WHERE plan = 'sig-int' AND kind = 'interrupted'")" \
	"the event names the signal"
stop_holder
assert_exit 0 ecplan advance "$P"
assert_eq backfilled "$(sm_state sig-int)" "sig-int: resumed to the end"
assert_eq 0 "$(q "SELECT count(*) FROM pg_index WHERE NOT indisvalid")" "the invalid leftover was dropped"
assert_exit 0 ecplan verify "$P"
assert_contains "$(cat "$OUT")" "divergent (both differ): 0" "sig-int: 0 divergent rows"
assert_exit 0 ecplan rollback "$P"

# --- 2. SIGTERM during a backfill batch --------------------------------------
P2=$IT_TMP/p2.json
sm_plan "$src/plans/users-email-lower.json" "$P2" name='"sig-term"' safety.max_transaction_age_s=3600 \
	safety.lock_timeout_ms=600000 backfill.batch_size=500 backfill.target_batch_ms=0
assert_exit 0 ecplan advance "$P2" --to sync
# Hold row 1700 (in the fourth batch) so that batch waits inside its UPDATE.
start_holder 'BEGIN;
SELECT pg_backend_pid() FROM public.users WHERE id = 1700 FOR UPDATE;'
"${RUN[@]}" advance "$P2" >"$IT_TMP/adv.out" 2>"$IT_TMP/adv.err" &
apid=$!
poll_until "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'ecplan' AND datname = current_database()
	AND query ILIKE 'UPDATE%' AND wait_event_type = 'Lock'"
done_before=$(q "SELECT rows_done FROM ecplan.plans WHERE name = 'sig-term'")
kill -TERM "$apid"
wait_exit
assert_eq 143 "$rc" "SIGTERM: exit 143 ($(cat "$IT_TMP/adv.err"))"
after_interrupt sig-term
assert_eq "$done_before" "$(q "SELECT rows_done FROM ecplan.plans WHERE name = 'sig-term'")" \
	"the interrupted batch did not count"
assert_eq "$done_before" "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS NOT NULL")" \
	"the interrupted batch was rolled back"
assert_contains "$(cat "$IT_TMP/adv.out")" "backfill: $done_before/" "the progress summary stays on screen"
stop_holder
assert_exit 0 ecplan advance "$P2"
assert_eq backfilled "$(sm_state sig-term)" "sig-term: resumed to the end"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS NULL")" "every row filled"
assert_exit 0 ecplan verify "$P2"
assert_contains "$(cat "$OUT")" "divergent (both differ): 0" "sig-term: 0 divergent rows"

# --- 3. SIGINT to wait --------------------------------------------------------
"${RUN[@]}" wait sig-term --until contract --interval 1 >"$IT_TMP/adv.out" 2>"$IT_TMP/adv.err" &
apid=$!
poll_until "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'ecplan' AND datname = current_database()"
kill -INT "$apid"
wait_exit
assert_eq 130 "$rc" "wait: exit 130 on SIGINT"
assert_contains "$(cat "$IT_TMP/adv.err")" "interrupted" "wait says it was interrupted"
assert_eq backfilled "$(sm_state sig-term)" "wait changed nothing"
pass
