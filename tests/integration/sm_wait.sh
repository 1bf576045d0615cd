#!/usr/bin/env bash
# ecplan wait NAME --until PHASE|STATE [--timeout S] [--interval S]
#
# A plan stopped in planned (a check before expand fails, exit 3): `wait
# --until switched` exits 1 at once with the error (no runner holds it). Once
# expanded without error, `wait --until switched --timeout 1` exits 7 saying
# it timed out. No assertion here measures time: "at once" is proved by an
# --interval far beyond --timeout (a second look would come after the
# timeout, so only the first look can give the exit code seen). A wait
# started in the background returns 0 soon after another process advances
# the plan to switched. A state already reached (or passed) returns 0 at
# once, by phase name or state name; `--until contracted --timeout 1` on a
# switched plan exits 7.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

sm_mk_users 5000
NAME=wait-demo
P=$IT_TMP/plan.json
q "CREATE TABLE it_go (ok boolean NOT NULL); INSERT INTO it_go VALUES (false)" >/dev/null
sm_plan "$src/plans/users-email-lower.json" "$P" name="\"$NAME\"" \
	checks='[{"name": "release approved", "before": "expand", "sql": "SELECT ok FROM it_go"}]'

assert_exit 3 ecplan advance "$P"
assert_contains "$(cat "$ERR")" "release approved" "the failed check is named"
assert_eq 0 "$(sm_col_exists public.users email_normalized)" "nothing done"
assert_eq planned "$(sm_state $NAME)" "planned (registered, nothing done)"

# Its last attempt failed and no runner holds it: exit 1 at once (not 7 after
# the timeout), with the error.
assert_exit 1 ecplan wait $NAME --until switched --timeout 5 --interval 3600
assert_contains "$(cat "$ERR")" "failed and no runner holds it" "wait says why it gave up"
assert_contains "$(cat "$ERR")" "release approved" "wait prints last_error"
assert_exit 0 ecplan wait $NAME --until planned --timeout 1

q "UPDATE it_go SET ok = true" >/dev/null
assert_exit 0 ecplan advance "$P" --to expand
# No error, nobody advancing: a real wait, then the timeout.
assert_exit 7 ecplan wait $NAME --until switched --timeout 1
assert_contains "$(cat "$ERR")" "timed out after 1 s" "wait --timeout 1 says it timed out"
assert_exit 7 ecplan wait $NAME --until switch --timeout 1 --interval 1
assert_contains "$(cat "$ERR")" "timed out after 1 s" "timeout message"

# A wait in the background sees another process advance the plan.
"$BIN" wait $NAME --until switched --timeout 60 --interval 1 >"$IT_TMP/w.out" 2>"$IT_TMP/w.err" &
wpid=$!
sleep 1.2
kill -0 $wpid 2>/dev/null || fail "wait returned before the plan moved: $(cat "$IT_TMP/w.err")"
assert_exit 0 ecplan advance "$P" --to backfill
sleep 1.2
kill -0 $wpid 2>/dev/null || fail "wait returned at backfilled: $(cat "$IT_TMP/w.out" "$IT_TMP/w.err")"
assert_exit 0 ecplan advance "$P"
assert_eq switched "$(sm_state $NAME)" "switched"
# It polls every second; 120 s is a guard against a hang, not a speed test.
for _ in $(seq 1 1200); do
	kill -0 $wpid 2>/dev/null || break
	sleep 0.1
done
kill -0 $wpid 2>/dev/null && fail "wait still running long after the plan reached switched"
rc=0
wait $wpid || rc=$?
assert_eq 0 "$rc" "background wait exits 0 once switched (stderr: $(cat "$IT_TMP/w.err"))"

# Reached or passed: at once (the first look), by state or phase name.
for until in switched switch backfilled backfill expanded expand sync; do
	assert_exit 0 ecplan wait $NAME --until $until --timeout 5 --interval 3600
done
assert_exit 7 ecplan wait $NAME --until contracted --timeout 1
assert_exit 7 ecplan wait $NAME --until contract --timeout 1
assert_exit 2 ecplan wait $NAME --until nonsense --timeout 1
assert_exit 0 ecplan advance "$P"
assert_exit 0 ecplan wait $NAME --until contracted --timeout 1
pass
