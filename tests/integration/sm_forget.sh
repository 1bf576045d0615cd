#!/usr/bin/env bash
# ecplan forget NAME: removes a plan that never started a phase (row, events,
# deliveries); refuses, with the reason, a plan that started phases (exit 9),
# one a runner holds (exit 4) and an unknown one (exit 2).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}
sm_mk_users 2000

# No schema ecplan yet.
assert_exit 2 ecplan forget nothing-here
assert_contains "$(cat "$ERR")" 'plan "nothing-here" is not registered' "unknown plan, no schema"

# A typo: the plan names a table that does not exist; advance registers it and
# fails its precondition, nothing is done.
TYPO=$IT_TMP/typo.json
sm_plan "$src/plans/users-email-lower.json" "$TYPO" name='"users-emial"' table='"public.usres"'
assert_exit 3 ecplan advance "$TYPO"
assert_eq planned "$(sm_state users-emial)" "registered, nothing started"
[[ "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'users-emial'")" -ge 1 ]] || fail "no events to remove"
assert_exit 0 ecplan forget users-emial
assert_contains "$(cat "$OUT")" 'plan "users-emial" forgotten' "says what it did"
assert_eq "0|0|0" "$(q "SELECT (SELECT count(*) FROM ecplan.plans WHERE name = 'users-emial'),
	(SELECT count(*) FROM ecplan.events WHERE plan = 'users-emial'),
	(SELECT count(*) FROM ecplan.deliveries WHERE plan = 'users-emial')")" "row, events and deliveries gone"
assert_exit 2 ecplan forget users-emial
assert_contains "$(cat "$ERR")" "not registered" "forgetting twice: unknown"
assert_exit 2 ecplan status users-emial
# By plan file too, and with --json.
assert_exit 3 ecplan advance "$TYPO"
assert_exit 0 ecplan forget "$TYPO" --json
assert_eq users-emial "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["forgotten"])' <"$OUT")" "--json"

# A plan that started a phase is refused with the reason; nothing removed.
P=$IT_TMP/plan.json
NAME=forget-me-not
sm_plan "$src/plans/users-email-lower.json" "$P" name="\"$NAME\"" backfill.batch_size=200 backfill.pause_ms=20
assert_exit 0 ecplan advance "$P" --to sync
before=$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME'")
assert_exit 9 ecplan forget $NAME
assert_contains "$(cat "$ERR")" "has started phases" "the reason"
assert_contains "$(cat "$ERR")" "phases started: expand, sync" "which phases"
assert_contains "$(cat "$ERR")" "ecplan rollback" "what to do instead"
assert_eq synced "$(sm_state $NAME)" "still registered"
assert_eq "$before" "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME'")" "events kept"
assert_exit 9 ecplan forget $NAME --json
assert_eq "impossible 9" "$(python3 -c 'import json,sys; o = json.load(sys.stdin); print(o["code"], o["exit_code"])' <"$ERR")" \
	"--json refusal: one JSON object on stderr"

# Rolled back: still refused (it ran phases).
assert_exit 0 ecplan rollback "$P"
assert_exit 9 ecplan forget $NAME
assert_contains "$(cat "$ERR")" "state rolled_back" "rolled_back plans are refused too"

# A runner holds the plan (its expand waits on a long transaction): exit 4.
H=$IT_TMP/held.json
sm_plan "$src/plans/users-email-lower.json" "$H" name='"held-plan"' safety.lock_timeout_ms=100 safety.lock_retries=1000
psql -XAtq -c "BEGIN; LOCK TABLE public.users IN ACCESS SHARE MODE; SELECT pg_sleep(60)" >/dev/null 2>&1 &
lpid=$!
it_defer "kill $lpid 2>/dev/null || true"
for _ in $(seq 1 3000); do
	[[ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'users' AND l.mode = 'AccessShareLock' AND l.granted AND l.pid <> pg_backend_pid()")" -ge 1 ]] && break
	sleep 0.05
done
"$BIN" advance "$H" >"$IT_TMP/h.out" 2>&1 &
hpid=$!
for _ in $(seq 1 3000); do
	[[ "$(q "SELECT count(*) FROM ecplan.plans WHERE name = 'held-plan' AND running_phase = 'expand'")" == 1 ]] && break
	sleep 0.05
done
assert_eq "expand" "$(q "SELECT running_phase FROM ecplan.plans WHERE name = 'held-plan'")" "the runner started expand"
assert_exit 4 ecplan forget held-plan
assert_contains "$(cat "$ERR")" 'a runner holds plan "held-plan"' "a held plan is refused first"
assert_eq 1 "$(q "SELECT count(*) FROM ecplan.plans WHERE name = 'held-plan'")" "still registered"
kill "$hpid" 2>/dev/null || true
wait "$hpid" 2>/dev/null || true
kill "$lpid" 2>/dev/null || true
pass
