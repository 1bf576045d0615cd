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
# The server: the PG* environment when PGHOST is set, else a throwaway one
# (scripts/pg.sh). ecplan: $ECPLAN_BIN, else build/ecplan.
#
# Prints one line per column, then a summary: columns tried, carried and
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
while (($#)); do
	case $1 in
	-n) n=${2:?-n needs a number}; shift ;;
	--seed) seed=${2:?--seed needs a value}; shift ;;
	--schema) schema=${2:?--schema needs a file}; shift ;;
	--data) data=${2:?--data needs a file}; shift ;;
	--no-data) no_data=1 ;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,35p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
	shift
done
[[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "-n needs a positive number"

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
dep_psql "$O" -F "$(printf '\t')" -v seed="$seed" -v n="$n" >"$work/sample" <<'SQL'
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
import json, sys
path, name, schema, table, column, newtype = sys.argv[1:7]
def part(s):
    return '"' + s.replace('"', '""') + '"' if ('.' in s or s.startswith('"')) else s
new = (column + "_new")[:63]
change = {"column": column, "new_column": new}
if newtype:
    change["type"] = newtype
plan = {"format": "ecplan/v1", "name": name, "table": part(schema) + "." + part(table),
        "change": change, "backfill": {"batch_size": 2000, "target_batch_ms": 0}}
with open(path, "w", encoding="utf-8") as f:
    json.dump(plan, f, ensure_ascii=False)
PY
}

# reason FILE: the refusal's detail with names and numbers taken out, so that
# refusals of one kind group together.
reason() {
	local line
	line=$(grep -m1 '^detail:' "$1" || grep -m1 '^ecplan:' "$1" || echo "(no message)")
	printf '%s' "$line" | sed -E 's/"([^"]|"")*"/"…"/g; s/[0-9]+/N/g' | cut -c1-150
}

tried=0 identical=0 refused=0 errors=0 failures=0 nooracle=0
declare -A reasons=()
failed_list=()
i=0
while IFS=$'\t' read -r sch tbl col typ newtype; do
	i=$((i + 1))
	tried=$((tried + 1))
	if [[ -n "$newtype" ]]; then
		what="$sch.$tbl.$col ($typ -> $newtype)"
	else
		what="$sch.$tbl.$col ($typ, rename)"
	fi
	# Rows: of the table and the tables a foreign key links to it (no other can change).
	qt="\"${sch//\"/\"\"}\".\"${tbl//\"/\"\"}\""
	plan=$work/plan$i.json
	mkplan "$plan" "oracle-$i" "$sch" "$tbl" "$col" "$newtype"
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
done <"$work/sample"

echo
echo "==================== $me summary ===================="
printf '  schema:                 %s%s (%s tables), seed %s\n' "$(basename "$schema")" "$datanames" "$ntables" "$seed"
printf '  columns tried:          %d\n' "$tried"
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
