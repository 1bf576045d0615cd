#!/usr/bin/env bash
# Proofs over the whole table before anything depends on them (issue 10, item 8).
#
# 1. A division `up` that fails on 1 row in 10,000: `check` samples rows and
#    used to pass, expand/sync went through and then the application's writes
#    failed in the trigger. Now expand (and, for rows written since, sync)
#    exit 3 naming the failing row's key, its value and the error; nothing
#    is changed. A backfill batch that fails names its key range.
# 2. `lower(email)` with case duplicates under a unique index: refused before
#    expand with the duplicate value, and a duplicate written after sync is
#    refused before the backfill (so before the index build).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

# --- 1. division by zero on one row -----------------------------------------
q "CREATE TABLE public.ratios (id bigint PRIMARY KEY, den integer);
   INSERT INTO public.ratios SELECT g, CASE WHEN g = 7777 THEN 0 ELSE 1 + g % 7 END
   FROM generate_series(1, 10000) AS g;
   ANALYZE public.ratios" >/dev/null
P=$IT_TMP/div.json
cat >"$P" <<'JSON'
{ "format": "ecplan/v1", "name": "div", "table": "public.ratios",
  "change": { "column": "den", "new_column": "inv", "type": "integer",
              "up": "1000000 / den", "down": "1000000 / inv" },
  "backfill": { "batch_size": 1000, "target_batch_ms": 0 } }
JSON
assert_exit 3 ecplan check "$P"
assert_contains "$(cat "$OUT")" "[FAIL] \"up\" and \"down\" succeed on every row" "check runs the proof"
assert_contains "$(cat "$OUT")" "(\"id\")=('7777')" "check names the failing key"
assert_contains "$(cat "$OUT")" "division by zero" "check names the error"
assert_exit 3 ecplan advance "$P"
assert_contains "$(cat "$ERR")" "(\"id\")=('7777')" "advance names the failing key"
assert_contains "$(cat "$ERR")" "den = '0'" "advance names the failing value"
assert_eq 0 "$(sm_col_exists public.ratios inv)" "nothing was expanded"
q "UPDATE public.ratios SET den = 3 WHERE id = 7777" >/dev/null
assert_exit 0 ecplan advance "$P"
assert_eq expanded "$(sm_state div)" "expanded once the row is fixed"
# A row written between expand and sync is proved too, before the trigger.
q "UPDATE public.ratios SET den = 0 WHERE id = 42" >/dev/null
assert_exit 3 ecplan advance "$P"
assert_contains "$(cat "$ERR")" "(\"id\")=('42')" "sync names the failing key"
assert_eq 0 "$(sm_trigger_exists public.ratios zz_ecplan_sync_div)" "no trigger installed"
assert_eq expanded "$(sm_state div)" "still expanded"
q "UPDATE public.ratios SET den = 5 WHERE id = 42" >/dev/null
assert_exit 0 ecplan advance "$P"
assert_eq synced "$(sm_state div)" "synced"
# A row the trigger never saw (written with triggers off) fails its batch:
# the error names the batch's key range.
q "SET session_replication_role = replica; UPDATE public.ratios SET den = 0 WHERE id = 2500" >/dev/null
assert_exit 1 ecplan advance "$P"
assert_contains "$(cat "$ERR")" "division by zero" "the batch error is shown"
assert_contains "$(cat "$ERR")" "in the backfill batch of rows with key (\"id\") > (2000) and <= (3000)" \
	"the batch error names its key range"
q "SET session_replication_role = replica; UPDATE public.ratios SET den = 4 WHERE id = 2500" >/dev/null
assert_exit 0 ecplan advance "$P"
assert_eq backfilled "$(sm_state div)" "backfilled after the fix"

# --- 2. lower(email) under a unique index ------------------------------------
sm_mk_users 2000
q "UPDATE public.users SET email = 'user1500@example.com' WHERE id = 1500" >/dev/null
q "INSERT INTO public.users (email, name) VALUES ('USER1500@Example.com', 'dup')" >/dev/null
PU=$IT_TMP/users.json
sm_plan "$src/plans/users-email-lower.json" "$PU" name='"uniq"'
assert_exit 3 ecplan advance "$PU"
assert_contains "$(cat "$ERR")" "unique index users_email_key" "names the unique index"
assert_contains "$(cat "$ERR")" "(user1500@example.com) for 2 rows" "names the duplicate value"
assert_eq 0 "$(sm_col_exists public.users email_normalized)" "nothing was expanded"
q "DELETE FROM public.users WHERE name = 'dup'" >/dev/null
assert_exit 0 ecplan advance "$PU" --to sync
# A case duplicate written after sync: refused before the backfill (and so
# before the index build), not after it.
q "INSERT INTO public.users (email, name) VALUES ('User7@EXAMPLE.com', 'dup')" >/dev/null
assert_exit 3 ecplan advance "$PU"
assert_contains "$(cat "$ERR")" "(user7@example.com) for 2 rows" "names the duplicate before the backfill"
assert_eq synced "$(sm_state uniq)" "backfill did not start"
assert_eq 0 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'uniq' AND kind = 'step' AND phase = 'backfill'")" \
	"no backfill step ran"
q "DELETE FROM public.users WHERE name = 'dup'" >/dev/null
assert_exit 0 ecplan advance "$PU"
assert_eq backfilled "$(sm_state uniq)" "backfilled"
pass
