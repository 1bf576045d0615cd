#!/usr/bin/env bash
# DDL never queues long behind a blocker, and old transactions stop a phase.
#
# A session idle in transaction holds ACCESS SHARE on public.users (a psql
# fed through a fifo). With lock_timeout_ms 200, lock_retries 2 and a large
# max_transaction_age_s (so the precondition passes), `advance` (expand)
# gives up with exit 6, adds nothing, and records the error; meanwhile a
# writer doing single-row UPDATEs (each with lock_timeout 30 s, enforced by
# the server) gets no error, and ecplan recorded a lock_timeout for every
# try it gave up.
# With max_transaction_age_s 1 and the same transaction older than 1 s,
# `check` and `advance` exit 3 naming the blocker's pid.
# Once the blocker is gone, the same plan advances. Later a blocked contract
# also exits 6 leaving the old column, trigger and function in place, and its
# successful retry archives the old column as it is when dropped.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

sm_mk_users 10000
# locks-b changes a copy of the table: while locks-a (same column of users)
# is active, a second plan on that column is refused by its own precondition.
q "CREATE TABLE public.users_b (LIKE public.users INCLUDING ALL);
   INSERT INTO public.users_b OVERRIDING SYSTEM VALUE SELECT * FROM public.users;
   ANALYZE public.users_b" >/dev/null
PA=$IT_TMP/locks-a.json
sm_plan "$src/plans/users-email-lower.json" "$PA" name='"locks-a"' safety.lock_timeout_ms=200 \
	safety.lock_retries=2 safety.max_transaction_age_s=3600
PB=$IT_TMP/locks-b.json
sm_plan "$src/plans/users-email-lower.json" "$PB" name='"locks-b"' table='"public.users_b"' safety.lock_timeout_ms=200 \
	safety.lock_retries=2 safety.max_transaction_age_s=1

# The blocker: BEGIN; LOCK ... ACCESS SHARE; then idle in transaction, in a
# psql fed through a fifo on fd 3. Sets $blocker to its backend pid.
start_blocker() {
	local fifo=$IT_TMP/blocker.$1.fifo outf=$IT_TMP/blocker.$1.out
	mkfifo "$fifo"
	psql -XAtq -v ON_ERROR_STOP=1 <"$fifo" >"$outf" 2>&1 &
	exec 3>"$fifo"
	printf 'BEGIN;\nLOCK TABLE public.users, public.users_b IN ACCESS SHARE MODE;\nSELECT pg_backend_pid();\n' >&3
	blocker=
	for _ in $(seq 1 3000); do
		blocker=$(head -n 1 "$outf")
		[[ -n "$blocker" ]] && break
		sleep 0.05
	done
	[[ "$blocker" =~ ^[0-9]+$ ]] || fail "blocker did not start: $(cat "$outf")"
	for _ in $(seq 1 3000); do
		[[ "$(q "SELECT state FROM pg_stat_activity WHERE pid = $blocker")" == "idle in transaction" ]] && break
		sleep 0.05
	done
	assert_eq "idle in transaction" "$(q "SELECT state FROM pg_stat_activity WHERE pid = $blocker")" "blocker is idle in transaction"
	assert_eq 1 "$(q "SELECT count(*) FROM pg_locks WHERE pid = $blocker AND relation = 'public.users'::regclass AND mode = 'AccessShareLock' AND granted")" \
		"blocker holds ACCESS SHARE on users"
}
stop_blocker() {
	exec 3>&-
	for _ in $(seq 1 3000); do
		[[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE pid = $blocker")" == 0 ]] && return 0
		sleep 0.05
	done
	fail "blocker $blocker did not end"
}
it_defer "exec 3>&-"
start_blocker 1

# --- lock retries exhausted, and the application never waits long -----------
stop=$IT_TMP/writer.stop
bash "$src/tests/support/writers.sh" timed-updates "$stop" 0.01 >"$IT_TMP/lat.txt" 2>"$IT_TMP/writer.err" &
wpid=$!
# lat_lines N: waits until the writer has finished at least N UPDATEs (by
# count, not by time; 300 s is a guard against a hang).
lat_lines() {
	for _ in $(seq 1 3000); do
		(($(wc -l <"$IT_TMP/lat.txt") >= $1)) && return 0
		kill -0 $wpid 2>/dev/null || fail "the writer died: $(cat "$IT_TMP/writer.err")"
		sleep 0.1
	done
	fail "the writer did not reach $1 UPDATEs"
}
lat_lines 5
assert_exit 6 ecplan advance "$PA"
lat_lines $(($(wc -l <"$IT_TMP/lat.txt") + 5))
: >"$stop"
wrc=0
wait $wpid || wrc=$?
assert_eq 0 "$wrc" "writer exited 0 (stderr: $(cat "$IT_TMP/writer.err"))"
assert_not_contains "$(cat "$IT_TMP/writer.err")" ERROR "writer had no error"
n=$(wc -l <"$IT_TMP/lat.txt")
max=$(sort -g "$IT_TMP/lat.txt" | tail -n 1)
# Informational only: the bound is the writer's own lock_timeout (30 s, see
# writers.sh), enforced by the server; wall-clock figures vary with load.
echo "# writer: $n UPDATEs, slowest ${max} ms" >&2
assert_eq 2 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'locks-a' AND kind = 'lock_timeout'")" \
	"ecplan gave up its place in the lock queue after every try (3 tries, 2 retries)"

assert_eq planned "$(sm_state locks-a)" "locks-a: still planned after exit 6"
assert_eq 0 "$(sm_col_exists public.users email_normalized)" "locks-a: no column added"
assert_exit 0 ecplan status locks-a --json
assert_eq "" "$(sm_check_status_json "$OUT" locks-a planned expand)" "locks-a: status --json after exit 6"
assert_eq false "$(sm_json "$OUT" 'd["running"]')" "locks-a: status says not running after exit 6"
assert_ne null "$(sm_json "$OUT" 'd["last_error"]')" "locks-a: status shows the last error"
# No ecplan session is left waiting in the lock queue.
assert_eq 0 "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ecplan' AND datname = current_database()")" "no ecplan session left"
assert_eq 0 "$(q "SELECT count(*) FROM pg_locks WHERE relation = 'public.users'::regclass AND NOT granted
	AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")" "nothing waits on users"

# --- old transaction: precondition fails, naming the pid ---------------------
for _ in $(seq 1 3000); do
	[[ "$(q "SELECT now() - xact_start > interval '1.2 s' FROM pg_stat_activity WHERE pid = $blocker")" == t ]] && break
	sleep 0.05
done
assert_exit 3 ecplan check "$PB"
assert_contains "$(cat "$OUT" "$ERR")" "$blocker" "check names the blocker's pid"
assert_exit 3 ecplan advance "$PB"
assert_contains "$(cat "$ERR")" "$blocker" "advance names the blocker's pid"
assert_eq 0 "$(sm_col_exists public.users_b email_normalized)" "locks-b: no column added"
assert_ne expanded "$(sm_state locks-b)" "locks-b: not expanded"
# The age limit concerns transactions that hold a lock on the table: a long
# transaction elsewhere does not count.
printf 'ROLLBACK;\nBEGIN;\nSELECT 1;\n' >&3
# Until the new transaction (holding no lock on users) is older than 1 s.
for _ in $(seq 1 3000); do
	[[ "$(q "SELECT state = 'idle in transaction' AND now() - xact_start > interval '1.2 s'
		AND NOT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $blocker AND relation = 'public.users'::regclass)
		FROM pg_stat_activity WHERE pid = $blocker")" == t ]] && break
	sleep 0.1
done
assert_eq "idle in transaction" "$(q "SELECT state FROM pg_stat_activity WHERE pid = $blocker")" "blocker idle in a new transaction"
assert_exit 0 ecplan check "$PB"

# --- blocker gone: the plan runs --------------------------------------------
stop_blocker
assert_exit 0 ecplan advance "$PA"
assert_eq expanded "$(sm_state locks-a)" "locks-a: expanded once the blocker is gone"
assert_eq 1 "$(sm_col_exists public.users email_normalized)" "locks-a: column added"
assert_exit 0 ecplan status locks-a --json
assert_eq null "$(sm_json "$OUT" 'd["last_error"]')" "locks-a: last_error cleared by the successful run"

# --- contract blocked: nothing half done, and the retry archives current data -
assert_exit 0 ecplan advance "$PA" --to switch
assert_eq switched "$(sm_state locks-a)" "locks-a: switched"
start_blocker 2
assert_exit 6 ecplan advance "$PA"
assert_eq switched "$(sm_state locks-a)" "locks-a: still switched after contract gave up"
assert_eq 1 "$(sm_col_exists public.users email)" "locks-a: old column still there"
assert_eq 1 "$(sm_trigger_exists public.users zz_ecplan_sync_locks-a)" "locks-a: trigger still there (never an old column without it)"
assert_eq 1 "$(sm_function_exists ecplan ecplan_sync_locks-a)" "locks-a: function still there"
assert_exit 0 ecplan verify "$PA"
# Writes while contract waits for its lock: old code, and new code (whose
# value the trigger copies into email).
q "UPDATE public.users SET email = 'Late.Old@Write.X' WHERE id = 42;
   UPDATE public.users SET email_normalized = 'Late.New@Write.X' WHERE id = 43" >/dev/null
stop_blocker
assert_exit 0 ecplan advance "$PA"
assert_eq contracted "$(sm_state locks-a)" "locks-a: contracted once the blocker is gone"
assert_eq 0 "$(sm_col_exists public.users email)" "locks-a: old column dropped"
assert_eq "10000" "$(q "SELECT count(*) FROM ecplan_archive.\"locks-a\"")" "locks-a: archive has every row"
assert_eq "Late.Old@Write.X|Late.New@Write.X" \
	"$(q "SELECT string_agg(email, '|' ORDER BY id) FROM ecplan_archive.\"locks-a\" WHERE id IN (42, 43)")" \
	"locks-a: the archive holds the old column as it was when it was dropped"
pass
