#!/usr/bin/env bash
# The SQL that `ecplan render --db` prints runs, phase by phase, on a real
# server, for every example plan in plans/, and leaves the table in the state
# the plan asks for.
#
# For each plan: create its table as plans/README.md describes (fewer rows),
# with an index on the old column; then for expand, sync, backfill, switch and
# contract in order render that phase with --db (so the catalog is read as it
# is at that moment) and run the SQL with psql. Between phases, "old code" and
# "new code" write rows, and the switch phase's verify query must find no
# divergent rows. At the end the catalog must show the old column gone, the new
# one with the plan's type, NOT NULL where asked, the rebuilt indexes under
# their old names, and no trigger, function or check constraint of ecplan's.
#
# Also: `ecplan render PLAN` without --db exits 0 for every plan and says what
# it could not know ("not known without --db").
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
it_setup

src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${ECPLAN_BIN:-${ECPLAN_BUILD_DIR:-}/ecplan}
[[ -x $bin ]] || fail "ecplan binary not found (ECPLAN_BIN='${ECPLAN_BIN:-}')"
ROWS=2000

# --- render without --db ---------------------------------------------------------
nplans=0
for plan in "$src"/plans/*.json; do
	[[ $(basename "$plan") == schema.json ]] && continue
	nplans=$((nplans + 1))
	for phase in "" expand sync backfill switch contract; do
		args=(render "$plan")
		[[ -n $phase ]] && args+=(--phase "$phase")
		# No database named anywhere: render must not need one.
		assert_exit 0 env -u ECPLAN_DB -u DATABASE_URL "$bin" "${args[@]}"
	done
	assert_exit 0 env -u ECPLAN_DB -u DATABASE_URL "$bin" render "$plan"
	assert_contains "$(cat "$OUT")" "not known without --db" "render $(basename "$plan") without --db lists the unknowns"
	assert_contains "$(cat "$OUT")" "-- phase contract" "render $(basename "$plan") prints every phase"
	assert_exit 0 env -u ECPLAN_DB -u DATABASE_URL "$bin" render "$plan" --rollback
done
((nplans >= 6)) || fail "expected at least 6 example plans, found $nplans"

# --- the tables of plans/README.md ---------------------------------------------------
reset_db() {
	q "SET client_min_messages = warning;
	   DROP TABLE IF EXISTS public.users, public.orders, public.products, public.accounts CASCADE;
	   DROP SCHEMA IF EXISTS \"My Schema\" CASCADE;
	   DROP SCHEMA IF EXISTS ecplan_archive CASCADE;"
	# The trigger functions go into schema ecplan, which "ecplan init" creates.
	ecplan init >/dev/null
}

setup_users() {
	q "CREATE TABLE public.users (
	       id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	       email       varchar(255) NOT NULL,
	       name        text,
	       created_at  timestamptz NOT NULL DEFAULT now(),
	       updated_at  timestamptz NOT NULL DEFAULT now()
	   );
	   CREATE UNIQUE INDEX users_email_key ON public.users (email);
	   CREATE INDEX users_name_idx ON public.users (name);
	   CREATE INDEX users_email_created_idx ON public.users (email, created_at DESC);
	   INSERT INTO public.users (email, name)
	   SELECT 'User' || g || '@Example.COM', 'User ' || g FROM generate_series(1, $ROWS) AS g;"
}

setup_orders() {
	q "CREATE TABLE public.orders (
	       id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	       customer_id  bigint NOT NULL,
	       sku          text NOT NULL,
	       quantity     integer NOT NULL DEFAULT 1 CHECK (quantity > 0),
	       unit_cents   bigint NOT NULL,
	       created_at   timestamptz NOT NULL DEFAULT now()
	   );
	   CREATE INDEX orders_customer_id_idx ON public.orders (customer_id);
	   CREATE INDEX orders_quantity_idx ON public.orders (quantity);
	   INSERT INTO public.orders (customer_id, sku, quantity, unit_cents)
	   SELECT g % 5000, 'SKU-' || (g % 700), 1 + g % 12, 100 + g % 9900
	   FROM generate_series(1, $ROWS) AS g;"
}

setup_products() {
	q "CREATE TABLE public.products (
	       id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	       sku         text NOT NULL UNIQUE,
	       title       text NOT NULL,
	       price       double precision NOT NULL,
	       created_at  timestamptz NOT NULL DEFAULT now()
	   );
	   CREATE INDEX products_price_idx ON public.products (price);
	   INSERT INTO public.products (sku, title, price)
	   SELECT 'SKU-' || g, 'Product ' || g, round((random() * 500)::numeric, 4)::float8
	   FROM generate_series(1, $ROWS) AS g;"
}

setup_accounts() {
	q "CREATE TABLE public.accounts (
	       id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	       owner_email text NOT NULL,
	       status      varchar(16) NOT NULL DEFAULT 'active',
	       plan_tier   text NOT NULL DEFAULT 'free',
	       created_at  timestamptz NOT NULL DEFAULT now()
	   );
	   CREATE INDEX accounts_status_idx ON public.accounts (status);
	   INSERT INTO public.accounts (owner_email, status)
	   SELECT 'owner' || g || '@example.com', (ARRAY['active', 'suspended', 'closed'])[1 + g % 3]
	   FROM generate_series(1, $ROWS) AS g;"
}

setup_weird() {
	q "CREATE SCHEMA \"My Schema\";
	   CREATE TABLE \"My Schema\".\"Weird \"\"Table\"\"\" (
	       id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	       \"naïve col\" varchar(40),
	       created_at  timestamptz NOT NULL DEFAULT now()
	   );
	   CREATE INDEX \"Weird \"\"idx\"\"\" ON \"My Schema\".\"Weird \"\"Table\"\"\" (\"naïve col\");
	   INSERT INTO \"My Schema\".\"Weird \"\"Table\"\"\" (\"naïve col\")
	   SELECT 'Value ' || g FROM generate_series(1, $ROWS) AS g;"
}

# --- running the phases -----------------------------------------------------------------

# render_phase PLAN PHASE: the phase's SQL, rendered with the catalog, into $IT_TMP/PHASE.sql
render_phase() {
	assert_exit 0 "$bin" render "$1" --db "dbname=$PGDATABASE" --phase "$2"
	cp "$OUT" "$IT_TMP/$2.sql"
}

# run_file FILE: runs a script of statements one by one, as psql does without
# -1: each statement in its own transaction, so CREATE INDEX CONCURRENTLY
# (which cannot run inside a transaction block) works.
run_file() {
	psql -X -q -v ON_ERROR_STOP=1 -f "$1" >"$IT_TMP/psql.out" 2>&1 ||
		fail "psql failed on $1: $(cat "$IT_TMP/psql.out")"$'\n'"--- SQL ---"$'\n'"$(cat "$1")"
}

# check_verify QUERY-FILE: the verify query of a phase finds nothing divergent
# (and nothing where the new column differs from up(old)).
check_verify() {
	local file=$1 sql res
	sql=$(grep -m1 '^SELECT count(\*) FILTER' "$file") || fail "no verify query in $file"
	res=$(q "$sql")
	IFS='|' read -r new_differs _ divergent total <<<"$res"
	assert_eq 0 "$divergent" "$plan_name: verify: divergent rows ($res)"
	assert_eq 0 "$new_differs" "$plan_name: verify: rows where new <> up(old) ($res)"
	assert_ne 0 "$total" "$plan_name: verify: the table has rows"
}

# run_plan PLAN TABLE OLD NEW TYPE NOT_NULL OLD_INSERT NEW_INSERT INDEX...
# (the greps below look for a literal "$1", the batch's first parameter)
# shellcheck disable=SC2016
run_plan() {
	local plan=$1 table=$2 old=$3 new=$4 type=$5 not_null=$6 old_insert=$7 new_insert=$8
	shift 8
	local indexes=("$@")
	plan_name=$(basename "$plan" .json)
	local qold qnew
	qold=$(q "SELECT quote_ident(:'c')" -v c="$old")
	qnew=$(q "SELECT quote_ident(:'c')" -v c="$new")

	# expand
	render_phase "$plan" expand
	run_file "$IT_TMP/expand.sql"
	assert_eq 1 "$(q "SELECT count(*) FROM pg_attribute WHERE attrelid = '$table'::regclass
	                  AND attname = :'c' AND NOT attisdropped" -v c="$new")" "$plan_name: expand adds $new"

	# sync: from now on old code's writes reach the new column
	render_phase "$plan" sync
	run_file "$IT_TMP/sync.sql"
	local nulls
	nulls=$(q "SELECT count(*) FROM $table WHERE $qnew IS NULL")
	assert_eq "$ROWS" "$nulls" "$plan_name: before the backfill no row has $new"
	q "$old_insert"
	assert_eq "$nulls" "$(q "SELECT count(*) FROM $table WHERE $qnew IS NULL")" \
		"$plan_name: an old-code insert after sync fills $new"
	assert_eq "$((ROWS + 1))" "$(q "SELECT count(*) FROM $table")" "$plan_name: the old-code row is there"

	# backfill. The batch UPDATE takes the key range as $n parameters, which
	# the runner binds per batch (PQexecParams); psql cannot bind them. So the
	# test runs every other statement of the phase as rendered, and in place of
	# the batch loop one full UPDATE equivalent to running every batch: the
	# rendered statement without its key-range condition, inside a transaction
	# with SET LOCAL ecplan.backfill = '<plan>' as the runner's batches do (so
	# the sync trigger skips these writes, exactly as it does for the real
	# backfill).
	render_phase "$plan" backfill
	local batch full
	assert_eq 1 "$(grep -c '^UPDATE .*\$1' "$IT_TMP/backfill.sql")" "$plan_name: one batch UPDATE in the backfill"
	batch=$(grep '^UPDATE .*\$1' "$IT_TMP/backfill.sql")
	full=$(printf '%s\n' "$batch" | sed -E 's/ WHERE .* <= \([^)]*\) AND / WHERE /')
	assert_not_contains "$full" '$' "$plan_name: the full UPDATE has no parameters left"
	assert_contains "$full" " IS NULL AND " "$plan_name: the full UPDATE keeps the batch's own conditions"
	q "BEGIN; SET LOCAL ecplan.backfill = '$plan_name'; $full COMMIT;"
	# Everything but the batch's transaction (BEGIN; ... the batch's SELECT
	# and UPDATE with their $n parameters ...; COMMIT;).
	awk '/^BEGIN;$/ { blk = $0 "\n"; inblk = 1; next }
	     inblk { blk = blk $0 "\n"; if ($0 ~ /\$1/) batch = 1
	             if ($0 == "COMMIT;") { if (!batch) printf "%s", blk; inblk = 0; batch = 0 }
	             next }
	     { print }' "$IT_TMP/backfill.sql" >"$IT_TMP/backfill-rest.sql"
	assert_not_contains "$(cat "$IT_TMP/backfill-rest.sql")" '$1' "$plan_name: the batch's statements are left out"
	run_file "$IT_TMP/backfill-rest.sql"
	assert_eq 0 "$(q "SELECT count(*) FROM $table WHERE $qnew IS NULL")" "$plan_name: backfill fills every row"
	for ix in "${indexes[@]}"; do
		assert_eq 1 "$(q "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		                  WHERE i.indrelid = '$table'::regclass AND c.relname = :'n' AND i.indisvalid" \
			-v n="${ix}_ecplan")" "$plan_name: backfill builds ${ix}_ecplan (valid)"
	done

	# switch
	render_phase "$plan" switch
	check_verify "$IT_TMP/switch.sql"
	run_file "$IT_TMP/switch.sql"
	q "$new_insert"
	assert_eq 0 "$(q "SELECT count(*) FROM $table WHERE $qold IS NULL AND $qnew IS NOT NULL")" \
		"$plan_name: a new-code insert after switch fills $old"

	# contract
	render_phase "$plan" contract
	check_verify "$IT_TMP/contract.sql"
	local rows
	rows=$(q "SELECT count(*) FROM $table")
	run_file "$IT_TMP/contract.sql"

	# The catalog afterwards, checked with SQL.
	assert_eq 0 "$(q "SELECT count(*) FROM pg_attribute WHERE attrelid = '$table'::regclass
	                  AND attname = :'c' AND NOT attisdropped" -v c="$old")" "$plan_name: $old is gone"
	assert_eq "$type|$not_null" "$(q "SELECT format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
	                  WHERE attrelid = '$table'::regclass AND attname = :'c' AND NOT attisdropped" -v c="$new")" \
		"$plan_name: $new has the plan's type and NOT NULL"
	assert_eq 0 "$(q "SELECT count(*) FROM $table WHERE $qnew IS NULL")" "$plan_name: no row lost its value"
	assert_eq "$rows" "$(q "SELECT count(*) FROM $table")" "$plan_name: no row lost"
	for ix in "${indexes[@]}"; do
		assert_eq 1 "$(q "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		                  WHERE i.indrelid = '$table'::regclass AND c.relname = :'n' AND i.indisvalid
		                    AND i.indkey::int2[] @> ARRAY[(SELECT attnum FROM pg_attribute
		                        WHERE attrelid = '$table'::regclass AND attname = :'c')]" \
			-v n="$ix" -v c="$new")" "$plan_name: index $ix is back under its name, on $new"
		assert_eq 0 "$(q "SELECT count(*) FROM pg_class WHERE relname = :'n'" -v n="${ix}_ecplan")" \
			"$plan_name: no ${ix}_ecplan left"
	done
	assert_eq 0 "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = '$table'::regclass AND NOT tgisinternal")" \
		"$plan_name: the sync trigger is gone"
	assert_eq 0 "$(q "SELECT count(*) FROM pg_proc WHERE proname LIKE 'ecplan\_sync\_%'")" \
		"$plan_name: the sync function is gone"
	assert_eq 0 "$(q "SELECT count(*) FROM pg_constraint WHERE conname LIKE 'ecplan\_not\_null\_%'")" \
		"$plan_name: the NOT NULL check is gone"
	assert_eq "$rows" "$(q "SELECT count(*) FROM ecplan_archive.\"$plan_name\"")" \
		"$plan_name: the old values are archived"
}

reset_db
setup_users
run_plan "$src/plans/users-full-name.json" public.users name full_name text f \
	"INSERT INTO public.users (email, name) VALUES ('old-code@example.com', 'Old Code')" \
	"INSERT INTO public.users (email, full_name) VALUES ('new-code@example.com', 'New Code')" \
	users_name_idx
assert_eq "Old Code|New Code" "$(q "SELECT string_agg(full_name, '|' ORDER BY id) FROM public.users
                                   WHERE email LIKE '%-code@example.com'")" "users-full-name: app rows"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE id <= $ROWS AND full_name <> 'User ' || id")" \
	"users-full-name: backfilled values"

reset_db
setup_users
run_plan "$src/plans/users-email-lower.json" public.users email email_normalized text t \
	"INSERT INTO public.users (email) VALUES ('Old.Code@Example.COM')" \
	"INSERT INTO public.users (email_normalized) VALUES ('new.code@example.com')" \
	users_email_created_idx users_email_key
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE id <= $ROWS
                  AND email_normalized <> lower('User' || id || '@Example.COM')")" \
	"users-email-lower: backfilled values are lower-cased"
assert_eq "User1@Example.COM" "$(q "SELECT email FROM ecplan_archive.\"users-email-lower\" WHERE id = 1")" \
	"users-email-lower: the archive keeps the mixed-case original"
assert_eq "old.code@example.com" "$(q "SELECT email_normalized FROM public.users WHERE id = $((ROWS + 1))")" \
	"users-email-lower: old-code row"
# users_email_key was a unique index: its replacement is unique too.
assert_eq t "$(q "SELECT indisunique FROM pg_index WHERE indexrelid = 'public.users_email_key'::regclass")" \
	"users-email-lower: users_email_key is still unique"

reset_db
setup_orders
# The new-code insert leaves quantity to its DEFAULT 1: the trigger must see
# that as "not given" and copy quantity_big down (the CHECK (quantity > 0)
# would pass either way; the verify query would not).
run_plan "$src/plans/orders-quantity-bigint.json" public.orders quantity quantity_big bigint t \
	"INSERT INTO public.orders (customer_id, sku, quantity, unit_cents) VALUES (1, 'SKU-OLD', 5, 100)" \
	"INSERT INTO public.orders (customer_id, sku, quantity_big, unit_cents) VALUES (1, 'SKU-NEW', 7, 100)" \
	orders_quantity_idx
assert_eq "5|7" "$(q "SELECT string_agg(quantity_big::text, '|' ORDER BY id) FROM public.orders
                      WHERE sku IN ('SKU-OLD', 'SKU-NEW')")" "orders-quantity-bigint: app rows"
assert_eq "1" "$(q "SELECT column_default FROM information_schema.columns
                    WHERE table_name = 'orders' AND column_name = 'quantity_big'")" \
	"orders-quantity-bigint: the new column has the plan's default"

reset_db
setup_products
run_plan "$src/plans/products-price-numeric.json" public.products price price_numeric "numeric(12,2)" t \
	"INSERT INTO public.products (sku, title, price) VALUES ('SKU-OLD', 'Old', 12.345678)" \
	"INSERT INTO public.products (sku, title, price_numeric) VALUES ('SKU-NEW', 'New', 9.99)" \
	products_price_idx
assert_eq "12.35|9.99" "$(q "SELECT string_agg(price_numeric::text, '|' ORDER BY id) FROM public.products
                            WHERE sku IN ('SKU-OLD', 'SKU-NEW')")" "products-price-numeric: app rows"

reset_db
setup_accounts
run_plan "$src/plans/accounts-status-webhooks.json" public.accounts status lifecycle_state text t \
	"INSERT INTO public.accounts (owner_email, status) VALUES ('old@example.com', 'suspended')" \
	"INSERT INTO public.accounts (owner_email, lifecycle_state) VALUES ('new@example.com', 'trial')" \
	accounts_status_idx
assert_eq "suspended|trial" "$(q "SELECT string_agg(lifecycle_state, '|' ORDER BY id) FROM public.accounts
                                 WHERE owner_email IN ('old@example.com', 'new@example.com')")" \
	"accounts-status-webhooks: app rows"
assert_eq "'active'::text" "$(q "SELECT column_default FROM information_schema.columns
                                 WHERE table_name = 'accounts' AND column_name = 'lifecycle_state'")" \
	"accounts-status-webhooks: the new column has the plan's default"

reset_db
setup_weird
run_plan "$src/plans/weird-quoted-names.json" '"My Schema"."Weird ""Table"""' "naïve col" 'Naïve "New" Col' text f \
	"INSERT INTO \"My Schema\".\"Weird \"\"Table\"\"\" (\"naïve col\") VALUES ('old côde')" \
	"INSERT INTO \"My Schema\".\"Weird \"\"Table\"\"\" (\"Naïve \"\"New\"\" Col\") VALUES ('new côde')" \
	'Weird "idx"'
assert_eq "old côde|new côde" "$(q "SELECT string_agg(\"Naïve \"\"New\"\" Col\", '|' ORDER BY id)
                                    FROM \"My Schema\".\"Weird \"\"Table\"\"\" WHERE id > $ROWS")" \
	"weird-quoted-names: app rows"

pass
