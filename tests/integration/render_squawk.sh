#!/usr/bin/env bash
# `ecplan render` through squawk (npm squawk-cli, the PostgreSQL migration
# linter): every example plan, all phases and the rollback, without --db
# (placeholders) and with --db (the tables of plans/README.md), must produce
# only the findings allowed below, each for its reason, and each allowed
# finding must be there (so the list cannot go stale and squawk must really
# have read the statements). squawk reads what ecplan sends: the session's
# SET lock_timeout / statement_timeout, BEGIN / SET LOCAL ... / COMMIT around
# transactional steps, CREATE INDEX CONCURRENTLY outside a transaction block;
# without them it reports require-lock-timeout, require-statement-timeout and
# prefer-robust-stmts ("missing transaction").
#
# Allowed findings (rule: statement: reason):
#   ban-drop-column: contract's ALTER TABLE ... DROP COLUMN "<old column>":
#       the change's intended drop; the old values are archived first and
#       switch already made the new column authoritative
#   ban-drop-column: the rollback of expand's DROP COLUMN IF EXISTS "<new column>":
#       undoes expand; nothing reads the new column before switch
#   ban-drop-table: contract's DROP TABLE IF EXISTS "ecplan_archive"."<plan>":
#       ecplan's own archive table, recreated before every try of the drop
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
it_setup

src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
tools=$(bash "$src/scripts/npm-tools.sh" dir)
squawk=$tools/node_modules/.bin/squawk
[[ -x $squawk ]] || fail "squawk not found in $tools (bash scripts/npm-tools.sh install)"
squawk_version=$("$squawk" --version)
pg_version=$(q "SELECT current_setting('server_version_num')::int / 10000 || '.0'")

# The tables the example plans expect, from plans/README.md's SQL blocks.
awk '/^```sql$/ { f = 1; next } /^```$/ { f = 0 } f' "$src/plans/README.md" >"$IT_TMP/tables.sql"
[[ -s $IT_TMP/tables.sql ]] || fail "no SQL blocks in plans/README.md"
psql -X -q -v ON_ERROR_STOP=1 -f "$IT_TMP/tables.sql" >"$IT_TMP/tables.out" 2>&1 ||
	fail "creating the tables of plans/README.md: $(cat "$IT_TMP/tables.out")"

nfiles=0
for plan in "$src"/plans/*.json; do
	name=$(basename "$plan" .json)
	[[ $name == schema ]] && continue
	for db in nodb db; do
		for dir in forward rollback; do
			args=(render "$plan")
			[[ $dir == rollback ]] && args+=(--rollback)
			[[ $db == db ]] && args+=(--db "dbname=$PGDATABASE")
			f=$IT_TMP/$name.$db.$dir.sql
			if [[ $db == db ]]; then
				assert_exit 0 ecplan "${args[@]}"
			else
				assert_exit 0 env -u ECPLAN_DB -u DATABASE_URL "$ECPLAN_BIN" "${args[@]}"
			fi
			cp "$OUT" "$f"
			# squawk exits non-zero when it finds anything; the findings are judged below.
			"$squawk" --reporter json --pg-version "$pg_version" "$f" >"$f.json" 2>"$f.err" || true
			[[ -s $f.json ]] || fail "squawk printed nothing for $f: $(cat "$f.err")"
			nfiles=$((nfiles + 1))
		done
	done
done
((nfiles >= 28)) || fail "expected 7 plans x 4 renders, linted $nfiles"

python3 - "$src" "$IT_TMP" <<'PY' >"$IT_TMP/verdict.txt" || fail "squawk findings:"$'\n'"$(cat "$IT_TMP/verdict.txt")"
import glob, json, os, re, sys
src, tmp = sys.argv[1:]
def ident(n):
    return '"' + n.replace('"', '""') + '"'
problems, lines = [], []
for sql in sorted(glob.glob(os.path.join(tmp, "*.sql"))):
    base = os.path.basename(sql)
    if base == "tables.sql":
        continue
    name, db, direction, _ = base.split(".")
    plan = json.load(open(os.path.join(src, "plans", name + ".json")))
    # One old column dropped and one archive table per change (the archive of
    # the second change is "<plan>_2", ...); one new column per change undone.
    changes = plan.get("changes") or [plan["change"]]
    archives = [plan["name"]] + ["%s_%d" % (plan["name"], i + 1) for i in range(1, len(changes))]
    allowed = {
        "forward": [("ban-drop-column", r"^ALTER TABLE .* DROP COLUMN %s;$" % re.escape(ident(c["column"])))
                    for c in changes]
                   + [("ban-drop-table", r'^DROP TABLE IF EXISTS "ecplan_archive"\.%s;$' % re.escape(ident(a)))
                      for a in archives],
        "rollback": [("ban-drop-column", r"^ALTER TABLE .* DROP COLUMN IF EXISTS %s;$" % re.escape(ident(c["new_column"])))
                     for c in changes],
    }[direction]
    text = open(sql, encoding="utf-8").read().split("\n")
    findings = json.load(open(sql + ".json"))
    seen = [0] * len(allowed)
    for f in findings:
        stmt = text[f["line"]] if 0 <= f["line"] < len(text) else "?"
        hit = [i for i, (rule, rx) in enumerate(allowed) if f["rule_name"] == rule and re.match(rx, stmt)]
        if hit:
            seen[hit[0]] += 1
            lines.append("allowed %s: %s: %s" % (base, f["rule_name"], stmt[:100]))
        else:
            problems.append("NOT ALLOWED %s:%d: %s (%s): %s" % (base, f["line"] + 1, f["rule_name"], f["message"], stmt[:160]))
    for (rule, rx), n in zip(allowed, seen):
        if n != 1:
            problems.append("%s: expected the allowed %s once (statement /%s/), found it %d times: did squawk read the file?"
                            % (base, rule, rx, n))
    for needle in ("SET lock_timeout = ", "SET statement_timeout = ", "BEGIN;", "COMMIT;"):
        if needle not in "\n".join(text):
            problems.append("%s: no %r" % (base, needle))
print("\n".join(lines + problems))
sys.exit(1 if problems else 0)
PY
IT_ASSERTS=$((IT_ASSERTS + 1))
echo "squawk $squawk_version (--pg-version $pg_version), $nfiles renders:" >&2
sed 's/^/  /' "$IT_TMP/verdict.txt" >&2
pass
