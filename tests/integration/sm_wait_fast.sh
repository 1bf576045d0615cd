#!/usr/bin/env bash
# `ecplan wait` fails fast when waiting cannot succeed without someone acting:
#   unknown plan (and a database without schema ecplan)  exit 2
#   rolled_back                                            exit 10
#   rolled back below the awaited phase                    exit 11
#   phase interrupted (kill -9), no runner                 exit 1
# (a failed last attempt, exit 1, is in sm_wait; a pending gate, exit 5, in
# wh_gate_status). It prints one progress line per poll (state, backfill rows,
# rate, ETA) on stderr, none with --quiet or --json; --json prints the status
# object; the default timeout is finite and in --help.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

# No schema ecplan at all, then a schema without the plan: exit 2 at once
# (a --timeout of an hour would show as a hung test).
assert_exit 2 ecplan wait no-such-plan --until switch --timeout 3600
assert_contains "$(cat "$ERR")" 'plan "no-such-plan" is not registered in this database' "unknown plan"
assert_exit 2 ecplan wait no-such-plan --until switch --timeout 3600 --json
assert_eq "not_found 2" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["code"], o["exit_code"])' <"$ERR")" \
	"--json: the error is one JSON object on stderr"

sm_mk_users 3000
NAME=wait-fast
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" name="\"$NAME\"" backfill.batch_size=500
assert_exit 0 ecplan advance "$P" --to backfill
assert_exit 2 ecplan wait no-such-plan --until switch --timeout 3600
assert_contains "$(cat "$ERR")" "not registered" "unknown plan beside a registered one"

# Progress lines: one per poll until the timeout, with the backfill figures.
# A timeout well above a poll (however slow the machine), so a line is due.
assert_exit 7 ecplan wait $NAME --until switched --timeout 5 --interval 0.3
lines=$(grep -c "^wait: $NAME: backfilled; backfill 3000/3000 rows (100.0%)" "$ERR" || true)
[[ "$lines" -ge 1 ]] || fail "no progress line with the backfill figures: $(cat "$ERR")"
IT_ASSERTS=$((IT_ASSERTS + 1))
assert_contains "$(cat "$ERR")" "waiting for switched" "the line names the target"
assert_contains "$(cat "$ERR")" "rows/s" "the line has the rate"
assert_exit 7 ecplan wait $NAME --until switched --timeout 1 --interval 0.3 --quiet
assert_not_contains "$(cat "$ERR")" "wait: $NAME:" "--quiet: no progress line"
assert_contains "$(cat "$ERR")" "timed out" "--quiet keeps the error"
assert_exit 7 ecplan wait $NAME --until switched --timeout 1 --interval 0.3 --json
assert_eq "timeout 7" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["code"], o["exit_code"])' <"$ERR")" \
	"--json timeout: one JSON error object, no progress lines"
assert_eq "backfilled" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["phase"])' <"$OUT")" \
	"--json: the status object on stdout"
assert_exit 0 ecplan wait $NAME --until sync --json
assert_eq "backfilled" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["phase"])' <"$OUT")" \
	"--json success: the status object"

# Rolled back below the awaited phase (rollback --to synced): exit 11.
assert_exit 0 ecplan rollback "$P" --to synced
assert_eq synced "$(sm_state $NAME)" "rolled back to synced"
assert_exit 11 ecplan wait $NAME --until switch --timeout 3600
assert_contains "$(cat "$ERR")" "rolled back to synced, below switched" "exit 11 says why"
assert_exit 0 ecplan wait $NAME --until sync --timeout 1
# Moving forward again clears it.
assert_exit 0 ecplan advance "$P" --to backfill
assert_exit 7 ecplan wait $NAME --until switch --timeout 1 --quiet

# rolled_back: exit 10, unless rolled_back is what we wait for.
assert_exit 0 ecplan rollback "$P"
assert_eq rolled_back "$(sm_state $NAME)" "rolled all the way back"
assert_exit 10 ecplan wait $NAME --until expand --timeout 3600
assert_contains "$(cat "$ERR")" "was rolled back (state rolled_back)" "exit 10 says why"
assert_exit 10 ecplan wait $NAME --until planned --timeout 3600
assert_exit 0 ecplan wait $NAME --until rolled_back --timeout 1
# Advancing it again fails a precondition: that failure is the latest news (exit 1).
q 'ALTER TABLE public.users RENAME COLUMN email TO email_gone' >/dev/null
assert_exit 3 ecplan advance "$P"
assert_exit 1 ecplan wait $NAME --until expand --timeout 3600
assert_contains "$(cat "$ERR")" "failed and no runner holds it" "a failed re-advance after a rollback: exit 1"
q 'ALTER TABLE public.users RENAME COLUMN email_gone TO email' >/dev/null

# Interrupted (kill -9 during the backfill) and no runner: exit 1 at once.
K=$IT_TMP/kill.json
sm_plan "$src/plans/users-email-lower.json" "$K" name='"wait-kill"' backfill.batch_size=100 \
	backfill.target_batch_ms=0 backfill.pause_ms=100
assert_exit 0 ecplan advance "$K" --to sync
"$ECPLAN_BIN" advance "$K" --to backfill --quiet >/dev/null 2>&1 &
kpid=$!
for _ in $(seq 1 200); do
	[[ "$(q "SELECT count(*) FROM ecplan.plans WHERE name = 'wait-kill' AND rows_done > 0")" == 1 ]] && break
	sleep 0.05
done
kill -0 $kpid 2>/dev/null || fail "the runner ended before it could be killed"
# While it runs, wait is a real wait (the runner holds the plan).
assert_exit 7 ecplan wait wait-kill --until switch --timeout 0.5 --interval 0.2 --quiet
kill -9 $kpid
wait $kpid 2>/dev/null || true
sm_wait_no_runner 120 || fail "the killed runner's session is still there"
assert_eq "backfill" "$(q "SELECT running_phase FROM ecplan.plans WHERE name = 'wait-kill'")" "backfill interrupted"
assert_exit 1 ecplan wait wait-kill --until backfill --timeout 3600
assert_contains "$(cat "$ERR")" 'phase backfill of plan "wait-kill" was interrupted and no runner holds it' "exit 1: interrupted"
assert_exit 1 ecplan wait wait-kill --until backfill --timeout 3600 --json
assert_eq "interrupted 1" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["code"], o["exit_code"])' <"$ERR")" \
	"--json: code interrupted"
assert_exit 0 ecplan advance "$K" --to backfill --quiet
assert_exit 0 ecplan wait wait-kill --until backfill --timeout 5

# The default timeout is finite and documented.
assert_exit 0 ecplan help wait
assert_contains "$(cat "$OUT")" "--timeout defaults to" "help: default timeout"
assert_contains "$(cat "$OUT")" "3600 s" "help: 3600 s"
grep -q "3600" "$src/README.md" || fail "README does not document the default timeout"
pass
