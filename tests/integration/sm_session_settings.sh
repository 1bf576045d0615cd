#!/usr/bin/env bash
# Session settings are pinned, and shared objects are safe under concurrency
# (issue 10, item 4).
#
# 1. A backfill on a table whose key is a date, stopped half way (a trigger on
#    the table fails a batch) while ecplan runs with PGDATESTYLE='SQL, DMY',
#    resumed with PGOPTIONS='-c DateStyle=SQL,MDY': no row is skipped (the
#    cursor is written in ISO under ecplan's pinned settings, and it says so).
# 2. A cursor saved by an older release (text in that session's DateStyle, no
#    settings recorded) is not trusted on a date key: the walk starts again and
#    fills every row; rows_done counts each row once.
# 3. Serialization failures (40001) and deadlocks (40P01) in a batch are
#    retried like lock timeouts: the backfill ends, the retries are events.
# 4. The plan's checks see the pinned settings whatever PGOPTIONS/PGTZ say.
# 5. Two plans creating ecplan_archive at the same moment: the contract's
#    statement for it does not fail for the second one.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
BIN=${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}

# mk_dated TABLE: 1000 rows keyed by a date, 2000-01-02 .. 2002-09-27, and a
# trigger that fails any update of a row at or after public.stop_at.d.
q "CREATE TABLE public.stop_at (tbl text PRIMARY KEY, d date NOT NULL);
CREATE FUNCTION public.stop_at() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF EXISTS (SELECT FROM public.stop_at s WHERE s.tbl = TG_TABLE_NAME AND NEW.d >= s.d) THEN
    RAISE EXCEPTION 'test: stop at %', NEW.d;
  END IF;
  RETURN NEW;
END \$\$;" >/dev/null
mk_dated() {
	q "CREATE TABLE public.$1 (d date PRIMARY KEY, v integer NOT NULL);
	INSERT INTO public.$1 SELECT DATE '2000-01-01' + g, g FROM generate_series(1, 1000) g;
	CREATE TRIGGER a_stop BEFORE UPDATE ON public.$1 FOR EACH ROW EXECUTE FUNCTION public.stop_at();
	ANALYZE public.$1" >/dev/null
}
# plan_for FILE NAME TABLE: v -> v2 bigint, batches of 50 rows (not adapted).
plan_for() {
	sm_plan "$src/plans/orders-quantity-bigint.json" "$1" name="\"$2\"" table="\"public.$3\"" \
		change.column='"v"' change.new_column='"v2"' change.up='"v::bigint"' change.down='"v2::integer"' \
		change.not_null=false change.default=null backfill.batch_size=50 backfill.target_batch_ms=0 \
		backfill.max_rows_per_second=0 backfill.pause_ms=0 contract.archive=true
}

# --- 1. resume under another DateStyle --------------------------------------
mk_dated ev
P=$IT_TMP/ev.json
plan_for "$P" ev-v ev
assert_exit 0 ecplan advance "$P" --to sync
# Batches 1 and 2 (rows up to 2000-04-10) commit, batch 3 fails.
q "INSERT INTO public.stop_at VALUES ('ev', DATE '2000-04-30')" >/dev/null
assert_exit 1 env PGDATESTYLE='SQL, DMY' PGTZ=Asia/Kolkata "$BIN" advance "$P" --to backfill
assert_contains "$(cat "$ERR")" "test: stop at" "the backfill stopped on the test trigger"
assert_eq "2000-04-10|$(q "SELECT count(*) FROM public.ev WHERE d <= DATE '2000-04-10'")" \
	"$(q "SELECT cursor[1] || '|' || rows_done FROM ecplan.plans WHERE name = 'ev-v'")" \
	"the cursor is ISO text although the session asked for SQL, DMY"
q "DELETE FROM public.stop_at" >/dev/null
assert_exit 0 env PGOPTIONS='-c DateStyle=SQL,MDY -c TimeZone=America/New_York' \
	"$BIN" advance "$P" --to backfill
assert_eq 0 "$(q "SELECT count(*) FROM public.ev WHERE v2 IS NULL")" "no row skipped after the resume"
assert_eq 1000 "$(q "SELECT rows_done FROM ecplan.plans WHERE name = 'ev-v'")" "each row counted once"
assert_eq backfilled "$(sm_state ev-v)" "backfilled"

# --- 2. a cursor saved by an older release ------------------------------------
mk_dated ev2
P2=$IT_TMP/ev2.json
plan_for "$P2" ev2-v ev2
assert_exit 0 ecplan advance "$P2" --to sync
q "INSERT INTO public.stop_at VALUES ('ev2', DATE '2000-04-30')" >/dev/null
assert_exit 1 ecplan advance "$P2" --to backfill
q "DELETE FROM public.stop_at" >/dev/null
# What an older release wrote under DateStyle 'SQL, DMY': 10 April as 10/04/2000,
# which 'SQL, MDY' reads as 4 October.
q "UPDATE ecplan.plans SET cursor = ARRAY['10/04/2000'], cursor_settings = NULL WHERE name = 'ev2-v'" >/dev/null
assert_exit 0 env PGOPTIONS='-c DateStyle=SQL,MDY' "$BIN" advance "$P2" --to backfill
assert_eq 0 "$(q "SELECT count(*) FROM public.ev2 WHERE v2 IS NULL")" "no row skipped after resuming an old cursor"
assert_eq 1000 "$(q "SELECT rows_done FROM ecplan.plans WHERE name = 'ev2-v'")" "rows_done counts each row once"
assert_ne 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'ev2-v' AND message LIKE '%walking the key again%'")" \
	"the restart is in the history"

# --- 3. 40001 and 40P01 are retried ------------------------------------------
q "CREATE SEQUENCE public.fails;
CREATE TABLE public.rt (id integer PRIMARY KEY, v integer NOT NULL);
INSERT INTO public.rt SELECT g, g FROM generate_series(1, 500) g;
CREATE FUNCTION public.fail_twice() RETURNS trigger LANGUAGE plpgsql AS \$\$
DECLARE n bigint;
BEGIN
  IF NEW.id = 120 THEN
    n := nextval('public.fails'); -- not rolled back with the failed batch
    IF n = 1 THEN RAISE EXCEPTION 'test: serialization' USING ERRCODE = '40001'; END IF;
    IF n = 2 THEN RAISE EXCEPTION 'test: deadlock' USING ERRCODE = '40P01'; END IF;
  END IF;
  RETURN NEW;
END \$\$;
CREATE TRIGGER a_fail BEFORE UPDATE ON public.rt FOR EACH ROW EXECUTE FUNCTION public.fail_twice();" >/dev/null
P3=$IT_TMP/rt.json
sm_plan "$src/plans/orders-quantity-bigint.json" "$P3" name='"rt-v"' table='"public.rt"' \
	change.column='"v"' change.new_column='"v2"' change.up='"v::bigint"' change.down='"v2::integer"' \
	change.not_null=false change.default=null backfill.batch_size=50 backfill.target_batch_ms=0 \
	backfill.max_rows_per_second=0 backfill.pause_ms=0 safety.lock_retries=3
assert_exit 0 ecplan advance "$P3" --to backfill
assert_eq 0 "$(q "SELECT count(*) FROM public.rt WHERE v2 IS DISTINCT FROM v")" "every row filled after the retries"
assert_eq "40001,40P01" "$(q "SELECT string_agg(substring(message FROM 'SQLSTATE (.....)'), ',' ORDER BY id)
	FROM ecplan.events WHERE plan = 'rt-v' AND kind = 'retry'")" "both failures retried and recorded"

# --- 4. checks see the pinned settings -----------------------------------------
P4=$IT_TMP/ev-check.json
"$SM_PY" - "$P" "$P4" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["checks"] = [{"name": "pinned settings", "before": "switch", "sql":
  "SELECT current_setting('DateStyle') = 'ISO, MDY' AND current_setting('TimeZone') = 'UTC'"
  " AND current_setting('IntervalStyle') = 'postgres' AND current_setting('extra_float_digits') = '3'"
  " AND current_setting('search_path') = 'pg_catalog, \"$user\", public'"
  " AND current_setting('bytea_output') = 'hex'"
  " AND current_setting('transaction_isolation') = 'read committed'"}]
p["name"] = "ev-check"
json.dump(p, open(sys.argv[2], "w"))
PY
mk_dated ev3
sm_plan "$P4" "$P4" table='"public.ev3"'
assert_exit 0 env PGOPTIONS='-c DateStyle=German -c IntervalStyle=iso_8601 -c extra_float_digits=0 -c search_path=nowhere -c bytea_output=escape -c default_transaction_isolation=serializable -c default_transaction_read_only=on' \
	PGTZ=Asia/Tokyo "$BIN" advance "$P4" --to switch
assert_eq switched "$(sm_state ev-check)" "switch ran: its check saw the pinned settings"

# --- 5. ecplan_archive created by two plans at the same moment ---------------
# The contract's statement for the archive schema, as ecplan runs it.
ecplan render "$P" --phase contract >"$IT_TMP/contract.sql"
stmt=$(grep -m1 -E '^(DO|CREATE SCHEMA).*ecplan_archive' "$IT_TMP/contract.sql")
assert_eq 0 "$(q "SELECT count(*) FROM pg_namespace WHERE nspname = 'ecplan_archive'")" "no archive schema yet"
# Session A creates it and holds its transaction open; B runs the same meanwhile.
psql -XAtq -v ON_ERROR_STOP=1 -c "BEGIN" -c "$stmt" -c "SELECT pg_sleep(3)" -c "COMMIT" >"$IT_TMP/a.out" 2>&1 &
apid=$!
for _ in $(seq 1 1000); do
	[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep'") == 1 ]] && break
	sleep 0.02
done
rc=0
psql -XAtq -v ON_ERROR_STOP=1 -c "$stmt" >"$IT_TMP/b.out" 2>&1 || rc=$?
wait $apid || fail "session A failed: $(cat "$IT_TMP/a.out")"
assert_eq 0 "$rc" "the second creator does not fail: $(cat "$IT_TMP/b.out")"
assert_eq 1 "$(q "SELECT count(*) FROM pg_namespace WHERE nspname = 'ecplan_archive'")" "one archive schema"
assert_exit 0 ecplan advance "$P" --to contract
assert_eq contracted "$(sm_state ev-v)" "contract with the archive"
assert_eq 1000 "$(q "SELECT count(*) FROM ecplan_archive.\"ev-v\"")" "archived"
pass
