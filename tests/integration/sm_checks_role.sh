#!/usr/bin/env bash
# What ecplan enforces on checks[].sql (issue 10, item 6): a READ ONLY
# transaction, always rolled back, with timeouts; and, with
# safety.checks_role, the role's privileges only (SET LOCAL ROLE), even when
# ecplan runs as a superuser: pg_terminate_backend and COPY ... TO PROGRAM are
# refused and nothing happens. A checks_role that does not exist, or of which
# ecplan's role is not a member, stops the plan before expand (exit 3).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

CHK=chk_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
q "CREATE ROLE \"$CHK\" NOLOGIN" >/dev/null
it_defer "q 'DROP OWNED BY \"$CHK\"' >/dev/null 2>&1; PGDATABASE=postgres q 'DROP ROLE IF EXISTS \"$CHK\"' >/dev/null 2>&1"
q "CREATE TABLE public.t (id int PRIMARY KEY, name text);
   INSERT INTO public.t SELECT g, 'n' || g FROM generate_series(1, 100) g;
   GRANT SELECT ON public.t TO \"$CHK\"" >/dev/null
cols() { q "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attnum > 0 AND NOT attisdropped"; }
before=$(cols)
# plan_with FILE CHECK_SQL [ROLE]
plan_with() {
	local role=${3:-null}
	[[ $role == null ]] || role="\"$role\""
	sm_plan "$src/plans/users-full-name.json" "$1" name='"chk"' table='"public.t"' safety.checks_role="$role" \
		checks="$("$SM_PY" -c 'import json, sys; print(json.dumps([{"name": "c", "before": "expand", "sql": sys.argv[1]}]))' "$2")"
}

# A session to terminate.
psql -XAtq -c "SET application_name = 'victim'" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
victim=$!
it_defer "kill $victim 2>/dev/null"
for _ in $(seq 1 3000); do
	[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'victim'") == 1 ]] && break
	sleep 0.02
done

P=$IT_TMP/p.json
plan_with "$P" "SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'victim'" "$CHK"
assert_exit 3 ecplan advance "$P" --to expand
assert_contains "$(cat "$ERR")" 'check "c"' "the check failed"
assert_eq 1 "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'victim'")" \
	"pg_terminate_backend was refused: the session lives"

plan_with "$P" "COPY (SELECT 1) TO PROGRAM 'touch $IT_TMP/pwned'" "$CHK"
assert_exit 3 ecplan advance "$P" --to expand
[[ ! -e "$IT_TMP/pwned" ]] || fail "COPY TO PROGRAM ran"

# READ ONLY, with or without checks_role.
plan_with "$P" "WITH d AS (DELETE FROM public.t RETURNING 1) SELECT count(*) >= 0 FROM d"
assert_exit 3 ecplan advance "$P" --to expand
assert_contains "$(cat "$ERR")" "read-only transaction" "a write is refused"
assert_eq 100 "$(q "SELECT count(*) FROM public.t")" "nothing deleted"

# The role must exist and be ours to SET.
plan_with "$P" "SELECT true" "no_such_role_$CHK"
assert_exit 3 ecplan advance "$P" --to expand
assert_contains "$(cat "$ERR")" "safety.checks_role" "names the missing checks role"
assert_eq "$before" "$(cols)" "the table is untouched"

# A check reading what the role may read passes, and the plan goes on.
plan_with "$P" "SELECT current_user = '$CHK' AND count(*) = 100 FROM public.t" "$CHK"
assert_exit 0 ecplan advance "$P" --to expand
assert_eq expanded "$(sm_state chk)" "the check ran as the checks role and passed"
pass
