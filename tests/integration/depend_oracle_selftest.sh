#!/usr/bin/env bash
# The dependent-object oracle (tests/support/depend_case.sh) can fail: it runs one
# case against stand-ins for ecplan that do the change with the naive DDL, and
#   - one that does it faithfully must pass;
#   - one that also drops a CHECK constraint must fail, naming the constraint;
#   - one that leaves a column behind after a rollback must fail, naming it;
#   - one that changes a row must fail, showing the row;
#   - one that exits 0 where the case expects a refusal must fail.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
it_setup

runner=$src/tests/support/depend_case.sh
case_dir=$src/tests/cases/depend/check-two-columns
[[ -d "$case_dir" ]] || fail "case check-two-columns is missing"

# The stand-in: `advance PLAN --all` records the plan as synced for half a
# second (old code writes), stops the writer (as contract would stop old code),
# runs the naive DDL, records the plan as contracted, then does what
# STUB_FLAW says; `advance --to P` and `rollback` do nothing (STUB_FLAW=leftover:
# advance --to adds a column that rollback forgets).
stub=$IT_TMP/ecplan-stub
cat >"$stub" <<'STUB'
#!/usr/bin/env bash
set -euo pipefail
cmd=$1 plan=$2
shift 2
q() { psql -XAtq -v ON_ERROR_STOP=1 "$@"; }
q -c "CREATE SCHEMA IF NOT EXISTS ecplan;
      CREATE TABLE IF NOT EXISTS ecplan.plans (name text PRIMARY KEY, state text, running_phase text)" >/dev/null 2>&1 || true
name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$plan")
case "$cmd ${1:-}" in
"advance --all")
	if [[ "${STUB_FLAW:-}" == refuse-nothing ]]; then exit 0; fi
	# "synced" for a moment, with old code writing.
	q -v n="$name" >/dev/null <<<"INSERT INTO ecplan.plans VALUES (:'n', 'synced', NULL)"
	sleep 0.5
	q -c "UPDATE it_writer.ctl SET stop = true" >/dev/null 2>&1 || true
	sleep 0.3
	PGAPPNAME=stub python3 "$DEP_SUPPORT_DIR/depend_oracle.py" naive "$plan" | q >/dev/null
	q -v n="$name" >/dev/null <<<"INSERT INTO ecplan.plans VALUES (:'n', 'contracted', NULL)
	                   ON CONFLICT (name) DO UPDATE SET state = 'contracted'"
	case ${STUB_FLAW:-} in
	drop-check) q -c "ALTER TABLE public.items DROP CONSTRAINT items_qty_range" >/dev/null ;;
	change-row) q -c "UPDATE public.items SET min_qty = min_qty + 1 WHERE id = 7" >/dev/null ;;
	esac
	;;
"advance --to")
	[[ "${STUB_FLAW:-}" == leftover ]] && q -c "ALTER TABLE public.items ADD COLUMN IF NOT EXISTS stub_leftover int" >/dev/null
	;;
"rollback "* | "rollback --quiet") ;;
*) echo "stub: unexpected: $cmd $*" >&2; exit 2 ;;
esac
exit 0
STUB
chmod +x "$stub"
export DEP_SUPPORT_DIR=$src/tests/support

run_case() { # run_case FLAW [CASE_DIR]: output in $OUT, exit code in $rc
	rc=0
	STUB_FLAW=$1 ECPLAN_BIN=$stub bash "$runner" "${2:-$case_dir}" "${IT_DB}_$1" >"$OUT" 2>&1 || rc=$?
}

run_case none
[[ $rc == 0 ]] || { cat "$OUT" >&2; fail "the faithful stand-in fails the oracle (exit $rc)"; }
assert_contains "$(cat "$OUT")" "carried: identical to the naive ALTER" "faithful stand-in passes"

run_case drop-check
assert_eq 1 "$rc" "a dropped CHECK fails the case"
assert_contains "$(cat "$OUT")" "MISSING constraint public.items.items_qty_range" "the lost constraint is named"
assert_contains "$(cat "$OUT")" "CHECK ((min_qty <= max_quantity))" "its expected definition is shown"

run_case leftover
assert_eq 1 "$rc" "a column left after rollback fails the case"
assert_contains "$(cat "$OUT")" "EXTRA   column public.items.stub_leftover" "the leftover column is named"
assert_contains "$(cat "$OUT")" "rolled back from expand" "the phase is named"

run_case change-row
assert_eq 1 "$rc" "a changed row fails the case"
assert_contains "$(cat "$OUT")" '"id": 7' "the changed row is shown"

# A refused case where the stand-in exits 0 and changes nothing.
mkdir -p "$IT_TMP/refused-case"
cp "$src/tests/cases/depend/refused-view/schema.sql" "$src/tests/cases/depend/refused-view/plan.json" \
	"$src/tests/cases/depend/refused-view/expect" "$IT_TMP/refused-case/"
run_case refuse-nothing "$IT_TMP/refused-case"
assert_eq 1 "$rc" "exit 0 where a refusal is expected fails the case"
assert_contains "$(cat "$OUT")" "exited 0, expected 3" "the exit code is reported"
pass
