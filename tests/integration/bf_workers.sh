#!/usr/bin/env bash
# Parallel backfill (backfill.workers): disjoint key ranges, each with its own
# cursor; kill -9 at any moment resumes every range exactly; workers changed
# mid-run with `ecplan update`.
#
# 1. users-email-lower on 60k users with workers 2 (batches of 100, pause_ms 50:
#    a backfill of several seconds), old- and new-code writers running
#    throughout. The runner is killed with SIGKILL once its ranges have
#    committed batches: the ranges cover the key exactly once (contiguous, one
#    open at each end, every row in exactly one range), the plan's rows_done is
#    the sum over ranges, and every row at or below a range's cursor is filled.
#    A new runner resumes; once it has committed more, `ecplan update` sets
#    workers 4: the running backfill takes it (a `settings` event), cuts the
#    unfinished ranges for 4 workers (a second `ranges` event) and ends with 0
#    unfilled rows. Switch under the writers, verify 0 divergent rows, and
#    every committed write is present.
# 2. A composite key (tenant int, code text with quotes, commas, braces and
#    backslashes) started with workers 1 (the single cursor), raised to 4 by
#    `ecplan update` mid-run (the ranges start at the single cursor), killed
#    with SIGKILL after range batches committed (and a pause, during which no
#    worker is in a transaction and nothing is filled). With no writers the check is
#    exact: the filled rows are the plan's rows_done, every row up to a range's
#    cursor is filled and none above it; a resume fills everything; status
#    --json sums the ranges.
# 3. A partitioned table (the key is the parent's) with workers 3: 3 ranges over
#    the partitions, 0 unfilled; a rollback to synced clears the ranges.
# 4. An error in one worker's batch (a row the sync trigger never saw, which
#    up() cannot convert) stops every worker: the error names the range, no
#    session is left in a transaction, and once the row is fixed the same
#    command finishes.
# 5. A plan with several tables (plans/users-orders-several.json) and workers
#    2: each table's backfill step gets its own ranges (keyed by the step),
#    every table is filled, rows_done counts every row of both once.
# Assertions are on states, counts and events only (no timing).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
# The binary itself, not lib.sh's wrapper function: kill -9 must hit ecplan.
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

# until_true SECONDS SQL: polls SQL (t/f) every 0.05 s; a liveness bound only.
until_true() {
	local tries=$(($1 * 20))
	while ((tries-- > 0)); do
		[[ $(q "$2") == t ]] && return 0
		sleep 0.05
	done
	return 1
}
ranges_q() { # ranges_q PLAN SQL-with-r: over the plan's ranges r
	q "SELECT $2 FROM ecplan.backfill_ranges r WHERE r.plan = '$1'"
}
# The ranges of PLAN cover the key exactly: one starts at the beginning, one
# runs to the end, every other bound is shared by exactly two neighbours.
check_cover() {
	local plan=$1 what=$2
	# Range 0 begins at the start, or at the single cursor when the
	# parallel backfill took over from it (the 4th argument: that count).
	assert_eq "${4:-1}" "$(ranges_q "$plan" "count(*) FILTER (WHERE r.lower IS NULL)")" "$what: a range from the start (${4:-1})"
	assert_eq 1 "$(ranges_q "$plan" "count(*) FILTER (WHERE r.range = 0 AND NOT EXISTS (SELECT FROM ecplan.backfill_ranges b WHERE b.plan = r.plan AND b.step = r.step AND b.upper = r.lower))")" \
		"$what: range 0 comes first"
	assert_eq 1 "$(ranges_q "$plan" "count(*) FILTER (WHERE r.upper IS NULL)")" "$what: one range to the end"
	assert_eq 0 "$(ranges_q "$plan" "count(*) FILTER (WHERE r.upper IS NOT NULL AND (SELECT count(*) FROM ecplan.backfill_ranges b WHERE b.plan = r.plan AND b.step = r.step AND b.lower = r.upper) <> 1)")" \
		"$what: each range ends where exactly one other begins"
	assert_eq "$(ranges_q "$plan" "count(*)")" "$(ranges_q "$plan" "count(DISTINCT r.lower) + count(*) FILTER (WHERE r.lower IS NULL)")" \
		"$what: no two ranges begin at the same key"
	assert_eq "$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$plan'")" \
		"$(q "SELECT coalesce(sum(rows_done), 0) + $3 FROM ecplan.backfill_ranges WHERE plan = '$plan'")" \
		"$what: the plan's rows_done is the sum over its ranges"
}
# kill_when BGPID SQL: SIGKILL once SQL is true (a committed state), then a
# random moment later; fails when the runner ended first.
kill_when() {
	local pid=$1 cond=$2 rc=0
	until_true 120 "$cond" || fail "the condition was never met: $cond"
	sm_rand_sleep 0.05 0.3
	kill -0 "$pid" 2>/dev/null || fail "the runner ended before the kill; make the backfill longer"
	kill -9 "$pid"
	{ wait "$pid"; } 2>/dev/null || rc=$?
	assert_eq 137 "$rc" "the runner died of SIGKILL"
	sm_wait_no_runner 10 || fail "the killed runner's sessions did not end"
}

# --- 1. writers, 2 workers, kill -9, resume, update to 4 ----------------------
N=60000
NAME=users-email-lower
sm_mk_users $N
sm_writers_setup
W=$src/tests/support/writers.sh
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" backfill.workers=2 backfill.batch_size=100 \
	backfill.target_batch_ms=0 backfill.pause_ms=50
bash "$W" old $NAME old1 2 0 $N >"$IT_TMP/old.out" 2>"$IT_TMP/old.err" &
opid=$!
bash "$W" new $NAME new1 2 1 $N >"$IT_TMP/new.out" 2>"$IT_TMP/new.err" &
npid=$!
it_defer "sm_writers_stop 2>/dev/null"
writes() { q "SELECT count(*) FROM it_write_log WHERE writer = '$1'"; }
until_true 120 "SELECT count(*) > 20 FROM it_write_log WHERE writer = 'old1'" ||
	fail "old code did not write: $(cat "$IT_TMP/old.err")"

assert_exit 0 ecplan advance "$P" --to sync
"$BIN" advance "$P" --to backfill >"$IT_TMP/bg1.out" 2>"$IT_TMP/bg1.err" &
kill_when $! "SELECT count(*) = 2 AND bool_and(rows_done > 0) FROM ecplan.backfill_ranges WHERE plan = '$NAME'"
assert_eq backfill "$(q "SELECT running_phase FROM ecplan.plans WHERE name = '$NAME'")" "killed in the backfill"
assert_eq 1 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'ranges'")" "one ranges event"
assert_contains "$(q "SELECT message FROM ecplan.events WHERE plan = '$NAME' AND kind = 'ranges'")" "for 2 workers: 2 ranges" \
	"the key was split for 2 workers"
check_cover $NAME "after the kill" 0
assert_eq "$N" "$(ranges_q $NAME "sum((SELECT count(*) FROM public.users u WHERE u.id <= $N AND (r.lower IS NULL OR u.id > r.lower[1]::bigint) AND (r.upper IS NULL OR u.id <= r.upper[1]::bigint)))")" \
	"every row is in exactly one range"
assert_eq 0 "$(ranges_q $NAME "sum((SELECT count(*) FROM public.users u WHERE (r.lower IS NULL OR u.id > r.lower[1]::bigint) AND u.id <= r.cursor[1]::bigint AND u.email_normalized IS NULL))")" \
	"every row at or below a range's cursor is filled"
assert_ne 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS NULL")" "the backfill was not done when killed"

# Resume; raise workers to 4 while it runs.
before=$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$NAME'")
"$BIN" advance "$P" --to backfill >"$IT_TMP/bg2.out" 2>"$IT_TMP/bg2.err" &
bg=$!
until_true 120 "SELECT rows_done > $before FROM ecplan.plans WHERE name = '$NAME'" ||
	fail "the resumed backfill made no progress: $(cat "$IT_TMP/bg2.err")"
kill -0 $bg 2>/dev/null || fail "the backfill ended before the update; make it longer"
P4=$IT_TMP/plan4.json
sm_plan "$P" "$P4" backfill.workers=4
assert_exit 0 ecplan update "$P4" --json
assert_eq '["$.backfill.workers"]' "$(sm_json "$OUT" 'sorted(c["path"] for c in d["changes"])')" \
	"update: workers is an operational setting"
wait $bg || fail "the resumed backfill failed: $(cat "$IT_TMP/bg2.err")"
assert_eq backfilled "$(sm_state $NAME)" "backfilled"
assert_contains "$(cat "$IT_TMP/bg2.out" "$IT_TMP/bg2.err")" "resuming with 2 workers" "the resume kept 2 workers"
assert_eq 1 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'settings' AND phase = 'backfill'")" \
	"the running backfill took the new settings"
assert_eq 2 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'ranges'")" "a second ranges event"
assert_contains "$(q "SELECT message FROM ecplan.events WHERE plan = '$NAME' AND kind = 'ranges' ORDER BY id DESC LIMIT 1")" \
	"for 4 workers" "the unfinished ranges were cut for 4 workers"
assert_eq t "$(q "SELECT (SELECT max(id) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'ranges') > (SELECT id FROM ecplan.events WHERE plan = '$NAME' AND kind = 'settings' AND phase = 'backfill')")" \
	"the cut came after the settings were taken"
assert_eq t "$(ranges_q $NAME "count(*) >= 4 AND bool_and(done)")" "4 or more ranges, all done"
check_cover $NAME "after the backfill" 0
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS NULL")" "0 unfilled rows"
assert_exit 0 ecplan status $NAME --json
assert_eq "$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$NAME'")" "$(sm_json "$OUT" 'd["backfill"]["rows_done"]')" \
	"status --json: rows_done as stored"

assert_exit 0 ecplan advance "$P4" --to switch
assert_exit 0 ecplan verify "$P4"
assert_contains "$(cat "$OUT")" "divergent (both differ): 0 (in agreement)" "verify: 0 divergent rows under the writers"
kill -0 $opid 2>/dev/null || fail "old-code writer stopped early: $(cat "$IT_TMP/old.err")"
kill -0 $npid 2>/dev/null || fail "new-code writer stopped early: $(cat "$IT_TMP/new.err")"
sm_writers_stop
wrc=0
wait $opid || wrc=$?
wait $npid || wrc=$?
assert_eq 0 "$wrc" "both writers exited 0"
assert_not_contains "$(cat "$IT_TMP/old.err" "$IT_TMP/new.err")" ERROR "writers had no errors"
assert_eq 0 "$(q "WITH last AS (SELECT DISTINCT ON (id) id, col, value FROM it_write_log ORDER BY id, seq DESC)
	SELECT count(*) FROM last l LEFT JOIN public.users u USING (id)
	WHERE u.id IS NULL OR u.email_normalized IS DISTINCT FROM
	      CASE WHEN l.col = 'email' THEN lower(l.value) ELSE l.value END")" \
	"every committed write is present"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS NULL OR (email_normalized IS DISTINCT FROM lower(email) AND id NOT IN (SELECT id FROM it_write_log WHERE col = 'email_normalized'))")" \
	"0 unfilled or divergent rows"
assert_eq "$((N + $(q "SELECT count(*) FROM it_write_log WHERE op = 'insert'")))" "$(q "SELECT count(*) FROM public.users")" \
	"no row lost or duplicated"
during_backfill() {
	q "SELECT count(*) FROM it_write_log WHERE writer = '$1' AND at BETWEEN
	   (SELECT min(at) FROM ecplan.events WHERE plan = '$NAME' AND phase = 'backfill')
	   AND (SELECT max(at) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'ranges')"
}
assert_ne 0 "$(during_backfill old1)" "old code wrote during the backfill"
assert_ne 0 "$(during_backfill new1)" "new code wrote during the backfill"

# --- 2. composite key: workers 1 -> 4 mid-run, kill -9, resume ----------------
q "CREATE TABLE public.accounts (
    tenant integer NOT NULL,
    code   text NOT NULL,
    email  text NOT NULL,
    PRIMARY KEY (tenant, code));
INSERT INTO public.accounts
SELECT g % 7, 'c' || g || (ARRAY[E'\"q', ',x', '{y}', E'b\\\\s', ' sp', ''''])[1 + g % 6], 'A' || g || '@X.ORG'
FROM generate_series(1, 30000) g;
VACUUM ANALYZE public.accounts" >/dev/null
A=acc-lower
PA=$IT_TMP/acc.json
cat >"$PA" <<EOF
{ "format": "ecplan/v1", "name": "$A", "table": "public.accounts",
  "change": { "column": "email", "new_column": "email_lower", "type": "text", "up": "lower(email)", "down": "email_lower" },
  "backfill": { "workers": 1, "batch_size": 100, "target_batch_ms": 0, "pause_ms": 60 } }
EOF
assert_exit 0 ecplan advance "$PA" --to sync
"$BIN" advance "$PA" --to backfill >"$IT_TMP/bg3.out" 2>"$IT_TMP/bg3.err" &
bg=$!
until_true 120 "SELECT rows_done > 0 FROM ecplan.plans WHERE name = '$A'" ||
	fail "the single-cursor backfill did not start: $(cat "$IT_TMP/bg3.err")"
assert_eq 0 "$(ranges_q $A "count(*)")" "workers 1: no ranges, the single cursor"
assert_eq t "$(q "SELECT cursor IS NOT NULL FROM ecplan.plans WHERE name = '$A'")" "workers 1: the single cursor moves"
sm_plan "$PA" "$PA.4" backfill.workers=4
assert_exit 0 ecplan update "$PA.4"
# Pausing stops every worker between batches: no session of the plan in a
# transaction, nothing filled while paused.
until_true 120 "SELECT count(*) >= 4 AND bool_and(rows_done > 0) FROM ecplan.backfill_ranges WHERE plan = '$A'" ||
	fail "the parallel backfill did not start: $(cat "$IT_TMP/bg3.err")"
assert_exit 0 ecplan pause $A
until_true 120 "SELECT count(*) = 1 FROM ecplan.events WHERE plan = '$A' AND kind = 'paused'" || fail "no paused event"
f1=$(q "SELECT count(*) FROM public.accounts WHERE email_lower IS NOT NULL")
for i in 1 2 3; do
	sleep 0.3
	assert_eq 0 "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ecplan' AND state LIKE 'idle in transaction%'")" \
		"paused, poll $i: no ecplan session in a transaction"
	assert_eq "$f1" "$(q "SELECT count(*) FROM public.accounts WHERE email_lower IS NOT NULL")" "paused, poll $i: nothing filled"
done
assert_exit 0 ecplan resume $A
until_true 120 "SELECT count(*) = 1 FROM ecplan.events WHERE plan = '$A' AND kind = 'resumed'" || fail "no resumed event"
kill_when $bg "SELECT count(*) >= 4 AND bool_and(rows_done > 0) FROM ecplan.backfill_ranges WHERE plan = '$A'"
single=$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$A'")
check_cover $A "composite key, after the kill" "(SELECT count(*) FROM public.accounts a WHERE (a.tenant, a.code) <= (SELECT lower[1]::int, lower[2] FROM ecplan.backfill_ranges WHERE plan = '$A' AND range = 0))" 0
assert_eq t "$(q "SELECT (p.cursor[1]::int, p.cursor[2]) = (r.lower[1]::int, r.lower[2]) FROM ecplan.plans p JOIN ecplan.backfill_ranges r ON r.plan = p.name AND r.range = 0 WHERE p.name = '$A'")" \
	"the ranges begin at the single cursor"
assert_eq "$single" "$(q "SELECT count(*) FROM public.accounts WHERE email_lower IS NOT NULL")" \
	"the filled rows are exactly the plan's rows_done (batches are atomic with their bookkeeping)"
in_range="(r.lower IS NULL OR (a.tenant, a.code) > (r.lower[1]::int, r.lower[2])) AND (r.upper IS NULL OR (a.tenant, a.code) <= (r.upper[1]::int, r.upper[2]))"
assert_eq 0 "$(ranges_q $A "sum((SELECT count(*) FROM public.accounts a WHERE $in_range AND (r.cursor IS NULL OR (a.tenant, a.code) > (r.cursor[1]::int, r.cursor[2])) AND a.email_lower IS NOT NULL))")" \
	"no row above a range's cursor is filled"
assert_eq 0 "$(ranges_q $A "sum((SELECT count(*) FROM public.accounts a WHERE $in_range AND r.cursor IS NOT NULL AND (a.tenant, a.code) <= (r.cursor[1]::int, r.cursor[2]) AND a.email_lower IS DISTINCT FROM lower(a.email)))")" \
	"every row up to a range's cursor is filled"
inr=$(ranges_q $A "sum((SELECT count(*) FROM public.accounts a WHERE $in_range))")
pre=$(q "SELECT count(*) FROM public.accounts a WHERE (a.tenant, a.code) <= (SELECT lower[1]::int, lower[2] FROM ecplan.backfill_ranges WHERE plan = '$A' AND range = 0)")
assert_eq 30000 "$((inr + pre))" "the ranges and the part before them hold every row once"
assert_exit 0 ecplan advance "$PA.4" --to backfill
assert_eq backfilled "$(sm_state $A)" "composite key: backfilled after the resume"
assert_eq 0 "$(q "SELECT count(*) FROM public.accounts WHERE email_lower IS DISTINCT FROM lower(email)")" "composite key: 0 unfilled or wrong rows"
assert_eq 30000 "$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$A'")" "composite key: rows_done counts every row once"
assert_exit 0 ecplan status $A --json
assert_eq 30000 "$(sm_json "$OUT" 'd["backfill"]["rows_done"]')" "status --json: rows_done sums the ranges"

# --- 3. partitioned table, 3 workers; rollback clears the ranges ---------------
q "CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL, name text NOT NULL, PRIMARY KEY (id, at))
     PARTITION BY RANGE (at);
   CREATE TABLE public.events_a PARTITION OF public.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
   CREATE TABLE public.events_b PARTITION OF public.events DEFAULT;
   INSERT INTO public.events SELECT g, date '2024-06-01' + (g % 400), 'Event ' || g FROM generate_series(1, 20000) g;
   ANALYZE public.events" >/dev/null
E=ev-label
PE=$IT_TMP/ev.json
cat >"$PE" <<EOF
{ "format": "ecplan/v1", "name": "$E", "table": "public.events",
  "change": { "column": "name", "new_column": "label" },
  "backfill": { "workers": 3, "batch_size": 500 } }
EOF
assert_exit 0 ecplan advance "$PE" --to backfill
assert_eq backfilled "$(sm_state $E)" "partitioned: backfilled"
assert_eq 3 "$(ranges_q $E "count(*) FILTER (WHERE done)")" "partitioned: 3 ranges, done"
check_cover $E "partitioned" 0
assert_eq 0 "$(q "SELECT count(*) FROM public.events WHERE label IS DISTINCT FROM name")" "partitioned: 0 unfilled rows"
assert_eq 3 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$E' AND kind = 'range'")" "one range event per range"
assert_exit 0 ecplan rollback "$PE" --to synced
assert_eq 0 "$(ranges_q $E "count(*)")" "a rollback of the backfill clears its ranges"
assert_eq 0 "$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$E'")" "and its progress"
assert_exit 0 ecplan advance "$PE" --to backfill
assert_eq 3 "$(ranges_q $E "count(*) FILTER (WHERE done)")" "advanced again: 3 new ranges"
check_cover $E "partitioned, advanced again" 0

# --- 4. an error in one worker stops all, naming the range ---------------------
q "CREATE TABLE public.nums (id integer PRIMARY KEY, s text NOT NULL);
   INSERT INTO public.nums SELECT g, g::text FROM generate_series(1, 20000) g; ANALYZE public.nums" >/dev/null
PN=$IT_TMP/nums.json
cat >"$PN" <<EOF
{ "format": "ecplan/v1", "name": "nums", "table": "public.nums",
  "change": { "column": "s", "new_column": "n", "type": "integer", "up": "s::integer", "down": "n::text" },
  "backfill": { "workers": 2, "batch_size": 100, "target_batch_ms": 0, "pause_ms": 50 } }
EOF
assert_exit 0 ecplan advance "$PN" --to sync
"$BIN" advance "$PN" --to backfill >"$IT_TMP/bg5.out" 2>"$IT_TMP/bg5.err" &
bg=$!
until_true 120 "SELECT count(*) = 2 AND bool_and(rows_done > 0) FROM ecplan.backfill_ranges WHERE plan = 'nums'" ||
	fail "the backfill of nums did not start: $(cat "$IT_TMP/bg5.err")"
# The last row, far ahead of the last range's cursor, written behind the
# sync trigger's back (session_replication_role = replica skips it).
q "SET session_replication_role = replica; UPDATE public.nums SET s = 'x' WHERE id = 20000" >/dev/null
rc=0
wait $bg || rc=$?
assert_ne 0 "$rc" "the backfill failed"
assert_contains "$(cat "$IT_TMP/bg5.err")" "backfill range 1 (key > (" "the error names the range"
assert_contains "$(cat "$IT_TMP/bg5.err")" 'invalid input syntax for type integer: "x"' "and the cause"
assert_eq 1 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'nums' AND kind = 'error' AND message LIKE 'backfill range 1 %'")" \
	"an error event names the range"
sm_wait_no_runner 10 || fail "the failed runner's sessions did not end"
assert_eq 0 "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'")" \
	"no session left in a transaction"
assert_eq f "$(ranges_q nums "bool_and(done)")" "stopped before every range was done"
check_cover nums "after the error" 0
q "SET session_replication_role = replica; UPDATE public.nums SET s = '20000' WHERE id = 20000" >/dev/null
assert_exit 0 ecplan advance "$PN" --to backfill
assert_eq 0 "$(q "SELECT count(*) FROM public.nums WHERE n IS DISTINCT FROM s::integer")" "fixed and resumed: 0 unfilled rows"

# --- 5. several tables in one plan: ranges per backfill step -------------------
export PGDATABASE
PGDATABASE=$(sm_extra_db several)
sm_mk_users 20000
sm_mk_orders 30000
PS=$IT_TMP/several.json
sm_plan "$src/plans/users-orders-several.json" "$PS" backfill.workers=2 backfill.batch_size=1000
assert_exit 0 ecplan advance "$PS" --to backfill
assert_eq backfilled "$(sm_state users-orders-several)" "several tables: backfilled"
assert_eq "2 2" "$(q "SELECT string_agg(n::text, ' ') FROM (SELECT count(*) FILTER (WHERE done) AS n FROM ecplan.backfill_ranges WHERE plan = 'users-orders-several' GROUP BY step ORDER BY step) s")" \
	"two backfill steps, 2 ranges each, all done"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE display_name IS DISTINCT FROM name OR signed_up_at IS DISTINCT FROM created_at")" \
	"several tables: users filled"
assert_eq 0 "$(q "SELECT count(*) FROM public.orders WHERE quantity_big IS DISTINCT FROM quantity")" "several tables: orders filled"
assert_eq 50000 "$(q "SELECT rows_done FROM ecplan.plans WHERE name = 'users-orders-several'")" \
	"several tables: rows_done counts every row of both tables once"
pass
