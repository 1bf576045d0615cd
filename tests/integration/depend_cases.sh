#!/usr/bin/env bash
# Nothing around the column is lost (issue 8): every case of tests/cases/depend/
# through tests/support/depend_case.sh, against an oracle rather than written
# expectations. For a carried case, the catalog ecplan leaves after
# `advance --all` (old code writing the whole time) must equal the one PostgreSQL
# leaves after the naive ALTER COLUMN ... TYPE / RENAME COLUMN, object by object
# (constraints, indexes, triggers, columns, sequences, functions, views,
# policies, comments, grants), the rows too; and `rollback` from every phase must
# give back the original exactly. For a refused case, advance exits 3 naming the
# object and nothing changes.
#
# Every case runs, even after a failure; the failing ones are listed at the end
# with their differences above. DEP_CASES=REGEX runs only the matching cases;
# DEP_JOBS=N runs N cases at a time (default 2).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
it_setup

cases_dir=$src/tests/cases/depend
runner=$src/tests/support/depend_case.sh
[[ -d "$cases_dir" ]] || fail "no cases in $cases_dir"

# Cases run DEP_JOBS at a time (default 2); each has its own databases.
jobs_max=${DEP_JOBS:-2}
names=()
i=0
for dir in "$cases_dir"/*/; do
	name=$(basename "$dir")
	if [[ -n "${DEP_CASES:-}" && ! "$name" =~ ${DEP_CASES} ]]; then
		continue
	fi
	i=$((i + 1))
	names+=("$name")
	while (($(jobs -rp | wc -l) >= jobs_max)); do
		wait -n || true
	done
	(
		rc=0
		bash "$runner" "$dir" "${IT_DB}_$i" >"$IT_TMP/case.$name.out" 2>&1 || rc=$?
		echo "$rc" >"$IT_TMP/case.$name.rc"
	) &
done
wait
failed=()
passed=0
for name in "${names[@]}"; do
	echo "# case $name" >&2
	sed 's/^/# /' "$IT_TMP/case.$name.out" >&2
	rc=$(cat "$IT_TMP/case.$name.rc" 2>/dev/null || echo "no result")
	IT_ASSERTS=$((IT_ASSERTS + 1))
	if [[ $rc == 0 ]]; then
		passed=$((passed + 1))
	else
		failed+=("$name (exit $rc)")
	fi
done
((i > 0)) || fail "no case matched DEP_CASES='${DEP_CASES:-}'"
echo "# depend cases: $i run, $passed passed, ${#failed[@]} failed" >&2
if ((${#failed[@]})); then
	for f in "${failed[@]}"; do
		echo "#   FAILED: $f" >&2
	done
	fail "${#failed[@]} of $i dependent-object cases failed (differences above)"
fi
pass
