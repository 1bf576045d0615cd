#!/usr/bin/env bash
# An unset ${env.NAME} (or secret_env variable) in any webhook is an error
# before anything runs: exit 2, the message names the variable and the JSON
# path, nothing is sent and nothing changes in the database - even when the
# webhook that uses it belongs to a later phase.
# ${env.*} in single quotes is plan text, not shell:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/wh_lib.sh
source "$(dirname "$0")/wh_lib.sh"
it_setup
wh_server
unset MISSING_VAR WH_ENV_SECRET WH_ENV_TOKEN
# ecplan under env(1), to set or unset variables for one run
EC=${ECPLAN_BIN:-${ECPLAN_BUILD_DIR:-}/ecplan}
[[ -x "$EC" ]] || fail "ecplan binary not found (ECPLAN_BIN, ECPLAN_BUILD_DIR)"

col_exists() {
	q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.t_env'::regclass AND attname = 'full_name' AND NOT attisdropped"
}
has_schema() {
	q "SELECT count(*) FROM pg_namespace WHERE nspname = 'ecplan'"
}
wh_table t_env 100

# ---- a plan never run: nothing at all may happen ----------------------------------
plan=$IT_TMP/env.json
wh_plan "$plan" wh-env t_env '[
  {"name": "audit", "url": "http://127.0.0.1:@PORT@/audit", "events": ["expand.before", "expand.after"]},
  {"name": "flip", "url": "http://127.0.0.1:@PORT@/flip", "events": ["switch.after"],
   "headers": {"X-Token": "${env.MISSING_VAR}"}, "gate": true}
]'
assert_exit 0 ecplan validate "$plan"
assert_exit 2 ecplan advance "$plan"
assert_contains "$(cat "$ERR")" "MISSING_VAR" "the message names the variable"
assert_contains "$(cat "$ERR")" '$.webhooks[1].headers.X-Token' "the message names the JSON path"
assert_eq 0 "$(col_exists)" "no new column"
if [[ "$(has_schema)" == 1 ]]; then
	assert_eq 0 "$(q "SELECT count(*) FROM ecplan.plans")" "no ecplan.plans row"
	assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events")" "no event logged"
	assert_eq 0 "$(q "SELECT count(*) FROM ecplan.deliveries")" "no delivery"
fi
assert_eq 0 "$(wh_py 'print(len(reqs))')" "no webhook was called (not even expand.before)"
assert_exit 2 ecplan advance "$plan" --all
assert_contains "$(cat "$ERR")" "MISSING_VAR" "--all: same error"
assert_eq 0 "$(col_exists)" "--all: no new column"

# ---- a registered plan, run up to expanded with the variables set ------------------
plan2=$IT_TMP/env2.json
wh_plan "$plan2" wh-env2 t_env '[
  {"name": "audit", "url": "http://127.0.0.1:@PORT@/audit2?k=${env.WH_ENV_TOKEN}", "events": ["sync.before", "sync.after", "rollback.before"]},
  {"name": "signed", "url": "http://127.0.0.1:@PORT@/signed", "events": ["contract.after"],
   "secret_env": "WH_ENV_SECRET"}
]'
assert_exit 0 env WH_ENV_TOKEN=t1 WH_ENV_SECRET=s1 "$EC" advance "$plan2"
assert_eq "expanded|" "$(wh_state wh-env2)" "expanded with the variables set"
assert_eq 1 "$(col_exists)" "column added"
last_id=$(q "SELECT max(id) FROM ecplan.events")
snapshot() {
	q "SELECT state, running_phase, step, attempts, rollback_attempts, last_error, updated_at FROM ecplan.plans WHERE name = 'wh-env2'"
}
before=$(snapshot)
triggers() {
	q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.t_env'::regclass AND NOT tgisinternal"
}

# secret_env unset (the variable is used by contract.after only).
assert_exit 2 env WH_ENV_TOKEN=t1 "$EC" advance "$plan2"
assert_contains "$(cat "$ERR")" "WH_ENV_SECRET" "the message names the secret_env variable"
assert_contains "$(cat "$ERR")" '$.webhooks[1].secret_env' "the message names the JSON path"
assert_eq "$before" "$(snapshot)" "ecplan.plans row unchanged"
assert_eq 0 "$(triggers)" "sync did not run: no trigger"

# ${env} in the url unset.
assert_exit 2 env WH_ENV_SECRET=s1 "$EC" advance "$plan2"
assert_contains "$(cat "$ERR")" "WH_ENV_TOKEN" "the message names the url variable"
assert_contains "$(cat "$ERR")" '$.webhooks[0].url' "the message names the JSON path"
assert_eq "$before" "$(snapshot)" "ecplan.plans row unchanged"
assert_eq 0 "$(triggers)" "sync did not run: no trigger"

# rollback too.
assert_exit 2 env WH_ENV_SECRET=s1 "$EC" rollback "$plan2"
assert_contains "$(cat "$ERR")" "WH_ENV_TOKEN" "rollback: the message names the variable"
assert_eq "$before" "$(snapshot)" "rollback: ecplan.plans row unchanged"
assert_eq 1 "$(col_exists)" "rollback did not drop the column"

assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events WHERE id > $last_id")" "the refused runs logged nothing"
assert_eq 0 "$(q "SELECT count(*) FROM ecplan.deliveries WHERE event NOT LIKE 'expand.%'")" "no delivery created"
assert_eq 0 "$(wh_py 'print(len(reqs))')" "no webhook was called"

# With the variables set again it proceeds.
assert_exit 0 env WH_ENV_TOKEN=t1 WH_ENV_SECRET=s1 "$EC" advance "$plan2"
assert_eq "synced|" "$(wh_state wh-env2)" "synced once the variables are set"
assert_eq 2 "$(wh_count /audit2)" "sync.before and sync.after sent"

# "Nothing changed in the database": the refused first run must not even have
# created schema ecplan. (Checked in a fresh database, last, because the
# checks above matter more.)
q "CREATE DATABASE \"${IT_DB}_fresh\""
it_defer "PGDATABASE=postgres psql -XAtq -c 'DROP DATABASE IF EXISTS \"${IT_DB}_fresh\" WITH (FORCE)' >/dev/null"
PGDATABASE=${IT_DB}_fresh q "CREATE TABLE public.t_env (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)"
assert_exit 2 env PGDATABASE="${IT_DB}_fresh" "$EC" advance "$plan"
assert_contains "$(cat "$ERR")" "MISSING_VAR" "fresh database: the message names the variable"
assert_eq "0" "$(PGDATABASE=${IT_DB}_fresh q "SELECT count(*) FROM pg_namespace WHERE nspname = 'ecplan'")" \
	"the refused run created nothing in a fresh database (no schema ecplan)"
pass
