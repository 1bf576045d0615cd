#!/usr/bin/env bash
# History tells the true story (issue 10, item 9): a state change and its event
# commit together, and a failure to record an event is an error.
#
# users-email-lower on 20k rows. A trigger on ecplan.events holds the insert of
# one chosen event (pg_sleep) while the test kills the runner with SIGKILL and
# ends its server session, i.e. the process dies between the state change and
# its event. Points: "sync started", "sync done", "backfill started", during
# the backfill batches (random), and "undoing backfill" of a rollback. After
# every kill the next run goes on, and at the end:
#   - every "<phase> resumed at step" event has a "<phase> started" before it,
#   - every "undoing <phase> (resumed)" has an "undoing <phase>" before it,
#   - the state row and the history agree (a phase done in the state has its
#     "done" event; a phase running in the state has its "started" event).
# Then an event insert that fails ("switch started" raises) makes advance fail
# (exit 1) and leaves the state untouched (backfilled, nothing running).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

NAME=users-email-lower
sm_mk_users 20000
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" backfill.batch_size=200 backfill.target_batch_ms=0 backfill.pause_ms=10
assert_exit 0 ecplan advance "$P" --to expand

# The hold: the next event whose message matches public.hold.pattern sleeps
# (once: the row is deleted in the same transaction as the insert it holds).
q "CREATE TABLE public.hold (pattern text NOT NULL, fail boolean NOT NULL DEFAULT false);
CREATE FUNCTION public.hold_event() RETURNS trigger LANGUAGE plpgsql AS \$\$
DECLARE f boolean;
BEGIN
  DELETE FROM public.hold WHERE NEW.message LIKE pattern RETURNING fail INTO f;
  IF f THEN
    RAISE EXCEPTION 'test: event % refused', NEW.message;
  ELSIF FOUND THEN
    PERFORM pg_sleep(60);
  END IF;
  RETURN NEW;
END \$\$;
CREATE TRIGGER hold_event BEFORE INSERT ON ecplan.events FOR EACH ROW EXECUTE FUNCTION public.hold_event();" >/dev/null

# kill_at PATTERN ARGS...: runs ecplan ARGS in the background, waits until it is
# held on the event PATTERN, then kills it (SIGKILL) and ends its session.
kill_at() {
	local pattern=$1 pid backend=
	shift
	q "INSERT INTO public.hold (pattern) VALUES (:'p')" -v p="$pattern" >/dev/null
	"$BIN" "$@" >"$IT_TMP/bg.out" 2>"$IT_TMP/bg.err" &
	pid=$!
	for _ in $(seq 1 3000); do
		backend=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'ecplan'
			AND datname = current_database() AND wait_event = 'PgSleep' LIMIT 1")
		[[ -n "$backend" ]] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.02
	done
	[[ -n "$backend" ]] || fail "ecplan $* never reached event \"$pattern\": $(cat "$IT_TMP/bg.err")"
	kill -9 $pid
	q "SELECT pg_terminate_backend($backend)" >/dev/null
	{ wait $pid; } 2>/dev/null || true
	sm_wait_no_runner 120 || fail "runner still there after the kill at \"$pattern\""
	q "DELETE FROM public.hold" >/dev/null
}

kill_at 'sync started%' advance "$P" --to sync
kill_at 'sync done%' advance "$P" --to sync
assert_exit 0 ecplan advance "$P" --to sync
assert_eq synced "$(sm_state $NAME)" "synced after two kills"
kill_at 'backfill started%' advance "$P" --to backfill
# Random kills during the batches.
for round in 1 2; do
	"$BIN" advance "$P" --to backfill >"$IT_TMP/r.out" 2>"$IT_TMP/r.err" &
	pid=$!
	sm_rand_sleep 0.3 1.0
	kill -9 $pid 2>/dev/null || true
	{ wait $pid; } 2>/dev/null || true
	sm_wait_no_runner 120 || fail "runner still there after random kill $round"
done
kill_at 'undoing backfill' rollback "$P" --to synced
assert_exit 0 ecplan rollback "$P" --to synced
assert_eq synced "$(sm_state $NAME)" "rolled back to synced"
assert_exit 0 ecplan advance "$P" --to backfill
assert_eq backfilled "$(sm_state $NAME)" "backfilled at the end"

assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events e WHERE e.plan = '$NAME' AND e.kind = 'phase'
	AND e.message LIKE '% resumed at step %' AND NOT EXISTS (SELECT 1 FROM ecplan.events s
	  WHERE s.plan = e.plan AND s.kind = 'phase' AND s.phase = e.phase AND s.id < e.id
	    AND s.message LIKE e.phase || ' started (attempt %')")" \
	"every resumed phase has a started before it: $(q "SELECT string_agg(id || ' ' || message, '; ' ORDER BY id) FROM ecplan.events WHERE plan = '$NAME' AND kind IN ('phase', 'rollback')")"
assert_ne 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND message LIKE 'sync resumed%'
	OR message LIKE 'backfill resumed%'")" "the kills did leave phases to resume"
assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events e WHERE e.plan = '$NAME' AND e.kind = 'rollback'
	AND e.message LIKE 'undoing % (resumed)' AND NOT EXISTS (SELECT 1 FROM ecplan.events s
	  WHERE s.plan = e.plan AND s.kind = 'rollback' AND s.id < e.id AND s.message = 'undoing ' || e.phase)")" \
	"every resumed undo has its start before it"
for ph in expand sync backfill; do
	assert_ne 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'phase'
		AND message LIKE '$ph done: state %'")" "phase $ph is done in the state and in the history"
done
# Each start in the state has its event: attempts[] equals the started events.
assert_eq "$(q "SELECT array_to_string(attempts, ',') FROM ecplan.plans WHERE name = '$NAME'")" \
	"$(q "SELECT string_agg(n::text, ',' ORDER BY o) FROM (SELECT o, (SELECT count(*) FROM ecplan.events
		WHERE plan = '$NAME' AND kind = 'phase' AND message LIKE p || ' started (attempt %') n
		FROM unnest(ARRAY['expand','sync','backfill','switch','contract']) WITH ORDINALITY AS u(p, o)) x")" \
	"the attempts counted in the state equal the started events"

# A failure to record is an error, and the state does not move.
q "INSERT INTO public.hold (pattern, fail) VALUES ('switch started%', true)" >/dev/null
assert_exit 1 ecplan advance "$P" --to switch
assert_contains "$(cat "$ERR")" "refused" "the event's error is reported"
assert_eq "backfilled||0" "$(q "SELECT state, running_phase, attempts[4] FROM ecplan.plans WHERE name = '$NAME'")" \
	"the state did not move without its event"
q "DELETE FROM public.hold" >/dev/null
assert_exit 0 ecplan advance "$P" --to switch
assert_eq switched "$(sm_state $NAME)" "switch goes through once events are recorded"
pass
