/* Unit tests for the kinds of change (kind.h: kind.c and kind_*.c), pure:
 * the registry's shape, which kind each change is (from the plan alone and
 * with a catalog built by hand: a primary key, a key other tables
 * reference), the new type and default up/down each kind gives (in a row
 * and in the trigger, with hostile names, and the placeholder without a
 * catalog), what the renderer makes of them, and the key change's verify
 * query. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/catalog.h"
#include "ecplan/depend.h"
#include "ecplan/kind.h"
#include "ecplan/plan.h"
#include "ecplan/render.h"
#include "ecplan/strbuf.h"

static ecplan_plan *mkplan(const char *column, const char *new_column, const char *extra)
{
	char *text = ecplan_xstrfmt("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"public.t\","
				    " \"change\": {\"column\": \"%s\", \"new_column\": \"%s\"%s}}",
				    column, new_column, extra);
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	ecplan_plan *plan = NULL;
	if (ecplan_plan_parse(&plan, text, strlen(text), NULL, &d) != 0)
		fail_msg("plan did not parse: %s", text);
	ecplan_diags_release(&d);
	free(text);
	return plan;
}

/* Table t with column col (type), no index. */
static ecplan_catalog *mkcat(const char *col, const char *type)
{
	ecplan_catalog *c = ecplan_xcalloc(1, sizeof(*c));
	c->server_version_num = 150000;
	c->table_exists = true;
	c->table_oid = 16384;
	c->relkind = 'r';
	c->column_exists = true;
	c->column.name = ecplan_xstrdup(col);
	c->column.type = ecplan_xstrdup(type);
	c->column.attnum = 2;
	c->reltuples = -1;
	return c;
}

/* Adds an index on cols (NULL-terminated) named name; primary or not. */
static void add_index(ecplan_catalog *c, const char *name, bool primary, const char *const *cols)
{
	c->indexes = ecplan_xrealloc(c->indexes, (c->nindexes + 1) * sizeof(*c->indexes));
	ecplan_index_info *ix = &c->indexes[c->nindexes++];
	memset(ix, 0, sizeof(*ix));
	ix->name = ecplan_xstrdup(name);
	ix->method = ecplan_xstrdup("btree");
	ix->unique = true;
	ix->primary = primary;
	ix->valid = true;
	if (primary) {
		ix->constraint_name = ecplan_xstrdup(name);
		ix->constraint_type = 'p';
	}
	while (cols[ix->nkeys])
		ix->nkeys++;
	ix->keys = ecplan_xcalloc(ix->nkeys, sizeof(*ix->keys));
	for (size_t i = 0; i < ix->nkeys; i++)
		ix->keys[i].name = ecplan_xstrdup(cols[i]);
}

static int dep_kind(const char *name)
{
	for (int k = 0; k < ecplan_dep_nkinds; k++)
		if (!strcmp(ecplan_dep_kinds[k]->name, name))
			return k;
	fail_msg("no dependent-object kind \"%s\"", name);
	return -1;
}

static const char *kind_of(const ecplan_plan *plan, const ecplan_catalog *cat)
{
	return ecplan_change_kind_of(ecplan_plan_change(plan, 0), cat)->name;
}

static char *up_of(const ecplan_plan *plan, const char *from)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_change_default_up(&sb, ecplan_plan_change(plan, 0), from);
	return ecplan_strbuf_detach(&sb);
}

static char *down_of(const ecplan_plan *plan, const ecplan_catalog *cat, const char *from)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_change_default_down(&sb, ecplan_plan_change(plan, 0), cat, from);
	return ecplan_strbuf_detach(&sb);
}

static void test_registry(void **state)
{
	(void)state;
	assert_true(ecplan_change_nkinds >= 3);
	for (int k = 0; k < ecplan_change_nkinds; k++) {
		const ecplan_change_kind *kd = ecplan_change_kinds[k];
		assert_non_null(kd->name);
		assert_true(strlen(kd->summary) > 20);
		assert_non_null(kd->matches);
		assert_non_null(kd->new_type);
		assert_non_null(kd->up);
		assert_non_null(kd->down);
		assert_true(!kd->verify == !kd->verify_field);
		assert_true(!kd->verify == !kd->verify_label);
		for (int j = 0; j < k; j++)
			assert_string_not_equal(kd->name, ecplan_change_kinds[j]->name);
	}
	/* The last kind takes every change: a change always has a kind. */
	ecplan_plan *rename = mkplan("a", "b", ""), *retype = mkplan("a", "b", ", \"type\": \"bigint\"");
	const ecplan_change_kind *last = ecplan_change_kinds[ecplan_change_nkinds - 1];
	assert_true(last->matches(rename, NULL) || last->matches(retype, NULL));
	assert_ptr_equal(ecplan_change_kind_of(rename, NULL), last);
	ecplan_plan_free(rename);
	ecplan_plan_free(retype);
}

static void test_rename_and_type(void **state)
{
	(void)state;
	ecplan_plan *rename = mkplan("na\\\"me", "full name", ""),
		    *retype = mkplan("price", "price_new", ", \"type\": \"numeric(12,2)\"");
	ecplan_catalog *cat = mkcat("na\"me", "text"), *pcat = mkcat("price", "double precision");

	assert_string_equal(kind_of(rename, NULL), "rename");
	assert_string_equal(kind_of(rename, cat), "rename");
	assert_string_equal(kind_of(retype, NULL), "type change");
	assert_string_equal(kind_of(retype, pcat), "type change");
	assert_false(ecplan_change_retypes(rename));
	assert_true(ecplan_change_retypes(retype));

	/* A rename keeps the old type, known from the catalog only. */
	assert_null(ecplan_change_new_type(rename, NULL));
	assert_string_equal(ecplan_change_new_type(rename, cat), "text");
	assert_string_equal(ecplan_change_new_type(retype, NULL), "numeric(12,2)");

	char *s = up_of(rename, "");
	assert_string_equal(s, "\"na\"\"me\"");
	free(s);
	s = up_of(rename, "NEW.");
	assert_string_equal(s, "NEW.\"na\"\"me\"");
	free(s);
	s = down_of(rename, cat, "NEW.");
	assert_string_equal(s, "NEW.\"full name\"");
	free(s);

	s = up_of(retype, "NEW.");
	assert_string_equal(s, "CAST(NEW.\"price\" AS numeric(12,2))");
	free(s);
	s = down_of(retype, pcat, "");
	assert_string_equal(s, "CAST(\"price_new\" AS double precision)");
	free(s);
	/* Without the catalog the old type is a placeholder that does not compile. */
	s = down_of(retype, NULL, "");
	assert_string_equal(s, "CAST(\"price_new\" AS /* type of \"price\", known with --db */ unknown)");
	free(s);

	/* The renderer takes the kind's defaults, and the plan's own up/down
	 * over them. */
	s = ecplan_render_up_expr(retype);
	assert_string_equal(s, "CAST(\"price\" AS numeric(12,2))");
	free(s);
	ecplan_plan *own = mkplan("price", "price_new", ", \"type\": \"numeric(12,2)\", \"up\": \"round(price)\"");
	s = ecplan_render_up_expr(own);
	assert_string_equal(s, "round(price)");
	free(s);
	s = ecplan_render_trigger_function(own, pcat, false);
	assert_non_null(strstr(s, "(SELECT (round(price)) FROM (SELECT NEW.*) AS ecplan_row)"));
	assert_non_null(strstr(s, "CAST(NEW.\"price_new\" AS double precision)"));
	free(s);
	ecplan_plan_free(own);

	ecplan_plan_free(rename);
	ecplan_plan_free(retype);
	ecplan_catalog_free(cat);
	ecplan_catalog_free(pcat);
}

static void test_key(void **state)
{
	(void)state;
	static const char *const id[] = { "id", NULL }, *const composite[] = { "tenant", "id", NULL },
				  *const other[] = { "email", NULL };
	ecplan_plan *widen = mkplan("id", "id_big", ", \"type\": \"bigint\""), *rename = mkplan("id", "ident", "");

	/* A unique index that is not the primary key does not make a key change. */
	ecplan_catalog *cat = mkcat("id", "integer");
	add_index(cat, "t_id_key", false, id);
	assert_string_equal(kind_of(widen, cat), "type change");
	/* The primary key does, whatever else the change is. */
	add_index(cat, "t_pkey", true, composite);
	assert_string_equal(kind_of(widen, cat), "key change");
	assert_string_equal(kind_of(rename, cat), "key change");
	/* A primary key on other columns does not. */
	ecplan_catalog *ocat = mkcat("id", "integer");
	add_index(ocat, "t_pkey", true, other);
	assert_string_equal(kind_of(widen, ocat), "type change");
	/* Nor a catalog without the column (contracted). */
	cat->column_exists = false;
	assert_string_equal(kind_of(widen, cat), "type change");
	cat->column_exists = true;

	/* A key change is a rename or a type change of a key: theirs are its
	 * type and expressions. */
	assert_string_equal(ecplan_change_new_type(widen, cat), "bigint");
	assert_string_equal(ecplan_change_new_type(rename, cat), "integer");
	char *s = down_of(widen, cat, "NEW.");
	assert_string_equal(s, "CAST(NEW.\"id_big\" AS integer)");
	free(s);
	s = down_of(rename, cat, "");
	assert_string_equal(s, "\"ident\"");
	free(s);

	/* Its verify counts the rows that share a value of the primary key
	 * with the new column in the old one's place, filled rows only. */
	const ecplan_change_kind *k = ecplan_change_kind_of(widen, cat);
	s = k->verify(widen, cat);
	assert_string_equal(s, "SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM \"public\".\"t\" WHERE "
			       "\"id_big\" IS NOT NULL GROUP BY \"tenant\", \"id_big\" HAVING count(*) > 1) AS ecplan_dup");
	free(s);
	assert_string_equal(k->verify_field, "key_duplicates");

	/* A key other tables reference (the inventory lists a foreign key that
	 * references the column) is a key change too, primary key or not. */
	ecplan_catalog *ref = mkcat("id", "integer");
	add_index(ref, "t_id_key", false, id);
	assert_string_equal(kind_of(widen, ref), "type change");
	ecplan_dep *d = ecplan_inventory_add(&ref->deps, dep_kind("foreign key referencing the column"));
	d->name = ecplan_xstrdup("u_t_fk");
	d->label = ecplan_xstrdup("foreign key \"u_t_fk\" on public.u (references this column)");
	d->number = 1;
	assert_string_equal(kind_of(widen, ref), "key change");
	/* ... but with no primary key on it, verify has nothing to count. */
	assert_null(ecplan_change_kind_of(widen, ref)->verify(widen, ref));
	/* A foreign key that only uses an index naming the column (refused
	 * anyway) does not make the column a key. */
	d->number = 2;
	assert_string_equal(kind_of(widen, ref), "type change");

	ecplan_plan_free(widen);
	ecplan_plan_free(rename);
	ecplan_catalog_free(cat);
	ecplan_catalog_free(ocat);
	ecplan_catalog_free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_rename_and_type),
		cmocka_unit_test(test_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
