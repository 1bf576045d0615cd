/*
 * Turns a plan (and, when known, the catalog) into the ordered steps of each
 * phase and of its undo. Every identifier is quoted with ecplan_sql_ident();
 * only the plan's up/down/default/type/checks SQL is pasted as written.
 */
#include "ecplan/render.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/depend.h"
#include "ecplan/kind.h"
#include "ecplan/rewrite.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

#define LOCK_AE_META ECPLAN_LOCK_AE_META
#define LOCK_SRE ECPLAN_LOCK_SRE
#define LOCK_NONE ECPLAN_LOCK_NONE
#define LOCK_SUE ECPLAN_LOCK_SUE
#define LOCK_ROWX ECPLAN_LOCK_ROWX
#define LOCK_AS ECPLAN_LOCK_AS
#define LOCK_HELD ECPLAN_LOCK_HELD

/* ---- names --------------------------------------------------------- */

/* ecplan's trigger functions live in schema ecplan, not the table's schema
 * (where the table owner may not be allowed to create). */
static void function_ref(ecplan_strbuf *sb, const char *fn)
{
	ecplan_sql_qualified(sb, ECPLAN_FUNCTION_SCHEMA, fn);
}

/* "" for the first table (or change) of a plan, "_2", "_3", ... after it:
 * a plan with one change keeps the names it always had. */
static void ordinal_suffix(char out[16], int index)
{
	if (index > 0)
		snprintf(out, 16, "_%d", index + 1);
	else
		out[0] = '\0';
}

/* One trigger function and trigger per table of the plan. */
char *ecplan_render_function_name(const ecplan_plan *plan)
{
	char sfx[16];
	ordinal_suffix(sfx, plan->table_index);
	return ecplan_sql_object_name("ecplan_sync_", plan->name, sfx);
}

char *ecplan_render_trigger_name(const ecplan_plan *plan)
{
	/* "zz_" makes it fire after the table's other BEFORE triggers, which run
	 * in name order, so it sees their final values. */
	char sfx[16];
	ordinal_suffix(sfx, plan->table_index);
	return ecplan_sql_object_name("zz_ecplan_sync_", plan->name, sfx);
}

/* One NOT NULL check and one archive table per change. */
char *ecplan_render_check_name(const ecplan_plan *plan)
{
	char sfx[16];
	ordinal_suffix(sfx, plan->change_index);
	return ecplan_sql_object_name("ecplan_not_null_", plan->name, sfx);
}

char *ecplan_render_index_name(const char *old_index)
{
	return ecplan_sql_object_name("", old_index, "_ecplan");
}

char *ecplan_render_archive_table(const ecplan_plan *plan)
{
	char sfx[16];
	ordinal_suffix(sfx, plan->change_index);
	return sfx[0] ? ecplan_sql_object_name("", plan->name, sfx) : ecplan_xstrdup(plan->name);
}

/* ---- expressions ----------------------------------------------------- */

/*
 * True when expr names just the column: double-quoted exactly, or unquoted
 * as PostgreSQL reads it (an unquoted identifier is folded to lower case).
 */
static bool is_bare_column(const char *expr, const char *column)
{
	const char *s = expr;
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *quoted = ecplan_sql_ident_dup(column);
	bool r = n == strlen(quoted) && !strncmp(s, quoted, n);
	free(quoted);
	if (r || n != strlen(column) || n == 0 || isdigit((unsigned char)s[0]))
		return r;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || c == '_' || c == '$' || c >= 0x80))
			return false;
		if ((char)(c < 0x80 ? tolower(c) : c) != column[i])
			return false;
	}
	return true;
}

char *ecplan_render_up_expr(const ecplan_plan *plan)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	if (plan->up)
		ecplan_strbuf_adds(&sb, plan->up);
	else
		ecplan_change_default_up(&sb, plan, "");
	return ecplan_strbuf_detach(&sb);
}

static const char *old_type(const ecplan_catalog *cat)
{
	return cat && cat->column_exists ? cat->column.type : NULL;
}

bool ecplan_render_not_null(const ecplan_plan *plan, const ecplan_catalog *cat)
{
	return plan->not_null || (cat && cat->column_exists && cat->column.not_null);
}

char *ecplan_render_carried_default(const ecplan_plan *plan, const ecplan_catalog *cat)
{
	if (plan->default_expr || !cat || !cat->column_exists || !cat->column.default_expr ||
	    cat->column.identity || cat->column.generated)
		return NULL;
	/* The default itself, as ALTER COLUMN ... TYPE ... USING keeps it:
	 * PostgreSQL coerces it to the new type when it is set (the
	 * preconditions check that it converts); "up" is not applied to it. */
	return ecplan_xstrdup(cat->column.default_expr);
}

char *ecplan_render_down_expr(const ecplan_plan *plan, const ecplan_catalog *cat)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	if (plan->down)
		ecplan_strbuf_adds(&sb, plan->down);
	else
		ecplan_change_default_down(&sb, plan, cat, "");
	return ecplan_strbuf_detach(&sb);
}

/*
 * The plan's expression for one column computed from NEW inside the
 * trigger. A bare column is read straight from NEW (PL/pgSQL's fast path for
 * simple expressions, as the kind's default is); anything else is evaluated
 * against NEW's columns through a one-row subquery, so the plan's expression
 * names columns as in an UPDATE.
 */
static void trigger_expr(ecplan_strbuf *sb, const char *user_expr, const char *source_col)
{
	if (is_bare_column(user_expr, source_col)) {
		ecplan_strbuf_adds(sb, "NEW.");
		ecplan_sql_ident(sb, source_col);
		return;
	}
	ecplan_strbuf_addf(sb, "(SELECT (%s) FROM (SELECT NEW.*) AS ecplan_row)", user_expr);
}

static void new_col(ecplan_strbuf *sb, const char *prefix, const char *col)
{
	ecplan_strbuf_adds(sb, prefix);
	ecplan_sql_ident(sb, col);
}

/* The changes of one table of a plan, each with its catalog (NULL: unknown). */
typedef struct group {
	const ecplan_plan **ch;
	const ecplan_catalog **cat;
	size_t n;
} group;

/* The statements that keep one change's columns in agreement, for a row
 * trigger's body (after the backfill's early return). */
static void trigger_block(ecplan_strbuf *body, const ecplan_plan *plan, const ecplan_catalog *cat,
			  bool new_wins)
{
	ecplan_strbuf up = ECPLAN_STRBUF_INIT, down = ECPLAN_STRBUF_INIT;
	ecplan_strbuf o_default = ECPLAN_STRBUF_INIT, n_default = ECPLAN_STRBUF_INIT;
	ecplan_strbuf set_n = ECPLAN_STRBUF_INIT, set_o = ECPLAN_STRBUF_INIT;
	const char *o = plan->column, *n = plan->new_column;

	if (plan->up)
		trigger_expr(&up, plan->up, o);
	else
		ecplan_change_default_up(&up, plan, "NEW.");
	if (plan->down)
		trigger_expr(&down, plan->down, n);
	else
		ecplan_change_default_down(&down, plan, cat, "NEW.");
	new_col(&set_n, "NEW.", n);
	ecplan_strbuf_addf(&set_n, " := %s;", up.buf);
	new_col(&set_o, "NEW.", o);
	ecplan_strbuf_addf(&set_o, " := %s;", down.buf);

	/* On INSERT a column holding its column default may not have been given
	 * at all: compare with the default, re-evaluated only when it is not
	 * volatile (else "false": it never counts as a default). */
	if (cat && cat->column_exists && cat->column.default_expr && !cat->column.default_volatile) {
		new_col(&o_default, "NEW.", o);
		ecplan_strbuf_addf(&o_default, " IS NOT DISTINCT FROM (%s)", cat->column.default_expr);
	} else {
		ecplan_strbuf_adds(&o_default, "false");
	}
	if (plan->default_expr && !(cat && cat->new_column_exists && cat->new_col.default_volatile)) {
		new_col(&n_default, "NEW.", n);
		ecplan_strbuf_addf(&n_default, " IS NOT DISTINCT FROM (%s)", plan->default_expr);
	} else {
		ecplan_strbuf_adds(&n_default, "false");
	}

	ecplan_strbuf_adds(body, "  IF TG_OP = 'INSERT' THEN\n");
	/* A NULL side is computed from the other; then a side left at its
	 * default is computed from one that is not; only a real conflict
	 * (both given) depends on which side is authoritative. */
	ecplan_strbuf_adds(body, "    IF NEW.");
	ecplan_sql_ident(body, n);
	ecplan_strbuf_addf(body, " IS NULL THEN\n      %s\n    ELSIF NEW.", set_n.buf);
	ecplan_sql_ident(body, o);
	ecplan_strbuf_addf(body, " IS NULL THEN\n      %s\n", set_o.buf);
	/* The losing side left at its default (and the winner not) was not
	 * given: compute it. The opposite case is the ELSE branch anyway. */
	if (new_wins && strcmp(n_default.buf, "false"))
		ecplan_strbuf_addf(body, "    ELSIF (%s) AND NOT (%s) THEN\n      %s\n", n_default.buf,
				   o_default.buf, set_n.buf);
	if (!new_wins && strcmp(o_default.buf, "false"))
		ecplan_strbuf_addf(body, "    ELSIF (%s) AND NOT (%s) THEN\n      %s\n", o_default.buf,
				   n_default.buf, set_o.buf);
	ecplan_strbuf_addf(body, "    ELSE\n      %s\n    END IF;\n", new_wins ? set_o.buf : set_n.buf);
	/* UPDATE: the side that changed drives the other; both changed: the winner. */
	ecplan_strbuf_adds(body, "  ELSIF NEW.");
	ecplan_sql_ident(body, o);
	ecplan_strbuf_adds(body, " IS DISTINCT FROM OLD.");
	ecplan_sql_ident(body, o);
	if (new_wins) {
		ecplan_strbuf_adds(body, " THEN\n    IF NEW.");
		ecplan_sql_ident(body, n);
		ecplan_strbuf_adds(body, " IS NOT DISTINCT FROM OLD.");
		ecplan_sql_ident(body, n);
		ecplan_strbuf_addf(body, " THEN\n      %s\n    ELSE\n      %s\n    END IF;\n",
				   set_n.buf, set_o.buf);
	} else {
		ecplan_strbuf_addf(body, " THEN\n    %s\n", set_n.buf);
	}
	ecplan_strbuf_adds(body, "  ELSIF NEW.");
	ecplan_sql_ident(body, n);
	ecplan_strbuf_adds(body, " IS DISTINCT FROM OLD.");
	ecplan_sql_ident(body, n);
	ecplan_strbuf_addf(body, " THEN\n    %s\n", set_o.buf);
	/* Neither side changed on a row the backfill has not filled yet (an
	 * UPDATE of other columns, its key among them): fill it now. A row
	 * whose key moves behind the backfill's cursor is never walked again. */
	ecplan_strbuf_adds(body, "  ELSIF NEW.");
	ecplan_sql_ident(body, n);
	ecplan_strbuf_addf(body, " IS NULL THEN\n    %s\n  END IF;\n", set_n.buf);

	ecplan_strbuf_release(&up);
	ecplan_strbuf_release(&down);
	ecplan_strbuf_release(&o_default);
	ecplan_strbuf_release(&n_default);
	ecplan_strbuf_release(&set_n);
	ecplan_strbuf_release(&set_o);
}

/* The trigger function of the changes in g (one table). */
static char *trigger_function(const group *g, bool new_wins)
{
	ecplan_strbuf body = ECPLAN_STRBUF_INIT;
	const ecplan_plan *plan = g->ch[0];
	ecplan_strbuf_addf(&body, "\n#variable_conflict use_column\n-- ecplan:%s: keeps ", plan->name);
	for (size_t i = 0; i < g->n; i++) {
		ecplan_strbuf_adds(&body, i == 0 ? "" : i + 1 < g->n ? ", " : " and ");
		ecplan_sql_comment_ident(&body, g->ch[i]->column);
		ecplan_strbuf_adds(&body, " and ");
		ecplan_sql_comment_ident(&body, g->ch[i]->new_column);
	}
	ecplan_strbuf_addf(&body, " in agreement; the %s column%s a conflict\n"
			   "BEGIN\n", new_wins ? "new" : "old", g->n > 1 ? "s win" : " wins");
	/* The backfill marks its own transactions: its writes must never
	 * recompute the old column. Tested here rather than in a trigger WHEN
	 * clause, which PostgreSQL prepares again for every statement: cheaper
	 * for the application's point writes, a little dearer per backfilled row. */
	ecplan_strbuf_adds(&body, "  IF current_setting('ecplan.backfill', true) = ");
	ecplan_sql_literal(&body, plan->name);
	ecplan_strbuf_adds(&body, " THEN\n    RETURN NEW;\n  END IF;\n");
	for (size_t i = 0; i < g->n; i++) { /* GENERATED ALWAYS identities (dep_identity.c) */
		char *guard = ecplan_dep_identity_trigger_guard(g->ch[i], g->cat[i]);
		ecplan_strbuf_adds(&body, guard ? guard : "");
		free(guard);
	}
	for (size_t i = 0; i < g->n; i++)
		trigger_block(&body, g->ch[i], g->cat[i], new_wins);
	ecplan_strbuf_adds(&body, "  RETURN NEW;\nEND\n");

	ecplan_strbuf out = ECPLAN_STRBUF_INIT;
	char *fn = ecplan_render_function_name(plan);
	ecplan_strbuf_adds(&out, "CREATE OR REPLACE FUNCTION ");
	function_ref(&out, fn);
	ecplan_strbuf_adds(&out, "() RETURNS trigger LANGUAGE plpgsql AS ");
	ecplan_sql_dollar_quote(&out, body.buf);
	free(fn);
	ecplan_strbuf_release(&body);
	return ecplan_strbuf_detach(&out);
}

char *ecplan_render_trigger_function(const ecplan_plan *plan, const ecplan_catalog *cat,
				     bool new_wins)
{
	const ecplan_plan *ch[1] = { plan };
	const ecplan_catalog *cats[1] = { cat };
	group g = { ch, cats, 1 };
	return trigger_function(&g, new_wins);
}

/* ---- steps ----------------------------------------------------------- */

static void table_ref(ecplan_strbuf *sb, const ecplan_plan *plan)
{
	ecplan_sql_qualified(sb, plan->schema, plan->table);
}

static bool have_key(const ecplan_catalog *cat)
{
	return cat && cat->nkey > 0;
}

/* Appends the key columns as "k1", "k2", or a placeholder. */
static void key_list(ecplan_strbuf *sb, const ecplan_catalog *cat)
{
	if (!have_key(cat)) {
		ecplan_strbuf_adds(sb, "/* key columns, known with --db */ key");
		return;
	}
	for (size_t i = 0; i < cat->nkey; i++) {
		if (i)
			ecplan_strbuf_adds(sb, ", ");
		ecplan_sql_ident(sb, cat->key_columns[i]);
	}
}

/* The key columns the archive keeps: a key column that is the old column
 * (a primary key being changed) is archived as the new one, which survives. */
static void archive_key_list(ecplan_strbuf *sb, const ecplan_plan *plan, const ecplan_catalog *cat)
{
	if (!have_key(cat)) {
		key_list(sb, cat);
		return;
	}
	for (size_t i = 0; i < cat->nkey; i++) {
		if (i)
			ecplan_strbuf_adds(sb, ", ");
		ecplan_sql_ident(sb, strcmp(cat->key_columns[i], plan->column) ? cat->key_columns[i]
										: plan->new_column);
	}
}

/* Appends ($first::t1, $first+1::t2, ...). */
static void key_params(ecplan_strbuf *sb, const ecplan_catalog *cat, int first)
{
	ecplan_strbuf_addch(sb, '(');
	size_t n = have_key(cat) ? cat->nkey : 1;
	for (size_t i = 0; i < n; i++)
		ecplan_strbuf_addf(sb, "%s$%d::%s", i ? ", " : "", first + (int)i,
				   have_key(cat) ? cat->key_types[i] : "unknown");
	ecplan_strbuf_addch(sb, ')');
}

static const char *new_type(const ecplan_plan *plan, const ecplan_catalog *cat)
{
	return ecplan_change_new_type(plan, cat);
}

char *ecplan_render_batch_bound(const ecplan_plan *plan, const ecplan_catalog *cat, bool has_lower)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	int offset_param = 1;
	ecplan_strbuf_adds(&sb, "SELECT ");
	key_list(&sb, cat);
	ecplan_strbuf_adds(&sb, " FROM ");
	table_ref(&sb, plan);
	if (has_lower) {
		ecplan_strbuf_adds(&sb, " WHERE (");
		key_list(&sb, cat);
		ecplan_strbuf_adds(&sb, ") > ");
		key_params(&sb, cat, 1);
		offset_param = (int)(have_key(cat) ? cat->nkey : 1) + 1;
	}
	ecplan_strbuf_adds(&sb, " ORDER BY ");
	key_list(&sb, cat);
	ecplan_strbuf_addf(&sb, " OFFSET $%d LIMIT 1", offset_param);
	return ecplan_strbuf_detach(&sb);
}

/* The new columns of g as a list for names: "a", "a, b". */
static char *column_list(const group *g, bool new_side)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	for (size_t i = 0; i < g->n; i++)
		ecplan_strbuf_addf(&sb, "%s%s", i ? ", " : "", new_side ? g->ch[i]->new_column : g->ch[i]->column);
	return ecplan_strbuf_detach(&sb);
}

/* The changes of table t of plan; cats[i] belongs to change i (cats NULL:
 * none known). */
static void group_of(group *g, const ecplan_plan *plan, const ecplan_catalog *const *cats, int t)
{
	size_t n = plan->nchanges ? plan->nchanges : 1;
	g->ch = ecplan_xcalloc(n, sizeof(*g->ch));
	g->cat = ecplan_xcalloc(n, sizeof(*g->cat));
	g->n = 0;
	for (size_t i = 0; i < n; i++) {
		const ecplan_plan *c = ecplan_plan_change(plan, i);
		if (c->table_index != t)
			continue;
		g->ch[g->n] = c;
		g->cat[g->n++] = cats ? cats[i] : NULL;
	}
}

static void group_release(group *g)
{
	free(g->ch);
	free(g->cat);
}

static char *batch_update(const group *g, bool has_lower, bool has_upper)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT, fill = ECPLAN_STRBUF_INIT;
	const ecplan_plan *plan = g->ch[0];
	const ecplan_catalog *cat = g->cat[0];
	int nk = (int)(have_key(cat) ? cat->nkey : 1);
	ecplan_strbuf_adds(&sb, "UPDATE ");
	table_ref(&sb, plan);
	ecplan_strbuf_adds(&sb, " SET ");
	/* One change: set the new column where it is NULL. Several: each is
	 * set where it is NULL and kept where it is not (the sync trigger keeps
	 * a filled one in agreement already). */
	for (size_t i = 0; i < g->n; i++) {
		char *up = ecplan_render_up_expr(g->ch[i]);
		ecplan_strbuf_adds(&sb, i ? ", " : "");
		ecplan_sql_ident(&sb, g->ch[i]->new_column);
		if (g->n == 1) {
			ecplan_strbuf_addf(&sb, " = (%s)", up);
		} else {
			ecplan_strbuf_adds(&sb, " = CASE WHEN ");
			ecplan_sql_ident(&sb, g->ch[i]->new_column);
			ecplan_strbuf_addf(&sb, " IS NULL THEN (%s) ELSE ", up);
			ecplan_sql_ident(&sb, g->ch[i]->new_column);
			ecplan_strbuf_adds(&sb, " END");
		}
		ecplan_strbuf_adds(&fill, i ? " OR (" : g->n > 1 ? "(" : "");
		ecplan_sql_ident(&fill, g->ch[i]->new_column);
		ecplan_strbuf_addf(&fill, " IS NULL AND (%s) IS NOT NULL%s", up, g->n > 1 ? ")" : "");
		free(up);
	}
	ecplan_strbuf_adds(&sb, " WHERE ");
	if (has_lower) {
		ecplan_strbuf_addch(&sb, '(');
		key_list(&sb, cat);
		ecplan_strbuf_adds(&sb, ") > ");
		key_params(&sb, cat, 1);
		ecplan_strbuf_adds(&sb, " AND ");
	}
	if (has_upper) {
		ecplan_strbuf_addch(&sb, '(');
		key_list(&sb, cat);
		ecplan_strbuf_adds(&sb, ") <= ");
		key_params(&sb, cat, has_lower ? nk + 1 : 1);
		ecplan_strbuf_adds(&sb, " AND ");
	}
	if (g->n > 1)
		ecplan_strbuf_addf(&sb, "(%s)", fill.buf);
	else
		ecplan_strbuf_adds(&sb, fill.buf);
	ecplan_strbuf_release(&fill);
	return ecplan_strbuf_detach(&sb);
}

char *ecplan_render_batch_update(const ecplan_plan *plan, const ecplan_catalog *cat,
				 bool has_lower, bool has_upper)
{
	const ecplan_plan *ch[1] = { plan };
	const ecplan_catalog *cats[1] = { cat };
	group g = { ch, cats, 1 };
	return batch_update(&g, has_lower, has_upper);
}

char *ecplan_render_target_batch_update(const ecplan_target *t, bool has_lower, bool has_upper)
{
	group g;
	group_of(&g, t->plan, t->cats, t->table);
	char *sql = batch_update(&g, has_lower, has_upper);
	group_release(&g);
	return sql;
}

static char *verify_sql(const group *g)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT, nd = ECPLAN_STRBUF_INIT, od = ECPLAN_STRBUF_INIT,
		      dv = ECPLAN_STRBUF_INIT;
	/* A row agrees when new = up(old) (last written by old code or the
	 * backfill) or old = down(new) (last written by new code); with
	 * several changes, a row diverges when any of them does. */
	for (size_t i = 0; i < g->n; i++) {
		ecplan_strbuf nq = ECPLAN_STRBUF_INIT, oq = ECPLAN_STRBUF_INIT;
		char *up = ecplan_render_up_expr(g->ch[i]), *down = ecplan_render_down_expr(g->ch[i], g->cat[i]);
		const char *sep = i ? " OR " : "";
		ecplan_sql_ident(&nq, g->ch[i]->new_column);
		ecplan_sql_ident(&oq, g->ch[i]->column);
		ecplan_strbuf_addf(&nd, "%s%s IS DISTINCT FROM (%s)", sep, nq.buf, up);
		ecplan_strbuf_addf(&od, "%s%s IS DISTINCT FROM (%s)", sep, oq.buf, down);
		ecplan_strbuf_addf(&dv, g->n > 1 ? "%s(%s IS DISTINCT FROM (%s) AND %s IS DISTINCT FROM (%s))"
						 : "%s%s IS DISTINCT FROM (%s) AND %s IS DISTINCT FROM (%s)",
				   sep, nq.buf, up, oq.buf, down);
		free(up);
		free(down);
		ecplan_strbuf_release(&nq);
		ecplan_strbuf_release(&oq);
	}
	ecplan_strbuf_addf(&sb,
		"SELECT count(*) FILTER (WHERE %s) AS new_differs,"
		" count(*) FILTER (WHERE %s) AS old_differs,"
		" count(*) FILTER (WHERE %s) AS divergent,"
		" count(*) AS total FROM ", nd.buf, od.buf, dv.buf);
	table_ref(&sb, g->ch[0]);
	ecplan_strbuf_release(&nd);
	ecplan_strbuf_release(&od);
	ecplan_strbuf_release(&dv);
	return ecplan_strbuf_detach(&sb);
}

char *ecplan_render_verify(const ecplan_plan *plan, const ecplan_catalog *cat)
{
	const ecplan_plan *ch[1] = { plan };
	const ecplan_catalog *cats[1] = { cat };
	group g = { ch, cats, 1 };
	return verify_sql(&g);
}

char *ecplan_render_divergent_sample(const ecplan_plan *plan, const ecplan_catalog *cat, int limit)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT, nq = ECPLAN_STRBUF_INIT, oq = ECPLAN_STRBUF_INIT;
	char *up = ecplan_render_up_expr(plan), *down = ecplan_render_down_expr(plan, cat);
	ecplan_sql_ident(&nq, plan->new_column);
	ecplan_sql_ident(&oq, plan->column);
	ecplan_strbuf_adds(&sb, "SELECT ");
	key_list(&sb, cat);
	ecplan_strbuf_addf(&sb, ", %s::text, %s::text FROM ", oq.buf, nq.buf);
	table_ref(&sb, plan);
	ecplan_strbuf_addf(&sb, " WHERE %s IS DISTINCT FROM (%s) AND %s IS DISTINCT FROM (%s) LIMIT %d",
			   nq.buf, up, oq.buf, down, limit);
	free(up);
	free(down);
	ecplan_strbuf_release(&nq);
	ecplan_strbuf_release(&oq);
	return ecplan_strbuf_detach(&sb);
}

/* The step at index i (pointers move when steps are added). */
static ecplan_step *step_at(ecplan_steps *out, size_t i)
{
	return &out->items[i];
}

static void render_expand(ecplan_steps *out, const group *g)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	char *cols = column_list(g, true);
	ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "add column%s %s", g->n > 1 ? "s" : "", cols);
	free(cols);
	size_t at = out->count - 1;
	/* One short transaction per table: every new column, its comment and
	 * the old column's privileges, statistics target, storage, options. */
	for (size_t i = 0; i < g->n; i++) {
		const ecplan_plan *plan = g->ch[i];
		const ecplan_catalog *cat = g->cat[i];
		ecplan_strbuf_adds(&sb, "ALTER TABLE ");
		table_ref(&sb, plan);
		ecplan_strbuf_adds(&sb, " ADD COLUMN IF NOT EXISTS ");
		ecplan_sql_ident(&sb, plan->new_column);
		if (new_type(plan, cat)) {
			ecplan_strbuf_addf(&sb, " %s", new_type(plan, cat));
			if (ecplan_dep_column_collation(cat))
				ecplan_strbuf_addf(&sb, " COLLATE %s", ecplan_dep_column_collation(cat));
		} else {
			ecplan_strbuf_adds(&sb, " /* type of ");
			ecplan_sql_comment_ident(&sb, plan->column);
			ecplan_strbuf_adds(&sb, ", known with --db */ unknown");
			ecplan_steps_add_line(&out->unknowns, &out->nunknowns,
				 "the type of \"%s\" (the plan gives no \"type\")", plan->column);
		}
		ecplan_step_add_stmt(step_at(out, at), ecplan_strbuf_detach(&sb),
				     i ? LOCK_HELD : LOCK_AE_META);
		ecplan_strbuf_adds(&sb, "COMMENT ON COLUMN ");
		table_ref(&sb, plan);
		ecplan_strbuf_addch(&sb, '.');
		ecplan_sql_ident(&sb, plan->new_column);
		ecplan_strbuf_adds(&sb, " IS ");
		char *c = ecplan_xstrfmt("ecplan:%s: replaces column %s", plan->name, plan->column);
		ecplan_sql_literal(&sb, c);
		free(c);
		ecplan_step_add_stmt(step_at(out, at), ecplan_strbuf_detach(&sb), LOCK_HELD);
		ecplan_depend_render(out, step_at(out, at), plan, cat, ECPLAN_SLOT_EXPAND);
	}
	/* Copies of DEFERRABLE unique constraints' indexes (dep_index.c). */
	for (size_t i = 0; i < g->n; i++)
		ecplan_depend_render(out, NULL, g->ch[i], g->cat[i], ECPLAN_SLOT_EXPAND_STEPS);
	ecplan_strbuf_release(&sb);
}

static char *trigger_ddl(const ecplan_plan *plan)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	char *tn = ecplan_render_trigger_name(plan), *fn = ecplan_render_function_name(plan);
	ecplan_strbuf_adds(&sb, "CREATE TRIGGER ");
	ecplan_sql_ident(&sb, tn);
	ecplan_strbuf_adds(&sb, " BEFORE INSERT OR UPDATE ON ");
	table_ref(&sb, plan);
	ecplan_strbuf_adds(&sb, " FOR EACH ROW EXECUTE FUNCTION ");
	function_ref(&sb, fn);
	ecplan_strbuf_adds(&sb, "()");
	free(tn);
	free(fn);
	return ecplan_strbuf_detach(&sb);
}

/* The default down casts to the old column's type, known only from the catalog. */
static void note_down_type(ecplan_steps *out, const group *g)
{
	for (size_t i = 0; i < g->n; i++)
		if (ecplan_change_retypes(g->ch[i]) && !g->ch[i]->down && !old_type(g->cat[i]))
			ecplan_steps_add_line(&out->unknowns, &out->nunknowns,
				 "the type of \"%s\" (the default \"down\" casts back to it)", g->ch[i]->column);
}

/* ALTER TABLE t ALTER COLUMN new SET DEFAULT (d) / DROP DEFAULT. */
static char *default_ddl(const ecplan_plan *plan, bool set)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&sb, "ALTER TABLE ");
	table_ref(&sb, plan);
	ecplan_strbuf_adds(&sb, " ALTER COLUMN ");
	ecplan_sql_ident(&sb, plan->new_column);
	if (set)
		ecplan_strbuf_addf(&sb, " SET DEFAULT (%s)", plan->default_expr);
	else
		ecplan_strbuf_adds(&sb, " DROP DEFAULT");
	return ecplan_strbuf_detach(&sb);
}

/* Drops the last step when nothing was added to it. */
static void drop_if_empty(ecplan_steps *out)
{
	ecplan_step *st = &out->items[out->count - 1];
	if (st->nstmts)
		return;
	free(st->name);
	free(st->note);
	free(st->index_name);
	out->count--;
}

static void render_sync(ecplan_steps *out, const group *g)
{
	note_down_type(out, g);
	ecplan_step *st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "install sync trigger");
	/* The new column's default goes in with the trigger, not at expand: a row
	 * inserted before the trigger exists would otherwise get the default in
	 * the new column, which the backfill (new IS NULL) never corrects. Set
	 * first, so the transaction takes ACCESS EXCLUSIVE once instead of
	 * upgrading from the trigger's lock. It applies to new rows only: no
	 * rewrite, even for a volatile default. */
	bool locked = false;
	for (size_t i = 0; i < g->n; i++)
		if (g->ch[i]->default_expr) {
			ecplan_step_add_stmt(st, default_ddl(g->ch[i], true), locked ? LOCK_HELD : LOCK_AE_META);
			locked = true;
		}
	ecplan_step_add_stmt(st, trigger_function(g, false), LOCK_NONE);
	ecplan_step_add_stmt(st, trigger_ddl(g->ch[0]), LOCK_SRE);
	/* Copies of constraints on the new column go in once the trigger keeps
	 * it filled: NOT VALID, so no scan and only a brief lock. */
	ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "add constraint copies (not valid)");
	size_t at = out->count - 1;
	for (size_t i = 0; i < g->n; i++)
		ecplan_depend_render(out, step_at(out, at), g->ch[i], g->cat[i], ECPLAN_SLOT_SYNC);
	drop_if_empty(out);
	for (size_t i = 0; i < g->n; i++)
		if (!g->cat[i] || !g->cat[i]->column_exists)
			ecplan_steps_add_line(&out->unknowns, &out->nunknowns,
				 "the default of \"%s\" (an INSERT that leaves it at its default counts as not given)",
				 g->ch[i]->column);
}

/* "add NOT NULL check (not valid)", or with the column when the table has
 * several changes. */
static ecplan_step *change_step(ecplan_steps *out, const group *g, size_t i, ecplan_step_kind kind,
				const char *what, const char *tail)
{
	if (g->n > 1)
		return ecplan_steps_add(out, kind, true, "%s on %s%s", what, g->ch[i]->new_column, tail);
	return ecplan_steps_add(out, kind, true, "%s%s", what, tail);
}

static void render_backfill(ecplan_steps *out, const group *g)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	const ecplan_plan *first = g->ch[0];
	char *cols = column_list(g, true);
	ecplan_step *st = ecplan_steps_add(out, ECPLAN_STEP_BACKFILL, true, "backfill %s", cols);
	free(cols);
	st->target = first->table_index;
	st->note = ecplan_xstrfmt(
		"repeated per batch of up to %ld rows by key range, each batch in its own transaction "
		"with SET LOCAL ecplan.backfill = '%s' (the sync trigger skips those writes) and the "
		"cursor saved in the same transaction",
		first->backfill.batch_size, first->name);
	ecplan_step_add_stmt(st, batch_update(g, true, true), LOCK_ROWX);
	if (!have_key(g->cat[0]))
		ecplan_steps_add_line(&out->unknowns, &out->nunknowns,
			 "the key the backfill walks (primary key, or a unique index on NOT NULL columns)");
	for (size_t i = 0; i < g->n; i++) {
		const ecplan_plan *plan = g->ch[i];
		const ecplan_catalog *cat = g->cat[i];
		if (ecplan_render_not_null(plan, cat)) {
			char *cn = ecplan_render_check_name(plan);
			st = change_step(out, g, i, ECPLAN_STEP_DDL, "add NOT NULL check", " (not valid)");
			ecplan_strbuf_adds(&sb, "ALTER TABLE ");
			table_ref(&sb, plan);
			ecplan_strbuf_adds(&sb, " ADD CONSTRAINT ");
			ecplan_sql_ident(&sb, cn);
			ecplan_strbuf_adds(&sb, " CHECK (");
			ecplan_sql_ident(&sb, plan->new_column);
			ecplan_strbuf_adds(&sb, " IS NOT NULL) NOT VALID");
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
			st = change_step(out, g, i, ECPLAN_STEP_DDL, "validate NOT NULL check", "");
			st->scans_table = true;
			ecplan_strbuf_adds(&sb, "ALTER TABLE ");
			table_ref(&sb, plan);
			ecplan_strbuf_adds(&sb, " VALIDATE CONSTRAINT ");
			ecplan_sql_ident(&sb, cn);
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_SUE);
			free(cn);
		}
		/* VALIDATE the constraint copies added at sync. */
		ecplan_depend_render(out, NULL, plan, cat, ECPLAN_SLOT_BACKFILL);
		if (!cat) {
			ecplan_steps_add_line(&out->unknowns, &out->nunknowns,
				 "the indexes on \"%s\" (each is rebuilt on \"%s\" with CREATE INDEX CONCURRENTLY)",
				 plan->column, plan->new_column);
		}
	}
	st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "analyze");
	st->scans_table = true;
	ecplan_strbuf_adds(&sb, "ANALYZE ");
	table_ref(&sb, first);
	ecplan_strbuf_adds(&sb, " (");
	for (size_t i = 0; i < g->n; i++) {
		ecplan_strbuf_adds(&sb, i ? ", " : "");
		ecplan_sql_ident(&sb, g->ch[i]->new_column);
	}
	ecplan_strbuf_addch(&sb, ')');
	ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_SUE);
	ecplan_strbuf_release(&sb);
}

static void add_verify(ecplan_steps *out, const group *g)
{
	ecplan_step *st = ecplan_steps_add(out, ECPLAN_STEP_VERIFY, true, "verify no divergent rows");
	st->target = g->ch[0]->table_index;
	st->note = ecplan_xstrfmt("the phase stops (exit 3) unless divergent = 0");
	ecplan_step_add_stmt(st, verify_sql(g), LOCK_AS);
}

static void render_switch(ecplan_steps *out, const group *g)
{
	note_down_type(out, g);
	add_verify(out, g);
	ecplan_step *st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "make new column%s authoritative",
					   g->n > 1 ? "s" : "");
	ecplan_step_add_stmt(st, trigger_function(g, true), LOCK_NONE);
}

/* The contract's archive of one old column, before every try of the drop. */
static void add_archive(ecplan_step *st, const ecplan_plan *plan, const ecplan_catalog *cat, bool schema)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	char *at = ecplan_render_archive_table(plan);
	if (schema)
		ecplan_step_add_pre(st, ecplan_xstrdup(ECPLAN_ARCHIVE_SCHEMA_SQL), LOCK_NONE);
	ecplan_strbuf_adds(&sb, "DROP TABLE IF EXISTS ");
	ecplan_sql_qualified(&sb, "ecplan_archive", at);
	ecplan_step_add_pre(st, ecplan_strbuf_detach(&sb), "none on the table");
	ecplan_strbuf_adds(&sb, "CREATE TABLE ");
	ecplan_sql_qualified(&sb, "ecplan_archive", at);
	ecplan_strbuf_adds(&sb, " AS SELECT ");
	archive_key_list(&sb, plan, cat);
	ecplan_strbuf_adds(&sb, ", ");
	ecplan_sql_ident(&sb, plan->column);
	ecplan_strbuf_adds(&sb, " FROM ");
	table_ref(&sb, plan);
	ecplan_step_add_pre(st, ecplan_strbuf_detach(&sb), LOCK_AS);
	free(at);
}

/* DROP COLUMN of one change, its comment, and its NOT NULL. */
static void drop_old_column(ecplan_step *st, const ecplan_plan *plan, const ecplan_catalog *cat)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&sb, "ALTER TABLE ");
	table_ref(&sb, plan);
	ecplan_strbuf_adds(&sb, " DROP COLUMN ");
	ecplan_sql_ident(&sb, plan->column);
	ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
	/* The new column takes the old one's comment (or none), replacing
	 * ecplan's marker. */
	if (cat && cat->column_exists) {
		ecplan_strbuf_adds(&sb, "COMMENT ON COLUMN ");
		table_ref(&sb, plan);
		ecplan_strbuf_addch(&sb, '.');
		ecplan_sql_ident(&sb, plan->new_column);
		ecplan_strbuf_adds(&sb, " IS ");
		if (cat->column.comment)
			ecplan_sql_literal(&sb, cat->column.comment);
		else
			ecplan_strbuf_adds(&sb, "NULL");
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
	}
	if (ecplan_render_not_null(plan, cat)) {
		char *cn = ecplan_render_check_name(plan);
		ecplan_strbuf_adds(&sb, "ALTER TABLE ");
		table_ref(&sb, plan);
		ecplan_strbuf_adds(&sb, " ALTER COLUMN ");
		ecplan_sql_ident(&sb, plan->new_column);
		ecplan_strbuf_adds(&sb, " SET NOT NULL");
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb),
			 "ACCESS EXCLUSIVE, no table scan (the validated CHECK proves it)");
		ecplan_strbuf_adds(&sb, "ALTER TABLE ");
		table_ref(&sb, plan);
		ecplan_strbuf_adds(&sb, " DROP CONSTRAINT ");
		ecplan_sql_ident(&sb, cn);
		ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
		free(cn);
	}
}

/* DROP TRIGGER and DROP FUNCTION of a table's sync trigger (IF EXISTS when
 * undoing: a rollback may have run part way). */
static void drop_sync_trigger(ecplan_step *st, const ecplan_plan *tp, bool if_exists)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	char *tn = ecplan_render_trigger_name(tp), *fn = ecplan_render_function_name(tp);
	ecplan_strbuf_addf(&sb, "DROP TRIGGER %s", if_exists ? "IF EXISTS " : "");
	ecplan_sql_ident(&sb, tn);
	ecplan_strbuf_adds(&sb, " ON ");
	table_ref(&sb, tp);
	ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
	ecplan_strbuf_addf(&sb, "DROP FUNCTION %s", if_exists ? "IF EXISTS " : "");
	function_ref(&sb, fn);
	ecplan_strbuf_adds(&sb, "()");
	ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_NONE);
	free(tn);
	free(fn);
}

static void render_contract(ecplan_steps *out, const group *g)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	const ecplan_plan *first = g->ch[0];
	note_down_type(out, g);
	if (first->contract.archive && !have_key(g->cat[0]))
		for (size_t i = 0; i < g->n; i++)
			ecplan_steps_add_line(&out->unknowns, &out->nunknowns,
				 "the key columns archived with \"%s\"", g->ch[i]->column);
	add_verify(out, g);
	/* One transaction per table: the old columns never exist without the
	 * trigger. The archive is a full read, so it runs before (ACCESS SHARE
	 * only), in its own transaction, taken again before every try of the
	 * drop. */
	ecplan_step *st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "%sdrop old column%s",
					   first->contract.archive ? "archive and " : "",
					   g->n > 1 ? "s" : "");
	size_t at = out->count - 1;
	for (size_t i = 0; first->contract.archive && i < g->n; i++)
		add_archive(st, g->ch[i], g->cat[i], i == 0);
	drop_sync_trigger(st, first, false);
	/* What depends on the old columns is dropped by name first (an object
	 * ecplan does not know about then stops the DROP COLUMN, which has no
	 * CASCADE), foreign keys before the rest; a sequence a column owns moves
	 * to the new one. */
	for (size_t i = 0; i < g->n; i++)
		ecplan_depend_render(out, step_at(out, at), g->ch[i], g->cat[i], ECPLAN_SLOT_CONTRACT_FK_DROP);
	for (size_t i = 0; i < g->n; i++)
		ecplan_depend_render(out, step_at(out, at), g->ch[i], g->cat[i], ECPLAN_SLOT_CONTRACT_DROP);
	for (size_t i = 0; i < g->n; i++)
		drop_old_column(step_at(out, at), g->ch[i], g->cat[i]);
	for (size_t i = 0; i < g->n; i++)
		if (!g->cat[i])
			ecplan_steps_add_line(&out->unknowns, &out->nunknowns,
				 "the rebuilt indexes renamed to their old names");
	/* Copies take their names; triggers are created for the new columns. */
	for (size_t i = 0; i < g->n; i++)
		ecplan_depend_render(out, step_at(out, at), g->ch[i], g->cat[i], ECPLAN_SLOT_CONTRACT_AFTER);
	ecplan_strbuf_release(&sb);
}

static void render_group_undo(ecplan_steps *out, const group *g, ecplan_phase phase)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	const ecplan_plan *first = g->ch[0];
	ecplan_step *st;
	switch (phase) {
	case ECPLAN_PHASE_SWITCH:
		note_down_type(out, g);
		st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "make old column%s authoritative",
				      g->n > 1 ? "s" : "");
		ecplan_step_add_stmt(st, trigger_function(g, false), LOCK_NONE);
		break;
	case ECPLAN_PHASE_BACKFILL:
		for (size_t i = 0; i < g->n; i++) {
			const ecplan_plan *plan = g->ch[i];
			ecplan_depend_render(out, NULL, plan, g->cat[i], ECPLAN_SLOT_UNDO_BACKFILL);
			if (!g->cat[i])
				ecplan_steps_add_line(&out->unknowns, &out->nunknowns,
					 "the rebuilt indexes to drop (one per index on \"%s\")", plan->column);
			if (ecplan_render_not_null(plan, g->cat[i])) {
				char *cn = ecplan_render_check_name(plan);
				st = change_step(out, g, i, ECPLAN_STEP_DDL, "drop NOT NULL check", "");
				ecplan_strbuf_adds(&sb, "ALTER TABLE ");
				table_ref(&sb, plan);
				ecplan_strbuf_adds(&sb, " DROP CONSTRAINT IF EXISTS ");
				ecplan_sql_ident(&sb, cn);
				ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), LOCK_AE_META);
				free(cn);
			}
		}
		break;
	case ECPLAN_PHASE_SYNC: {
		ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "remove sync trigger");
		size_t at = out->count - 1;
		for (size_t i = 0; i < g->n; i++) {
			ecplan_depend_render(out, step_at(out, at), g->ch[i], g->cat[i], ECPLAN_SLOT_UNDO_SYNC);
			if (g->ch[i]->default_expr)
				ecplan_step_add_stmt(step_at(out, at), default_ddl(g->ch[i], false), LOCK_AE_META);
		}
		drop_sync_trigger(step_at(out, at), first, true);
		break;
	}
	case ECPLAN_PHASE_EXPAND: {
		char *cols = column_list(g, true);
		st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "drop column%s %s", g->n > 1 ? "s" : "", cols);
		free(cols);
		for (size_t i = 0; i < g->n; i++) {
			ecplan_strbuf_adds(&sb, "ALTER TABLE ");
			table_ref(&sb, g->ch[i]);
			ecplan_strbuf_adds(&sb, " DROP COLUMN IF EXISTS ");
			ecplan_sql_ident(&sb, g->ch[i]->new_column);
			ecplan_step_add_stmt(st, ecplan_strbuf_detach(&sb), i ? LOCK_HELD : LOCK_AE_META);
		}
		break;
	}
	default:
		break;
	}
	ecplan_strbuf_release(&sb);
}

static void render_group(ecplan_steps *out, const group *g, ecplan_phase phase, bool undo)
{
	if (undo) {
		render_group_undo(out, g, phase);
		return;
	}
	switch (phase) {
	case ECPLAN_PHASE_EXPAND: render_expand(out, g); break;
	case ECPLAN_PHASE_SYNC: render_sync(out, g); break;
	case ECPLAN_PHASE_BACKFILL: render_backfill(out, g); break;
	case ECPLAN_PHASE_SWITCH: render_switch(out, g); break;
	case ECPLAN_PHASE_CONTRACT: render_contract(out, g); break;
	default: break;
	}
}

/* Prefixes the names of steps[from..] with their table when the plan has
 * several, and records it as their target. */
static void name_steps(ecplan_steps *out, size_t from, const ecplan_plan *plan, const ecplan_plan *tp)
{
	for (size_t i = from; i < out->count; i++) {
		out->items[i].target = tp->table_index;
		if (plan->ntables <= 1)
			continue;
		char *name = ecplan_xstrfmt("%s.%s: %s", tp->schema, tp->table, out->items[i].name);
		free(out->items[i].name);
		out->items[i].name = name;
	}
}

/* Work across the tables of a plan: a slot of every change, in plan order. */
static void render_across(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *const *cats,
			  ecplan_dep_slot slot)
{
	for (size_t i = 0; cats && i < (plan->nchanges ? plan->nchanges : 1); i++) {
		size_t from = out->count;
		const ecplan_plan *c = ecplan_plan_change(plan, i);
		ecplan_depend_render(out, NULL, c, cats[i], slot);
		name_steps(out, from, plan, c);
	}
}

/* Whether table t of the plan has a foreign key that follows a key the plan
 * changes (it contracts together with the referenced table). */
static bool table_follows(const ecplan_plan *plan, const ecplan_catalog *const *cats, int t)
{
	for (size_t i = 0; cats && i < plan->nchanges; i++) {
		if (ecplan_plan_change(plan, i)->table_index != t || !cats[i])
			continue;
		for (size_t k = 0; k < cats[i]->deps.count; k++)
			if (ecplan_dep_follows_key(&cats[i]->deps.items[k]))
				return true;
	}
	return false;
}

/*
 * Contract of a plan whose foreign keys follow a key it changes: every
 * table in ONE transaction, so that no moment exists where a foreign key
 * references a dropped key. Referenced tables are locked first (their
 * triggers dropped first), then the tables whose keys point at them; the
 * old foreign keys are dropped before any key is swapped.
 */
static void render_contract_linked(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *const *cats)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	size_t nt = plan->ntables, nc = plan->nchanges;
	group *gs = ecplan_xcalloc(nt, sizeof(*gs));
	int *order = ecplan_xcalloc(nt, sizeof(*order));
	size_t no = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t t = 0; t < nt; t++)
			if (table_follows(plan, cats, (int)t) == (pass == 1))
				order[no++] = (int)t;
	for (size_t k = 0; k < nt; k++) {
		size_t from = out->count;
		group_of(&gs[order[k]], plan, cats, order[k]);
		note_down_type(out, &gs[order[k]]);
		add_verify(out, &gs[order[k]]);
		name_steps(out, from, plan, gs[order[k]].ch[0]);
	}
	const ecplan_plan *first = ecplan_plan_change(plan, 0);
	ecplan_step *st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "%sdrop old columns of every table",
					   first->contract.archive ? "archive and " : "");
	size_t at = out->count - 1;
	st->target = order[0];
	for (size_t i = 0; first->contract.archive && i < nc; i++)
		add_archive(st, ecplan_plan_change(plan, i), cats[i], i == 0);
	for (size_t k = 0; k < nt; k++)
		drop_sync_trigger(step_at(out, at), gs[order[k]].ch[0], false);
	static const ecplan_dep_slot slots[] = { ECPLAN_SLOT_CONTRACT_FK_DROP, ECPLAN_SLOT_CONTRACT_DROP };
	for (size_t s = 0; s < 2; s++)
		for (size_t k = 0; k < nt; k++)
			for (size_t i = 0; i < gs[order[k]].n; i++)
				ecplan_depend_render(out, step_at(out, at), gs[order[k]].ch[i], gs[order[k]].cat[i], slots[s]);
	for (size_t k = 0; k < nt; k++)
		for (size_t i = 0; i < gs[order[k]].n; i++)
			drop_old_column(step_at(out, at), gs[order[k]].ch[i], gs[order[k]].cat[i]);
	for (size_t k = 0; k < nt; k++)
		for (size_t i = 0; i < gs[order[k]].n; i++)
			ecplan_depend_render(out, step_at(out, at), gs[order[k]].ch[i], gs[order[k]].cat[i],
					     ECPLAN_SLOT_CONTRACT_AFTER);
	for (size_t k = 0; k < nt; k++)
		group_release(&gs[k]);
	free(gs);
	free(order);
	ecplan_strbuf_release(&sb);
}

/* Switch (or its undo) of a plan with several tables: every table verified,
 * then every trigger function replaced in one transaction, so all changes
 * flip together. */
static void render_switch_all(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *const *cats,
			      bool undo)
{
	group *gs = ecplan_xcalloc(plan->ntables, sizeof(*gs));
	for (size_t t = 0; t < plan->ntables; t++) {
		size_t from = out->count;
		group_of(&gs[t], plan, cats, (int)t);
		note_down_type(out, &gs[t]);
		if (!undo)
			add_verify(out, &gs[t]);
		name_steps(out, from, plan, gs[t].ch[0]);
	}
	ecplan_step *st = ecplan_steps_add(out, ECPLAN_STEP_DDL, true, "make %s columns of every table authoritative",
					   undo ? "old" : "new");
	for (size_t t = 0; t < plan->ntables; t++) {
		ecplan_step_add_stmt(st, trigger_function(&gs[t], !undo), LOCK_NONE);
		group_release(&gs[t]);
	}
	free(gs);
}

/*
 * Every table of the plan in turn, in the order the plan first names them
 * (undone in the same order). With several tables each step's name starts
 * with its table. What spans tables (foreign keys that follow a key the
 * plan changes) comes after every table's backfill, before any table's own
 * undo of it, and makes the contract one transaction.
 */
static void render_plan(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *const *cats,
			ecplan_phase phase, bool undo)
{
	memset(out, 0, sizeof(*out));
	bool linked = false;
	for (size_t t = 0; t < plan->ntables; t++)
		linked |= table_follows(plan, cats, (int)t);
	if (undo && phase == ECPLAN_PHASE_BACKFILL)
		render_across(out, plan, cats, ECPLAN_SLOT_UNDO_BACKFILL_FIRST);
	if (!undo && phase == ECPLAN_PHASE_CONTRACT && linked && plan->ntables > 1) {
		render_contract_linked(out, plan, cats);
		return;
	}
	if (phase == ECPLAN_PHASE_SWITCH && plan->ntables > 1) {
		render_switch_all(out, plan, cats, undo);
		return;
	}
	for (size_t t = 0; t < (plan->ntables ? plan->ntables : 1); t++) {
		group g;
		size_t from = out->count;
		group_of(&g, plan, cats, (int)t);
		if (g.n) {
			render_group(out, &g, phase, undo);
			name_steps(out, from, plan, g.ch[0]);
		}
		group_release(&g);
	}
	if (!undo && phase == ECPLAN_PHASE_BACKFILL)
		render_across(out, plan, cats, ECPLAN_SLOT_BACKFILL_LATE);
}

void ecplan_render_plan_phase(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *const *cats,
			      ecplan_phase phase)
{
	render_plan(out, plan, cats, phase, false);
}

void ecplan_render_plan_undo(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *const *cats,
			     ecplan_phase phase)
{
	render_plan(out, plan, cats, phase, true);
}

void ecplan_render_phase(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *cat,
			 ecplan_phase phase)
{
	const ecplan_catalog *cats[1] = { cat };
	render_plan(out, plan, plan->nchanges > 1 ? NULL : cats, phase, false);
}

void ecplan_render_undo(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *cat,
			ecplan_phase phase)
{
	const ecplan_catalog *cats[1] = { cat };
	render_plan(out, plan, plan->nchanges > 1 ? NULL : cats, phase, true);
}
