#!/usr/bin/env bash
# A contract that fails (its lock is never granted within the retries) can be
# rolled back: nothing was dropped, the plan goes back to switched (and
# further when asked), and it can advance again afterwards. (It used to leave
# the plan with a NULL state that neither advance nor rollback could leave.)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

q "CREATE TABLE public.t (id integer PRIMARY KEY, a text);
   INSERT INTO public.t SELECT g, 'a' || g FROM generate_series(1, 10) g;" >/dev/null
P=$IT_TMP/plan.json
cat >"$P" <<'JSON'
{ "format": "ecplan/v1", "name": "cfail", "table": "public.t",
  "change": { "column": "a", "new_column": "a_new" },
  "safety": { "lock_timeout_ms": 100, "lock_retries": 1 } }
JSON
assert_exit 0 ecplan advance "$P" --to switch
# A session holds ACCESS SHARE on the table until told to stop.
q "CREATE TABLE public.hold (go boolean); INSERT INTO public.hold VALUES (true)" >/dev/null
printf 'BEGIN;\nLOCK TABLE public.t IN ACCESS SHARE MODE;\nSELECT pg_sleep(0.1) FROM generate_series(1, 600) WHERE (SELECT go FROM public.hold);\nCOMMIT;\n' |
	psql -X -q >/dev/null 2>&1 &
holder=$!
it_defer "kill $holder 2>/dev/null"
until [[ $(q "SELECT count(*) FROM pg_locks WHERE relation = 'public.t'::regclass AND mode = 'AccessShareLock'
	AND granted AND pid <> pg_backend_pid()") -ge 1 ]]; do sleep 0.1; done
assert_exit 6 ecplan advance "$P"
assert_eq "switched|contract" "$(q "SELECT state, running_phase FROM ecplan.plans WHERE name = 'cfail'")" \
	"the failed contract left the plan switched, contract in progress"
assert_eq 1 "$(sm_col_exists public.t a)" "nothing dropped"
q "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 'public.t'::regclass AND pid <> pg_backend_pid()" >/dev/null
wait "$holder" 2>/dev/null || true

# Rolled back to switched: the contract's attempt is undone, nothing else.
assert_exit 0 ecplan rollback "$P" --to switched
assert_eq "switched|" "$(q "SELECT state, coalesce(running_phase, '') FROM ecplan.plans WHERE name = 'cfail'")" \
	"back to switched, nothing in progress"
assert_exit 0 ecplan status --json cfail
assert_eq '"switched"' "$(jq '.phase' "$OUT")" "status --json says switched"
# Further back, then forward to the end.
assert_exit 0 ecplan rollback "$P" --to backfilled
assert_eq backfilled "$(sm_state cfail)" "rolled back to backfilled"
assert_exit 0 ecplan advance "$P" --all
assert_eq contracted "$(sm_state cfail)" "contracted"
assert_eq 10 "$(q "SELECT count(*) FROM public.t WHERE a_new = 'a' || id")" "every row kept"
pass
