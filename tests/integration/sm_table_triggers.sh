#!/usr/bin/env bash
# The table's own triggers and the backfill (issue 10, item 7).
#
# public.users has a BEFORE UPDATE trigger that sets updated_at = now(), as
# many applications do, plus an UPDATE OF name trigger the backfill does not
# fire and a disabled one.
# 1. Without backfill.disable_triggers, `check` lists the updated_at trigger
#    (and not the other two) and says it rewrites every row; after the
#    backfill every row's updated_at has changed (documented behaviour).
# 2. With backfill.disable_triggers (a superuser runs it), the backfill
#    leaves every updated_at unchanged, and the application's own UPDATEs
#    still fire the trigger afterwards.
# 3. A table owner that is not a superuser and lacks SET on
#    session_replication_role: `check` and `advance` exit 3 before expand,
#    naming the GRANT; after that GRANT, expand runs.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

mk_table() {
	sm_mk_users 2000
	q "UPDATE public.users SET updated_at = '2020-01-01 00:00:00+00';
	   CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS
	     \$\$BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END\$\$;
	   CREATE TRIGGER users_touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.touch();
	   CREATE TRIGGER users_name_audit BEFORE UPDATE OF name ON public.users FOR EACH ROW EXECUTE FUNCTION public.touch();
	   CREATE TRIGGER users_off BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.touch();
	   ALTER TABLE public.users DISABLE TRIGGER users_off;" >/dev/null
	assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE updated_at <> '2020-01-01 00:00:00+00'")" \
		"fixture: every updated_at is 2020-01-01"
}

# --- 1. triggers fire: check lists them -------------------------------------
mk_table
P=$IT_TMP/p.json
sm_plan "$src/plans/users-email-lower.json" "$P" name='"trg-on"'
assert_exit 0 ecplan check "$P"
assert_contains "$(cat "$OUT")" "other triggers the backfill fires" "check has a trigger section"
assert_contains "$(cat "$OUT")" "users_touch" "check lists the updated_at trigger"
assert_contains "$(cat "$OUT")" "rewrites every row" "check says what happens"
assert_not_contains "$(cat "$OUT")" "users_name_audit" "an UPDATE OF name trigger does not fire for the backfill"
assert_not_contains "$(cat "$OUT")" "users_off" "a disabled trigger is not listed"
assert_exit 0 ecplan advance "$P" --to backfill
assert_eq 2000 "$(q "SELECT count(*) FROM public.users WHERE updated_at <> '2020-01-01 00:00:00+00'")" \
	"without disable_triggers the trigger rewrote every row's updated_at"

# --- 2. disable_triggers: updated_at untouched ------------------------------
db2=$(sm_extra_db quiet)
export PGDATABASE=$db2
mk_table
P2=$IT_TMP/p2.json
sm_plan "$src/plans/users-email-lower.json" "$P2" name='"trg-off"' backfill.disable_triggers=true
assert_exit 0 ecplan check "$P2"
assert_contains "$(cat "$OUT")" "users_touch" "check lists the trigger with the setting too"
assert_contains "$(cat "$OUT")" "session_replication_role = replica" "check says they do not fire"
assert_contains "$(cat "$OUT")" "[pass] the role may set session_replication_role" "superuser passes the check"
assert_exit 0 ecplan advance "$P2" --to backfill
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS NULL")" "every row backfilled"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE updated_at <> '2020-01-01 00:00:00+00'")" \
	"with disable_triggers the backfill left updated_at unchanged"
q "UPDATE public.users SET name = 'x' WHERE id = 1" >/dev/null
assert_eq 1 "$(q "SELECT count(*) FROM public.users WHERE updated_at <> '2020-01-01 00:00:00+00'")" \
	"the application's own updates still fire the trigger"
assert_exit 0 ecplan verify "$P2"

# --- 3. a role that may not set session_replication_role --------------------
db3=$(sm_extra_db role)
export PGDATABASE=$db3
role="it_trg_owner_${IT_DB##*_}"
q "CREATE ROLE \"$role\" LOGIN" >/dev/null
it_defer "PGDATABASE=postgres psql -XAtq -c 'DROP ROLE IF EXISTS \"$role\"' >/dev/null 2>&1"
it_defer "PGDATABASE=$db3 psql -XAtq -c 'DROP OWNED BY \"$role\" CASCADE' >/dev/null 2>&1"
mk_table
q "ALTER TABLE public.users OWNER TO \"$role\"; ALTER FUNCTION public.touch() OWNER TO \"$role\";
   GRANT CREATE ON DATABASE \"$db3\" TO \"$role\"; GRANT CREATE ON SCHEMA public TO \"$role\"" >/dev/null
P3=$IT_TMP/p3.json
sm_plan "$src/plans/users-email-lower.json" "$P3" name='"trg-role"' backfill.disable_triggers=true
assert_exit 3 env PGUSER="$role" "${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}" check "$P3"
assert_contains "$(cat "$OUT")" "GRANT SET ON PARAMETER session_replication_role TO $role" "check names the GRANT"
assert_exit 3 env PGUSER="$role" "${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}" advance "$P3"
assert_contains "$(cat "$ERR")" "GRANT SET ON PARAMETER session_replication_role" "advance names the GRANT"
assert_eq 0 "$(sm_col_exists public.users email_normalized)" "nothing was expanded"
q "GRANT SET ON PARAMETER session_replication_role TO \"$role\"" >/dev/null
it_defer "PGDATABASE=postgres psql -XAtq -c 'REVOKE SET ON PARAMETER session_replication_role FROM \"$role\"' >/dev/null 2>&1"
assert_exit 0 env PGUSER="$role" "${ECPLAN_BIN:-$ECPLAN_BUILD_DIR/ecplan}" advance "$P3"
assert_eq 1 "$(sm_col_exists public.users email_normalized)" "expanded after the GRANT"
pass
