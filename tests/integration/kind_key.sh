#!/usr/bin/env bash
# Kinds of change (include/ecplan/kind.h) on the real server, through the binary.
#
# 1. Classification: `check --json` gives "kind" (top level, null with several
#    changes, and per entry of "changes"): a rename of a plain column, a type
#    change of a plain column, a serial primary key to bigint (key change), and
#    a unique non-key column that another table's foreign key references,
#    changed with the referencing column in one plan (key change + type
#    change). The text of `check` says "<column> is a <kind>: ...".
# 2. Refused before anything changes (exit 3, the failed item named on stderr
#    and in check --json, the table's catalog unchanged, no ecplan trigger or
#    function, the plan registered but still planned):
#    a. a numeric key (1.2, 1.4, 2) to integer with the default up: the
#       uniqueness proof of the primary key names the duplicate (1) and its rows;
#    b. a key to json (no default btree operator class): "the new type can be
#       a key" fails, and only it (the uniqueness proof is not run on a type
#       that cannot be grouped);
#    c. a type that does not exist: "change.type names a type on the server",
#       for a plain column and for a key (a key change is a type change too),
#       and advance names that item first (before "up" compiles).
# 3. Widening (integer key -> bigint, default up): expand's check has the ok
#    item "the new key values are unique" without a scan; the plan runs to
#    switch; verify --json at backfilled and at switched: kind "key change",
#    key_duplicates 0, exit 0.
# 4. key_duplicates: a text key renamed with up = lower(code). The proof
#    passes at expand and sync; then the application inserts codes that differ
#    from existing ones only by case (the sync trigger fills the new column;
#    its unique index comes only at backfill). verify counts the rows that
#    share a new key value (2, then 4), exits 3 with one JSON error object;
#    backfill is refused naming the duplicate; rollback restores the schema.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

q "CREATE TABLE public.people (id serial PRIMARY KEY, name text, age integer);
   INSERT INTO public.people (name, age) SELECT 'n' || g, g FROM generate_series(1, 30) g;
   CREATE TABLE public.projects (id serial PRIMARY KEY, title text NOT NULL);
   INSERT INTO public.projects (title) SELECT 'p' || g FROM generate_series(1, 200) g;
   CREATE TABLE public.accounts (id serial PRIMARY KEY, ext_id integer NOT NULL UNIQUE, label text);
   CREATE TABLE public.orders (id serial PRIMARY KEY,
     account_ext integer REFERENCES public.accounts (ext_id), qty integer);
   INSERT INTO public.accounts (ext_id, label) SELECT 100 + g, 'a' || g FROM generate_series(1, 10) g;
   INSERT INTO public.orders (account_ext, qty) SELECT 101 + g % 10, g FROM generate_series(1, 30) g;
   CREATE TABLE public.prices (p numeric PRIMARY KEY, note text);
   INSERT INTO public.prices VALUES (1.2, 'a'), (1.4, 'b'), (2, 'c');
   CREATE TABLE public.tags (code text PRIMARY KEY, note text);
   INSERT INTO public.tags VALUES ('1', 'a'), ('\"x\"', 'b'), ('[2]', 'c');
   CREATE TABLE public.docs (id integer PRIMARY KEY, body text);
   INSERT INTO public.docs SELECT g, 'd' || g FROM generate_series(1, 5) g;
   CREATE TABLE public.misc (id serial PRIMARY KEY, size integer);
   INSERT INTO public.misc (size) SELECT g FROM generate_series(1, 5) g;
   CREATE TABLE public.codes (code text PRIMARY KEY, label text NOT NULL);
   INSERT INTO public.codes SELECT c, 'l' || c FROM unnest(ARRAY['a', 'b', 'c', 'd', 'e', 'f']) c;" >/dev/null

# mkplan NAME TABLE CHANGE: $IT_TMP/NAME.json with "change": CHANGE (JSON).
mkplan() {
	printf '{"format": "ecplan/v1", "name": "%s", "table": "%s", "change": %s}\n' "$1" "$2" "$3" >"$IT_TMP/$1.json"
}
# failed FILE: the names of the failed preconditions in check --json output FILE.
failed() { sm_json "$1" '[p["name"] for p in d["preconditions"] if not p["ok"]]'; }
# item FILE NAME: "ok|detail" of the precondition NAME, "absent" without it.
item() {
	"$SM_PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(next((str(p["ok"]) + "|" + str(p["detail"]) for p in d["preconditions"] if p["name"] == sys.argv[2]), "absent"))' "$1" "$2"
}
# ecplan_objects TABLE PLAN: the plan's sync triggers on TABLE plus its functions in schema ecplan.
ecplan_objects() {
	q "SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = :'t'::regclass AND NOT tgisinternal
	             AND tgname LIKE '%ecplan%')
	        + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'ecplan_sync_' || replace(:'p', '-', '_') || '%')" \
		-v t="$1" -v p="$2"
}
# refused NAME TABLE ITEM [SAYS]: advance NAME is refused (exit 3) before
# expand, its error naming ITEM (advance names the first failed precondition;
# SAYS instead when another comes first), and changes nothing; check --json
# lists ITEM as failed.
refused() {
	local name=$1 table=$2 it=$3 says=${4:-$3} before
	before=$(sm_catalog "$table")
	assert_exit 3 ecplan advance "$IT_TMP/$name.json"
	assert_contains "$(cat "$ERR")" "precondition of phase expand failed" "$name: refused before expand"
	assert_contains "$(cat "$ERR")" "$says" "$name: advance says why"
	assert_eq "$before" "$(sm_catalog "$table")" "$name: the table is unchanged (no new column, no trigger)"
	assert_eq 0 "$(ecplan_objects "$table" "$name")" "$name: no ecplan trigger or function"
	assert_eq planned "$(sm_state "$name")" "$name: registered, still planned"
	assert_exit 3 ecplan check --json "$IT_TMP/$name.json"
	assert_eq "False" "$(item "$OUT" "$it" | cut -d'|' -f1)" "$name: check --json: \"$it\" failed"
}

# --- 1. classification ---------------------------------------------------------
mkplan ren public.people '{"column": "name", "new_column": "full_name"}'
mkplan typ public.people '{"column": "age", "new_column": "age_big", "type": "bigint"}'
mkplan pk public.projects '{"column": "id", "new_column": "id_big", "type": "bigint"}'
cat >"$IT_TMP/ref.json" <<'EOF'
{ "format": "ecplan/v1", "name": "ref", "table": "public.accounts",
  "changes": [
    { "column": "ext_id", "new_column": "ext_id_big", "type": "bigint" },
    { "table": "public.orders", "column": "account_ext", "new_column": "account_ext_big", "type": "bigint" } ] }
EOF
for spec in 'ren|rename|["rename"]' 'typ|type change|["type change"]' 'pk|key change|["key change"]' \
	'ref|null|["key change", "type change"]'; do
	IFS='|' read -r name kind kinds <<<"$spec"
	assert_exit 0 ecplan check --json "$IT_TMP/$name.json"
	assert_eq "$kind" "$(sm_json "$OUT" 'd["kind"]')" "$name: check --json kind"
	assert_eq "$kinds" "$(sm_json "$OUT" '[c["kind"] for c in d["changes"]]')" "$name: check --json kind of each change"
done
assert_exit 0 ecplan check "$IT_TMP/pk.json"
assert_contains "$(cat "$OUT")" "id is a key change: " "check says the key's kind"
assert_exit 0 ecplan check "$IT_TMP/ref.json"
assert_contains "$(cat "$OUT")" "accounts.ext_id is a key change: " "check: the referenced unique column is a key change"
assert_contains "$(cat "$OUT")" "orders.account_ext is a type change: " "check: the referencing column is a type change"
assert_exit 0 ecplan check "$IT_TMP/ren.json"
assert_contains "$(cat "$OUT")" "name is a rename: " "check says a rename"
assert_not_contains "$(cat "$OUT")" "is a key change" "a plain column is no key change"

# --- 2. refused before anything changes -----------------------------------------
# a. numeric key 1.2, 1.4, 2 -> integer: 1.2 and 1.4 both become 1.
mkplan num public.prices '{"column": "p", "new_column": "p_int", "type": "integer"}'
refused num public.prices '"up" gives no duplicate in unique index prices_pkey'
assert_eq '["\"up\" gives no duplicate in unique index prices_pkey"]' "$(failed "$OUT")" "num: only the proof fails"
assert_contains "$(item "$OUT" '"up" gives no duplicate in unique index prices_pkey')" \
	'gives (1) for 2 rows (keys (1.2), (1.4))' "num: the duplicate value and its rows are named"
assert_eq "absent" "$(item "$OUT" "the new key values are unique")" "num: numeric -> integer can merge values: proved by a scan"
assert_eq "1.2,1.4,2" "$(q "SELECT string_agg(p::text, ',' ORDER BY p) FROM public.prices")" "num: data untouched"
# b. a key to json: no default btree operator class.
mkplan js public.tags '{"column": "code", "new_column": "code_json", "type": "json"}'
refused js public.tags "the new type can be a key (it has a default btree operator class)"
assert_eq '["the new type can be a key (it has a default btree operator class)"]' "$(failed "$OUT")" \
	"js: only the key-type item fails (up, down and the type itself are fine)"
assert_contains "$(item "$OUT" "the new type can be a key (it has a default btree operator class)")" \
	"could not identify an ordering operator for type json" "js: says why"
assert_eq "True|None" "$(item "$OUT" "change.type names a type on the server")" "js: the type exists"
# c. a type the server does not have: a plain column, then a key.
mkplan nt public.misc '{"column": "size", "new_column": "size_x", "type": "no_such_type_xyz"}'
refused nt public.misc "change.type names a type on the server"
assert_contains "$(item "$OUT" "change.type names a type on the server")" '$.change.type is "no_such_type_xyz": no such type' \
	"nt: names the type"
mkplan ntk public.docs '{"column": "id", "new_column": "id_x", "type": "no_such_type_xyz"}'
refused ntk public.docs "change.type names a type on the server"
assert_eq "key change" "$(sm_json "$OUT" 'd["kind"]')" "ntk: a key change"
assert_eq "absent" "$(item "$OUT" "the new type can be a key (it has a default btree operator class)")" \
	"ntk: the key-type item waits for a type that exists"

# --- 3. integer key widened to bigint: no scan, runs to switch, verify 0 -------------
assert_exit 0 ecplan check --json "$IT_TMP/pk.json"
assert_eq "True|an integer cast to a type at least as wide keeps every value distinct; no scan needed" \
	"$(item "$OUT" "the new key values are unique")" "pk: the new key values are unique, without a scan"
assert_eq "absent" "$(item "$OUT" '"up" gives no duplicate in unique index projects_pkey')" "pk: no uniqueness scan"
assert_eq "True|None" "$(item "$OUT" "the new type can be a key (it has a default btree operator class)")" "pk: bigint can be a key"
assert_exit 0 ecplan advance "$IT_TMP/pk.json" --to backfill
assert_eq backfilled "$(sm_state pk)" "pk: backfilled"
assert_eq "1" "$(q "SELECT count(*) FROM pg_index i WHERE i.indrelid = 'public.projects'::regclass AND i.indisunique
	AND i.indisvalid AND i.indkey::text = (SELECT attnum::text FROM pg_attribute
	WHERE attrelid = 'public.projects'::regclass AND attname = 'id_big')")" "pk: the new key's unique index is built"
for state in backfilled switched; do
	if [[ $state == switched ]]; then
		assert_exit 0 ecplan advance "$IT_TMP/pk.json" --to switch
		assert_eq switched "$(sm_state pk)" "pk: switched"
		q "INSERT INTO public.projects (title) VALUES ('after switch')" >/dev/null
	fi
	assert_exit 0 ecplan verify --json "$IT_TMP/pk.json"
	assert_eq "key change|0|0|$(q "SELECT count(*) FROM public.projects")" \
		"$(sm_json "$OUT" '"|".join(str(d[k]) for k in ("kind", "key_duplicates", "divergent", "rows"))')" \
		"pk: verify --json at $state"
done

# --- 4. key_duplicates: rows that come to share a new key after the proof ------------
mkplan codes public.codes '{"column": "code", "new_column": "code_norm", "up": "lower(code)"}'
original=$(sm_catalog public.codes)
assert_exit 0 ecplan check --json "$IT_TMP/codes.json"
assert_eq "key change" "$(sm_json "$OUT" 'd["kind"]')" "codes: a rename of the key is a key change"
assert_eq "True|None" "$(item "$OUT" '"up" gives no duplicate in unique index codes_pkey')" \
	"codes: a custom up is proved by a scan, and passes"
assert_eq "absent" "$(item "$OUT" "the new key values are unique")" "codes: a custom up may merge values"
assert_exit 0 ecplan advance "$IT_TMP/codes.json" --to sync
assert_eq synced "$(sm_state codes)" "codes: synced"
assert_eq 2 "$(ecplan_objects public.codes codes)" "codes: the sync trigger and its function are there"
# The application writes: 'a' is updated (the trigger fills code_norm = 'a'),
# 'A' inserted (code_norm = 'a' too: no unique index on code_norm before backfill).
q "UPDATE public.codes SET label = label || '!' WHERE code = 'a';
   INSERT INTO public.codes VALUES ('A', 'upper a')" >/dev/null
assert_eq "a|a" "$(q "SELECT string_agg(code_norm, '|' ORDER BY code) FROM public.codes WHERE code_norm IS NOT NULL")" \
	"codes: the sync trigger gave both rows the same new key"
assert_exit 3 ecplan verify --json "$IT_TMP/codes.json"
assert_eq "key change|2|5" "$(sm_json "$OUT" '"|".join(str(d[k]) for k in ("kind", "key_duplicates", "divergent"))')" \
	"codes: 2 rows share a new key (the 5 rows not filled yet are divergent)"
[[ $(wc -l <"$ERR") -eq 1 ]] || fail "codes: verify --json stderr is not one JSON object: $(cat "$ERR")"
assert_eq 'precondition|3|2 rows share a value of the new key "code_norm"|2' \
	"$(sm_json "$ERR" '"|".join(str(x) for x in (d["code"], d["exit_code"], d["message"], len(d["errors"])))')" \
	"codes: one error object with both problems"
# Every row filled through the trigger: only the duplicates are wrong.
q "UPDATE public.codes SET label = label" >/dev/null
assert_exit 3 ecplan verify --json "$IT_TMP/codes.json"
assert_eq "key change|2|0" "$(sm_json "$OUT" '"|".join(str(d[k]) for k in ("kind", "key_duplicates", "divergent"))')" \
	"codes: duplicates alone make verify fail"
assert_eq "1" "$(sm_json "$ERR" 'len(d["errors"])')" "codes: one problem"
q "INSERT INTO public.codes VALUES ('B', 'upper b')" >/dev/null
assert_exit 3 ecplan verify "$IT_TMP/codes.json"
assert_contains "$(cat "$OUT")" "rows sharing a new key value with another row (key change): 4" "codes: two pairs, 4 rows"
assert_contains "$(cat "$ERR")" '4 rows share a value of the new key "code_norm"' "codes: the text error counts them"
# Backfill would build the unique index: refused, naming a duplicate.
assert_exit 3 ecplan advance "$IT_TMP/codes.json"
assert_contains "$(cat "$ERR")" '"up" gives no duplicate in unique index codes_pkey' "codes: backfill refused by the proof"
assert_contains "$(cat "$ERR")" "keys (A), (a)" "codes: the rows are named"
assert_eq synced "$(sm_state codes)" "codes: still synced"
assert_eq "0" "$(q "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
	WHERE i.indrelid = 'public.codes'::regclass AND a.attname = 'code_norm'")" "codes: no index on the new column"
assert_exit 0 ecplan rollback "$IT_TMP/codes.json"
assert_eq rolled_back "$(sm_state codes)" "codes: rolled back"
assert_eq "$original" "$(sm_catalog public.codes)" "codes: the table is back to its original schema"
assert_eq 0 "$(ecplan_objects public.codes codes)" "codes: no ecplan trigger or function left"
assert_eq "8" "$(q "SELECT count(*) FROM public.codes")" "codes: every row kept"
pass
