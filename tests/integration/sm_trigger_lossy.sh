#!/usr/bin/env bash
# The sync trigger and the backfill on a lossy plan: users-email-lower
# (up lower(email), down email_normalized).
#
# After sync: old-code writes (email) give email_normalized = lower(email);
# new-code writes (email_normalized) give email = email_normalized unchanged;
# inserts from either side fill the other column; before switch the old
# column wins when both change, after switch the new one does.
# The backfill never rewrites the old column (a 'MiXeD@X.com' written before
# sync keeps its case, and so does every sample address), and never
# overwrites a new-column value that new code wrote after sync
# ('Only@New' stays, and email stays 'Only@New' too).
# Then orders-quantity-bigint, where both columns have DEFAULT 1: an INSERT
# that leaves one column at its default counts as not giving it, before and
# after switch.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=tests/support/writers.sh
source "$src/tests/support/writers.sh"
it_setup

N=5000
sm_mk_users $N
P=$src/plans/users-email-lower.json
row() { q "SELECT email || '|' || coalesce(email_normalized, '<null>') FROM public.users WHERE id = $1"; }

# Written by old code before the plan starts.
mixed=$(q "INSERT INTO public.users (email, name) VALUES ('MiXeD@X.com', 'mixed') RETURNING id")

assert_exit 0 ecplan advance "$P" --to sync
assert_eq synced "$(sm_state users-email-lower)" "synced"
assert_eq "MiXeD@X.com|<null>" "$(row "$mixed")" "pre-sync row untouched by expand/sync"

# Old code: UPDATE email.
q "UPDATE public.users SET email = 'Old.Update@X.com' WHERE id = 10" >/dev/null
assert_eq "Old.Update@X.com|old.update@x.com" "$(row 10)" "old-code UPDATE: email_normalized = lower(email), email kept"
# New code: UPDATE email_normalized.
q "UPDATE public.users SET email_normalized = 'New.Update@X.com' WHERE id = 11" >/dev/null
assert_eq "New.Update@X.com|New.Update@X.com" "$(row 11)" "new-code UPDATE: email = email_normalized, unchanged"
# Invariant 2's row: new code writes it after sync, before backfill reaches it.
only=$(q "SELECT id FROM public.users WHERE id = $((N - 3))")
q "UPDATE public.users SET email_normalized = 'Only@New' WHERE id = $only" >/dev/null
assert_eq "Only@New|Only@New" "$(row "$only")" "new-code UPDATE of a row not yet backfilled"
# Old code: INSERT with email only.
oi=$(q "INSERT INTO public.users (email, name) VALUES ('Old.Insert@X.com', 'oi') RETURNING id")
assert_eq "Old.Insert@X.com|old.insert@x.com" "$(row "$oi")" "old-code INSERT fills email_normalized"
# New code: INSERT with email_normalized only (email is NOT NULL: the trigger fills it).
ni=$(q "INSERT INTO public.users (email_normalized, name) VALUES ('New.Insert@X.com', 'ni') RETURNING id")
assert_eq "New.Insert@X.com|New.Insert@X.com" "$(row "$ni")" "new-code INSERT fills email"
# New code that writes both on INSERT: kept as given.
bi=$(q "INSERT INTO public.users (email, email_normalized, name) VALUES ('Both.Insert@X.com', 'both.insert@x.com', 'bi') RETURNING id")
assert_eq "Both.Insert@X.com|both.insert@x.com" "$(row "$bi")" "INSERT of both columns"
# Both columns changed in one UPDATE before switch: the old column wins.
q "UPDATE public.users SET email = 'Both.Old@X.com', email_normalized = 'ignored@x.com' WHERE id = 12" >/dev/null
assert_eq "Both.Old@X.com|both.old@x.com" "$(row 12)" "before switch the old column wins a conflict"
# An UPDATE of another column of a row the backfill has not filled yet fills
# the new column from the old one (an UPDATE of the key could move the row
# behind the backfill's cursor, which never comes back: it.bf_key_update); the
# old column is left alone.
q "UPDATE public.users SET name = 'touched' WHERE id = 13" >/dev/null
assert_eq "User13@Example.COM|user13@example.com" "$(row 13)" "UPDATE of another column fills an unfilled row"
q "UPDATE public.users SET name = 'touched again' WHERE id = 13" >/dev/null
assert_eq "User13@Example.COM|user13@example.com" "$(row 13)" "UPDATE of another column of a filled row changes neither"
# A new-code UPDATE to the value it already has (no change) keeps email.
q "UPDATE public.users SET email_normalized = email_normalized WHERE id = 10" >/dev/null
assert_eq "Old.Update@X.com|old.update@x.com" "$(row 10)" "no-op UPDATE of the new column changes nothing"

q "CREATE TABLE it_before AS SELECT id, email, email_normalized FROM public.users" >/dev/null

assert_exit 0 ecplan advance "$P"
assert_eq backfilled "$(sm_state users-email-lower)" "backfilled"

assert_eq "MiXeD@X.com|mixed@x.com" "$(row "$mixed")" "backfill keeps the old column's case and fills lower()"
assert_eq "Only@New|Only@New" "$(row "$only")" "backfill does not overwrite a new-code value (invariant 2)"
assert_eq "User13@Example.COM|user13@example.com" "$(row 13)" "backfill fills a row touched in another column"
# The backfill never wrote the old column: every email is what it was.
assert_eq 0 "$(q "SELECT count(*) FROM it_before b JOIN public.users u USING (id) WHERE u.email IS DISTINCT FROM b.email")" \
	"backfill left every email as it was"
# ... and only filled NULLs: every value set before backfill is kept.
assert_eq 0 "$(q "SELECT count(*) FROM it_before b JOIN public.users u USING (id)
	WHERE b.email_normalized IS NOT NULL AND u.email_normalized IS DISTINCT FROM b.email_normalized")" \
	"backfill kept every email_normalized written before it"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE id <= $N AND id NOT IN (10, 11, 12, $only)
	AND (email <> 'User' || id || '@Example.COM' OR email_normalized <> lower('User' || id || '@Example.COM'))")" \
	"sample rows: mixed-case email kept, email_normalized lower-cased"
assert_eq 0 "$(q "SELECT count(*) FROM public.users WHERE email_normalized IS NULL")" "no NULL left"
assert_exit 0 ecplan verify "$P"

# After switch the new column is authoritative.
assert_exit 0 ecplan advance "$P"
assert_eq switched "$(sm_state users-email-lower)" "switched"
q "UPDATE public.users SET email = 'After.Old@X.com' WHERE id = 20" >/dev/null
assert_eq "After.Old@X.com|after.old@x.com" "$(row 20)" "after switch: old-code UPDATE still syncs"
q "UPDATE public.users SET email_normalized = 'After.New@X.com' WHERE id = 21" >/dev/null
assert_eq "After.New@X.com|After.New@X.com" "$(row 21)" "after switch: new-code UPDATE syncs back unchanged"
q "UPDATE public.users SET email = 'Loser@X.com', email_normalized = 'Winner@X.com' WHERE id = 22" >/dev/null
assert_eq "Winner@X.com|Winner@X.com" "$(row 22)" "after switch the new column wins a conflict"
oi2=$(q "INSERT INTO public.users (email, name) VALUES ('After.Old.Insert@X.com', 'oi2') RETURNING id")
assert_eq "After.Old.Insert@X.com|after.old.insert@x.com" "$(row "$oi2")" "after switch: old-code INSERT"
ni2=$(q "INSERT INTO public.users (email_normalized, name) VALUES ('After.New.Insert@X.com', 'ni2') RETURNING id")
assert_eq "After.New.Insert@X.com|After.New.Insert@X.com" "$(row "$ni2")" "after switch: new-code INSERT"
assert_exit 0 ecplan verify "$P"

# Contract keeps the new column's values, including the lossy ones.
assert_exit 0 ecplan advance "$P"
assert_eq contracted "$(sm_state users-email-lower)" "contracted"
assert_eq "Only@New" "$(q "SELECT email_normalized FROM public.users WHERE id = $only")" "Only@New survives contract"
assert_eq "mixed@x.com" "$(q "SELECT email_normalized FROM public.users WHERE id = $mixed")" "mixed row after contract"
assert_eq "MiXeD@X.com" "$(q "SELECT email FROM ecplan_archive.\"users-email-lower\" WHERE id = $mixed")" \
	"the archive keeps the original mixed-case email"

# --- defaults on both sides: orders-quantity-bigint ----------------------------
sm_mk_orders 2000
PO=$src/plans/orders-quantity-bigint.json
ord() { q "SELECT quantity || '|' || coalesce(quantity_big::text, '<null>') FROM public.orders WHERE id = $1"; }
ins() { q "INSERT INTO public.orders (customer_id, sku, unit_cents$1) VALUES (1, 'SKU-T', 100$2) RETURNING id"; }
assert_exit 0 ecplan advance "$PO" --to sync
id=$(ins ", quantity" ", 7")
assert_eq "7|7" "$(ord "$id")" "orders before switch: old-code INSERT of quantity 7 (quantity_big left at its default)"
id=$(ins ", quantity_big" ", 9")
assert_eq "9|9" "$(ord "$id")" "orders before switch: new-code INSERT of quantity_big 9 (quantity left at its default)"
id=$(ins "" "")
assert_eq "1|1" "$(ord "$id")" "orders before switch: INSERT of neither"
id=$(ins ", quantity, quantity_big" ", 4, 4")
assert_eq "4|4" "$(ord "$id")" "orders before switch: INSERT of both, agreeing"
q "UPDATE public.orders SET quantity = 5 WHERE id = 1" >/dev/null
assert_eq "5|5" "$(ord 1)" "orders before switch: old-code UPDATE"
q "UPDATE public.orders SET quantity_big = 6 WHERE id = 2" >/dev/null
assert_eq "6|6" "$(ord 2)" "orders before switch: new-code UPDATE"
assert_exit 0 ecplan advance "$PO" --to switch
assert_eq switched "$(sm_state orders-quantity-bigint)" "orders switched"
id=$(ins ", quantity" ", 7")
assert_eq "7|7" "$(ord "$id")" "orders after switch: old-code INSERT of quantity 7 (quantity_big left at its default)"
id=$(ins ", quantity_big" ", 9")
assert_eq "9|9" "$(ord "$id")" "orders after switch: new-code INSERT of quantity_big 9 (quantity left at its default)"
id=$(ins "" "")
assert_eq "1|1" "$(ord "$id")" "orders after switch: INSERT of neither"
q "UPDATE public.orders SET quantity = 8 WHERE id = 3" >/dev/null
assert_eq "8|8" "$(ord 3)" "orders after switch: old-code UPDATE"
q "UPDATE public.orders SET quantity_big = 11 WHERE id = 4" >/dev/null
assert_eq "11|11" "$(ord 4)" "orders after switch: new-code UPDATE"
assert_exit 0 ecplan verify "$PO"
assert_eq 0 "$(q "SELECT count(*) FROM public.orders WHERE quantity_big IS DISTINCT FROM quantity::bigint")" \
	"orders: the columns agree everywhere"
pass
