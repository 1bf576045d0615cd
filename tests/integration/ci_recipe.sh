#!/usr/bin/env bash
# The CI recipe docs/ci/github-actions.yml works: every `run:` block of it
# (except the steps marked `# recipe-test: skip`: installing ecplan, deploying
# the application) runs in order, as GitHub runs them (bash -eo pipefail),
# with the workflow's env and ECPLAN_DB pointing at this test's database.
# The plan ends contracted, checked with SQL. Then the whole pipeline runs a
# second time: every stage is a no-op that exits 0 (advance --to is the
# idempotent form) and no phase starts again.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup
command -v jq >/dev/null || fail "jq not found (bash scripts/install-deps.sh)"
WF=$src/docs/ci/github-actions.yml
[[ -f "$WF" ]] || fail "no $WF"

sm_mk_users 4000

# Extract the steps: one file per run block, in order; the workflow's env.
steps=$IT_TMP/steps
mkdir -p "$steps"
counts=$(python3 - "$WF" "$steps" <<'PY'
import os, re, sys
wf, out = sys.argv[1:]
lines = open(wf, encoding="utf-8").read().split("\n")
env, steps, skipped = {}, [], 0
i, in_env, skip = 0, False, False
while i < len(lines):
    line = lines[i]
    if re.match(r"^env:\s*$", line):
        in_env = True
        i += 1
        continue
    if in_env:
        m = re.match(r"^  ([A-Za-z_][A-Za-z0-9_]*):\s*(.*?)\s*$", line)
        if m:
            env[m.group(1)] = m.group(2)
            i += 1
            continue
        in_env = False
    if re.match(r"^\s*- (name|uses):", line):
        skip = False
    if "# recipe-test: skip" in line:
        skip = True
    m = re.match(r"^(\s*)(?:- )?run:\s*(.*)$", line)
    if m:
        indent, rest = len(m.group(1)), m.group(2).strip()
        if rest != "|":
            sys.exit("run: blocks must be literal blocks (run: |): line %d" % (i + 1))
        body = []
        i += 1
        while i < len(lines) and (lines[i].strip() == "" or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        strip = min((len(l) - len(l.lstrip()) for l in body if l.strip()), default=0)
        text = "\n".join(l[strip:] for l in body).strip() + "\n"
        if skip:
            skipped += 1
        else:
            steps.append(text)
        continue
    i += 1
for n, text in enumerate(steps, 1):
    with open(os.path.join(out, "%02d.sh" % n), "w") as f:
        f.write(text)
with open(os.path.join(out, "env"), "w") as f:
    for k, v in env.items():
        if "${{" not in v:
            f.write("export %s=%s\n" % (k, v))
print(len(steps), skipped)
PY
)
assert_eq "5 4" "$counts" "five ecplan steps run (check, expand..backfill, wait+verify, switch, contract), four skipped (three installs, the application deploy)"
assert_eq 5 "$(find "$steps" -name '*.sh' | wc -l)" "five step files"
grep -q '^export PLAN=plans/users-email-lower.json$' "$steps/env" || fail "the workflow's PLAN env: $(cat "$steps/env")"
IT_ASSERTS=$((IT_ASSERTS + 1))
grep -q 'advance "$PLAN" --to' "$steps"/*.sh || fail "the recipe does not use advance --to"
grep -q 'ecplan wait' "$steps"/*.sh || fail "the recipe does not use wait"
grep -q 'status "$name" --json' "$steps"/*.sh || fail "the recipe does not parse status --json"
IT_ASSERTS=$((IT_ASSERTS + 3))

# The runner's working directory: the plans, ecplan on PATH; the connection only
# through ECPLAN_DB (PGDATABASE points elsewhere).
work=$IT_TMP/work
mkdir -p "$work/plans" "$IT_TMP/bin"
cp "$src/plans/users-email-lower.json" "$work/plans/"
ln -s "$ECPLAN_BIN" "$IT_TMP/bin/ecplan"
run_pipeline() { # run_pipeline ROUND
	local f rc
	for f in "$steps"/*.sh; do
		rc=0
		(cd "$work" && env PATH="$IT_TMP/bin:$PATH" PGDATABASE=postgres \
			ECPLAN_DB="host=$PGHOST port=${PGPORT:-5432} user=${PGUSER:-postgres} dbname=$IT_DB" \
			bash --noprofile --norc -eo pipefail -c "source '$steps/env'; source '$f'") \
			>"$IT_TMP/step.out" 2>"$IT_TMP/step.err" || rc=$?
		if [[ $rc -ne 0 ]]; then
			cat "$f" "$IT_TMP/step.out" "$IT_TMP/step.err" >&2
			fail "round $1: step $(basename "$f") exited $rc"
		fi
		IT_ASSERTS=$((IT_ASSERTS + 1))
	done
}
run_pipeline 1
assert_eq contracted "$(sm_state users-email-lower)" "the pipeline contracted the plan"
assert_eq 0 "$(sm_col_exists public.users email)" "old column dropped"
assert_eq t "$(sm_col_notnull public.users email_normalized)" "new column NOT NULL"
assert_eq 4000 "$(q "SELECT count(*) FROM public.users WHERE email_normalized = lower(email_normalized)")" "every row filled"
assert_eq 4000 "$(q "SELECT count(*) FROM ecplan_archive.\"users-email-lower\"")" "old values archived"
starts=$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'users-email-lower' AND kind = 'phase' AND message LIKE '%started%'")
assert_eq 5 "$starts" "five phase starts"

# Re-running every stage: all exit 0, nothing starts again.
run_pipeline 2
assert_eq contracted "$(sm_state users-email-lower)" "still contracted"
assert_eq "$starts" "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'users-email-lower' AND kind = 'phase' AND message LIKE '%started%'")" \
	"the re-run started no phase"
pass
