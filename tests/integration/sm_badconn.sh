#!/usr/bin/env bash
# Connection failures: clear errors, exit 1, no leaked password, and a
# backfill whose server session is terminated resumes cleanly.
#
#  - --db 'host=/nonexistent port=1': exit 1, one clear message.
#  - The connection comes from --db, else ECPLAN_DB, else DATABASE_URL, else
#    PG*: a bad value at a level wins over a good one below it, and a good one
#    above a bad one is used.
#  - A password in the connection string (URI or keywords; refused
#    connection, missing database, or a successful run) never appears in
#    stdout, stderr, `status`, `history`, or ecplan's tables.
#  - pg_terminate_backend() of the runner's session (application_name ecplan)
#    in the middle of a backfill: exit 1 with a clear error; a later advance
#    resumes to backfilled with 0 divergent rows.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

N=100000
NAME=users-email-lower
sm_mk_users $N
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" backfill.batch_size=500 backfill.target_batch_ms=0 backfill.pause_ms=5
GOOD="host=$PGHOST port=$PGPORT dbname=$IT_DB user=${PGUSER:-postgres}"
BAD='host=/nonexistent port=1'
SECRET=s3cr3tpw

clear_conn_error() { # clear_conn_error WHAT: stderr is a short, readable connection error
	local err
	err=$(cat "$ERR")
	assert_ne "" "$err" "$1: an error message"
	[[ "${err,,}" == *connect* ]] || fail "$1: the message does not say it could not connect: $err"
	(($(wc -l <"$ERR") <= 12)) || fail "$1: a $(wc -l <"$ERR")-line message is not clear: $err"
	assert_not_contains "$err" "Segmentation" "$1: no crash"
}

# --- unreachable server -------------------------------------------------------
assert_exit 1 ecplan advance "$P" --db "$BAD"
clear_conn_error "advance --db $BAD"
assert_contains "$(cat "$ERR")" /nonexistent "the message names the socket directory"
assert_eq "" "$(cat "$OUT")" "nothing on stdout"
assert_eq 0 "$(q "SELECT count(*) FROM pg_namespace WHERE nspname = 'ecplan'")" "nothing happened in the real database"
for cmd in "check $P" "status" "status $NAME --json" "verify $P" "history $NAME" "rollback $P" "wait $NAME --until expanded --timeout 1"; do
	# shellcheck disable=SC2086
	assert_exit 1 ecplan $cmd --db "$BAD"
	clear_conn_error "$cmd --db $BAD"
done

# --- where the connection comes from -----------------------------------------
assert_exit 1 env ECPLAN_DB="$BAD" "$BIN" check "$P"
clear_conn_error "ECPLAN_DB over PG*"
assert_exit 1 env DATABASE_URL="$BAD" "$BIN" check "$P"
clear_conn_error "DATABASE_URL over PG*"
assert_exit 1 env ECPLAN_DB="$BAD" DATABASE_URL="$GOOD" "$BIN" check "$P"
clear_conn_error "ECPLAN_DB over DATABASE_URL"
assert_exit 0 env ECPLAN_DB="$GOOD" DATABASE_URL="$BAD" "$BIN" check "$P"
assert_exit 0 env ECPLAN_DB="$BAD" DATABASE_URL="$BAD" "$BIN" check "$P" --db "$GOOD"
assert_exit 0 env -u PGHOST -u PGPORT -u PGDATABASE ECPLAN_DB="$GOOD" "$BIN" status --json

# --- passwords never leak ------------------------------------------------------
no_secret() { # no_secret WHAT: neither stdout nor stderr shows the password
	assert_not_contains "$(cat "$OUT" "$ERR")" "$SECRET" "$1: password not shown"
}
for conn in "postgresql://u:$SECRET@127.0.0.1:1/x" "postgres://u:$SECRET@127.0.0.1:1/x?sslmode=disable" \
	"host=127.0.0.1 port=1 user=u password=$SECRET dbname=x" "host=127.0.0.1 port=1 password='$SECRET' dbname=x"; do
	assert_exit 1 ecplan advance "$P" --db "$conn"
	clear_conn_error "advance --db (refused, with password)"
	no_secret "advance --db $conn"
	assert_exit 1 env ECPLAN_DB="$conn" "$BIN" status
	no_secret "ECPLAN_DB=$conn status"
	assert_exit 1 env DATABASE_URL="$conn" "$BIN" check "$P"
	no_secret "DATABASE_URL=$conn check"
done
# Reachable server, missing database.
assert_exit 1 ecplan advance "$P" --db "postgresql://postgres:$SECRET@127.0.0.1:$PGPORT/it_no_such_db_zz"
clear_conn_error "missing database"
no_secret "missing database"
assert_contains "$(cat "$ERR")" it_no_such_db_zz "the message names the missing database"
# A successful run with a password in the URI (trust auth ignores it): nothing
# stored or printed shows it.
URI="postgresql://${PGUSER:-postgres}:$SECRET@127.0.0.1:$PGPORT/$IT_DB"
assert_exit 0 ecplan advance "$P" --db "$URI" --to sync
no_secret "advance with a password URI"
assert_eq synced "$(sm_state $NAME)" "advanced through the URI"
assert_exit 0 ecplan status $NAME --db "$URI"
no_secret "status"
assert_exit 0 ecplan history $NAME --json --db "$URI"
no_secret "history"
assert_eq 0 "$(q "SELECT (SELECT count(*) FROM ecplan.events WHERE message LIKE '%$SECRET%' OR data::text LIKE '%$SECRET%')
	+ (SELECT count(*) FROM ecplan.plans WHERE row_to_json(plans)::text LIKE '%$SECRET%')")" \
	"the password is in none of ecplan's tables"
assert_eq 0 "$(q "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%$SECRET%' AND pid <> pg_backend_pid()")" \
	"nor in any session's query"

# --- server-side termination in the middle of the backfill -------------------
"$BIN" advance "$P" --to backfill >"$IT_TMP/bf.out" 2>"$IT_TMP/bf.err" &
bpid=$!
for _ in $(seq 1 300); do
	[[ "$(q "SELECT rows_done > 2000 FROM ecplan.plans WHERE name = '$NAME'")" == t ]] && break
	sleep 0.02
done
kill -0 $bpid 2>/dev/null || fail "backfill ended before it could be interrupted: $(cat "$IT_TMP/bf.err")"
killed=$(q "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'ecplan' AND datname = current_database()) s")
((killed >= 1)) || fail "no ecplan session to terminate"
rc=0
for _ in $(seq 1 1200); do
	kill -0 $bpid 2>/dev/null || break
	sleep 0.1
done
if kill -0 $bpid 2>/dev/null; then
	kill $bpid
	fail "advance still running 120 s after its session was terminated"
fi
wait $bpid || rc=$?
cp "$IT_TMP/bf.err" "$ERR"
assert_eq 1 "$rc" "advance exits 1 when its session is terminated (stderr: $(cat "$ERR"))"
assert_ne "" "$(cat "$ERR")" "an error message"
err=$(cat "$ERR")
[[ "${err,,}" == *terminat* || "${err,,}" == *connection* ]] ||
	fail "the message does not say the connection was lost: $err"
assert_not_contains "$err" "Segmentation" "no crash"
cur=$(q "SELECT coalesce(cursor[1], '0') FROM ecplan.plans WHERE name = '$NAME'")
((cur > 0)) || fail "no batch was saved before the termination"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE id > $cur AND email_normalized IS NOT NULL")" \
	"the interrupted batch left nothing above the cursor"
sm_wait_no_runner 120 || fail "ecplan session or lock still there after termination"
assert_exit 0 ecplan advance "$P" --to backfill
assert_eq backfilled "$(sm_state $NAME)" "resumed to backfilled"
assert_exit 0 ecplan verify "$P"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS DISTINCT FROM lower(email)")" \
	"0 divergent rows, checked in SQL"
assert_eq "true|true|email_normalized" "$(sm_index_info public users_email_key_ecplan)" "index built"
assert_exit 0 ecplan status $NAME --json
assert_eq null "$(sm_json "$OUT" 'd["last_error"]')" "last_error cleared after the successful resume"
pass
