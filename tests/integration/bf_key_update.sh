#!/usr/bin/env bash
# A key update during the backfill: a row not filled yet moves behind the
# backfill's cursor. The sync trigger fills it on that UPDATE (it changes
# neither column), so the walk, which never comes back, leaves no row
# unfilled and switch's verify passes.
#
# 20k users, batches of 20 paused between; once the walk has started it is
# paused (`ecplan pause`), rows far ahead of the cursor get keys below it
# (id -> -id), the walk resumes and finishes. Before the fix those rows kept
# a NULL new column and the backfill phase ended with them unfilled.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

N=20000
NAME=users-full-name
q "CREATE TABLE public.users (id bigint PRIMARY KEY, name text, email text);
   INSERT INTO public.users SELECT g, 'User ' || g, 'u' || g FROM generate_series(1, $N) g;" >/dev/null
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-full-name.json" "$P" backfill.batch_size=20 backfill.target_batch_ms=0 \
	backfill.pause_ms=20
assert_exit 0 ecplan advance "$P" --to sync
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
it_defer "kill $bg 2>/dev/null"
until_true 60 "SELECT rows_done > 0 FROM ecplan.plans WHERE name = '$NAME'" ||
	fail "the backfill did not start: $(cat "$IT_TMP/bg.err")"
assert_exit 0 ecplan pause "$NAME"
until_true 60 "SELECT count(*) > 0 FROM ecplan.events WHERE plan = '$NAME' AND kind = 'paused'" ||
	fail "the backfill did not pause"
# Rows ahead of the cursor, not filled yet, move below it.
moved=$(q "WITH m AS (UPDATE public.users SET id = -id WHERE id > $((N - 100)) AND full_name IS NULL RETURNING 1)
	SELECT count(*) FROM m")
assert_eq 100 "$moved" "100 unfilled rows moved behind the cursor"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE id < 0 AND full_name IS DISTINCT FROM name")" \
	"the sync trigger filled them on their key update"
assert_exit 0 ecplan resume "$NAME"
rc=0
wait $bg || rc=$?
assert_eq 0 "$rc" "the backfill finished (stderr: $(cat "$IT_TMP/bg.err"))"
assert_eq backfilled "$(sm_state "$NAME")" "backfilled"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE full_name IS NULL")" "no row left unfilled"
assert_exit 0 ecplan advance "$P" --to switch
pass
