#!/usr/bin/env bash
# Two plans on one column: the second is refused before anything changes.
#
# Without the check both plans reach switched, and the first contract breaks
# every write of the other (its trigger names a column that is gone). A plan
# whose new column is another active plan's column is refused too. Once the
# first plan is rolled back, the second may run.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

sm_mk_users 200
A=$src/plans/users-full-name.json
plan() { # plan NAME COLUMN NEW_COLUMN
	printf '{"format": "ecplan/v1", "name": "%s", "table": "public.users",
	  "change": {"column": "%s", "new_column": "%s"}}\n' "$1" "$2" "$3" >"$IT_TMP/$1.json"
	echo "$IT_TMP/$1.json"
}
assert_exit 0 ecplan advance "$A" --to switch
assert_eq switched "$(sm_state users-full-name)" "the first plan is switched"
B=$(plan second-name name nickname)
assert_exit 3 ecplan advance "$B"
assert_contains "$(cat "$ERR")" "users-full-name" "the refusal names the other plan"
assert_contains "$(cat "$ERR")" "no other active plan changes the same columns" "the refusal says why"
assert_eq 0 "$(sm_col_exists public.users nickname)" "nothing changed: no new column"
# a new column that is the other plan's new column
C=$(plan third-name created_at full_name)
assert_exit 3 ecplan advance "$C"
assert_contains "$(cat "$ERR")" "users-full-name" "a clash on the new column is refused too"
# another column of the same table is fine
D=$(plan other-col created_at created_on)
assert_exit 0 ecplan advance "$D" --to expand
assert_exit 0 ecplan rollback "$D"
# once the first plan is rolled back, the second may run
assert_exit 0 ecplan rollback "$A"
assert_exit 0 ecplan advance "$B" --to expand
assert_eq 1 "$(sm_col_exists public.users nickname)" "the second plan runs once the first is rolled back"
pass
