#!/usr/bin/env bash
# Least privilege (issue 10, item 1). A role that owns its table, with no
# CREATE on the database, no TEMP, not superuser, runs a plan through every
# phase once an admin ran "ecplan init --grant ROLE" (schemas ecplan and
# ecplan_archive pre-created): the trigger function goes into schema ecplan,
# the application's role (no privilege on schema ecplan) keeps writing
# through the trigger. A role that lacks a privilege the plan needs gets
# exit 3 before anything changes, naming what is missing and the GRANT.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

sfx=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
OWNER=lp_owner_$sfx
APP=lp_app_$sfx
NONE=lp_none_$sfx
for r in "$OWNER" "$APP" "$NONE"; do
	q "CREATE ROLE \"$r\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" >/dev/null
done
it_defer "q 'DROP OWNED BY \"$OWNER\", \"$APP\", \"$NONE\"' >/dev/null 2>&1; PGDATABASE=postgres q 'DROP ROLE IF EXISTS \"$OWNER\", \"$APP\", \"$NONE\"' >/dev/null 2>&1"
# Nothing by default: no TEMP, no CREATE on the database or on public (PG 15).
q "REVOKE TEMP ON DATABASE \"$IT_DB\" FROM PUBLIC; REVOKE CREATE ON SCHEMA public FROM PUBLIC" >/dev/null
assert_eq "false|false|false" "$(q "SELECT has_database_privilege('$OWNER', current_database(), 'CREATE')
	|| '|' || has_database_privilege('$OWNER', current_database(), 'TEMP')
	|| '|' || has_schema_privilege('$OWNER', 'public', 'CREATE')" | tr -d ' ')" "the owner role has no CREATE, no TEMP"

# The admin (this test's superuser) creates ecplan's schemas and grants.
assert_exit 0 ecplan init --grant "$OWNER"
assert_eq "t|t" "$(q "SELECT to_regnamespace('ecplan') IS NOT NULL, to_regnamespace('ecplan_archive') IS NOT NULL" | tr -d ' ')" \
	"init created both schemas"
assert_exit 0 ecplan init --print-sql --grant "$OWNER"
assert_contains "$(cat "$OUT")" "GRANT USAGE, CREATE ON SCHEMA ecplan TO \"$OWNER\";" "print-sql prints the GRANTs"

sm_mk_users 3000
q "ALTER TABLE public.users OWNER TO \"$OWNER\"; GRANT SELECT, INSERT, UPDATE ON public.users TO \"$APP\"" >/dev/null
P=$IT_TMP/plan.json
sm_plan "$src/plans/users-email-lower.json" "$P" backfill.batch_size=500
as() { local role=$1; shift; PGUSER=$role "$@"; }

# The backfill rebuilds users_email_key: CREATE INDEX needs CREATE on the
# table's schema, which PostgreSQL 15 no longer grants on public. Found before expand.
snap_users=$(q "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attnum > 0 AND NOT attisdropped")
assert_exit 3 as "$OWNER" ecplan advance "$P" --to sync
assert_contains "$(cat "$ERR")" "GRANT CREATE ON SCHEMA \"public\" TO \"$OWNER\";" "names the schema GRANT the index build needs"
assert_eq "$snap_users" "$(q "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attnum > 0 AND NOT attisdropped")" \
	"the table is untouched"
q "GRANT CREATE ON SCHEMA public TO \"$OWNER\"" >/dev/null
assert_exit 0 as "$OWNER" ecplan advance "$P" --to sync
assert_eq 1 "$(sm_function_exists ecplan ecplan_sync_users-email-lower)" "the trigger function is in schema ecplan"
assert_eq 0 "$(sm_function_exists public ecplan_sync_users-email-lower)" "nothing created in the table's schema"
# The application's role writes through the trigger without any privilege on schema ecplan.
assert_eq f "$(q "SELECT has_schema_privilege('$APP', 'ecplan', 'USAGE')")" "the app role has no USAGE on ecplan"
PGUSER=$APP q "INSERT INTO public.users (email) VALUES ('App@Example.COM')" >/dev/null
assert_eq "app@example.com" "$(q "SELECT email_normalized FROM public.users WHERE email = 'App@Example.COM'")" \
	"the trigger fires for the app role"
assert_exit 0 as "$OWNER" ecplan advance "$P" --all
assert_eq contracted "$(sm_state users-email-lower)" "every phase ran as the table owner"
assert_eq 3001 "$(q "SELECT count(*) FROM ecplan_archive.\"users-email-lower\"")" "the archive was written"
assert_eq 0 "$(sm_function_exists ecplan ecplan_sync_users-email-lower)" "the function is gone after contract"

# --- a missing privilege: exit 3 before anything changes ---------------------
snapshot() { # the table's columns, triggers and constraints
	q "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '$1'::regclass AND attnum > 0 AND NOT attisdropped"
	q "SELECT count(*) FROM pg_trigger WHERE tgrelid = '$1'::regclass"
	q "SELECT count(*) FROM pg_constraint WHERE conrelid = '$1'::regclass"
}
# 1. a table the role does not own
q "CREATE TABLE public.t_admin (id int PRIMARY KEY, name text); INSERT INTO public.t_admin VALUES (1, 'a');
   GRANT SELECT, INSERT, UPDATE ON public.t_admin TO \"$OWNER\"" >/dev/null
PA=$IT_TMP/t_admin.json
sm_plan "$src/plans/users-full-name.json" "$PA" name='"t-admin"' table='"public.t_admin"' contract.archive=true
before=$(snapshot public.t_admin)
assert_exit 3 as "$OWNER" ecplan advance "$PA" --all
assert_contains "$(cat "$ERR")" "ownership of table \"public\".\"t_admin\"" "names the missing ownership"
assert_contains "$(cat "$ERR")" "GRANT \"postgres\" TO \"$OWNER\";" "and the GRANT that fixes it"
assert_eq "$before" "$(snapshot public.t_admin)" "the table is untouched"

# 2. no CREATE on schema ecplan_archive (contract.archive), on a table it owns
q "CREATE TABLE public.t_own (id int PRIMARY KEY, name text); INSERT INTO public.t_own VALUES (1, 'a');
   ALTER TABLE public.t_own OWNER TO \"$OWNER\";
   REVOKE CREATE ON SCHEMA ecplan_archive FROM \"$OWNER\"" >/dev/null
PO=$IT_TMP/t_own.json
sm_plan "$PA" "$PO" name='"t-own"' table='"public.t_own"'
before=$(snapshot public.t_own)
assert_exit 3 as "$OWNER" ecplan advance "$PO" --to expand
assert_contains "$(cat "$ERR")" "GRANT USAGE, CREATE ON SCHEMA ecplan_archive TO \"$OWNER\";" "names the archive GRANT"
assert_eq "$before" "$(snapshot public.t_own)" "the table is untouched"
# 3. no CREATE on schema ecplan (the trigger function), found before expand too
q "GRANT CREATE ON SCHEMA ecplan_archive TO \"$OWNER\"; REVOKE CREATE ON SCHEMA ecplan FROM \"$OWNER\"" >/dev/null
assert_exit 3 as "$OWNER" ecplan advance "$PO" --to expand
assert_contains "$(cat "$ERR")" "GRANT CREATE ON SCHEMA ecplan TO \"$OWNER\";" "names the ecplan schema GRANT"
assert_eq "$before" "$(snapshot public.t_own)" "the table is untouched"
q "GRANT CREATE ON SCHEMA ecplan TO \"$OWNER\"" >/dev/null
assert_exit 0 as "$OWNER" ecplan advance "$PO" --all
assert_eq contracted "$(sm_state t-own)" "with the GRANT back, the plan runs through"

# 3b. a foreign key from the column to a table the role may not reference
q "CREATE TABLE public.parent (id int PRIMARY KEY); INSERT INTO public.parent VALUES (1);
   CREATE TABLE public.t_fk (id int PRIMARY KEY, name text, parent_id int REFERENCES public.parent);
   INSERT INTO public.t_fk VALUES (1, 'a', 1); ALTER TABLE public.t_fk OWNER TO \"$OWNER\"" >/dev/null
PF=$IT_TMP/t_fk.json
sm_plan "$PA" "$PF" name='"t-fk"' table='"public.t_fk"' change.column='"parent_id"' change.new_column='"parent_id2"' \
	change.type='"bigint"' change.up='"parent_id::bigint"' change.down='"parent_id2::int"'
before=$(snapshot public.t_fk)
assert_exit 3 as "$OWNER" ecplan advance "$PF" --to expand
assert_contains "$(cat "$ERR")" "GRANT REFERENCES ON \"public\".\"parent\" TO \"$OWNER\";" "names the REFERENCES GRANT"
assert_eq "$before" "$(snapshot public.t_fk)" "the table is untouched"

# 4. a role with no privilege on ecplan's state at all
q "CREATE TABLE public.t_none (id int PRIMARY KEY, name text); ALTER TABLE public.t_none OWNER TO \"$NONE\"" >/dev/null
PN=$IT_TMP/t_none.json
sm_plan "$PA" "$PN" name='"t-none"' table='"public.t_none"'
before=$(snapshot public.t_none)
assert_exit 3 as "$NONE" ecplan advance "$PN" --all
assert_contains "$(cat "$ERR")" "GRANT USAGE ON SCHEMA ecplan TO \"$NONE\";" "names the state GRANTs"
assert_contains "$(cat "$ERR")" "ecplan init --grant" "and the command that grants them"
assert_eq "$before" "$(snapshot public.t_none)" "the table is untouched"
# 5. a plan synced by an older release (its function in the table's schema):
#    switch refuses (a CREATE OR REPLACE in schema ecplan would switch nothing).
q "CREATE TABLE public.t_old (id int PRIMARY KEY, name text); INSERT INTO public.t_old VALUES (1, 'a')" >/dev/null
PL=$IT_TMP/t_old.json
sm_plan "$PA" "$PL" name='"t-old"' table='"public.t_old"'
assert_exit 0 ecplan advance "$PL" --to backfill
q "ALTER FUNCTION ecplan.\"ecplan_sync_t-old\"() SET SCHEMA public" >/dev/null
assert_exit 3 ecplan advance "$PL" --to switch
assert_contains "$(cat "$ERR")" "installed by an older ecplan" "an older release's trigger function is named"
assert_eq backfilled "$(sm_state t-old)" "switch did not run"
pass
