#!/usr/bin/env bash
# kill -9 of the runner in the middle of each table's backfill walk of a plan
# with two tables, then resume: each walk continues from its own cursor (the
# second table's walk starts without the first's), every new column ends
# filled, rows_done sums both tables.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

N=3000
q "CREATE TABLE public.a (id bigint PRIMARY KEY, x integer NOT NULL, y text);
   CREATE TABLE public.b (k1 integer, k2 text, v integer, PRIMARY KEY (k1, k2));
   INSERT INTO public.a SELECT g, g, 'y' || g FROM generate_series(1, $N) g;
   INSERT INTO public.b SELECT g % 100, 'k' || g, g FROM generate_series(1, $N) g;
   ANALYZE public.a; ANALYZE public.b;" >/dev/null
P=$IT_TMP/plan.json
cat >"$P" <<'JSON'
{ "format": "ecplan/v1", "name": "crash", "table": "public.a",
  "changes": [ { "column": "x", "new_column": "x_big", "type": "bigint" },
               { "column": "y", "new_column": "y2" },
               { "table": "public.b", "column": "v", "new_column": "v_big", "type": "bigint" } ],
  "backfill": { "batch_size": 20, "target_batch_ms": 0, "pause_ms": 5 } }
JSON
assert_exit 0 ecplan advance "$P" --to sync

# kill_when SQL: runs the backfill in the background and kills it -9 once SQL
# (polled) returns t.
kill_when() {
	"$BIN" advance "$P" --to backfill >"$IT_TMP/bg.out" 2>"$IT_TMP/bg.err" &
	local bg=$! tries=600
	until [[ $(q "$1") == t ]]; do
		((tries-- > 0)) || fail "the condition never held: $1 ($(cat "$IT_TMP/bg.err"))"
		kill -0 "$bg" 2>/dev/null || fail "the backfill ended before the kill: $(cat "$IT_TMP/bg.err")"
		sleep 0.1
	done
	kill -9 "$bg"
	wait "$bg" 2>/dev/null || true
	# The server notices the dead client and ends its session and releases
	# its locks (the runner's advisory lock among them).
	tries=600
	until [[ $(q "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
	                      AND application_name LIKE 'ecplan%')
	                   + (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
	                      AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))") == 0 ]]; do
		((tries-- > 0)) || fail "the killed runner's session stayed"
		sleep 0.1
	done
}
a_filled="SELECT count(*) FROM public.a WHERE x_big IS NOT NULL"
b_filled="SELECT count(*) FROM public.b WHERE v_big IS NOT NULL"
kill_when "SELECT ($a_filled) > 200"
a1=$(q "$a_filled")
((a1 > 0 && a1 < N)) || fail "killed mid-way through public.a (filled $a1 of $N)"
assert_eq 0 "$(q "$b_filled")" "public.b not started"
kill_when "SELECT ($b_filled) > 200"
assert_eq "$N" "$(q "$a_filled")" "public.a finished after the first resume"
assert_eq "$N" "$(q "SELECT count(*) FROM public.a WHERE y2 IS NOT DISTINCT FROM y")" "both new columns of public.a in the same walk"
b1=$(q "$b_filled")
((b1 > 0 && b1 < N)) || fail "killed mid-way through public.b (filled $b1 of $N)"
assert_exit 0 ecplan advance "$P" --to backfill
assert_eq backfilled "$(sm_state crash)" "backfilled after the second resume"
assert_eq 0 "$(q "SELECT count(*) FROM public.a WHERE x_big IS DISTINCT FROM x OR y2 IS DISTINCT FROM y")" "public.a: 0 unfilled or divergent"
assert_eq 0 "$(q "SELECT count(*) FROM public.b WHERE v_big IS DISTINCT FROM v")" "public.b: 0 unfilled or divergent"
assert_eq 2 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'crash' AND kind = 'phase' AND message LIKE 'backfill resumed at step%'")" \
	"the phase resumed twice"
done_rows=$(q "SELECT rows_done FROM ecplan.plans WHERE name = 'crash'")
((done_rows >= 2 * N)) || fail "rows_done sums both tables ($done_rows < $((2 * N)))"
assert_exit 0 ecplan advance "$P" --all
assert_eq contracted "$(sm_state crash)" "contracted"
pass
