#!/usr/bin/env bash
# backfill.throttle.query: a custom query that pauses the backfill while it
# returns true (gh-ost's throttle query), and a failing one.
#
# The plan's throttle query first names a table that does not exist: the
# backfill runs no batch and records one `throttled` event ("the throttle
# query failed"), status --json shows the reason. `ecplan update` then fixes
# the query (reading public.throttle_flag, which says true): still no batch,
# the reason now "returned true". Flipping the flag lets it run to the end:
# one `unthrottled` event, 0 unfilled rows, status --json throttled null and
# throttled_seconds > 0. The throttle query runs read-only: one that writes
# fails and throttles. No timed assertions.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

N=5000
NAME=users-email-lower
sm_mk_users $N
q "CREATE TABLE public.throttle_flag (on_hold boolean NOT NULL); INSERT INTO public.throttle_flag VALUES (true)"
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" backfill.batch_size=100 backfill.target_batch_ms=0 \
	backfill.pause_ms=0 'backfill.throttle={"query": "SELECT on_hold FROM public.throttle_flagz", "query_timeout_ms": 1000}'
assert_exit 0 ecplan validate "$P"
assert_exit 0 ecplan advance "$P" --to sync

events() { q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = '$1'"; }
until_true() {
	local tries=$(($1 * 5))
	while ((tries-- > 0)); do
		[[ $(q "$2") == t ]] && return 0
		sleep 0.2
	done
	return 1
}

"$BIN" advance "$P" --to backfill >"$IT_TMP/bg.out" 2>"$IT_TMP/bg.err" &
bg=$!
until_true 60 "SELECT count(*) = 1 FROM ecplan.events WHERE plan = '$NAME' AND kind = 'throttled'" ||
	fail "no throttled event: $(cat "$IT_TMP/bg.err")"
assert_contains "$(q "SELECT data ->> 'reason' FROM ecplan.events WHERE plan = '$NAME' AND kind = 'throttled'")" \
	"the throttle query failed" "the event says why"
assert_exit 0 ecplan status $NAME --json
assert_contains "$(sm_json "$OUT" 'd["throttled"]')" "throttle_flagz" "status --json: throttled names the failure"
assert_eq false "$(sm_json "$OUT" 'd["paused"]')" "status --json: not paused"

# Fix the query while it waits: taken at the next check, still throttled.
P2=$IT_TMP/plan2.json
sm_plan "$P" "$P2" 'backfill.throttle={"query": "SELECT on_hold FROM public.throttle_flag", "query_timeout_ms": 1000}'
assert_exit 0 ecplan update "$P2"
until_true 60 "SELECT throttled = 'the throttle query returned true' FROM ecplan.plans WHERE name = '$NAME'" ||
	fail "the new query was not taken: $(q "SELECT throttled FROM ecplan.plans WHERE name = '$NAME'")"
for i in 1 2 3 4; do
	sleep 0.5
	assert_eq 0 "$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$NAME'")" "poll $i: no batch while throttled"
	assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS NOT NULL")" "poll $i: no row filled"
done
assert_eq 1 "$(events throttled)" "one throttled event per episode"
assert_exit 0 ecplan status $NAME
assert_contains "$(cat "$OUT")" "throttled: the throttle query returned true" "status says why it waits"

q "UPDATE public.throttle_flag SET on_hold = false"
wait $bg || fail "the backfill failed: $(cat "$IT_TMP/bg.err")"
assert_eq backfilled "$(sm_state $NAME)" "backfilled once the flag flipped"
assert_eq 1 "$(events unthrottled)" "one unthrottled event"
assert_eq 1 "$(events throttled)" "still one throttled event"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS DISTINCT FROM lower(email)")" "0 unfilled rows"
assert_exit 0 ecplan status $NAME --json
assert_eq null "$(sm_json "$OUT" 'd["throttled"]')" "status --json: no longer throttled"
assert_eq true "$(sm_json "$OUT" 'd["throttled_seconds"] > 0')" "status --json: time spent throttled"
assert_contains "$(cat "$IT_TMP/bg.err" "$IT_TMP/bg.out")" "throttled: the throttle query failed" "advance printed the reason"

# A query that writes fails (read-only transaction), and so throttles.
q "DROP TABLE public.throttle_flag"
assert_exit 0 ecplan rollback "$P2" --to synced
P3=$IT_TMP/plan3.json
sm_plan "$P2" "$P3" 'backfill.throttle={"query": "WITH x AS (INSERT INTO public.users (email) VALUES ($$w@x$$) RETURNING true) SELECT * FROM x"}'
"$BIN" advance "$P3" --to backfill >"$IT_TMP/bg3.out" 2>"$IT_TMP/bg3.err" &
bg=$!
until_true 60 "SELECT count(*) = 2 FROM ecplan.events WHERE plan = '$NAME' AND kind = 'throttled'" ||
	fail "a writing query did not throttle: $(cat "$IT_TMP/bg3.err")"
assert_contains "$(q "SELECT data ->> 'reason' FROM ecplan.events WHERE plan = '$NAME' AND kind = 'throttled' ORDER BY id DESC LIMIT 1")" \
	"read-only transaction" "a writing throttle query fails read-only"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email = 'w@x'")" "it wrote nothing"
# SIGTERM (a cancelled CI job) ends a throttled backfill: its waits are short sleeps.
kill -TERM $bg
rc=0
wait $bg || rc=$?
assert_eq 143 "$rc" "SIGTERM ends the throttled runner"
sm_wait_no_runner 10 || fail "the runner's lock is still held after SIGTERM"
assert_exit 0 ecplan status $NAME --json
assert_eq false "$(sm_json "$OUT" 'd["running"]')" "status: not running after SIGTERM"
assert_eq null "$(sm_json "$OUT" 'd["throttled"]')" "status: a throttle reason is shown only while a runner waits"

# Batch latency: every row of public.slow sleeps 30 ms in a trigger, so every
# batch takes far over 2 x target_batch_ms (10): one throttled event for the
# whole run of slow batches, and the backfill still completes.
q "CREATE TABLE public.slow (id int PRIMARY KEY, v text);
   INSERT INTO public.slow SELECT g, 'v' || g FROM generate_series(1, 24) g;
   CREATE FUNCTION public.slow_down() RETURNS trigger LANGUAGE plpgsql AS
   \$\$BEGIN PERFORM pg_sleep(0.03); RETURN NEW; END\$\$;
   CREATE TRIGGER slow_down BEFORE UPDATE ON public.slow FOR EACH ROW EXECUTE FUNCTION public.slow_down()"
PS=$IT_TMP/slow.json
cat >"$PS" <<'JSON'
{"format": "ecplan/v1", "name": "slow-v", "table": "public.slow",
 "change": {"column": "v", "new_column": "v2"},
 "backfill": {"batch_size": 4, "target_batch_ms": 10,
              "throttle": {"max_batch_ms_factor": 2, "max_replica_lag_ms": 0}}}
JSON
assert_exit 0 ecplan advance "$PS" --to backfill
assert_eq 1 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'slow-v' AND kind = 'throttled'")" \
	"one throttled event for the run of slow batches"
assert_contains "$(q "SELECT data ->> 'reason' FROM ecplan.events WHERE plan = 'slow-v' AND kind = 'throttled'")" \
	"more than 2 x target_batch_ms (10)" "the reason names the latency limit"
assert_eq 0 "$(q "SELECT count(*) FROM public.slow WHERE v2 IS DISTINCT FROM v")" "0 unfilled rows"
assert_exit 0 ecplan status slow-v --json
assert_eq true "$(sm_json "$OUT" 'd["throttled_seconds"] > 0 and d["throttled"] is None')" "status --json after the run"
pass
