#!/usr/bin/env bash
# No write is lost while every phase runs under application traffic.
#
# users-email-lower (as shipped) on 50k users. Two writers
# (tests/support/writers.sh) run throughout:
#   old code  UPDATE email / INSERT (email), from the start until contract
#             begins (old code is gone by then);
#   new code  UPDATE email_normalized / INSERT (email_normalized), from sync on.
# Each logs every committed write (key and value) in the write's own
# transaction, and each owns half of the rows, so the last logged write of a
# row is its final value. `advance --to switch` runs under that traffic, then
# `verify` (still under traffic) must find 0 divergent rows; then
# `advance --all` contracts, still under traffic. At the end: both writers
# exited 0 with no error, both wrote in the window, every committed write is
# present (email_normalized = lower(old-code value) or the new-code value),
# every row nobody wrote still has lower(its sample email), no row was lost or
# added, and email_normalized is NOT NULL.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

N=50000
NAME=users-email-lower
P=$src/plans/users-email-lower.json
sm_mk_users $N
sm_writers_setup
W=$src/tests/support/writers.sh

bash "$W" old $NAME old1 2 0 $N >"$IT_TMP/old.out" 2>"$IT_TMP/old.err" &
opid=$!
bash "$W" new $NAME new1 2 1 $N >"$IT_TMP/new.out" 2>"$IT_TMP/new.err" &
npid=$!
it_defer "sm_writers_stop 2>/dev/null"
writes() { q "SELECT count(*) FROM it_write_log WHERE writer = '$1'"; }
wait_writes() { # wait_writes WRITER MORE_THAN: up to 120 s (a hang guard) for the log to grow past MORE_THAN
	for _ in $(seq 1 2400); do
		(($(writes "$1") > $2)) && return 0
		sleep 0.05
	done
	return 1
}
wait_writes old1 20 || fail "old code did not write before the plan started: $(cat "$IT_TMP/old.err")"

assert_exit 0 ecplan advance "$P" --to switch
assert_eq switched "$(sm_state $NAME)" "switched under traffic"
wait_writes new1 0 || fail "new code did not write after sync: $(cat "$IT_TMP/new.err")"
assert_exit 0 ecplan verify "$P"
kill -0 $opid 2>/dev/null || fail "old-code writer stopped before contract: $(cat "$IT_TMP/old.err")"
kill -0 $npid 2>/dev/null || fail "new-code writer stopped early: $(cat "$IT_TMP/new.err")"
olds=$(writes old1)

assert_exit 0 ecplan advance "$P" --all
assert_eq contracted "$(sm_state $NAME)" "contracted under traffic"
sleep 0.5

# The old-code writer stops by itself once contract begins.
orc=0
wait $opid || orc=$?
assert_eq 0 "$orc" "old-code writer exited 0 (stderr: $(cat "$IT_TMP/old.err"))"
kill -0 $npid 2>/dev/null || fail "new-code writer stopped early: $(cat "$IT_TMP/new.err")"
wait_writes new1 "$(writes new1)" || fail "new code stopped writing after contract: $(cat "$IT_TMP/new.err")"
sm_writers_stop
nrc=0
wait $npid || nrc=$?
assert_eq 0 "$nrc" "new-code writer exited 0 (stderr: $(cat "$IT_TMP/new.err"))"
assert_not_contains "$(cat "$IT_TMP/old.err" "$IT_TMP/new.err")" ERROR "writers had no errors"
echo "# writes: $(q "SELECT string_agg(writer || ' ' || op || ' ' || n, ', ') FROM (SELECT writer, op, count(*) AS n FROM it_write_log GROUP BY 1, 2 ORDER BY 1, 2) s")" >&2

# Every committed write is present: the last write of each row is its value.
assert_eq 0 "$(q "WITH last AS (SELECT DISTINCT ON (id) id, col, value FROM it_write_log ORDER BY id, seq DESC)
	SELECT count(*) FROM last l LEFT JOIN public.users u USING (id)
	WHERE u.id IS NULL OR u.email_normalized IS DISTINCT FROM
	      CASE WHEN l.col = 'email' THEN lower(l.value) ELSE l.value END")" \
	"every committed write is in email_normalized"
assert_eq 0 "$(q "SELECT count(*) FROM public.users u WHERE u.id <= $N
	AND NOT EXISTS (SELECT 1 FROM it_write_log l WHERE l.id = u.id)
	AND u.email_normalized IS DISTINCT FROM lower('User' || u.id || '@Example.COM')")" \
	"rows nobody wrote hold lower(their sample email)"
assert_eq "$((N + $(q "SELECT count(*) FROM it_write_log WHERE op = 'insert'")))" "$(q "SELECT count(*) FROM public.users")" \
	"no row lost or duplicated"
assert_eq 0 "$(q "SELECT count(*) FROM (SELECT id FROM it_write_log WHERE op = 'insert' GROUP BY id HAVING count(*) > 1) s")" \
	"every insert got its own row"
assert_eq t "$(sm_col_notnull public.users email_normalized)" "email_normalized is NOT NULL"
assert_eq 0 "$(sm_col_exists public.users email)" "email is gone"
assert_eq "true|true|email_normalized" "$(sm_index_info public users_email_key)" "users_email_key is unique on email_normalized"
# The archive holds each row's email as of contract. New code keeps writing
# during contract, so only rows whose last write came well before contract
# started (its first event, minus slack for commit delay) are compared.
ostart=$(q "SELECT min(at) FROM ecplan.events WHERE plan = '$NAME' AND phase = 'contract'")
assert_eq 0 "$(q "WITH last AS (SELECT DISTINCT ON (id) id, col, value, at FROM it_write_log ORDER BY id, seq DESC)
	SELECT count(*) FROM last l LEFT JOIN ecplan_archive.\"$NAME\" a USING (id)
	WHERE l.at < '$ostart'::timestamptz - interval '200 ms' AND (a.id IS NULL OR a.email IS DISTINCT FROM l.value)")" \
	"the archive holds each row's email as of contract"
((olds > 20)) || fail "old code made only $olds writes before switch"
# Traffic overlapped the backfill itself, from both sides.
during_backfill() {
	q "SELECT count(*) FROM it_write_log WHERE writer = '$1' AND at BETWEEN
	   (SELECT min(at) FROM ecplan.events WHERE plan = '$NAME' AND phase = 'backfill')
	   AND (SELECT max(at) FROM ecplan.events WHERE plan = '$NAME' AND phase = 'backfill')"
}
assert_ne 0 "$(during_backfill old1)" "old code wrote during the backfill"
assert_ne 0 "$(during_backfill new1)" "new code wrote during the backfill"
pass
