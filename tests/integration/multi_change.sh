#!/usr/bin/env bash
# Several changes in one plan ("changes"): three renames on one table and a
# type change on another, under old- and new-code writers through every phase.
#
# people(first, last, nick) -> (given_name, family_name, handle), each with
# something that must be carried (an index, a CHECK, a comment, NOT NULL);
# orders.amount integer -> bigint. Checks:
#   - one sync trigger per table, one batched UPDATE per table (the backfill
#     events name both tables; every new column filled in one walk);
#   - status --json keeps its shape and lists the changes;
#   - rollback from backfilled restores the exact original schema;
#   - after contract the schema equals PostgreSQL's own RENAME / ALTER TYPE
#     (the oracle), every committed write is present, 0 divergent rows;
#   - validation errors name the path; a second plan on one of the columns is
#     refused (exit 3) before anything changes;
#   - an index, a CHECK and a trigger naming two or three changed columns are
#     carried once, with every changed column rewritten.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

mk() {
	q "CREATE TABLE public.people (id serial PRIMARY KEY, first text NOT NULL, last text, nick text,
	     CONSTRAINT people_first_len CHECK (length(first) < 100));
	   CREATE INDEX people_last_idx ON public.people (last);
	   CREATE UNIQUE INDEX people_nick_key ON public.people (nick) WHERE nick IS NOT NULL;
	   COMMENT ON COLUMN public.people.nick IS 'what friends say';
	   CREATE FUNCTION public.people_touch() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RETURN NEW; END\$\$;
	   CREATE TRIGGER people_touch BEFORE UPDATE ON public.people FOR EACH ROW EXECUTE FUNCTION public.people_touch();
	   CREATE INDEX people_first_last_idx ON public.people (first, last DESC) INCLUDE (nick);
	   CREATE INDEX people_last_partial ON public.people (last) WHERE first <> '' AND nick IS NULL;
	   ALTER TABLE public.people ADD CONSTRAINT people_names_len CHECK (length(first) + length(coalesce(last, '')) < 300);
	   CREATE TRIGGER people_names BEFORE UPDATE OF first, last ON public.people FOR EACH ROW
	     WHEN (NEW.first IS DISTINCT FROM OLD.first OR NEW.last IS DISTINCT FROM OLD.last)
	     EXECUTE FUNCTION public.people_touch();
	   CREATE TABLE public.orders (id bigint PRIMARY KEY, amount integer NOT NULL DEFAULT 0,
	     CONSTRAINT orders_amount_pos CHECK (amount >= 0));
	   INSERT INTO public.people (first, last, nick)
	     SELECT 'f' || g, 'l' || g, CASE WHEN g % 3 = 0 THEN 'n' || g END FROM generate_series(1, $1) g;
	   INSERT INTO public.orders (id, amount) SELECT g, g FROM generate_series(1, $1) g;" >/dev/null
}
snapshot() {
	q "SELECT c.relname || ' col ' || a.attname || ': ' || format_type(a.atttypid, a.atttypmod)
	          || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
	          || ' comment=' || coalesce(col_description(a.attrelid, a.attnum), '-')
	     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	     LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	    WHERE c.relname IN ('people', 'orders') AND c.relnamespace = 'public'::regnamespace
	      AND a.attnum > 0 AND NOT a.attisdropped
	   UNION ALL
	   SELECT conrelid::regclass || ' constraint ' || conname || ': ' || pg_get_constraintdef(oid)
	     FROM pg_constraint WHERE conrelid IN ('public.people'::regclass, 'public.orders'::regclass)
	   UNION ALL
	   SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(i.indexrelid)
	     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	    WHERE i.indrelid IN ('public.people'::regclass, 'public.orders'::regclass)
	   UNION ALL
	   SELECT 'trigger ' || tgname || ': ' || pg_get_triggerdef(oid) FROM pg_trigger
	    WHERE tgrelid IN ('public.people'::regclass, 'public.orders'::regclass) AND NOT tgisinternal
	   ORDER BY 1"
}

ORACLE="${IT_DB}_o"
PGDATABASE=postgres q "CREATE DATABASE \"$ORACLE\"" >/dev/null
it_defer "PGDATABASE=postgres q 'DROP DATABASE IF EXISTS \"$ORACLE\"' >/dev/null 2>&1"
PGDATABASE=$ORACLE mk 10
PGDATABASE=$ORACLE q "ALTER TABLE public.people RENAME COLUMN first TO given_name;
	ALTER TABLE public.people RENAME COLUMN last TO family_name;
	ALTER TABLE public.people RENAME COLUMN nick TO handle;
	ALTER TABLE public.orders ALTER COLUMN amount TYPE bigint;
	ALTER TABLE public.orders RENAME COLUMN amount TO amount_big;" >/dev/null
PGDATABASE=$ORACLE snapshot >"$IT_TMP/oracle.txt"

N=3000
mk $N
snapshot >"$IT_TMP/original.txt"
sm_writers_setup
P=$IT_TMP/plan.json
cat >"$P" <<'EOF'
{ "format": "ecplan/v1", "name": "multi", "table": "public.people",
  "changes": [
    { "column": "first", "new_column": "given_name" },
    { "column": "last", "new_column": "family_name" },
    { "column": "nick", "new_column": "handle" },
    { "table": "public.orders", "column": "amount", "new_column": "amount_big", "type": "bigint" } ],
  "backfill": { "batch_size": 500 } }
EOF

# --- validation: paths, duplicates -----------------------------------------
bad() { printf '{"format": "ecplan/v1", "name": "bad", "table": "public.people", "changes": %s}\n' "$1" >"$IT_TMP/bad.json"; }
bad '[{"column": "first", "new_column": "a"}, {"column": "first", "new_column": "b"}]'
assert_exit 2 ecplan validate "$IT_TMP/bad.json"
assert_contains "$(cat "$ERR")" '$.changes[1].column' "a duplicate column is named by its path"
bad '[{"column": "first", "new_column": "a"}, {"column": "last", "new_column": "a"}]'
assert_exit 2 ecplan validate "$IT_TMP/bad.json"
assert_contains "$(cat "$ERR")" '$.changes[1].new_column' "a duplicate new column is named by its path"
bad '[{"column": "first", "new_column": "a"}, {"column": "last", "new_column": "first"}]'
assert_exit 2 ecplan validate "$IT_TMP/bad.json"
assert_contains "$(cat "$ERR")" '$.changes[1].new_column' "a new column that is another change's column"
printf '{"format": "ecplan/v1", "name": "bad", "table": "public.people", "change": {"column": "a", "new_column": "b"},
  "changes": [{"column": "first", "new_column": "a"}]}\n' >"$IT_TMP/bad.json"
assert_exit 2 ecplan validate "$IT_TMP/bad.json"
assert_contains "$(cat "$ERR")" 'not both' "change and changes together are refused"
assert_exit 0 ecplan validate --json "$P"
assert_eq 4 "$(jq '.plans[0].changes | length' "$OUT")" "validate --json lists the changes"

# --- objects naming two or three changed columns are carried once ------------
# (an index on first, last INCLUDE nick; a partial index whose predicate names
# the others; a CHECK and a trigger on two): by the first change that names
# them, every changed column rewritten; the oracle below compares them.
assert_exit 0 ecplan check "$P"
for o in people_first_last_idx people_last_partial people_names_len people_names; do
	assert_contains "$(cat "$OUT")" "$o\" with change 1 of the plan" "$o is carried once, by the first change"
done
assert_contains "$(cat "$OUT")" 'CHECK (((length("given_name") + length(COALESCE("family_name"' \
	"the CHECK's copy names both new columns"

# --- a unique index on two changed columns is proven with both ups ------------
# tags(owner, label) UNIQUE: renaming owner and lowering label would merge
# (1, 'X') and (1, 'x'): refused before expand, the duplicate named.
q "CREATE TABLE public.tags (id serial PRIMARY KEY, owner integer NOT NULL, label text NOT NULL,
	CONSTRAINT tags_owner_label_key UNIQUE (owner, label));
	INSERT INTO public.tags (owner, label) VALUES (1, 'X'), (1, 'x'), (2, 'y')" >/dev/null
cat >"$IT_TMP/tags.json" <<'EOF'
{ "format": "ecplan/v1", "name": "tags", "table": "public.tags",
  "changes": [ { "column": "owner", "new_column": "owner_id" },
               { "column": "label", "new_column": "label_lower", "up": "lower(label)", "down": "label_lower" } ] }
EOF
assert_exit 3 ecplan advance "$IT_TMP/tags.json" --to expand
assert_contains "$(cat "$ERR")" 'tags_owner_label_key' "the unique index on both changed columns is proven with both ups"
assert_contains "$(cat "$ERR")" '(1, x)' "the duplicate value is named"
assert_eq 0 "$(sm_col_exists public.tags owner_id)" "refused before anything changes"
q "DELETE FROM public.tags WHERE label = 'X'" >/dev/null
assert_exit 0 ecplan advance "$IT_TMP/tags.json" --to backfill
assert_eq "CREATE UNIQUE INDEX tags_owner_label_key_ecplan ON public.tags USING btree (owner_id, label_lower)" \
	"$(q "SELECT pg_get_indexdef('public.tags_owner_label_key_ecplan'::regclass)")" "one copy, on both new columns"
assert_exit 0 ecplan rollback "$IT_TMP/tags.json" --to planned
q "DROP TABLE public.tags" >/dev/null

# --- writers ------------------------------------------------------------------
# Old code writes first/last/nick and amount until contract; new code writes
# the new columns from sync on. Each write is logged with the value it wrote.
writer() {
	local role=$1 k id
	for ((k = 1; k <= 100000; k++)); do
		id=$((k % N + 1))
		printf 'BEGIN;\nSELECT count(*) AS l1 FROM public.people WHERE id = %d \\gset\n' "$id"
		printf 'SELECT count(*) AS l2 FROM public.orders WHERE id = %d \\gset\n' "$id"
		if [[ $role == old ]]; then
			printf "SELECT public.it_old_code_ok('multi') AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\\\gset\n"
			printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
			printf "UPDATE public.people SET last = 'o%d' WHERE id = %d;\n" "$k" "$id"
			printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('old', 'update', %d, 'last', 'o%d');\n" "$id" "$k"
			printf "UPDATE public.orders SET amount = %d WHERE id = %d;\n" "$((k + 100000))" "$id"
			printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('old', 'update', %d, 'amount', '%d');\n" "$id" "$((k + 100000))"
			if ((k % 7 == 0)); then
				printf "INSERT INTO public.people (first, last, nick) VALUES ('of%d', 'ol%d', NULL) RETURNING id AS nid \\\\gset\n" "$k" "$k"
				printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('old', 'insert', :nid, 'last', 'ol%d');\n" "$k"
			fi
			printf 'COMMIT;\n\\else\nROLLBACK;\n\\q\n\\endif\n'
		else
			printf "SELECT coalesce(public.it_new_code_ok('multi'), false) AS ok, (SELECT stop FROM public.it_writer_ctl) AS stop \\\\gset\n"
			printf '\\if :stop\nROLLBACK;\n\\q\n\\endif\n\\if :ok\n'
			printf "UPDATE public.people SET family_name = 'n%d' WHERE id = %d;\n" "$k" "$((N - id + 1))"
			printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('new', 'update', %d, 'last', 'n%d');\n" "$((N - id + 1))" "$k"
			printf "UPDATE public.orders SET amount_big = %d WHERE id = %d;\n" "$((k + 2000000))" "$((N - id + 1))"
			printf "INSERT INTO public.it_write_log (writer, op, id, col, value) VALUES ('new', 'update', %d, 'amount', '%d');\n" "$((N - id + 1))" "$((k + 2000000))"
			printf 'COMMIT;\n\\else\nROLLBACK;\nSELECT pg_sleep(0.02) \\gset\n\\endif\n'
		fi
		printf 'SELECT pg_sleep(0.003) \\gset\n'
	done
}
it_defer "sm_writers_stop 2>/dev/null"

# --- forward to backfilled, then roll back to the exact original -------------
sm_writer_pair_start
# Before the backfill every change has unfilled rows: verify reports all four
# problems in one report (--json: one error object on stderr).
assert_exit 0 ecplan advance "$P" --to sync
assert_exit 3 ecplan verify --json "$P"
assert_eq 1 "$(grep -c . "$ERR")" "verify --json of several changes prints one error object"
assert_eq 4 "$(jq '.errors | length' "$ERR")" "... listing every change's problem"
assert_eq 4 "$(jq '[.changes[] | select(.divergent > 0)] | length' "$OUT")" "... and every change's counts on stdout"
assert_exit 0 ecplan advance "$P" --to backfill
assert_eq backfilled "$(sm_state multi)" "backfilled"
assert_eq 1 "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.people'::regclass AND tgname LIKE 'zz_ecplan_sync_%'")" \
	"one sync trigger on people for its three changes"
assert_eq 1 "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.orders'::regclass AND tgname LIKE 'zz_ecplan_sync_%'")" \
	"one sync trigger on orders"
assert_eq 0 "$(q "SELECT count(*) FROM public.people WHERE given_name IS NULL OR family_name IS NULL OR (handle IS NULL) <> (nick IS NULL)")" \
	"every new column of people filled"
assert_eq 0 "$(q "SELECT count(*) FROM public.orders WHERE amount_big IS NULL")" "orders filled"
assert_eq 2 "$(q "SELECT count(*) FROM ecplan.events WHERE plan = 'multi' AND kind = 'step' AND message LIKE 'backfill: %: backfill %'")" \
	"one backfill walk per table"
assert_exit 0 ecplan status --json multi
assert_eq 4 "$(jq '.changes | length' "$OUT")" "status --json lists the four changes"
assert_eq '"given_name"' "$(jq '.changes[0].new_column' "$OUT")" "status --json names each change"
assert_eq null "$(jq '.column' "$OUT")" "the single-change fields are null with several changes"
assert_exit 0 ecplan verify "$P"
sm_writer_pair_stop
assert_exit 0 ecplan rollback "$P" --to planned
snapshot >"$IT_TMP/rolled.txt"
if ! diff -u "$IT_TMP/original.txt" "$IT_TMP/rolled.txt" >"$IT_TMP/diff.txt"; then
	fail "rollback from backfilled did not restore the original (- original, + after rollback):
$(cat "$IT_TMP/diff.txt")"
fi

# --- a second plan on one of the columns is refused while this one is active -
sm_writer_pair_start
assert_exit 0 ecplan advance "$P" --to sync
printf '{"format": "ecplan/v1", "name": "other", "table": "public.orders",
  "change": {"column": "amount", "new_column": "amount_num", "type": "numeric"}}\n' >"$IT_TMP/other.json"
assert_exit 3 ecplan advance "$IT_TMP/other.json"
assert_contains "$(cat "$ERR")" 'plan "multi"' "the other plan is named"
assert_eq 0 "$(sm_col_exists public.orders amount_num)" "the second plan changed nothing"

# --- all the way, under writes ------------------------------------------------
assert_exit 0 ecplan advance "$P" --all
assert_eq contracted "$(sm_state multi)" "contracted under writes"
sm_writer_pair_stop
snapshot >"$IT_TMP/ecplan.txt"
if ! diff -u "$IT_TMP/oracle.txt" "$IT_TMP/ecplan.txt" >"$IT_TMP/diff.txt"; then
	fail "the schema after contract differs from PostgreSQL's own RENAME / ALTER TYPE (- oracle, + ecplan):
$(cat "$IT_TMP/diff.txt")"
fi
# Every committed write is there: the last write of each (id, column) wins.
lost=$(q "WITH last AS (SELECT DISTINCT ON (id, col) id, col, value FROM public.it_write_log ORDER BY id, col, seq DESC)
	SELECT count(*) FROM last l
	 WHERE (l.col = 'last' AND NOT EXISTS (SELECT FROM public.people p WHERE p.id = l.id AND p.family_name = l.value))
	    OR (l.col = 'amount' AND NOT EXISTS (SELECT FROM public.orders o WHERE o.id = l.id AND o.amount_big::text = l.value))")
assert_eq 0 "$lost" "every committed write is present"
assert_ne 0 "$(q "SELECT count(*) FROM public.it_write_log WHERE writer = 'new'")" "new code wrote"
assert_eq "$N" "$(q "SELECT count(*) FROM public.people WHERE given_name ~ '^f[0-9]+$'")" "the original rows kept their values"
assert_eq 0 "$(q "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'zz_ecplan_sync_%'")" "no sync trigger left"
pass
