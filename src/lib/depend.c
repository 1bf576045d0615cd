/*
 * The registry of dependent-object kinds and what runs over all of them:
 * loading the inventory, rendering a slot, the preconditions, the listing.
 */
#include "ecplan/depend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/kind.h"
#include "ecplan/render.h"
#include "ecplan/rewrite.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

extern const ecplan_dep_kind ecplan_dep_column;
extern const ecplan_dep_kind ecplan_dep_check;
extern const ecplan_dep_kind ecplan_dep_fkey;
extern const ecplan_dep_kind ecplan_dep_fkey_in;
extern const ecplan_dep_kind ecplan_dep_trigger;
extern const ecplan_dep_kind ecplan_dep_function;
extern const ecplan_dep_kind ecplan_dep_refused;
extern const ecplan_dep_kind ecplan_dep_index;
extern const ecplan_dep_kind ecplan_dep_identity;

/* One line per kind. */
const ecplan_dep_kind *const ecplan_dep_kinds[] = {
	&ecplan_dep_column,
	&ecplan_dep_check,
	&ecplan_dep_fkey,
	&ecplan_dep_fkey_in,
	&ecplan_dep_trigger,
	&ecplan_dep_function,
	&ecplan_dep_refused,
	&ecplan_dep_index,
	&ecplan_dep_identity,
};
const int ecplan_dep_nkinds = (int)(sizeof(ecplan_dep_kinds) / sizeof(ecplan_dep_kinds[0]));

ecplan_dep *ecplan_inventory_add(ecplan_inventory *inv, int kind)
{
	inv->items = ecplan_xrealloc(inv->items, (inv->count + 1) * sizeof(*inv->items));
	ecplan_dep *d = &inv->items[inv->count++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	return d;
}

void ecplan_inventory_release(ecplan_inventory *inv)
{
	for (size_t i = 0; i < inv->count; i++) {
		ecplan_dep *d = &inv->items[i];
		free(d->name);
		free(d->label);
		free(d->definition);
		free(d->copy_name);
		free(d->copy_definition);
		free(d->refusal);
		free(d->comment);
		free(d->extra);
		free(d->other_table);
	}
	free(inv->items);
	inv->items = NULL;
	inv->count = 0;
}

size_t ecplan_inventory_refused(const ecplan_inventory *inv)
{
	size_t n = 0;
	for (size_t i = 0; i < inv->count; i++)
		n += inv->items[i].refusal != NULL;
	return n;
}

int ecplan_depend_load(ecplan_catalog *cat, PGconn *conn, const ecplan_plan *plan, ecplan_error *err)
{
	ecplan_inventory_release(&cat->deps);
	if (!cat->table_exists || !cat->column_exists)
		return 0;
	for (int k = 0; k < ecplan_dep_nkinds; k++) {
		int rc = ecplan_dep_kinds[k]->inventory(&cat->deps, k, conn, plan, cat, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void ecplan_depend_share(ecplan_catalog *const *cats, const ecplan_plan *plan)
{
	size_t n = plan->nchanges ? plan->nchanges : 1;
	for (size_t k = 1; k < n; k++) {
		const ecplan_plan *b = ecplan_plan_change(plan, k);
		for (size_t i = 0; cats[k] && i < k; i++) {
			if (ecplan_plan_change(plan, i)->table_index != b->table_index || !cats[i])
				continue;
			for (size_t y = 0; y < cats[k]->nindexes; y++)
				for (size_t x = 0; !cats[k]->indexes[y].carrier && x < cats[i]->nindexes; x++)
					if (!strcmp(cats[i]->indexes[x].name, cats[k]->indexes[y].name))
						cats[k]->indexes[y].carrier = (int)i + 1;
			for (size_t y = 0; y < cats[k]->deps.count; y++) {
				ecplan_dep *dy = &cats[k]->deps.items[y];
				if (!ecplan_dep_kinds[dy->kind]->shared)
					continue;
				for (size_t x = 0; !dy->carrier && x < cats[i]->deps.count; x++) {
					const ecplan_dep *dx = &cats[i]->deps.items[x];
					if (dx->kind == dy->kind && !strcmp(dx->label, dy->label))
						dy->carrier = (int)i + 1;
				}
			}
		}
	}
}

void ecplan_depend_render(ecplan_steps *out, ecplan_step *st, const ecplan_plan *plan,
			  const ecplan_catalog *cat, ecplan_dep_slot slot)
{
	for (int k = 0; cat && k < ecplan_dep_nkinds; k++) {
		if (ecplan_dep_kinds[k]->render_all)
			ecplan_dep_kinds[k]->render_all(out, st, plan, cat, slot);
		for (size_t i = 0; i < cat->deps.count; i++) {
			const ecplan_dep *d = &cat->deps.items[i];
			if (d->kind == k && !d->refusal && !d->carrier && ecplan_dep_kinds[k]->render)
				ecplan_dep_kinds[k]->render(out, st, plan, cat, d, slot);
		}
	}
}

void ecplan_depend_precheck(char ***problems, size_t *nproblems, PGconn *conn,
			    const ecplan_plan *plan, const ecplan_catalog *cat, ecplan_phase phase)
{
	for (size_t i = 0; cat && i < cat->deps.count; i++) {
		const ecplan_dep *d = &cat->deps.items[i];
		const ecplan_dep_kind *k = ecplan_dep_kinds[d->kind];
		char *p = !d->refusal && !d->carrier && k->precheck ? k->precheck(conn, plan, cat, d, phase) : NULL;
		if (p) {
			ecplan_steps_add_line(problems, nproblems, "%s", p);
			free(p);
		}
	}
}

char *ecplan_depend_describe(const ecplan_catalog *cat)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	if (!cat || !cat->deps.count) {
		ecplan_strbuf_adds(&sb, "nothing else depends on the column\n");
		return ecplan_strbuf_detach(&sb);
	}
	for (int k = 0; k < ecplan_dep_nkinds; k++) {
		bool header = false;
		for (size_t i = 0; i < cat->deps.count; i++) {
			const ecplan_dep *d = &cat->deps.items[i];
			if (d->kind != k)
				continue;
			if (!header && ecplan_dep_kinds[k]->summary && !d->refusal)
				ecplan_strbuf_addf(&sb, "%s: %s\n", ecplan_dep_kinds[k]->name,
						   ecplan_dep_kinds[k]->summary);
			header = header || !d->refusal;
			if (d->refusal)
				ecplan_strbuf_addf(&sb, "  REFUSED %s: %s\n", d->label, d->refusal);
			else if (d->carrier)
				ecplan_strbuf_addf(&sb, "  carried %s with change %d of the plan (it names that "
						   "change's column too)\n", d->label, d->carrier);
			else
				ecplan_strbuf_addf(&sb, "  carried %s%s%s\n", d->label,
						   d->copy_definition ? ": " : "",
						   d->copy_definition ? d->copy_definition : "");
		}
	}
	return ecplan_strbuf_detach(&sb);
}

void ecplan_dep_table(ecplan_strbuf *sb, const ecplan_plan *plan)
{
	ecplan_sql_qualified(sb, plan->schema, plan->table);
}

char *ecplan_dep_copy_name(const char *name)
{
	return ecplan_sql_object_name("", name, "_ecplan");
}

size_t ecplan_dep_table_columns(const ecplan_plan *plan, const char ***olds, const char ***news)
{
	const ecplan_plan *root = ecplan_plan_root(plan);
	size_t n = root->nchanges ? root->nchanges : 1, k = 1;
	*olds = ecplan_xcalloc(n, sizeof(**olds));
	*news = ecplan_xcalloc(n, sizeof(**news));
	(*olds)[0] = plan->column;
	(*news)[0] = plan->new_column;
	for (size_t i = 0; i < n; i++) {
		const ecplan_plan *c = ecplan_plan_change(root, i);
		if (c != plan && c->table_index == plan->table_index) {
			(*olds)[k] = c->column;
			(*news)[k++] = c->new_column;
		}
	}
	return k;
}

char *ecplan_dep_rewrite(const char *sql, size_t from, size_t to, const ecplan_plan *plan, int mode, bool fold,
			 int *count)
{
	const char **olds, **news;
	size_t n = ecplan_dep_table_columns(plan, &olds, &news);
	char *r = ecplan_rewrite_columns(sql, from, to, olds, news, n, mode, fold, count);
	free(olds);
	free(news);
	return r;
}

char *ecplan_dep_substitute_ups(const char *expr, const ecplan_plan *plan)
{
	const char **olds, **news;
	size_t n = ecplan_dep_table_columns(plan, &olds, &news);
	char **ups = ecplan_xcalloc(n, sizeof(*ups));
	for (size_t i = 0; i < n; i++) {
		const ecplan_plan *c = ecplan_plan_find_change(plan, plan->schema, plan->table, olds[i]);
		ups[i] = ecplan_render_up_expr(c ? c : plan);
	}
	char *r = ecplan_rewrite_substitute_many(expr, news, (const char *const *)ups, n, false, NULL);
	for (size_t i = 0; i < n; i++)
		free(ups[i]);
	free(ups);
	free(olds);
	free(news);
	return r;
}

const char *ecplan_dep_new_name(const ecplan_plan *plan, const char *col)
{
	const ecplan_plan *c = ecplan_plan_find_change(plan, plan->schema, plan->table, col);
	return c ? c->new_column : NULL;
}

char *ecplan_dep_row_source(const ecplan_plan *plan, const ecplan_catalog *cat)
{
	ecplan_strbuf from = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&from, "(SELECT ");
	/* Before expand, every new column of the table: the plan's type, or
	 * the old column's (a rename; one expand adds them all). */
	const ecplan_plan *root = ecplan_plan_root(plan);
	for (size_t i = 0; !cat->new_column_exists && i < (root->nchanges ? root->nchanges : 1); i++) {
		const ecplan_plan *c = ecplan_plan_change(root, i);
		if (c != plan && c->table_index != plan->table_index)
			continue;
		if (c == plan) {
			ecplan_strbuf_addf(&from, "CAST(NULL AS %s) AS ", ecplan_change_new_type(c, cat));
		} else if (ecplan_change_retypes(c)) {
			ecplan_strbuf_addf(&from, "CAST(NULL AS %s) AS ", c->type);
		} else {
			ecplan_strbuf_adds(&from, "t.");
			ecplan_sql_ident(&from, c->column);
			ecplan_strbuf_adds(&from, " AS ");
		}
		ecplan_sql_ident(&from, c->new_column);
		ecplan_strbuf_adds(&from, ", ");
	}
	ecplan_strbuf_adds(&from, "t.* FROM ");
	ecplan_sql_qualified(&from, plan->schema, plan->table);
	ecplan_strbuf_adds(&from, " AS t LIMIT 0) AS ecplan_row");
	return ecplan_strbuf_detach(&from);
}

/* Runs sql read-only, rolled back, with the given statement timeout; *out
 * (may be NULL) gets its one value. */
static char *read_only(PGconn *conn, const char *sql, long statement_timeout_ms, char **out)
{
	ecplan_error e;
	ecplan_error_clear(&e);
	char *msg = NULL;
	if (out)
		*out = NULL;
	if (ecplan_db_exec(conn, "BEGIN READ ONLY", &e) < 0 ||
	    ecplan_db_set_local_timeouts(conn, 1000, statement_timeout_ms, &e) < 0 ||
	    (out ? ecplan_db_query_value(out, conn, sql, 0, NULL, &e)
		 : ecplan_db_query(NULL, conn, sql, 0, NULL, &e)) < 0)
		msg = ecplan_xstrfmt("%s", e.message);
	ecplan_db_rollback(conn, NULL);
	return msg;
}

char *ecplan_dep_compile(PGconn *conn, const char *sql)
{
	return read_only(conn, sql, 10000, NULL);
}

char *ecplan_dep_read_value(PGconn *conn, const char *sql, char **out)
{
	return read_only(conn, sql, 0, out);
}

void ecplan_dep_strip_suffix(char *def, const char *suffix)
{
	size_t n = strlen(def), k = strlen(suffix);
	if (n >= k && !strcmp(def + n - k, suffix))
		def[n - k] = '\0';
}

void ecplan_dep_params(char oid[16], char att[16], const ecplan_catalog *cat)
{
	snprintf(oid, 16, "%u", cat->table_oid);
	snprintf(att, 16, "%d", cat->column.attnum);
}

bool ecplan_dep_function_listed(const ecplan_plan *plan, const char *fn)
{
	for (size_t i = 0; i < plan->nfunctions; i++)
		if (!strcmp(plan->functions[i], fn))
			return true;
	return false;
}
