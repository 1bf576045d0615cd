#!/usr/bin/env bash
# The plan format, checked three ways; needs no database.
#
#  1. tests/support/check_schema.py: plans/schema.json accepts every example
#     plan and rejects every invalid case that is JSON at all (Python
#     jsonschema); then tests/support/check_schema_js.cjs gives every file the
#     same verdict with ajv (strict mode: JavaScript regex syntax, no unknown
#     keywords) and with VS Code's JSON language service (following a plan's
#     "$schema": "./schema.json" link).
#  2. `ecplan validate plans/<x>.json` exits 0 for every example plan, with
#     FLAG_TOKEN and ECPLAN_WEBHOOK_SECRET unset: validating a plan must not
#     need the secrets its webhooks use when they fire.
#  3. For every tests/cases/invalid/<case>/, `ecplan validate plan.json` run
#     inside the case directory exits 2, and its stderr holds exactly the
#     errors listed in expected.err.
#
# expected.err has one line per error, `LINE:COL: PATH`, and matches a stderr
# line `plan.json:LINE:COL: PATH: <message>` (an `ecplan: ` in front is
# allowed). COL may be `*`: any column (used for JSON syntax errors, where the
# position is jansson's). Every expected line must match its own stderr line,
# and the number of stderr lines starting with `plan.json:` must equal the
# number of expected lines (a closing summary `plan.json: N errors` is not
# counted, but when present N must be that number too). Blank lines in
# expected.err are ignored.
#
# Position conventions (LINE and COL are 1-based; COL counts characters):
#   wrong type or bad value     the value's first character; PATH the value's
#   unknown key                 the key's opening quote; PATH the key's path
#   missing required key        the `{` of the object lacking it; PATH the
#                               missing key's path ($.change.column)
#   repeated array element      the repeated (later) element
#   repeated webhook name       the later webhook's name value
#   JSON syntax error           jansson's line, any column; PATH `$`
# JSON paths: $.change.new_column, $.webhooks[0].events[1]; keys that are not
# [A-Za-z_][A-Za-z0-9_]* are written $["dry-run"].
#
# Environment (set by ctest): ECPLAN_BIN, the ecplan binary (required);
# ECPLAN_SOURCE_DIR, the source tree (default: this file's ../..).
set -euo pipefail

me=plans_schema
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
bin=${ECPLAN_BIN:?$me: ECPLAN_BIN must name the ecplan binary}
case $bin in
/*) ;;
*/*) bin=$PWD/$bin ;;
*) bin=$(command -v "$bin") || { echo "$me: $ECPLAN_BIN: not found" >&2; exit 1; } ;;
esac
if [[ ! -x $bin ]]; then
	echo "$me: $bin: not an executable" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

limit=()
if command -v timeout >/dev/null 2>&1; then
	limit=(timeout 60)
fi

failures=0
checks=0
fail() {
	failures=$((failures + 1))
	printf 'FAIL %s\n' "$*"
}
pass() {
	printf 'ok   %s\n' "$*"
}
indent() {
	sed 's/^/      | /' "$@"
}

# Runs `ecplan validate FILE` inside DIR; sets rc, stdout in $tmp/out, stderr
# in $tmp/err.
run_validate() {
	local dir=$1 file=$2
	rc=0
	(cd "$dir" && env -u FLAG_TOKEN -u ECPLAN_WEBHOOK_SECRET \
		"${limit[@]}" "$bin" validate "$file") >"$tmp/out" 2>"$tmp/err" || rc=$?
}

# --- 1. the schema --------------------------------------------------------
py=
for cand in /usr/bin/python3 python3; do
	if command -v "$cand" >/dev/null 2>&1 &&
		"$cand" -c 'import jsonschema; jsonschema.Draft202012Validator' >/dev/null 2>&1; then
		py=$cand
		break
	fi
done
checks=$((checks + 1))
if [[ -z $py ]]; then
	fail "check_schema.py: no python3 with the jsonschema module (draft 2020-12); apt-get install python3-jsonschema"
elif "$py" "$src/tests/support/check_schema.py" "$src" >"$tmp/schema.out" 2>&1; then
	pass "check_schema.py ($py)"
	indent "$tmp/schema.out"
else
	fail "check_schema.py ($py) found disagreements:"
	indent "$tmp/schema.out"
fi

# --- 1b. the same schema in JavaScript: ajv and VS Code ---------------------
# tests/support/check_schema_js.cjs must give every file the verdict the
# Python check expects (check_schema.py --expect). The npm tools come from
# scripts/npm-tools.sh (install-deps.sh runs it).
checks=$((checks + 1))
tools=$(bash "$src/scripts/npm-tools.sh" dir)
if ! command -v node >/dev/null 2>&1; then
	fail "check_schema_js.cjs: node not found (bash scripts/install-deps.sh)"
elif [[ ! -d $tools/node_modules/ajv || ! -d $tools/node_modules/vscode-json-languageservice ]]; then
	fail "check_schema_js.cjs: ajv or vscode-json-languageservice missing in $tools (bash scripts/npm-tools.sh install)"
elif [[ -z $py ]] || ! "$py" "$src/tests/support/check_schema.py" --expect "$src" >"$tmp/expect.txt"; then
	fail "check_schema.py --expect failed"
elif "${limit[@]}" node "$src/tests/support/check_schema_js.cjs" "$tools" "$src" "$tmp/expect.txt" >"$tmp/js.out" 2>&1; then
	pass "check_schema_js.cjs (ajv strict mode, VS Code's JSON language service)"
	indent "$tmp/js.out"
else
	fail "check_schema_js.cjs found disagreements:"
	indent "$tmp/js.out"
fi

# --- 2. the example plans are valid ---------------------------------------
nplans=0
for plan in "$src"/plans/*.json; do
	name=$(basename "$plan")
	[[ $name == schema.json ]] && continue
	nplans=$((nplans + 1))
	checks=$((checks + 1))
	run_validate "$src" "plans/$name"
	if ((rc == 0)); then
		pass "validate plans/$name"
	else
		fail "validate plans/$name: exit code $rc, want 0; stderr:"
		indent "$tmp/err"
	fi
done
if ((nplans == 0)); then
	fail "no example plans in $src/plans"
fi

# --- 3. the invalid cases are rejected with the expected errors -----------
expected_re='^([0-9]+):([0-9]+|\*): (\$.*)$'
got_re='^plan\.json:([0-9]+):([0-9]+): (.*)$'
summary_re='^plan\.json: ([0-9]+) errors$'
ncases=0
for dir in "$src"/tests/cases/invalid/*/; do
	dir=${dir%/}
	case=$(basename "$dir")
	ncases=$((ncases + 1))
	checks=$((checks + 1))
	if [[ ! -f $dir/plan.json || ! -f $dir/expected.err ]]; then
		fail "invalid/$case: needs plan.json and expected.err"
		continue
	fi

	expected=()
	bad_expected=0
	while IFS= read -r line || [[ -n $line ]]; do
		[[ -z ${line//[[:space:]]/} ]] && continue
		if [[ ! $line =~ $expected_re ]]; then
			bad_expected=1
		fi
		expected+=("$line")
	done <"$dir/expected.err"
	if ((bad_expected || ${#expected[@]} == 0)); then
		fail "invalid/$case: expected.err must hold lines 'LINE:COL: PATH' (COL may be *):"
		indent "$dir/expected.err"
		continue
	fi

	run_validate "$dir" plan.json

	# The error lines of stderr, without an optional "ecplan: " in front; a
	# closing summary "plan.json: N errors" is not an error line.
	got=()
	summary=
	while IFS= read -r line || [[ -n $line ]]; do
		line=${line#ecplan: }
		if [[ $line =~ $summary_re ]]; then
			summary=${BASH_REMATCH[1]}
		elif [[ $line == plan.json:* ]]; then
			got+=("$line")
		fi
	done <"$tmp/err"

	# Match every expected line to its own stderr line.
	used=()
	for ((g = 0; g < ${#got[@]}; g++)); do used[g]=0; done
	report=()
	missing=0
	for want in "${expected[@]}"; do
		[[ $want =~ $expected_re ]]
		wl=${BASH_REMATCH[1]} wc=${BASH_REMATCH[2]} wp=${BASH_REMATCH[3]}
		found=-1
		for ((g = 0; g < ${#got[@]}; g++)); do
			((used[g])) && continue
			[[ ${got[g]} =~ $got_re ]] || continue
			gl=${BASH_REMATCH[1]} gc=${BASH_REMATCH[2]} rest=${BASH_REMATCH[3]}
			((10#$gl == 10#$wl)) || continue
			[[ $wc == '*' ]] || ((10#$gc == 10#$wc)) || continue
			[[ $rest == "$wp: "* ]] || continue
			found=$g
			break
		done
		if ((found >= 0)); then
			used[found]=1
			report+=("    ok       $want    <- ${got[found]}")
		else
			missing=$((missing + 1))
			report+=("  - missing  $want")
		fi
	done
	extra=0
	for ((g = 0; g < ${#got[@]}; g++)); do
		if ((!used[g])); then
			extra=$((extra + 1))
			report+=("  + extra    ${got[g]}")
		fi
	done

	problems=()
	((rc == 2)) || problems+=("exit code $rc, want 2")
	((missing == 0)) || problems+=("$missing expected error(s) missing")
	((${#got[@]} == ${#expected[@]})) ||
		problems+=("${#got[@]} 'plan.json:' error line(s) on stderr, want ${#expected[@]}")
	[[ -z $summary ]] || ((10#$summary == ${#expected[@]})) ||
		problems+=("stderr's summary says $summary errors, want ${#expected[@]}")
	if ((${#problems[@]} == 0)); then
		pass "invalid/$case (${#expected[@]} error(s))"
	else
		msg=$(printf '%s; ' "${problems[@]}")
		fail "invalid/$case: ${msg%; }"
		echo "    expected.err vs stderr (- expected, not reported; + reported, not expected):"
		printf '%s\n' "${report[@]}"
		echo "    full stderr:"
		indent "$tmp/err"
		if [[ -s $tmp/out ]]; then
			echo "    stdout:"
			indent "$tmp/out"
		fi
	fi
done
if ((ncases == 0)); then
	fail "no cases in $src/tests/cases/invalid"
fi

echo
if ((failures)); then
	echo "$me: $failures of $checks check(s) failed ($nplans plans, $ncases invalid cases)"
	exit 1
fi
echo "$me: all $checks checks passed ($nplans plans, $ncases invalid cases)"
