#!/usr/bin/env bash
# Pause and resume a running backfill from another shell; change its
# settings while it runs; drift of a defining field still exits 8.
#
# 20k users, users-email-lower with batches of 20 (not adapted) and
# pause_ms 20: a backfill far longer than the steps below. While it runs:
#   - `ecplan pause` makes it stop between batches: one `paused` event, its
#     rows_done and the filled rows stay put over several polls, its session
#     holds no lock on the table and is never idle in a transaction, and
#     status --json says paused; a second runner is still refused (exit 4);
#   - `ecplan resume`: one `resumed` event, rows_done moves again;
#   - `ecplan update` with batch_size 2000 and pause_ms 0: a `settings` event
#     from the registering command (old and new values per path) and one from
#     the running backfill, which ends with batch size 2000, 0 unfilled rows.
# Then: advance on a paused plan exits 12 (JSON code "paused") and runs
# nothing; a changed `up` is drift (exit 8) for update and advance alike.
# No timed assertions: progress is read from the state row and the events.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

N=20000
NAME=users-email-lower
sm_mk_users $N
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" backfill.batch_size=20 backfill.target_batch_ms=0 \
	backfill.pause_ms=20
assert_exit 0 ecplan advance "$P" --to sync

rows_done() { q "SELECT rows_done FROM ecplan.plans WHERE name = '$NAME'"; }
filled() { q "SELECT count(*) FROM public.users WHERE email_normalized IS NOT NULL"; }
events() { q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = '$1'"; }
# until_true SECONDS SQL: polls SQL (returning t/f) every 0.2 s; a liveness
# bound only (the assertion is on what the SQL reads, never on time).
until_true() {
	local tries=$(($1 * 5))
	while ((tries-- > 0)); do
		[[ $(q "$2") == t ]] && return 0
		sleep 0.2
	done
	return 1
}

# Estimates honour pause_ms: 20 rows, then 20 ms of sleep, is at most 1000 rows/s.
assert_exit 0 ecplan check "$P" --json
assert_eq true "$(sm_json "$OUT" 'd["estimate"]["throttled"]')" "check --json: the estimate is throttled"
assert_eq true "$(sm_json "$OUT" '0 < d["estimate"]["rows_per_second"] <= 1000')" "check --json: at most 1000 rows/s"
assert_eq true "$(sm_json "$OUT" 'd["estimate"]["seconds"] >= 20')" "check --json: 20000 rows take 20 s or more"
assert_exit 0 ecplan check "$P"
assert_contains "$(cat "$OUT")" "rows/s (throttled by pause_ms" "check says the estimate is throttled"

"$BIN" advance "$P" --to backfill >"$IT_TMP/bg.out" 2>"$IT_TMP/bg.err" &
bg=$!
until_true 60 "SELECT rows_done > 0 FROM ecplan.plans WHERE name = '$NAME'" ||
	fail "the backfill did not start: $(cat "$IT_TMP/bg.err")"

# --- pause --------------------------------------------------------------
assert_exit 0 ecplan pause $NAME
assert_contains "$(cat "$OUT")" "paused" "pause says so"
assert_eq 1 "$(events pause)" "the pause request is in the history"
until_true 60 "SELECT count(*) = 1 FROM ecplan.events WHERE plan = '$NAME' AND kind = 'paused'" ||
	fail "no paused event: $(cat "$IT_TMP/bg.err")"
kill -0 $bg || fail "the runner ended while paused"
r1=$(rows_done)
f1=$(filled)
((r1 < N)) || fail "the backfill finished before it was paused ($r1 rows done)"
assert_exit 0 ecplan status $NAME --json
assert_eq true "$(sm_json "$OUT" 'd["paused"]')" "status --json: paused"
assert_eq true "$(sm_json "$OUT" 'd["running"]')" "status --json: still running (waiting)"
assert_eq null "$(sm_json "$OUT" 'd["throttled"]')" "status --json: a pause is not a throttle"
backend=$(sm_json "$OUT" 'd["runner"]["backend_pid"]')
assert_eq true "$(sm_json "$OUT" 'd["backfill"]["rate_limited"]')" "status --json: the rate honours pause_ms"
assert_eq true "$(sm_json "$OUT" '0 < d["backfill"]["rows_per_second"] <= 1000')" "status --json: at most 1000 rows/s"
for i in 1 2 3 4 5 6; do
	sleep 0.5
	assert_eq 0 "$(q "SELECT count(*) FROM pg_locks WHERE pid = $backend AND relation = 'public.users'::regclass")" \
		"poll $i: the paused runner holds no lock on the table"
	assert_eq 0 "$(q "SELECT count(*) FROM pg_stat_activity WHERE pid = $backend AND state LIKE 'idle in transaction%'")" \
		"poll $i: the paused runner is not in a transaction"
	assert_eq "$r1" "$(rows_done)" "poll $i: no batch while paused (rows_done)"
	assert_eq "$f1" "$(filled)" "poll $i: no row filled while paused"
done
assert_eq 1 "$(events paused)" "one paused event however long the pause"
assert_exit 0 ecplan pause $NAME
assert_contains "$(cat "$OUT")" "already paused" "pausing twice changes nothing"
assert_eq 1 "$(events pause)" "a second pause records nothing"
assert_exit 4 ecplan advance "$P" --to backfill

# --- resume -------------------------------------------------------------
assert_exit 0 ecplan resume $NAME --json
assert_eq false "$(sm_json "$OUT" 'd["paused"]')" "resume --json: paused false"
assert_eq true "$(sm_json "$OUT" 'd["changed"]')" "resume --json: changed"
until_true 60 "SELECT count(*) = 1 FROM ecplan.events WHERE plan = '$NAME' AND kind = 'resumed'" ||
	fail "no resumed event"
until_true 60 "SELECT rows_done > $r1 FROM ecplan.plans WHERE name = '$NAME'" || fail "no batch after resume"
assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind IN ('paused', 'resumed') AND id > (SELECT max(id) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'resumed')")" \
	"nothing paused since"

# --- a settings change mid-run --------------------------------------------
kill -0 $bg || fail "the backfill ended before the settings change; make it longer"
r2=$(rows_done)
P2=$IT_TMP/plan2.json
sm_plan "$P" "$P2" backfill.batch_size=2000 backfill.pause_ms=0 'description="faster now"'
assert_exit 0 ecplan update "$P2" --json
assert_eq true "$(sm_json "$OUT" 'd["changed"]')" "update --json: changed"
assert_eq '["$.backfill.batch_size", "$.backfill.pause_ms", "$.description"]' \
	"$(sm_json "$OUT" 'sorted(c["path"] for c in d["changes"])')" "update --json: the paths changed"
assert_eq "20 2000" "$(sm_json "$OUT" '" ".join(str(c["registered"]) + " " + str(c["file"]) for c in d["changes"] if c["path"] == "$.backfill.batch_size")')" \
	"update --json: old and new batch_size"
assert_eq 1 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'settings' AND phase IS NULL AND data -> 'changes' @> '[{\"path\": \"\$.backfill.batch_size\", \"registered\": 20, \"file\": 2000}]'")" \
	"the history records the registration with old and new values"
wait $bg || fail "the backfill failed after the settings change: $(cat "$IT_TMP/bg.err")"
assert_eq 1 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'settings' AND phase = 'backfill' AND (data ->> 'batch_size')::int = 2000 AND (data ->> 'rows_done')::bigint >= $r2 AND (data ->> 'rows_done')::bigint < $N")" \
	"the running backfill took batch_size 2000 before it ended"
assert_contains "$(q "SELECT message FROM ecplan.events WHERE plan = '$NAME' AND kind = 'backfill' ORDER BY id DESC LIMIT 1")" \
	"batch size 2000" "the last batches ran with the new size"
assert_eq backfilled "$(sm_state $NAME)" "backfilled"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS DISTINCT FROM lower(email)")" "0 unfilled or wrong rows"
assert_eq "2000 0 faster now" "$(q "SELECT concat_ws(' ', j -> 'backfill' ->> 'batch_size', j -> 'backfill' ->> 'pause_ms', j ->> 'description') FROM (SELECT plan_json::jsonb AS j FROM ecplan.plans WHERE name = '$NAME') s")" \
	"the new file is the registered plan"
# The same file again: nothing to do.
assert_exit 0 ecplan update "$P2"
assert_contains "$(cat "$OUT")" "nothing to update" "an unchanged file registers nothing"

# --- advance on a paused plan -------------------------------------------
assert_exit 0 ecplan pause "$P2"
assert_exit 12 ecplan advance "$P2"
assert_contains "$(cat "$ERR")" "is paused" "advance says the plan is paused"
assert_contains "$(cat "$ERR")" "ecplan resume $NAME" "and how to resume it"
assert_exit 12 ecplan advance "$P2" --json
assert_eq paused "$(sm_json "$ERR" 'd["code"]')" "JSON error code paused"
assert_eq 12 "$(sm_json "$ERR" 'd["exit_code"]')" "JSON exit_code 12"
assert_eq backfilled "$(sm_state $NAME)" "nothing ran while paused"
assert_exit 0 ecplan advance "$P2" --to backfill
assert_contains "$(cat "$OUT" "$ERR")" "already backfilled" "advance --to a phase already done stays idempotent while paused"
assert_exit 0 ecplan status $NAME
assert_contains "$(cat "$OUT")" "paused:   yes" "status says paused"
assert_exit 0 ecplan resume "$P2"

# --- drift of a defining field ------------------------------------------
P3=$IT_TMP/plan3.json
sm_plan "$P2" "$P3" 'change.up="upper(email)"' backfill.batch_size=100
assert_exit 8 ecplan update "$P3"
assert_contains "$(cat "$ERR")" '$.change.up' "drift names the defining path"
assert_not_contains "$(cat "$ERR")" '$.backfill.batch_size' "and not the operational one"
assert_exit 8 ecplan advance "$P3"
assert_contains "$(cat "$ERR")" '$.change.up' "advance: drift names the defining path"
assert_eq 2000 "$(q "SELECT (plan_json::jsonb -> 'backfill' ->> 'batch_size') FROM ecplan.plans WHERE name = '$NAME'")" \
	"nothing of the drifted file was registered"
# An operational change through advance itself: registered, then it runs.
P4=$IT_TMP/plan4.json
sm_plan "$P2" "$P4" 'checks=[{"name": "always", "before": "contract", "sql": "SELECT true"}]' \
	'safety.lock_retries=7'
assert_exit 0 ecplan advance "$P4" --to switch
assert_eq switched "$(sm_state $NAME)" "advance registered the new settings and ran"
assert_eq 1 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'settings' AND data -> 'changes' @> '[{\"path\": \"\$.safety.lock_retries\", \"registered\": 20, \"file\": 7}]'")" \
	"advance recorded the settings change"
assert_exit 0 ecplan advance "$P4"
assert_eq contracted "$(sm_state $NAME)" "contracted"
assert_exit 9 ecplan pause $NAME
assert_contains "$(cat "$ERR")" "no phase left to pause" "a contracted plan cannot be paused"
assert_exit 2 ecplan pause no-such-plan
assert_contains "$(cat "$ERR")" "not registered" "an unknown plan is named"
pass
