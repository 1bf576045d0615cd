#!/usr/bin/env bash
# A plan with a new-column default (orders-quantity-bigint: default 1).
#
# Rows inserted after expand but before sync must not get the default in the
# new column: the backfill only fills NULLs, so such a row would stay out of
# agreement and switch would refuse. The default therefore goes in with the
# trigger. After sync, old-code and new-code inserts that leave a column at
# its default are synced from the side that was given. Rolling sync back
# removes the default again.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

sm_mk_orders 3000
P=$src/plans/orders-quantity-bigint.json

assert_exit 0 ecplan advance "$P" --to expand
assert_eq "" "$(q "SELECT column_default FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'quantity_big'")" \
	"expand sets no default on the new column"
# old code, between expand and sync: no trigger yet
gap=$(q "INSERT INTO orders (customer_id, sku, quantity, unit_cents) VALUES (1, 'GAP', 7, 100) RETURNING id")
assert_eq "7|" "$(q "SELECT quantity, quantity_big FROM orders WHERE id = $gap")" "a row inserted before sync leaves the new column NULL"

assert_exit 0 ecplan advance "$P" --to sync
assert_contains "$(q "SELECT column_default FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'quantity_big'")" "1" \
	"sync sets the default, with the trigger"
# old code inserts a non-default quantity: the new column's default must not win
o=$(q "INSERT INTO orders (customer_id, sku, quantity, unit_cents) VALUES (1, 'OLD', 9, 100) RETURNING id")
assert_eq "9|9" "$(q "SELECT quantity, quantity_big FROM orders WHERE id = $o")" "old-code insert after sync"
# new code inserts only the new column: the old column's default (1) must not win
n=$(q "INSERT INTO orders (customer_id, sku, quantity_big, unit_cents) VALUES (1, 'NEW', 5, 100) RETURNING id")
assert_eq "5|5" "$(q "SELECT quantity, quantity_big FROM orders WHERE id = $n")" "new-code insert after sync"

assert_exit 0 ecplan advance "$P" --to backfill
assert_eq "7|7" "$(q "SELECT quantity, quantity_big FROM orders WHERE id = $gap")" "the row from the gap is backfilled"
assert_exit 0 ecplan verify "$P"
assert_contains "$(cat "$OUT")" "divergent (both differ): 0" "0 divergent rows"

assert_exit 0 ecplan rollback "$P" --to expanded
assert_eq "" "$(q "SELECT column_default FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'quantity_big'")" \
	"undoing sync drops the default"
assert_exit 0 ecplan advance "$P" --all
assert_eq "0" "$(q "SELECT count(*) FROM orders WHERE quantity_big IS NULL")" "contracted with every row filled"
pass
