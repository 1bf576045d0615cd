#!/usr/bin/env bash
# A real streaming standby whose replay is paused throttles the backfill.
#
# The test takes a base backup of the throwaway server over loopback
# (pg_basebackup -h 127.0.0.1 -R) and starts it as a hot standby on its own
# socket directory (cluster_name ecplan_it_standby). The plan's throttle
# watches only the WAL bytes a standby has not replayed
# (max_replica_lag_bytes 1 MiB; the time signal is off so the test never
# depends on timing). With replay paused (pg_wal_replay_pause()) the
# backfill stops within one batch of the limit: one `throttled` event naming
# the standby, status --json throttled, no batch while replay stays paused.
# pg_wal_replay_resume() lets the standby catch up and the backfill finish:
# an `unthrottled` event, 0 unfilled rows, and the standby, caught up, has
# every row filled too. Nothing is skipped: no pg_basebackup is a failure.
# ctest runs this test alone (RUN_SERIAL): a lagging standby throttles every
# backfill on the server, other tests' too.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

# The server's own binaries (pg_basebackup is part of the postgresql package).
major=$(q "SELECT current_setting('server_version_num')::int / 10000")
PGBIN=${ECPLAN_PG_BIN:-/usr/lib/postgresql/$major/bin}
for prog in pg_basebackup pg_ctl; do
	[[ -x "$PGBIN/$prog" ]] || fail "$PGBIN/$prog not found: this test needs the server's $prog (bash scripts/install-deps.sh)"
done
as_owner() { # the cluster owner runs the standby: postgres when we are root
	if [[ $(id -u) -eq 0 ]]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}
# Beside the primary's cluster: a directory the cluster owner can reach.
SB=$(mktemp -d "${ECPLAN_PG_DIR:-/tmp}/standby.XXXXXX")
mkdir -p "$SB/sock"
[[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$SB"
chmod 0755 "$SB"
it_defer "as_owner '$PGBIN/pg_ctl' -D '$SB/data' -m immediate stop >/dev/null 2>&1; rm -rf -- '$SB'"

# Any TCP port of the primary is on 127.0.0.1 (scripts/pg.sh listen_addresses).
as_owner "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -D "$SB/data" -R -X stream \
	-c fast >"$IT_TMP/basebackup.log" 2>&1 || fail "pg_basebackup failed: $(cat "$IT_TMP/basebackup.log")"
# A hot standby needs these at least as high as on the primary.
same=$(q "SELECT string_agg(format('-c %s=%s', name, setting), ' ') FROM pg_settings WHERE name IN
	('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions',
	 'max_locks_per_transaction')")
as_owner "$PGBIN/pg_ctl" -D "$SB/data" -l "$SB/standby.log" -w -t 60 \
	-o "-c listen_addresses= -p $PGPORT -k $SB/sock -c cluster_name=ecplan_it_standby -c hot_standby=on $same" \
	start >"$IT_TMP/pg_ctl.log" 2>&1 || fail "the standby did not start: $(cat "$IT_TMP/pg_ctl.log" "$SB/standby.log")"
sq() { psql -XAtq -v ON_ERROR_STOP=1 -h "$SB/sock" -p "$PGPORT" -d "$IT_DB" -c "$1"; }
assert_eq t "$(sq "SELECT pg_is_in_recovery()")" "the standby is in recovery"

until_true() {
	local tries=$(($1 * 5))
	while ((tries-- > 0)); do
		[[ $(q "$2") == t ]] && return 0
		sleep 0.2
	done
	return 1
}
streaming="SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = 'ecplan_it_standby' AND state = 'streaming'"
caught_up="SELECT coalesce(bool_and(replay_lsn >= pg_current_wal_lsn()), false) FROM pg_stat_replication WHERE application_name = 'ecplan_it_standby'"
until_true 60 "$streaming" || fail "the standby is not streaming: $(tail -5 "$SB/standby.log")"

N=50000
NAME=users-email-lower
sm_mk_users $N
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" backfill.batch_size=500 backfill.target_batch_ms=0 \
	backfill.pause_ms=0 'backfill.throttle={"max_replica_lag_ms": 0, "max_replica_lag_bytes": 1048576, "max_batch_ms_factor": 0}'
assert_exit 0 ecplan advance "$P" --to sync
until_true 60 "$caught_up" || fail "the standby did not catch up before the backfill"
assert_eq 0 "$(sq "SELECT count(*) FROM public.users WHERE email_normalized IS NOT NULL")" "nothing filled on the standby yet"

sq "SELECT pg_wal_replay_pause()" >/dev/null
"$BIN" advance "$P" --to backfill >"$IT_TMP/bg.out" 2>"$IT_TMP/bg.err" &
bg=$!
until_true 120 "SELECT count(*) >= 1 FROM ecplan.events WHERE plan = '$NAME' AND kind = 'throttled'" ||
	fail "no throttled event with replay paused: $(cat "$IT_TMP/bg.err")"
reason=$(q "SELECT data ->> 'reason' FROM ecplan.events WHERE plan = '$NAME' AND kind = 'throttled' ORDER BY id LIMIT 1")
assert_contains "$reason" 'standby "ecplan_it_standby"' "the reason names the standby"
assert_contains "$reason" "not replayed > max_replica_lag_bytes (1.0 MiB)" "and the limit"
kill -0 $bg || fail "the backfill ended although replay was paused"
r1=$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$NAME'")
((r1 < N)) || fail "the backfill finished before the standby fell behind ($r1 rows)"
# Within one batch of the limit: the standby is at most the limit plus one
# batch's WAL behind (a batch of 500 rows writes far less than 1 MiB more).
lag=$(q "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication WHERE application_name = 'ecplan_it_standby'")
((lag > 1048576 && lag <= 2 * 1048576)) ||
	fail "throttled with the standby $lag bytes behind: not within one batch past the 1 MiB limit"
IT_ASSERTS=$((IT_ASSERTS + 1))
for i in 1 2 3 4; do
	sleep 0.5
	assert_eq "$r1" "$(q "SELECT rows_done FROM ecplan.plans WHERE name = '$NAME'")" "poll $i: no batch while replay is paused"
done
assert_exit 0 ecplan status $NAME --json
assert_contains "$(sm_json "$OUT" 'd["throttled"]')" "ecplan_it_standby" "status --json: throttled by the standby"
echo "throttled at $r1 of $N rows; standby $lag bytes behind" >&2

sq "SELECT pg_wal_replay_resume()" >/dev/null
wait $bg || fail "the backfill failed after replay resumed: $(cat "$IT_TMP/bg.err")"
assert_eq backfilled "$(sm_state $NAME)" "backfilled once the standby caught up"
ths=$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'throttled'")
assert_eq "$ths" "$(q "SELECT count(*) FROM ecplan.events WHERE plan = '$NAME' AND kind = 'unthrottled'")" \
	"every throttle episode ended"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS DISTINCT FROM lower(email)")" "0 unfilled rows"
until_true 120 "$caught_up" || fail "the standby did not catch up after the backfill"
assert_eq "$N" "$(sq "SELECT count(*) FROM public.users WHERE email_normalized = lower(email)")" \
	"the standby has every row filled"
pass
