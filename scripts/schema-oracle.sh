#!/usr/bin/env bash
# The dependent-object oracle on a real application's schema: for a sample of its
# columns, run a plan with ecplan on one clone of the database and the naive DDL
# that means the same (ALTER COLUMN ... TYPE ... USING, RENAME COLUMN) on another,
# then compare every definition (tests/support/depend_snapshot.sql: constraints,
# indexes, triggers, columns, sequences, functions, views, policies, comments,
# grants) and the rows of the table and of the tables a foreign key links to it.
# Not part of CI: a sample of 20 columns takes 2-3 minutes on the shared build
# machine, 40 with Zabbix's data about 10.
#
# Usage: bash scripts/schema-oracle.sh [-n N] [--seed S] [--schema FILE.sql[.gz]]
#                                      [--data FILE.sql[.gz] | --no-data] [--keep]
#                                      [--referenced | --several] [--workers N]
#   -n N        columns to try (default 40); each gets one plan: a type change for
#               integer/smallint (-> bigint) and varchar/text (-> text) columns on
#               about half of them, otherwise a rename
#   --seed S    which columns (a deterministic sample per seed; default 1)
#   --schema    a schema dump to load (psql script; .gz is read with zcat).
#               Default: Zabbix's PostgreSQL schema (173 tables, foreign keys,
#               unique and multi-column indexes) from the Debian package
#               zabbix-server-pgsql, fetched with `apt-get download` into
#               $ECPLAN_ORACLE_CACHE (default ~/.cache/ecplan-oracle) and never
#               installed (nothing of it is kept in this repository)
#   --data      rows to load after the schema; several files in one word, separated
#               by spaces, load in that order (default with the Zabbix schema: its
#               images.sql and data.sql, the stock templates: real rows to backfill)
#   --no-data   schema only
#   --keep      keep the databases of failing columns (their names are printed)
#   --workers N backfill.workers of every plan (parallel backfill; default: not
#               set, one cursor)
#   --referenced  instead of one column per plan: N keys that other tables'
#               foreign keys reference, each with ONE plan with "changes": the key
#               plus every column that references it (and, in turn, every column
#               that references one of those), each renamed to <col>_new; all
#               retyped to bigint when every one of them is integer/smallint
#   --several   instead: N plans of 2-4 columns of one table (a type change or a
#               rename each, as above; tables in a random order, then again with
#               other columns while N is not reached). When the table has an
#               index, constraint (CHECK, UNIQUE, PRIMARY KEY, FOREIGN KEY) or
#               trigger naming several columns, the plan takes the columns of one
#               of them first (another one on the next visit of the table; up to
#               6), then fills up with random columns: ecplan carries such an
#               object once, with every changed column rewritten. A column that
#               shares a view, rule, policy, statistics object or EXCLUDE
#               constraint with one already taken is left out (ecplan refuses those
#               by design; such a refusal counts as refused)
#   In both, the whole database's catalog and the rows of every table of the plan
#   (and of the tables a foreign key links to them) are compared, as for one column.
#   Zabbix's keys are all bigint (its --referenced plans only rename); the integer
#   -> bigint cases: --schema tests/support/oracle_keys.sql (PostgreSQL 15+).
# The server: the PG* environment when PGHOST is set, else a throwaway one
# (scripts/pg.sh). ecplan: $ECPLAN_BIN, else build/ecplan.
#
# Prints one line per column (plan), then a summary: columns tried, carried and
# identical, refused (reasons grouped), errors (ecplan failed after starting),
# no oracle (the naive DDL itself fails), and FAILURES: ecplan exited 0 but the
# schema or the rows differ from the naive DDL's, or a refusal changed something.
# Exit 0 only when there is no failure and no error.
set -euo pipefail

me='schema-oracle.sh'
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
die() {
	echo "$me: error: $*" >&2
	exit 2
}

n=40
seed=1
schema=
data=
no_data=0
keep=0
mode=columns
workers=
while (($#)); do
	case $1 in
	-n) n=${2:?-n needs a number}; shift ;;
	--seed) seed=${2:?--seed needs a value}; shift ;;
	--schema) schema=${2:?--schema needs a file}; shift ;;
	--data) data=${2:?--data needs a file}; shift ;;
	--no-data) no_data=1 ;;
	--keep) keep=1 ;;
	--referenced) mode=referenced ;;
	--several) mode=several ;;
	--workers) workers=${2:?--workers needs a number}; shift ;;
	-h | --help)
		sed -n '2,58p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
[[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "-n needs a positive number"
[[ -z "$workers" || "$workers" =~ ^[0-9]+$ ]] || die "--workers needs a number"
export ORACLE_WORKERS=$workers

export ECPLAN_BIN=${ECPLAN_BIN:-$root/build/ecplan}
[[ -x "$ECPLAN_BIN" ]] || die "ecplan not built: $ECPLAN_BIN (cmake -S . -B build && cmake --build build)"
# shellcheck source=tests/support/depend_lib.sh
source "$root/tests/support/depend_lib.sh"

# --- the schema -----------------------------------------------------------------
if [[ -z "$schema" ]]; then
	cache=${ECPLAN_ORACLE_CACHE:-$HOME/.cache/ecplan-oracle}
	zdir=$cache/zabbix/usr/share/zabbix-server-pgsql
	if [[ ! -f "$zdir/schema.sql.gz" ]]; then
		mkdir -p "$cache/deb"
		echo "$me: fetching Zabbix's schema (apt-get download zabbix-server-pgsql, not installed)" >&2
		(cd "$cache/deb" && apt-get download zabbix-server-pgsql >/dev/null 2>&1) ||
			die "apt-get download zabbix-server-pgsql failed (apt-get update first?); or give --schema FILE"
		dpkg-deb -x "$cache"/deb/zabbix-server-pgsql_*.deb "$cache/zabbix"
	fi
	schema=$zdir/schema.sql.gz
	# Zabbix loads its images before its data (the data refers to them).
	((no_data)) || [[ -n "$data" ]] || data="$zdir/images.sql.gz $zdir/data.sql.gz"
fi
((no_data)) && data=
[[ -f "$schema" ]] || die "no such schema file: $schema"
for f in $data; do
	[[ -f "$f" ]] || die "no such data file: $f"
done
readsql() { case $1 in *.gz) zcat -- "$1" ;; *) cat -- "$1" ;; esac }

# --- the server -------------------------------------------------------------------
started=0
work=$(mktemp -d "${TMPDIR:-/tmp}/schema-oracle.XXXXXX")
prefix=oracle_$$
cleanup() {
	set +e
	if ((started == 0)); then
		local d
		for d in $(dep_psql postgres -c "SELECT datname FROM pg_database WHERE datname LIKE '${prefix}\_%'" 2>/dev/null); do
			[[ " ${kept[*]:-} " == *" $d "* ]] && continue
			dep_dropdb "$d"
		done
	fi
	((started)) && ecplan_pg_stop >/dev/null 2>&1
	rm -rf -- "$work"
}
trap cleanup EXIT
kept=()
if [[ -z "${PGHOST:-}" ]]; then
	# shellcheck source=scripts/pg.sh
	source "$root/scripts/pg.sh" start >/dev/null || die "could not start a throwaway PostgreSQL"
	started=1
fi

# O: the schema (and rows) as loaded, the template of every clone.
O=${prefix}_o
dep_createdb "$O"
t0=$SECONDS
readsql "$schema" | PGOPTIONS='-c client_min_messages=warning' dep_psql "$O" >/dev/null 2>"$work/load.err" ||
	{ sed 's/^/  | /' "$work/load.err" >&2; die "the schema does not load: $schema"; }
for f in $data; do
	readsql "$f" | PGOPTIONS='-c client_min_messages=warning' dep_psql "$O" >/dev/null 2>"$work/load.err" ||
		{ sed 's/^/  | /' "$work/load.err" >&2; die "the data does not load: $f"; }
done
dep_psql "$O" -c "VACUUM ANALYZE" >/dev/null
ntables=$(dep_psql "$O" -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')")
datanames=
for f in $data; do datanames+=" + $(basename "$f")"; done
echo "$me: $(basename "$schema")$datanames: $ntables tables loaded in $((SECONDS - t0)) s" >&2
dep_snapshot "$O" "$work/orig.snap"

# The sample: user columns of ordinary tables, in a deterministic order per seed.
# kind = type when the column gets a type change, rename otherwise.
[[ $mode == columns ]] && dep_psql "$O" -F "$(printf '\t')" -v seed="$seed" -v n="$n" >"$work/sample" <<'SQL'
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.atttypid IN ('int2'::regtype, 'int4'::regtype) AND get_byte(decode(md5(:'seed' || a.attname), 'hex'), 0) % 2 = 0
            THEN 'bigint'
            WHEN a.atttypid IN ('varchar'::regtype, 'text'::regtype, 'bpchar'::regtype)
                 AND get_byte(decode(md5(:'seed' || a.attname), 'hex'), 0) % 2 = 0
            THEN 'text'
            ELSE '' END
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY md5(:'seed' || n.nspname || '.' || c.relname || '.' || a.attname)
 LIMIT :n
SQL

# mkplan FILE NAME SCHEMA TABLE COLUMN NEWTYPE: a plan for one column.
mkplan() {
	"$DEP_PY" - "$@" <<'PY'
import json, os, sys
path, name, schema, table, column, newtype = sys.argv[1:7]
def part(s):
    return '"' + s.replace('"', '""') + '"' if ('.' in s or '"' in s) else s
new = (column + "_new")[:63]
change = {"column": column, "new_column": new}
if newtype:
    change["type"] = newtype
plan = {"format": "ecplan/v1", "name": name, "table": part(schema) + "." + part(table),
        "change": change, "backfill": {"batch_size": 2000, "target_batch_ms": 0}}
if os.environ.get("ORACLE_WORKERS"):
    plan["backfill"]["workers"] = int(os.environ["ORACLE_WORKERS"])
with open(path, "w", encoding="utf-8") as f:
    json.dump(plan, f, ensure_ascii=False)
PY
}

# mkplans MODE SEED N WORKDIR CATALOG_JSON: the plans of --referenced and
# --several (WORKDIR/planI.json, and WORKDIR/tablesI: the plan's tables, one a
# line), and one line per plan on stdout: I, what it changes.
mkplans() {
	"$DEP_PY" - "$@" <<'PY'
import json, os, random, sys
mode, seed, n, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(sys.argv[5], encoding="utf-8") as f:
    cat = json.load(f)
cols = {(c["rel"], c["num"]): c for c in cat["cols"] or []}
rels = {r for r, _ in cols}
fks = [f for f in cat["fks"] or [] if f["rel"] in rels and f["frel"] in rels]
# Objects that name two or more columns of one table: (rel, {attnum, ...}), those
# ecplan carries once for several changed columns (index, CHECK, UNIQUE, PRIMARY
# KEY, FOREIGN KEY, trigger) and those it refuses (view, rule, policy, ...).
objs = [(o["rel"], set(o["cols"])) for o in cat["objs"] or [] if not o["shared"]]
shared = [(o["rel"], sorted(set(o["cols"]))) for o in cat["objs"] or [] if o["shared"]]
rng = random.Random(f"{mode}:{seed}")
INTS = ("smallint", "integer")
TEXTS = ("character varying", "text", "character")

def part(s):
    return '"' + s.replace('"', '""') + '"' if ('.' in s or '"' in s) else s

def tname(c):
    return part(c["schema"]) + "." + part(c["table"])

def qname(c):
    return '"' + c["schema"].replace('"', '""') + '"."' + c["table"].replace('"', '""') + '"'

def label(c):
    return f'{c["schema"]}.{c["table"]}.{c["col"]}'

def write(i, members):
    """members: [(column, new type or "")]; the first one's table is the plan's."""
    first = members[0][0]
    changes = []
    for c, newtype in members:
        ch = {"column": c["col"], "new_column": (c["col"] + "_new")[:63]}
        if c["rel"] != first["rel"]:
            ch = {"table": tname(c), **ch}
        if newtype:
            ch["type"] = newtype
        changes.append(ch)
    plan = {"format": "ecplan/v1", "name": f"oracle-{i}", "table": tname(first), "changes": changes,
            "backfill": {"batch_size": 2000, "target_batch_ms": 0}}
    if os.environ.get("ORACLE_WORKERS"):
        plan["backfill"]["workers"] = int(os.environ["ORACLE_WORKERS"])
    with open(f"{work}/plan{i}.json", "w", encoding="utf-8") as f:
        json.dump(plan, f, ensure_ascii=False)
    tables = []
    for c, _ in members:
        if qname(c) not in tables:
            tables.append(qname(c))
    with open(f"{work}/tables{i}", "w", encoding="utf-8") as f:
        f.write("\n".join(tables))

out = []
if mode == "referenced":
    keys = sorted({(f["frel"], k) for f in fks for k in f["fkey"]})
    rng.shuffle(keys)
    seen = set()
    for key in keys:
        if len(out) >= n:
            break
        # The key, every column referencing it, and so on (a referencing column that
        # is itself referenced changes with the columns that reference it).
        members = [key]
        grew = True
        while grew:
            grew = False
            for f in fks:
                for k, fk in zip(f["key"], f["fkey"]):
                    if (f["frel"], fk) in members and (f["rel"], k) not in members:
                        members.append((f["rel"], k))
                        grew = True
        if frozenset(members) in seen:
            continue
        seen.add(frozenset(members))
        members = [members[0]] + sorted(members[1:], key=lambda m: (label(cols[m]), m))
        mc = [cols[m] for m in members]
        widen = all(c["typ"] in INTS for c in mc)
        i = len(out) + 1
        write(i, [(c, "bigint" if widen else "") for c in mc])
        kind = f'{mc[0]["type"]} -> bigint' if widen else f'{mc[0]["type"]}, rename'
        refs = ", ".join(label(c) for c in mc[1:])
        out.append(f"{label(mc[0])} ({kind}) + {len(mc) - 1} referencing: {refs}")
elif mode == "several":
    bytable = {}
    for key in sorted(cols):
        bytable.setdefault(key[0], []).append(cols[key])
    order = sorted(r for r, cs in bytable.items() if len(cs) >= 2)
    # Tables in a random order, then again (other columns) while N is not reached.
    seen = set()
    def rounds():
        for _ in range(20):
            o = list(order)
            rng.shuffle(o)
            yield from o
    for rel in rounds():
        if len(out) >= n:
            break
        want = rng.randint(2, 4)
        cands = list(bytable[rel])
        rng.shuffle(cands)
        # First the columns of one index, constraint or trigger of the table that
        # names several (ecplan carries it once, with every changed column
        # rewritten): a different one on each visit while there are others.
        mine = sorted({tuple(ocols) for orel, ocols in shared if orel == rel})
        fresh = [o for o in mine if not any(set(o) <= {k for r, k in s} for s in seen if next(iter(s))[0] == rel)]
        if fresh:
            pick = list(rng.choice(fresh))
            rng.shuffle(pick)
            pick = [cols[(rel, k)] for k in pick[:6] if (rel, k) in cols]
            want = max(want, len(pick))
            cands = pick + [c for c in cands if c not in pick]
        taken = []
        for c in cands:
            if len(taken) >= want:
                break
            # ecplan refuses a view, rule, policy, ... that names a changed column;
            # one that names two of them is left out here (refused by design).
            if any(orel == rel and c["num"] in ocols and t["num"] in ocols
                   for t in taken for orel, ocols in objs):
                continue
            taken.append(c)
        if len(taken) < 2 or frozenset((rel, c["num"]) for c in taken) in seen:
            continue
        seen.add(frozenset((rel, c["num"]) for c in taken))
        members = []
        for c in taken:
            newtype = ""
            if rng.random() < 0.5:
                newtype = "bigint" if c["typ"] in INTS else "text" if c["typ"] in TEXTS else ""
            members.append((c, newtype))
        i = len(out) + 1
        write(i, members)
        out.append(f'{taken[0]["schema"]}.{taken[0]["table"]}: ' + ", ".join(
            f'{c["col"]} ({c["type"]} -> {t})' if t else f'{c["col"]} ({c["type"]}, rename)' for c, t in members))
for i, what in enumerate(out, 1):
    print(f"{i}\t{what}")
PY
}

# reason FILE: the refusal's detail with names (quoted or schema-qualified) and
# numbers taken out, so that refusals of one kind group together.
reason() {
	local line
	line=$(grep -m1 '^detail:' "$1" || grep -m1 '^ecplan:' "$1" || echo "(no message)")
	# (150 characters, not bytes: cut -c cuts bytes and splits the "…")
	printf '%s' "$line" | sed -E 's/"([^"]|"")*"/"…"/g; s/\b[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+/…/g; s/[0-9]+/N/g' |
		"$DEP_PY" -c 'import sys; sys.stdout.write(sys.stdin.read()[:150])'
}

# The manifest: one line per plan (I, what it changes); its plan is
# $work/planI.json, its tables (SQL names, one a line) $work/tablesI.
if [[ $mode == columns ]]; then
	i=0
	while IFS=$'\t' read -r sch tbl col typ newtype; do
		i=$((i + 1))
		if [[ -n "$newtype" ]]; then
			what="$sch.$tbl.$col ($typ -> $newtype)"
		else
			what="$sch.$tbl.$col ($typ, rename)"
		fi
		mkplan "$work/plan$i.json" "oracle-$i" "$sch" "$tbl" "$col" "$newtype"
		printf '%s' "\"${sch//\"/\"\"}\".\"${tbl//\"/\"\"}\"" >"$work/tables$i"
		printf '%d\t%s\n' "$i" "$what"
	done <"$work/sample" >"$work/manifest"
else
	# Columns of ordinary tables, foreign keys, and the objects that name two or
	# more columns of one table (index, constraint, trigger, rule, policy,
	# statistics object: through pg_depend).
	dep_psql "$O" >"$work/catalog.json" <<'SQL'
SELECT json_build_object(
  'cols', (SELECT json_agg(json_build_object('rel', c.oid, 'schema', n.nspname, 'table', c.relname,
                  'col', a.attname, 'num', a.attnum, 'type', format_type(a.atttypid, a.atttypmod),
                  'typ', format_type(a.atttypid, NULL)) ORDER BY c.oid, a.attnum)
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')),
  'fks', (SELECT json_agg(json_build_object('rel', conrelid, 'key', conkey, 'frel', confrelid, 'fkey', confkey)
                          ORDER BY oid)
            FROM pg_constraint WHERE contype = 'f'),
  'objs', (SELECT json_agg(json_build_object('rel', rel, 'cols', cols, 'shared', shared))
             FROM (SELECT d.refobjid AS rel, array_agg(DISTINCT d.refobjsubid) AS cols,
                          -- ecplan carries an index, a CHECK/UNIQUE/PRIMARY KEY/FOREIGN KEY
                          -- constraint or a trigger once for several changed columns; it
                          -- refuses the others (views, rules, policies, statistics, EXCLUDE)
                          CASE d.classid
                            WHEN 'pg_class'::regclass THEN
                              (SELECT relkind IN ('i', 'I') FROM pg_class WHERE oid = d.objid)
                            WHEN 'pg_constraint'::regclass THEN
                              (SELECT contype IN ('c', 'u', 'p', 'f') FROM pg_constraint WHERE oid = d.objid)
                            WHEN 'pg_trigger'::regclass THEN true
                            ELSE false END AS shared
                     FROM pg_depend d
                    WHERE d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
                      AND d.classid IN ('pg_class'::regclass, 'pg_constraint'::regclass, 'pg_trigger'::regclass,
                                        'pg_rewrite'::regclass, 'pg_policy'::regclass,
                                        'pg_statistic_ext'::regclass)
                    GROUP BY d.classid, d.objid, d.refobjid
                   HAVING count(DISTINCT d.refobjsubid) > 1) s))
SQL
	mkplans "$mode" "$seed" "$n" "$work" "$work/catalog.json" >"$work/manifest"
fi

tried=0 identical=0 refused=0 errors=0 failures=0 nooracle=0
declare -A reasons=()
failed_list=()
while IFS=$'\t' read -r i what; do
	tried=$((tried + 1))
	# Rows: of the plan's tables and the tables a foreign key links to them (no
	# other can change).
	qt=$(<"$work/tables$i")
	plan=$work/plan$i.json
	A=${prefix}_${i}a
	B=${prefix}_${i}b
	dep_createdb "$B" "$O"
	rc=0
	PGDATABASE=$B dep_ecplan advance "$plan" --all --quiet >"$work/out" 2>"$work/err" || rc=$?
	case $rc in
	3)
		dep_rows "$O" "$work/orig.rows" "$qt"
		dep_state "$B" "$work/b.snap" "$work/b.rows" "$qt"
		if dep_compare_both "$work/orig.snap" "$work/b.snap" "$work/orig.rows" "$work/b.rows" \
			"original" "after refusal" >"$work/diff"; then
			refused=$((refused + 1))
			r=$(reason "$work/err")
			reasons[$r]=$((${reasons[$r]:-0} + 1))
			printf '%4d refused    %s\n' "$i" "$what"
		else
			failures=$((failures + 1))
			failed_list+=("$what: refused, but the database changed")
			printf '%4d FAILURE    %s: refused (exit 3), but the database changed\n' "$i" "$what"
			sed 's/^/       /' "$work/diff"
		fi
		;;
	0)
		dep_createdb "$A" "$O"
		if ! dep_naive_sql "$A" "$plan" >"$work/naive.sql" 2>"$work/naive.err" ||
			! dep_psql "$A" -f "$work/naive.sql" >/dev/null 2>"$work/naive.err"; then
			nooracle=$((nooracle + 1))
			printf '%4d no oracle  %s: the naive DDL fails: %s\n' "$i" "$what" "$(head -c 150 "$work/naive.err" | tr '\n' ' ')"
		else
			dep_state "$A" "$work/a.snap" "$work/a.rows" "$qt"
			dep_state "$B" "$work/b.snap" "$work/b.rows" "$qt"
			if dep_compare_both "$work/a.snap" "$work/b.snap" "$work/a.rows" "$work/b.rows" \
				"naive ALTER" "ecplan" >"$work/diff"; then
				identical=$((identical + 1))
				printf '%4d identical  %s\n' "$i" "$what"
			else
				failures=$((failures + 1))
				failed_list+=("$what: exit 0, differs from the naive DDL")
				printf '%4d FAILURE    %s: ecplan exited 0 and the result differs from the naive DDL\n' "$i" "$what"
				sed 's/^/       /' "$work/diff"
				if ((keep)); then
					kept+=("$A" "$B")
					echo "       (kept databases $A $B)"
				fi
			fi
		fi
		;;
	*)
		errors=$((errors + 1))
		failed_list+=("$what: ecplan exited $rc")
		printf '%4d ERROR      %s: ecplan exited %s\n' "$i" "$what" "$rc"
		sed 's/^/       | /' "$work/err" | head -n 8
		((keep)) && kept+=("$B") && echo "       (kept database $B)"
		;;
	esac
	[[ " ${kept[*]:-} " == *" $A "* ]] || dep_dropdb "$A"
	[[ " ${kept[*]:-} " == *" $B "* ]] || dep_dropdb "$B"
done <"$work/manifest"

echo
echo "==================== $me summary ===================="
printf '  schema:                 %s%s (%s tables), seed %s\n' "$(basename "$schema")" "$datanames" "$ntables" "$seed"
[[ -z "$workers" ]] || printf '  backfill.workers:       %s\n' "$workers"
case $mode in
columns) printf '  columns tried:          %d\n' "$tried" ;;
*) printf '  mode:                   --%s (one plan with several changes each)\n' "$mode"
	printf '  plans tried:            %d\n' "$tried" ;;
esac
printf '  carried and identical:  %d\n' "$identical"
printf '  refused (exit 3):       %d\n' "$refused"
for r in "${!reasons[@]}"; do
	printf '      %3d  %s\n' "${reasons[$r]}" "$r"
done | sort -rn
printf '  no oracle:              %d  (the naive DDL itself fails)\n' "$nooracle"
printf '  errors (exit 1/6/...):  %d\n' "$errors"
printf '  FAILURES:               %d  (exit 0 with a difference, or a refusal that changed something)\n' "$failures"
for f in "${failed_list[@]}"; do
	printf '      %s\n' "$f"
done
((failures == 0 && errors == 0))
