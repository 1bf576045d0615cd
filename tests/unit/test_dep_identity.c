/* Unit tests for dep_identity.c (through the renderer, pure): the contract
 * statements that move an identity to the new column, in their order within
 * the one contract transaction (golden SQL), with hostile names; and the
 * GENERATED ALWAYS guard of the sync trigger. The catalog and its inventory
 * are built by hand, as the unit's inventory would fill them (see the item
 * layout at the top of src/lib/dep_identity.c). */
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
#include "ecplan/plan.h"
#include "ecplan/render.h"
#include "ecplan/strbuf.h"

enum { IDENT_MAIN = 1, IDENT_GRANT, IDENT_COMMENT }; /* dep_identity.c's item numbers */

static ecplan_plan *mkplan(const char *table, const char *column, const char *new_column, const char *extra)
{
	char *text = ecplan_xstrfmt("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"%s\","
				    " \"change\": {\"column\": \"%s\", \"new_column\": \"%s\"%s}}",
				    table, column, new_column, extra);
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	ecplan_plan *plan = NULL;
	if (ecplan_plan_parse(&plan, text, strlen(text), NULL, &d) != 0)
		fail_msg("plan did not parse: %s", text);
	ecplan_diags_release(&d);
	free(text);
	return plan;
}

static int identity_kind(void)
{
	for (int k = 0; k < ecplan_dep_nkinds; k++)
		if (!strcmp(ecplan_dep_kinds[k]->name, "identity"))
			return k;
	fail_msg("no \"identity\" kind in the registry");
	return -1;
}

static ecplan_dep *add(ecplan_catalog *c, long number, const char *seq)
{
	ecplan_dep *d = ecplan_inventory_add(&c->deps, identity_kind());
	d->number = number;
	d->name = ecplan_xstrdup(seq);
	d->label = ecplan_xstrdup("label");
	return d;
}

/* An identity column `col` integer NOT NULL, the key, sequence `seq`. */
static ecplan_catalog *cat_identity(const char *col, char identity, const char *seq)
{
	ecplan_catalog *c = ecplan_xcalloc(1, sizeof(*c));
	c->server_version_num = 150000;
	c->table_exists = true;
	c->table_oid = 16384;
	c->relkind = 'r';
	c->column_exists = true;
	c->column.name = ecplan_xstrdup(col);
	c->column.type = ecplan_xstrdup("integer");
	c->column.attnum = 1;
	c->column.not_null = true;
	c->column.identity = identity;
	c->column.default_volatile = true;
	c->column.owned_sequence = ecplan_xstrdup(seq);
	c->reltuples = -1;
	c->nkey = 1;
	c->key_columns = ecplan_xcalloc(1, sizeof(char *));
	c->key_types = ecplan_xcalloc(1, sizeof(char *));
	c->key_columns[0] = ecplan_xstrdup(col);
	c->key_types[0] = ecplan_xstrdup("integer");
	ecplan_dep *d = add(c, IDENT_MAIN, seq);
	d->definition = ecplan_xstrdup("ecplan.identity_16390");
	d->extra = ecplan_xstrdup("INCREMENT BY 2");
	d->copy_definition = ecplan_xstrfmt("GENERATED %s AS IDENTITY (SEQUENCE NAME %s START WITH 1 INCREMENT BY 2 "
					    "MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE)",
					    identity == 'a' ? "ALWAYS" : "BY DEFAULT", seq);
	return c;
}

static void assert_stmt(const ecplan_step *st, size_t i, const char *want)
{
	if (i >= st->nstmts)
		fail_msg("step \"%s\" has %zu statements, wanted #%zu: %s", st->name, st->nstmts, i, want);
	assert_string_equal(st->stmts[i].sql, want);
	assert_non_null(st->stmts[i].lock);
}

static void test_contract_moves_identity(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan("public.t", "id", "id_big", ", \"type\": \"bigint\"");
	ecplan_catalog *cat = cat_identity("id", 'a', "public.t_id_seq");
	ecplan_dep *d = add(cat, IDENT_GRANT, "public.t_id_seq");
	d->extra = ecplan_xstrdup("USAGE|app|1");
	d = add(cat, IDENT_COMMENT, "public.t_id_seq");
	d->comment = ecplan_xstrdup("it's the ids");

	ecplan_steps s;
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_CONTRACT);
	const ecplan_step *st = &s.items[s.count - 1];
	assert_true(st->transactional);
	assert_int_equal(st->nstmts, 12);
	assert_stmt(st, 0, "DROP TRIGGER \"zz_ecplan_sync_p\" ON \"public\".\"t\"");
	assert_stmt(st, 1, "DROP FUNCTION \"ecplan\".\"ecplan_sync_p\"()");
	/* Before the drop: no nextval() until commit, then the value is kept. */
	assert_stmt(st, 2, "ALTER SEQUENCE public.t_id_seq INCREMENT BY 2");
	assert_stmt(st, 3, "SELECT pg_catalog.set_config('ecplan.identity_16390', last_value::text || ',' || "
			   "is_called::text, true) FROM public.t_id_seq");
	/* The drop takes the old sequence (no OWNED BY move for an identity). */
	assert_stmt(st, 4, "ALTER TABLE \"public\".\"t\" DROP COLUMN \"id\"");
	assert_stmt(st, 5, "COMMENT ON COLUMN \"public\".\"t\".\"id_big\" IS NULL");
	/* An identity needs NOT NULL first: the renderer's SET NOT NULL comes before. */
	assert_stmt(st, 6, "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"id_big\" SET NOT NULL");
	assert_stmt(st, 7, "ALTER TABLE \"public\".\"t\" DROP CONSTRAINT \"ecplan_not_null_p\"");
	assert_stmt(st, 8, "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"id_big\" ADD GENERATED ALWAYS AS IDENTITY "
			   "(SEQUENCE NAME public.t_id_seq START WITH 1 INCREMENT BY 2 MINVALUE 1 "
			   "MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE)");
	assert_stmt(st, 9, "SELECT pg_catalog.setval(CAST('public.t_id_seq' AS regclass), "
			   "CAST(pg_catalog.split_part(pg_catalog.current_setting('ecplan.identity_16390'), ',', 1) AS bigint), "
			   "CAST(pg_catalog.split_part(pg_catalog.current_setting('ecplan.identity_16390'), ',', 2) AS boolean))");
	assert_stmt(st, 10, "GRANT USAGE ON SEQUENCE public.t_id_seq TO app WITH GRANT OPTION");
	assert_stmt(st, 11, "COMMENT ON SEQUENCE public.t_id_seq IS 'it''s the ids'");
	ecplan_steps_release(&s);

	/* No other phase touches the identity; rollback neither. */
	for (int ph = ECPLAN_PHASE_EXPAND; ph < ECPLAN_PHASE_CONTRACT; ph++) {
		ecplan_render_phase(&s, p, cat, (ecplan_phase)ph);
		for (size_t i = 0; i < s.count; i++)
			for (size_t j = 0; j < s.items[i].nstmts; j++) {
				assert_null(strstr(s.items[i].stmts[j].sql, "SEQUENCE"));
				assert_null(strstr(s.items[i].stmts[j].sql, "IDENTITY"));
			}
		ecplan_steps_release(&s);
		ecplan_render_undo(&s, p, cat, (ecplan_phase)ph);
		for (size_t i = 0; i < s.count; i++)
			for (size_t j = 0; j < s.items[i].nstmts; j++)
				assert_null(strstr(s.items[i].stmts[j].sql, "SEQUENCE"));
		ecplan_steps_release(&s);
	}
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

static void test_hostile_names(void **state)
{
	(void)state;
	/* The sequence name comes SQL-ready from the catalog (quote_ident). */
	const char *seq = "\"My Schema\".\"T \"\"x\"\"_id_seq\"";
	ecplan_plan *p = mkplan("\\\"My Schema\\\".\\\"T \\\"\\\"x\\\"\\\"\\\"", "i'd", "n\\\"ew", "");
	ecplan_catalog *cat = cat_identity("i'd", 'd', seq);
	ecplan_steps s;
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_CONTRACT);
	const ecplan_step *st = &s.items[s.count - 1];
	assert_stmt(st, 2, "ALTER SEQUENCE \"My Schema\".\"T \"\"x\"\"_id_seq\" INCREMENT BY 2");
	assert_stmt(st, 4, "ALTER TABLE \"My Schema\".\"T \"\"x\"\"\" DROP COLUMN \"i'd\"");
	assert_stmt(st, 8, "ALTER TABLE \"My Schema\".\"T \"\"x\"\"\" ALTER COLUMN \"n\"\"ew\" ADD GENERATED BY DEFAULT "
			   "AS IDENTITY (SEQUENCE NAME \"My Schema\".\"T \"\"x\"\"_id_seq\" START WITH 1 INCREMENT BY 2 "
			   "MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE)");
	assert_stmt(st, 9, "SELECT pg_catalog.setval(CAST('\"My Schema\".\"T \"\"x\"\"_id_seq\"' AS regclass), "
			   "CAST(pg_catalog.split_part(pg_catalog.current_setting('ecplan.identity_16390'), ',', 1) AS bigint), "
			   "CAST(pg_catalog.split_part(pg_catalog.current_setting('ecplan.identity_16390'), ',', 2) AS boolean))");
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

static void test_trigger_guard(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan("public.t", "id", "id_big", ", \"type\": \"bigint\"");
	/* GENERATED ALWAYS: a value given for the new column is refused, as
	 * PostgreSQL refuses it once the new column is the identity; the
	 * backfill's own writes return before the guard. */
	ecplan_catalog *cat = cat_identity("id", 'a', "public.t_id_seq");
	for (int new_wins = 0; new_wins < 2; new_wins++) {
		char *f = ecplan_render_trigger_function(p, cat, new_wins);
		const char *mark = strstr(f, "RETURN NEW;\n  END IF;\n");
		const char *guard = strstr(f, "  IF TG_OP = 'INSERT' THEN\n    IF NEW.\"id_big\" IS NOT NULL THEN\n"
					      "      RAISE EXCEPTION USING ERRCODE = '428C9', MESSAGE = 'cannot insert a "
					      "non-DEFAULT value into column \"id_big\"'");
		assert_non_null(mark);
		assert_non_null(guard);
		assert_true(mark < guard);
		assert_non_null(strstr(f, "  ELSIF NEW.\"id_big\" IS DISTINCT FROM OLD.\"id_big\" THEN\n"
					  "    RAISE EXCEPTION USING ERRCODE = '428C9', MESSAGE = 'column \"id_big\" can "
					  "only be updated to DEFAULT'"));
		free(f);
	}
	char *g = ecplan_dep_identity_trigger_guard(p, cat);
	assert_non_null(g);
	free(g);
	ecplan_catalog_free(cat);
	/* BY DEFAULT: a given value is what PostgreSQL accepts too. */
	cat = cat_identity("id", 'd', "public.t_id_seq");
	assert_null(ecplan_dep_identity_trigger_guard(p, cat));
	char *f = ecplan_render_trigger_function(p, cat, true);
	assert_null(strstr(f, "428C9"));
	free(f);
	ecplan_catalog_free(cat);
	/* No catalog: nothing known, no guard. */
	assert_null(ecplan_dep_identity_trigger_guard(p, NULL));
	ecplan_plan_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract_moves_identity),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_trigger_guard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
