#!/usr/bin/env bash
# ecplan_catalog_load() and the db.h helpers against real tables, through
# tests/support/catalog_dump (prints the catalog as JSON):
#   keys (composite primary key, unique NOT NULL index, none, old/new column
#   in the key), hostile names, every kind of index on the column, the
#   dependents that block dropping it, defaults (volatile or not), long
#   transactions, advisory lock holders, SQLSTATEs, connection resolution and
#   that no password ever reaches a message.
source "$(dirname "$0")/lib.sh"
it_setup

DUMP=${ECPLAN_BUILD_DIR:?}/tests/catalog_dump
[[ -x "$DUMP" ]] || fail "catalog_dump not built: $DUMP"
SERVER_VERSION=$(q "show server_version_num")
# The interpreter itself, not a wrapper such as a pyenv shim: j runs it often.
PY=$(python3 -c 'import sys; print(sys.executable)')

# plan NAME TABLE COLUMN NEW_COLUMN: writes $IT_TMP/NAME.json, prints its path.
# TABLE is the plan's "table" string (quoted as SQL where needed).
plan() {
	"$PY" - "$IT_TMP/$1.json" "$1" "$2" "$3" "$4" <<'EOF'
import json, sys
path, name, table, column, new_column = sys.argv[1:]
with open(path, "w", encoding="utf-8") as f:
    json.dump({"format": "ecplan/v1", "name": name, "table": table,
               "change": {"column": column, "new_column": new_column}}, f, ensure_ascii=False)
EOF
	echo "$IT_TMP/$1.json"
}

# dump PLAN-ARGS...: runs catalog_dump, which must succeed; JSON in $OUT.
dump() {
	assert_exit 0 "$DUMP" "$@"
}

# j EXPR: evaluates a Python expression over the JSON in $OUT (as d); strings
# print raw, anything else as compact JSON.
j() {
	"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":")))
' "$OUT" "$1"
}

# ix NAME EXPR: like j, with x bound to the index called NAME.
ix() {
	j "[($2) for x in d['indexes'] if x['name'] == '$1'][0]"
}

# ---------------------------------------------------------------------------
# A table with a composite primary key and every kind of index on `sku`.
q "
CREATE TABLE parent_codes (code text PRIMARY KEY);
CREATE TABLE items (
    tenant  int NOT NULL,
    id      bigint NOT NULL,
    sku     text NOT NULL,
    other   text,
    qty     int CHECK (qty > 0),
    PRIMARY KEY (tenant, id),
    CONSTRAINT items_sku_key UNIQUE (tenant, sku),
    CONSTRAINT items_sku_fk FOREIGN KEY (sku) REFERENCES parent_codes (code),
    CONSTRAINT items_sku_len CHECK (length(sku) < 100)
);
CREATE INDEX items_sku_desc ON items (sku DESC);
CREATE INDEX items_sku_pattern ON items (sku text_pattern_ops);
CREATE INDEX items_pred_only ON items (other) WHERE sku <> '';
CREATE INDEX items_lower ON items (lower(sku) COLLATE \"C\");
CREATE INDEX items_include ON items (tenant) INCLUDE (sku);
CREATE INDEX items_multi_partial ON items (tenant, sku NULLS FIRST, id) WHERE other IS NOT NULL;
CREATE INDEX items_hash ON items USING hash (sku);
CREATE INDEX items_other ON items (other);
CREATE TABLE refs (id int, tenant int, sku text,
    CONSTRAINT refs_item_fk FOREIGN KEY (tenant, sku) REFERENCES items (tenant, sku));
CREATE VIEW items_v AS SELECT tenant, sku FROM items;
CREATE VIEW other_v AS SELECT tenant, other FROM items;
CREATE MATERIALIZED VIEW items_mv AS SELECT upper(sku) AS u FROM items;
ALTER TABLE items ADD COLUMN sku_upper text GENERATED ALWAYS AS (upper(sku)) STORED;
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_pol ON items USING (sku <> 'hidden');
CREATE POLICY items_pol_other ON items USING (other <> 'hidden');
"
P=$(plan items-sku public.items sku sku_v2)
dump "$P"
assert_eq true "$(j "d['table_exists']")" "items exists"
assert_eq r "$(j "d['relkind']")" "ordinary table"
assert_eq "$SERVER_VERSION" "$(j "d['server_version_num']")" "server_version_num"
assert_eq '{"name":"sku","attnum":3,"type":"text","not_null":true,"default":null,"default_volatile":false,"identity":null,"generated":false,"generation_expr":null,"collation":null,"inherited":false,"owned_sequence":null,"comment":null}' \
	"$(j "d['column']")" "old column info"
assert_eq null "$(j "d['new_column']")" "new column does not exist yet"
assert_eq '["tenant","id"]' "$(j "d['key_columns']")" "composite primary key, in index order"
assert_eq '["integer","bigint"]' "$(j "d['key_types']")" "key types"
assert_eq 'primary key "items_pkey"' "$(j "d['key_source']")" "key source"

# Indexes on sku, by name; not items_other, not the primary key.
assert_eq '["items_hash","items_include","items_lower","items_multi_partial","items_pred_only","items_sku_desc","items_sku_key","items_sku_pattern"]' \
	"$(j "[x['name'] for x in d['indexes']]")" "every index that uses sku, and only those"
if [[ $SERVER_VERSION -ge 150000 ]]; then
	q "CREATE UNIQUE INDEX items_sku_nnd ON items (sku, other) NULLS NOT DISTINCT"
	dump "$P"
	assert_eq true "$(ix items_sku_nnd "x['nulls_not_distinct']")" "NULLS NOT DISTINCT (PG 15+)"
	assert_eq false "$(ix items_sku_key "x['nulls_not_distinct']")" "plain unique"
	q "DROP INDEX items_sku_nnd"
	dump "$P"
fi

# Unique constraint, multi-column: sku second.
assert_eq '[true,false,true,"items_sku_key","u"]' \
	"$(ix items_sku_key "[x['unique'], x['primary'], x['valid'], x['constraint_name'], x['constraint_type']]")" \
	"unique constraint index"
assert_eq '["tenant","sku"]' "$(ix items_sku_key "[k['name'] for k in x['keys']]")" "unique constraint columns"
assert_contains "$(ix items_sku_key "x['definition']")" "CREATE UNIQUE INDEX items_sku_key ON public.items USING btree (tenant, sku)" \
	"definition is pg_get_indexdef"
# DESC (NULLS FIRST is DESC's default).
assert_eq '[{"name":"sku","expression":null,"opclass":null,"collation":null,"desc":true,"nulls_first":true}]' \
	"$(ix items_sku_desc "x['keys']")" "DESC index"
# Non-default operator class, qualified.
assert_eq '[{"name":"sku","expression":null,"opclass":"pg_catalog.text_pattern_ops","collation":null,"desc":false,"nulls_first":false}]' \
	"$(ix items_sku_pattern "x['keys']")" "non-default opclass"
# Expression with a collation that is not the expression's default.
assert_eq '[{"name":null,"expression":"lower(sku)","opclass":null,"collation":"pg_catalog.\"C\"","desc":false,"nulls_first":false}]' \
	"$(ix items_lower "x['keys']")" "expression index with COLLATE"
assert_eq true "$(ix items_lower "x['uses_column_in_expression']")" "expression uses the column"
# INCLUDE.
assert_eq '["tenant"]' "$(ix items_include "[k['name'] for k in x['keys']]")" "INCLUDE index key"
assert_eq '["sku"]' "$(ix items_include "x['include']")" "INCLUDE columns"
assert_eq false "$(ix items_include "x['uses_column_in_expression']")" "INCLUDE is not an expression"
# Partial multi-column.
assert_eq '[["tenant",false,false],["sku",false,true],["id",false,false]]' \
	"$(ix items_multi_partial "[[k['name'], k['desc'], k['nulls_first']] for k in x['keys']]")" \
	"multi-column keys, NULLS FIRST on sku"
assert_eq "(other IS NOT NULL)" "$(ix items_multi_partial "x['predicate']")" "predicate"
assert_eq false "$(ix items_multi_partial "x['uses_column_in_expression']")" "predicate does not use sku"
# The column only in the predicate.
assert_eq "(sku <> ''::text)" "$(ix items_pred_only "x['predicate']")" "predicate on sku"
assert_eq true "$(ix items_pred_only "x['uses_column_in_expression']")" "column in predicate counts"
assert_eq '["other"]' "$(ix items_pred_only "[k['name'] for k in x['keys']]")" "predicate-only index keys"
assert_eq hash "$(ix items_hash "x['method']")" "access method"
assert_eq btree "$(ix items_sku_desc "x['method']")" "access method btree"
assert_eq null "$(ix items_sku_desc "x['constraint_name']")" "plain index backs no constraint"

# Dependents (what ecplan refuses): views, materialized view, generated column,
# policy; not other_v, not items_pol_other; the FK from the column and the CHECK
# constraint are carried over (dep_fkey.c, dep_check.c), and the FK that
# references the column is dep_fkey_in.c's (carried when the plan changes its
# column too, else refused: it.key_referenced), so they are not dependents.
assert_eq '["generated column sku_upper of public.items","materialized view public.items_mv","policy items_pol on public.items","view public.items_v"]' \
	"$(j "d['dependents']")" "dependents of sku"
assert_eq '["items_sku_len CHECK ((length(sku) < 100))"]' "$(j "d['check_constraints']")" "check constraints on sku"

# A column nothing depends on.
dump "$(plan items-other public.items other other_v2)"
assert_eq '["policy items_pol_other on public.items","view public.other_v"]' "$(j "d['dependents']")" \
	"dependents of other"
assert_eq '["items_multi_partial","items_other","items_pred_only"]' "$(j "[x['name'] for x in d['indexes']]")" \
	"indexes of other (a predicate counts)"
dump "$(plan items-qty public.items qty qty_v2)"
assert_eq '[]' "$(j "d['dependents']")" "no dependents"
assert_eq '[]' "$(j "d['indexes']")" "no indexes"
assert_eq '["items_qty_check CHECK ((qty > 0))"]' "$(j "d['check_constraints']")" "column CHECK constraint"

# Missing column, missing table: not errors.
dump "$(plan items-nocol public.items nosuch nosuch2)"
assert_eq null "$(j "d['column']")" "missing column"
assert_eq '[]' "$(j "d['indexes']")" "no indexes for a missing column"
assert_eq '["tenant","id"]' "$(j "d['key_columns']")" "key still read"
dump "$(plan notable public.nosuchtable a b)"
assert_eq false "$(j "d['table_exists']")" "missing table"
assert_eq '[false,null,null,[]]' "$(j "[d['has_oid'], d['relkind'], d['column'], d['key_columns']]")" "missing table: nothing else"
dump "$(plan noschema nosuchschema.items a b)"
assert_eq false "$(j "d['table_exists']")" "table looked up in the plan's schema only"

# ---------------------------------------------------------------------------
# No primary key: the first (by name) unique index on NOT NULL columns with
# no expression, no predicate and default opclasses.
q "
CREATE TABLE uq (code text NOT NULL, alt int NOT NULL, maybe int, payload text);
CREATE UNIQUE INDEX uq_a_nullable ON uq (maybe);
CREATE UNIQUE INDEX uq_b_partial ON uq (alt) WHERE alt > 0;
CREATE UNIQUE INDEX uq_c_expr ON uq (lower(code));
CREATE UNIQUE INDEX uq_d_pattern ON uq (code text_pattern_ops);
CREATE UNIQUE INDEX uq_d_collate ON uq (code COLLATE \"POSIX\");
ALTER TABLE uq ADD CONSTRAINT uq_e_alt UNIQUE (alt);
CREATE UNIQUE INDEX uq_f_code ON uq (code);
"
dump "$(plan uq-payload public.uq payload payload2)"
assert_eq '["alt"]' "$(j "d['key_columns']")" "unique NOT NULL key"
assert_eq '["integer"]' "$(j "d['key_types']")" "its type"
assert_eq 'unique constraint "uq_e_alt"' "$(j "d['key_source']")" "key from a unique constraint"
# The old column is in that key: the next candidate.
dump "$(plan uq-alt public.uq alt alt2)"
assert_eq '["code"]' "$(j "d['key_columns']")" "key avoids the old column"
assert_eq 'unique index "uq_f_code"' "$(j "d['key_source']")" "key from a unique index"
assert_eq uq_f_code "$(j "d['key_index']")" "key index name"
# One candidate has the old column, the other the new one: no key.
dump "$(plan uq-alt-code public.uq alt code)"
assert_eq '[[],null,null]' "$(j "[d['key_columns'], d['key_source'], d['key_index']]")" "no usable key"
# An invalid index is no key either.
q "CREATE TABLE uqinv (a int NOT NULL, b text);
   CREATE UNIQUE INDEX uqinv_a ON uqinv (a);
   UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'uqinv_a'::regclass;"
dump "$(plan uqinv public.uqinv b b2)"
assert_eq '[]' "$(j "d['key_columns']")" "invalid unique index is not a key"

# No key at all, and defaults: volatile or not.
q "
CREATE SEQUENCE dseq;
CREATE TABLE defs (
    id  int GENERATED BY DEFAULT AS IDENTITY,
    a   int DEFAULT nextval('dseq'),
    b   timestamptz DEFAULT now(),
    c   float8 DEFAULT random() * 2,
    d   text DEFAULT 'x',
    e   int DEFAULT 1 + 2,
    f   serial,
    g   timestamptz DEFAULT clock_timestamp(),
    h   text COLLATE \"C\" DEFAULT ''
);
"
dump "$(plan defs-a public.defs a b)"
assert_eq '[]' "$(j "d['key_columns']")" "no key at all"
assert_eq null "$(j "d['key_source']")" "no key source"
assert_eq "nextval('dseq'::regclass)" "$(j "d['column']['default']")" "nextval default"
assert_eq true "$(j "d['column']['default_volatile']")" "nextval is volatile"
assert_eq "now()" "$(j "d['new_column']['default']")" "now() default"
assert_eq false "$(j "d['new_column']['default_volatile']")" "now() is not volatile"
dump "$(plan defs-c public.defs c d)"
assert_eq true "$(j "d['column']['default_volatile']")" "random() * 2 is volatile"
assert_eq "'x'::text" "$(j "d['new_column']['default']")" "constant default"
assert_eq false "$(j "d['new_column']['default_volatile']")" "constant is not volatile"
dump "$(plan defs-id public.defs id e)"
assert_eq '["d",null,true]' "$(j "[d['column']['identity'], d['column']['default'], d['column']['default_volatile']]")" \
	"identity column counts as volatile"
assert_eq '["(1 + 2)",false]' "$(j "[d['new_column']['default'], d['new_column']['default_volatile']]")" "operator default"
dump "$(plan defs-f public.defs f g)"
assert_eq '[true,true,true]' "$(j "[d['column']['default_volatile'], d['column']['not_null'], d['new_column']['default_volatile']]")" \
	"serial and clock_timestamp() are volatile"
assert_eq '["public.defs_f_seq",null]' "$(j "[d['column']['owned_sequence'], d['new_column']['owned_sequence']]")" \
	"serial's owned sequence"
dump "$(plan defs-id2 public.defs id a)"
assert_eq '["public.defs_id_seq",null]' "$(j "[d['column']['owned_sequence'], d['new_column']['owned_sequence']]")" \
	"identity's sequence; nextval('dseq') owns nothing"
dump "$(plan defs-h public.defs h d)"
assert_eq 'pg_catalog."C"' "$(j "d['column']['collation']")" "non-default column collation"
assert_eq null "$(j "d['new_column']['collation']")" "default collation is null"

q "INSERT INTO defs (a) SELECT g FROM generate_series(1, 1000) g; ANALYZE defs;"
dump "$(plan defs-size public.defs a b)"
assert_eq 1000 "$(j "int(d['reltuples'])")" "reltuples after ANALYZE"
assert_eq true "$(j "d['relation_bytes'] > 8192")" "relation size"
dump "$(plan uq-size public.uq payload payload2)"
# A never-analyzed table: -1 from PostgreSQL 14 on, 0 on 13.
if (($(q "SHOW server_version_num") >= 140000)); then
	assert_eq -1 "$(j "int(d['reltuples'])")" "reltuples -1 before ANALYZE"
else
	assert_eq 0 "$(j "int(d['reltuples'])")" "reltuples 0 before ANALYZE (PostgreSQL 13)"
fi

# ---------------------------------------------------------------------------
# Hostile names, the new column's ecplan marker, a view and an index on them.
q '
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Weird ""Table""" ("ID" int PRIMARY KEY, "naïve col" varchar(40), "Naïve ""New"" Col" text);
COMMENT ON COLUMN "My Schema"."Weird ""Table"""."Naïve ""New"" Col" IS '"'"'ecplan:weird-quoted-names: added by expand'"'"';
CREATE INDEX "Weird ""Idx""" ON "My Schema"."Weird ""Table""" ("naïve col" COLLATE "C" DESC NULLS LAST);
CREATE VIEW "My Schema"."Weird ""View""" AS SELECT "naïve col" FROM "My Schema"."Weird ""Table""";
CREATE TABLE "My Schema".plain (x int);
'
W=$(plan weird-quoted-names '"My Schema"."Weird ""Table"""' 'naïve col' 'Naïve "New" Col')
dump "$W"
assert_eq true "$(j "d['table_exists']")" "weird table found"
assert_eq '["naïve col",2,"character varying(40)"]' "$(j "[d['column']['name'], d['column']['attnum'], d['column']['type']]")" "weird column"
assert_eq 'Naïve "New" Col' "$(j "d['new_column']['name']")" "weird new column"
assert_eq 'ecplan:weird-quoted-names: added by expand' "$(j "d['new_column']['comment']")" "comment read back"
assert_eq true "$(j "d['new_column_is_ours']")" "new column carries this plan's marker"
assert_eq '["ID"]' "$(j "d['key_columns']")" "weird key column"
assert_eq '["view \"My Schema\".\"Weird \"\"View\"\"\""]' "$(j "d['dependents']")" "view named with quote_ident"
assert_eq 'Weird "Idx"' "$(j "d['indexes'][0]['name']")" "weird index name"
assert_eq '{"name":"naïve col","expression":null,"opclass":null,"collation":"pg_catalog.\"C\"","desc":true,"nulls_first":false}' \
	"$(j "d['indexes'][0]['keys'][0]")" "weird index key"
for other in 'ecplan:weird-quoted-names-2: x' 'ecplan:other-plan: x' 'not ecplan:weird-quoted-names' 'ECPLAN:weird-quoted-names:'; do
	q "COMMENT ON COLUMN \"My Schema\".\"Weird \"\"Table\"\"\".\"Naïve \"\"New\"\" Col\" IS :'c'" -v c="$other"
	dump "$W"
	assert_eq false "$(j "d['new_column_is_ours']")" "comment [$other] is not this plan's"
done
q "COMMENT ON COLUMN \"My Schema\".\"Weird \"\"Table\"\"\".\"Naïve \"\"New\"\" Col\" IS 'ecplan:weird-quoted-names'"
dump "$W"
assert_eq true "$(j "d['new_column_is_ours']")" "bare marker"
# Names are compared exactly: case matters, and the schema is the plan's.
dump "$(plan weird-case '"My Schema"."weird ""table"""' 'naïve col' x)"
assert_eq false "$(j "d['table_exists']")" "case-sensitive table name"
dump "$(plan weird-plain '"My Schema".plain' x y)"
assert_eq '[true,"x",null]' "$(j "[d['table_exists'], d['column']['name'], d['new_column']]")" "table in a quoted schema"

# ---------------------------------------------------------------------------
# The old column is the primary key, the new column has a unique index: the
# primary key being changed is the key the backfill walks (the old column stays
# until contract); the new column never makes the key.
q "CREATE TABLE pkold (id int PRIMARY KEY, nk int NOT NULL UNIQUE, v text);"
dump "$(plan pkold public.pkold id nk)"
assert_eq '["id"]' "$(j "d['key_columns']")" "the primary key being changed is walked; never the new column"
assert_eq '["pkold_pkey"]' "$(j "[x['name'] for x in d['indexes']]")" "the primary key index is listed"
assert_eq '[true,true,"pkold_pkey","p"]' \
	"$(ix pkold_pkey "[x['primary'], x['unique'], x['constraint_name'], x['constraint_type']]")" "primary key index"

# Partitioning: partition key of the parent, inherited column of a partition.
q "
CREATE TABLE parted (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE parted_eu PARTITION OF parted FOR VALUES IN ('eu');
"
dump "$(plan parted public.parted region region2)"
assert_eq p "$(j "d['relkind']")" "partitioned table"
assert_eq '["partition key of public.parted"]' "$(j "d['dependents']")" "partition key blocks"
# (the change of a primary key column is itself refused: the partition key above,
# and a partitioned table's key by dep_index.c; the key it would walk is the key)
assert_eq '["id","region"]' "$(j "d['key_columns']")" "the primary key, old column included"
dump "$(plan parted-eu public.parted_eu region region2)"
assert_eq true "$(j "d['column']['inherited']")" "partition column is inherited"
assert_eq '["column inherited from public.parted"]' "$(j "d['dependents']")" "inherited column blocks"
dump "$(plan parted-v public.parted v v2)"
assert_eq '[[],["id","region"]]' "$(j "[d['dependents'], d['key_columns']]")" "non-key column of a partitioned table"

# Anything else with a normal dependency: an SQL-standard function body.
if [[ $SERVER_VERSION -ge 140000 ]]; then
	q "CREATE TABLE fbody (id int PRIMARY KEY, v int);
	   CREATE FUNCTION fbody_sum() RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT sum(v) FROM fbody; END;"
	dump "$(plan fbody public.fbody v v2)"
	assert_eq '["function fbody_sum()"]' "$(j "d['dependents']")" "SQL-standard function body"
fi

# ---------------------------------------------------------------------------
# Sessions: long transactions, advisory lock holder, lock timeout SQLSTATE.
FIFO=$IT_TMP/holder.fifo
mkfifo "$FIFO"
psql -XAtq -v ON_ERROR_STOP=1 <"$FIFO" >"$IT_TMP/holder.out" 2>&1 &
HOLDER_JOB=$!
exec 3>"$FIFO"
it_defer "exec 3>&- 2>/dev/null; wait $HOLDER_JOB 2>/dev/null || true"
# Waits until the holder session has printed `want` lines.
holder_wait() {
	local want=$1 i
	for ((i = 0; i < 100; i++)); do
		[[ $(wc -l <"$IT_TMP/holder.out") -ge $want ]] && return 0
		sleep 0.1
	done
	fail "holder session did not answer: $(cat "$IT_TMP/holder.out")"
}
echo "SELECT pg_backend_pid();" >&3
holder_wait 1
HOLDER_PID=$(head -n 1 "$IT_TMP/holder.out")

LT=$(plan items-lt public.items sku sku_v2)
dump --long-tx 0 "$LT"
assert_eq '[]' "$(j "d")" "no transaction holds items"
echo "BEGIN; SELECT count(*) FROM items; SELECT 'ready';" >&3
holder_wait 3
sleep 1.2
dump --long-tx 1 "$LT"
assert_eq "[[$HOLDER_PID,\"psql\",\"idle in transaction\"]]" "$(j "[[t['pid'], t['application_name'], t['state']] for t in d]")" \
	"idle-in-transaction session holding items"
assert_eq "SELECT 'ready';" "$(j "d[0]['query']")" "its last query"
assert_eq true "$(j "d[0]['xact_age_s'] >= 1")" "its age"
dump --long-tx 3600 "$LT"
assert_eq '[]' "$(j "d")" "younger than max age"
dump --long-tx 0 "$(plan uq-lt public.uq payload p2)"
assert_eq '[]' "$(j "d")" "no lock on another table"
# Lock timeout: the holder takes ACCESS EXCLUSIVE, we time out with 55P03.
echo "LOCK TABLE items IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&3
holder_wait 4
assert_exit 1 "$DUMP" --lock-timeout 100 --query "SELECT count(*) FROM items"
assert_eq '["55P03",true]' "$(j "[d['error']['sqlstate'], d['error']['lock_timeout']]")" "lock_not_available is recognisable"
assert_contains "$(j "d['error']['message']")" "lock timeout" "server message"
echo "COMMIT;" >&3

# Advisory lock: the holder takes it, we cannot, and see who has it.
echo "SELECT pg_advisory_lock(hashtextextended('ecplan:plan:catalog-test', 0)); SELECT 'adv';" >&3
holder_wait 6
dump --lock ecplan:plan:catalog-test
assert_eq false "$(j "d['got']")" "advisory lock is taken"
assert_contains "$(j "d['holder']")" "pid $HOLDER_PID (application_name \"psql\", user \"" "holder pid and application_name"
assert_contains "$(j "d['holder']")" "connected since 20" "holder since"
assert_contains "$(j "d['holder']")" "state idle" "holder state"
dump --lock ecplan:plan:other-key
assert_eq true "$(j "d['got']")" "a different key is free"
assert_contains "$(j "d['holder']")" "pid $(j "d['own_pid']") (application_name \"ecplan\"" "we hold it now, as ecplan"
echo "SELECT pg_advisory_unlock_all(); SELECT 'unlocked';" >&3
holder_wait 8
dump --lock ecplan:plan:catalog-test
assert_eq true "$(j "d['got']")" "free after the holder releases it"
exec 3>&-
wait "$HOLDER_JOB" || true

# ---------------------------------------------------------------------------
# Query errors: message, detail, hint and SQLSTATE from the server.
assert_exit 1 "$DUMP" --query "SELECT 1/0"
assert_eq '["division by zero","22012",false]' "$(j "[d['error']['message'], d['error']['sqlstate'], d['error']['lock_timeout']]")" \
	"server error"
assert_exit 1 "$DUMP" --query "INSERT INTO parent_codes VALUES ('a'), ('a')"
assert_eq '23505' "$(j "d['error']['sqlstate']")" "unique violation"
assert_contains "$(j "d['error']['detail']")" 'Key (code)=(a) already exists.' "server detail"
assert_exit 1 "$DUMP" --query "DO \$\$BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'det', HINT = 'do this'; END\$\$"
assert_eq '["boom","do this","P0001"]' "$(j "[d['error']['message'], d['error']['hint'], d['error']['sqlstate']]")" "server hint"
assert_contains "$(j "d['error']['detail']")" "det" "detail"
assert_contains "$(j "d['error']['detail']")" "context: PL/pgSQL function" "context goes with the detail"
assert_exit 1 "$DUMP" --query "SELECT pg_terminate_backend(pg_backend_pid())"
assert_eq "connection to the database was lost" "$(j "d['error']['message']")" "lost connection"

# ---------------------------------------------------------------------------
# Connection resolution: --db, ECPLAN_DB, DATABASE_URL, PG*; application_name
# and client_encoding forced.
CUR="SELECT current_database(), current_setting('application_name'), current_setting('client_encoding')"
dump --query "$CUR"
assert_eq "[[\"$IT_DB\",\"ecplan\",\"UTF8\"]]" "$(j "d['rows']")" "PG* defaults, application_name=ecplan"
dump --db "dbname=$IT_DB application_name=other client_encoding=LATIN1" --query "$CUR"
assert_eq "[[\"$IT_DB\",\"ecplan\",\"UTF8\"]]" "$(j "d['rows']")" "application_name and encoding are forced"
dump --db "postgresql:///$IT_DB?host=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$PGHOST")&application_name=uri" --query "$CUR"
assert_eq "[[\"$IT_DB\",\"ecplan\",\"UTF8\"]]" "$(j "d['rows']")" "URI"
assert_exit 0 env PGDATABASE=postgres ECPLAN_DB="dbname=$IT_DB" DATABASE_URL="dbname=nosuchdb" "$DUMP" --query "$CUR"
assert_eq "$IT_DB" "$(j "d['rows'][0][0]")" "ECPLAN_DB wins over DATABASE_URL and PGDATABASE"
assert_exit 0 env PGDATABASE=postgres DATABASE_URL="dbname=$IT_DB" "$DUMP" --query "$CUR"
assert_eq "$IT_DB" "$(j "d['rows'][0][0]")" "DATABASE_URL wins over PGDATABASE"
assert_exit 0 env PGDATABASE=nosuchdb ECPLAN_DB="dbname=$IT_DB" "$DUMP" --db "$IT_DB" --query "$CUR"
assert_eq "$IT_DB" "$(j "d['rows'][0][0]")" "--db with a bare database name wins"

# Failures name the target and never the password.
assert_exit 1 "$DUMP" --db "dbname=nosuchdb_ecplan user=$PGUSER password=sekret1" --query "SELECT 1"
assert_contains "$(cat "$ERR")" "could not connect to the database (host=" "target described"
assert_contains "$(cat "$ERR")" "dbname=nosuchdb_ecplan user=$PGUSER)" "target: dbname and user"
assert_contains "$(cat "$ERR")" 'database "nosuchdb_ecplan" does not exist' "libpq's reason"
assert_contains "$(cat "$ERR")" "hint: check the --db connection string" "hint"
assert_not_contains "$(cat "$ERR")" sekret1 "password from --db not shown"
assert_exit 1 env ECPLAN_DB="postgresql://bob:sekret2@localhost:1/app?connect_timeout=3" PGPASSWORD=sekret3 "$DUMP" --query "SELECT 1"
assert_contains "$(cat "$ERR")" "(host=localhost port=1 dbname=app user=bob)" "URI target"
assert_contains "$(cat "$ERR")" "came from ECPLAN_DB" "says where the settings came from"
assert_not_contains "$(cat "$ERR")" sekret "no password from the URI or PGPASSWORD"
assert_exit 1 env DATABASE_URL="postgresql://bob:sekret4@[::1/app" "$DUMP" --query "SELECT 1"
assert_contains "$(cat "$ERR")" "invalid connection string from DATABASE_URL" "unparsable URI"
assert_not_contains "$(cat "$ERR")" sekret4 "libpq's echo of the URI is blanked"
assert_exit 0 "$DUMP" --describe "postgresql://bob:sekret5@db.example.com:5433/app?password=sekret6"
assert_eq "host=db.example.com port=5433 dbname=app user=bob" "$(cat "$OUT")" "describe_target on a URI"
assert_exit 0 "$DUMP" --describe "host=/tmp/x port=5433 dbname=app user=bob password=sekret7"
assert_eq "host=/tmp/x port=5433 dbname=app user=bob" "$(cat "$OUT")" "describe_target on keywords"

pass
