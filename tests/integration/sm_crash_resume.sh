#!/usr/bin/env bash
# kill -9 of the runner in the middle of a backfill, several times, then resume.
#
# 200k users, users-email-lower with batches of 500 (not adapted). After
# expand and sync, `advance --to backfill` runs in the background and is
# killed with SIGKILL after a random 0.3-1.2 s, three times (pause_ms 10 keeps the
# whole backfill longer than that on any machine); after each kill:
#   - the session advisory lock is released (the server notices the dead
#     client) within 5 s, and `status` no longer says running;
#   - ecplan.plans.cursor moved forward, and batches are atomic with their
#     bookkeeping: rows_done equals the number of rows at or below the cursor,
#     and no row above the cursor was filled;
#   - the next advance is not refused with exit 4.
# A fourth run is killed while it builds the index (CREATE INDEX
# CONCURRENTLY), with its server session terminated too, leaving an invalid
# index behind. Then a final advance resumes to backfilled: no invalid index,
# verify reports 0 divergent rows, and rows_done is about the row count.
# The same on a table whose key is (int, text) with hostile text values.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
# The binary itself, not lib.sh's wrapper function: kill -9 must hit ecplan.
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

N=200000
NAME=users-email-lower
sm_mk_users $N
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" backfill.batch_size=500 backfill.target_batch_ms=0 backfill.pause_ms=10
assert_exit 0 ecplan advance "$P" --to sync
assert_eq synced "$(sm_state $NAME)" "synced before the backfill"

cursor() { q "SELECT coalesce(cursor[1], '0') FROM ecplan.plans WHERE name = '$NAME'"; }
check_atomic() { # rows_done and the rows filled agree with the cursor
	local c=$1 done_rows
	done_rows=$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$NAME'")
	assert_eq "$(q "SELECT count(*) FROM public.users WHERE id <= $c")" "$done_rows" \
		"rows_done equals the rows at or below cursor $c"
	assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE id > $c AND email_normalized IS NOT NULL")" \
		"no row above cursor $c was filled (a killed batch left nothing)"
	assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE id <= $c AND email_normalized IS DISTINCT FROM lower(email)")" \
		"every row at or below cursor $c is filled correctly"
}

prev=0
kills=0
for round in 1 2 3; do
	"$BIN" advance "$P" --to backfill >"$IT_TMP/bg$round.out" 2>"$IT_TMP/bg$round.err" &
	pid=$!
	# Until this run has committed a batch (by state, not by time: under
	# load its preconditions, full scans, may take a while), then a random
	# moment later.
	for _ in $(seq 1 6000); do
		kill -0 $pid 2>/dev/null || break
		(($(cursor) > prev)) && break
		sleep 0.02
	done
	sm_rand_sleep 0.05 0.5
	if kill -0 $pid 2>/dev/null; then
		# While it runs, status says so.
		assert_exit 0 ecplan status $NAME --json
		running=$(sm_json "$OUT" 'd["running"]')
		pct=$(sm_json "$OUT" 'd["backfill"]["percent"]')
		[[ $(echo "$pct >= 0 && $pct <= 100" | bc) == 1 ]] || fail "round $round: backfill.percent is $pct"
	else
		running=finished
	fi
	kill -9 $pid 2>/dev/null || true
	rc=0
	{ wait $pid; } 2>/dev/null || rc=$?
	if [[ $rc != 137 ]]; then
		cat "$IT_TMP/bg$round.err" >&2
		# Finishing early (0) is possible on a fast machine; anything else is not.
		assert_eq 0 "$rc" "round $round: advance ended by itself before the kill"
		break
	fi
	assert_eq true "$running" "round $round: status --json says running while the backfill runs"
	kills=$((kills + 1))
	sm_wait_no_runner 120 || fail "round $round: advisory lock or ecplan session still there 120 s after kill -9: $(q "SELECT string_agg(locktype || ' pid ' || pid, ', ') FROM pg_locks WHERE locktype = 'advisory'")"
	assert_exit 0 ecplan status $NAME --json
	assert_eq false "$(sm_json "$OUT" 'd["running"]')" "round $round: status --json says not running after the kill"
	assert_eq synced "$(sm_state $NAME)" "round $round: still synced"
	assert_eq backfill "$(q "SELECT running_phase FROM ecplan.plans WHERE name = '$NAME'")" "round $round: backfill in progress"
	cur=$(cursor)
	((cur > prev)) || fail "round $round: cursor did not advance ($prev -> $cur)"
	check_atomic "$cur"
	prev=$cur
done
assert_eq 3 "$kills" "three kills landed during the backfill batches"

# Kill during CREATE INDEX CONCURRENTLY, and end its server session too. A
# transaction holding an older snapshot (on nothing of the table) keeps the build
# waiting, so the kill lands during it however fast the machine is.
mkfifo "$IT_TMP/hold"
psql -X -q <"$IT_TMP/hold" >/dev/null 2>&1 &
hold_pid=$!
exec 7>"$IT_TMP/hold"
printf "SET application_name = 'it-snapshot';\nBEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT count(*) FROM pg_class;\n" >&7
for _ in $(seq 1 1500); do
	[[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'it-snapshot'
		AND state = 'idle in transaction' AND backend_xmin IS NOT NULL")" == 1 ]] && break
	sleep 0.02
done
"$BIN" advance "$P" --to backfill >"$IT_TMP/bg4.out" 2>"$IT_TMP/bg4.err" &
pid=$!
backend=
for _ in $(seq 1 1500); do
	backend=$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'ecplan' AND datname = current_database()
		AND query ILIKE 'CREATE%INDEX%CONCURRENTLY%' LIMIT 1")
	[[ -n "$backend" ]] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.02
done
[[ -n "$backend" ]] || fail "never saw the runner build the index (advance output: $(cat "$IT_TMP/bg4.err"))"
kill -9 $pid 2>/dev/null || true
q "SELECT pg_terminate_backend($backend)" >/dev/null
printf 'COMMIT;\n\\q\n' >&7
exec 7>&-
wait $hold_pid || true
rc=0
{ wait $pid; } 2>/dev/null || rc=$?
assert_eq 137 "$rc" "killed during the index build"
sm_wait_no_runner 120 || fail "advisory lock still held 120 s after the kill during the index build"
assert_eq synced "$(sm_state $NAME)" "still synced after the kill during the index build"
assert_eq "$N" "$(cursor)" "the batches were all done before the index build"

# Resume to the end.
assert_exit 0 ecplan advance "$P" --to backfill
assert_eq backfilled "$(sm_state $NAME)" "backfilled after resuming"
assert_eq "true|true|email_normalized" "$(sm_index_info public users_email_key_ecplan)" "index rebuilt valid after an interrupted build"
assert_eq 0 "$(q "SELECT count(*) FROM pg_index WHERE indrelid = 'public.users'::regclass AND NOT indisvalid")" \
	"no invalid index left behind"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS DISTINCT FROM lower(email)")" \
	"every row filled correctly"
assert_eq t "$(sm_check_constraint public.users ecplan_not_null_$NAME)" "NOT NULL check validated"
assert_exit 0 ecplan verify "$P"
assert_exit 0 ecplan status $NAME --json
done_rows=$(sm_json "$OUT" 'd["backfill"]["rows_done"]')
((done_rows >= N * 95 / 100 && done_rows <= N)) || fail "rows_done $done_rows is not about $N"
assert_eq false "$(sm_json "$OUT" 'd["running"]')" "not running at the end"
assert_eq null "$(sm_json "$OUT" 'd["last_error"]')" "no error left at the end"

# --- a two-column text key with quotes, braces, commas and backslashes -------
# The cursor (text[]) must survive the kill and bring the resume back to the
# right row under the column's own collation.
q "CREATE TABLE public.kv (tenant int NOT NULL, k text COLLATE \"C\" NOT NULL, v integer,
	PRIMARY KEY (tenant, k));
	INSERT INTO public.kv SELECT g % 7, 'k{' || g || '},\"x\\' || (g * 7919 % 100003) || ' é', g
	FROM generate_series(1, 60000) g;
	ANALYZE public.kv" >/dev/null
PK=$IT_TMP/kv.json
sm_plan "$src/plans/orders-quantity-bigint.json" "$PK" name='"kv-v"' table='"public.kv"' change.column='"v"' \
	change.new_column='"v2"' change.up='"v::bigint"' change.down='"v2::integer"' change.not_null=false \
	change.default=null backfill.batch_size=300 backfill.target_batch_ms=0 backfill.max_rows_per_second=0 backfill.pause_ms=10
assert_exit 0 ecplan advance "$PK" --to sync
for round in 1 2; do
	"$BIN" advance "$PK" --to backfill >"$IT_TMP/kv$round.out" 2>"$IT_TMP/kv$round.err" &
	pid=$!
	sm_rand_sleep 0.3 0.7
	kill -9 $pid 2>/dev/null || true
	rc=0
	{ wait $pid; } 2>/dev/null || rc=$?
	assert_eq 137 "$rc" "kv round $round: killed during the backfill"
	sm_wait_no_runner 120 || fail "kv round $round: lock still held after kill -9"
	assert_eq 0 "$(q "SELECT count(*) FROM public.kv WHERE v2 IS NOT NULL AND (tenant, k) >
		(SELECT cursor[1]::int, cursor[2]::text FROM ecplan.plans WHERE name = 'kv-v')")" \
		"kv round $round: nothing filled past the cursor"
	assert_eq "$(q "SELECT count(*) FROM public.kv WHERE (tenant, k) <=
		(SELECT cursor[1]::int, cursor[2]::text FROM ecplan.plans WHERE name = 'kv-v')")" \
		"$(q "SELECT rows_done FROM ecplan.plans WHERE name = 'kv-v'")" "kv round $round: rows_done matches the cursor"
done
assert_exit 0 ecplan advance "$PK" --to backfill
assert_eq backfilled "$(sm_state kv-v)" "kv: backfilled after resuming"
assert_eq 0 "$(q "SELECT count(*) FROM public.kv WHERE v2 IS DISTINCT FROM v")" "kv: every row filled"
assert_eq 60000 "$(q "SELECT rows_done FROM ecplan.plans WHERE name = 'kv-v'")" "kv: each row counted once"
assert_exit 0 ecplan verify "$PK"
pass
