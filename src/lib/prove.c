/*
 * Whole-table proofs of "up", "down" and uniqueness (prove.h).
 *
 * The fast path is one aggregate over the table that evaluates every
 * expression. Only when it fails does a slower pass find the first failing
 * row by key: a DO block walks the key in order and evaluates the row in a
 * subtransaction of its own, then raises the key, the old value and the
 * error. Both run read-only. The expressions are the plan's SQL, pasted as
 * everywhere (each compiles first); names are quoted, values never pasted.
 */
#include "ecplan/prove.h"

#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"
#include "ecplan/kind.h"
#include "ecplan/render.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

#define SEP "\x1f"

/* Runs sql in a read-only transaction without statement timeout; returns
 * 0 or ECPLAN_ERR with err filled; *out (may be NULL) gets the result. */
static int read_only(PGresult **out, PGconn *conn, const char *sql, ecplan_error *err)
{
	int rc = ecplan_db_exec(conn, "BEGIN READ ONLY", err);
	if (rc == 0)
		rc = ecplan_db_set_local_timeouts(conn, -1, 0, err);
	if (rc == 0)
		rc = ecplan_db_query(out, conn, sql, 0, NULL, err);
	ecplan_db_rollback(conn, NULL);
	return rc;
}

/* FROM clause evaluating up and down for every row of the table (aliases
 * ecplan_t, ecplan_u.<new column>, ecplan_d.ecplan_old). down sees the new
 * column as up's result: the innermost scope wins. */
static void add_from(ecplan_strbuf *sb, const ecplan_plan *plan, const ecplan_catalog *cat)
{
	char *up = ecplan_render_up_expr(plan), *down = ecplan_render_down_expr(plan, cat);
	const char *type = ecplan_change_new_type(plan, cat);
	ecplan_strbuf_adds(sb, " FROM ");
	ecplan_sql_qualified(sb, plan->schema, plan->table);
	ecplan_strbuf_addf(sb, " AS ecplan_t CROSS JOIN LATERAL (SELECT CAST((%s) AS %s) AS ", up, type);
	ecplan_sql_ident(sb, plan->new_column);
	ecplan_strbuf_addf(sb, ") AS ecplan_u CROSS JOIN LATERAL (SELECT CAST((%s) AS %s) AS ecplan_old"
			   " FROM (SELECT ecplan_u.", down, cat->column.type);
	ecplan_sql_ident(sb, plan->new_column);
	ecplan_strbuf_adds(sb, ") AS ecplan_x) AS ecplan_d");
	free(up);
	free(down);
}

/* "(a, b)" of the key columns, each prefixed with prefix (may be ""). */
static void key_cols(ecplan_strbuf *sb, const ecplan_catalog *cat, const char *prefix)
{
	ecplan_strbuf_addch(sb, '(');
	for (size_t i = 0; i < cat->nkey; i++) {
		ecplan_strbuf_addf(sb, "%s%s", i ? ", " : "", prefix);
		ecplan_sql_ident(sb, cat->key_columns[i]);
	}
	ecplan_strbuf_addch(sb, ')');
}

/* The slow pass: the first failing row. Fills *detail. */
static void find_first_failure(char **detail, PGconn *conn, const ecplan_plan *plan,
			       const ecplan_catalog *cat, const char *fast_error)
{
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT, label = ECPLAN_STRBUF_INIT;
	char *up = ecplan_render_up_expr(plan), *down = ecplan_render_down_expr(plan, cat);
	const char *type = ecplan_change_new_type(plan, cat);
	key_cols(&label, cat, "");
	/* The dollar-quote tag cannot occur in the body unless the plan's
	 * expressions contain it; they are checked below. */
	const char *tag = "$ecplan_prove$";
	if (strstr(up, "ecplan_prove") || strstr(down, "ecplan_prove")) {
		*detail = ecplan_xstrfmt("%s", fast_error);
		goto done;
	}
	ecplan_strbuf_addf(&sql, "DO %s\n#variable_conflict use_column\nDECLARE ecplan_k record; ecplan_which text;\n"
			   "BEGIN\n FOR ecplan_k IN SELECT ", tag);
	for (size_t i = 0; i < cat->nkey; i++) {
		ecplan_strbuf_addf(&sql, "%s", i ? " || ', ' || " : "");
		ecplan_strbuf_adds(&sql, "coalesce(quote_literal(");
		ecplan_sql_ident(&sql, cat->key_columns[i]);
		ecplan_strbuf_adds(&sql, "), 'NULL')");
	}
	ecplan_strbuf_adds(&sql, " AS ecplan_key_text, ");
	key_cols(&sql, cat, "");
	ecplan_strbuf_adds(&sql, " AS ecplan_key, left(coalesce(quote_literal(");
	ecplan_sql_ident(&sql, plan->column);
	ecplan_strbuf_adds(&sql, "), 'NULL'), 200) AS ecplan_value FROM ");
	ecplan_sql_qualified(&sql, plan->schema, plan->table);
	ecplan_strbuf_adds(&sql, " ORDER BY ");
	for (size_t i = 0; i < cat->nkey; i++) {
		ecplan_strbuf_adds(&sql, i ? ", " : "");
		ecplan_sql_ident(&sql, cat->key_columns[i]);
	}
	ecplan_strbuf_adds(&sql, " LOOP\n  BEGIN\n   ecplan_which := 'up';\n");
	ecplan_strbuf_addf(&sql, "   PERFORM CAST((%s) AS %s) FROM ", up, type);
	ecplan_sql_qualified(&sql, plan->schema, plan->table);
	ecplan_strbuf_adds(&sql, " AS ecplan_t WHERE ");
	key_cols(&sql, cat, "ecplan_t.");
	ecplan_strbuf_adds(&sql, " = ecplan_k.ecplan_key;\n   ecplan_which := 'down';\n   PERFORM ecplan_d.ecplan_old");
	add_from(&sql, plan, cat);
	ecplan_strbuf_adds(&sql, " WHERE ");
	key_cols(&sql, cat, "ecplan_t.");
	ecplan_strbuf_adds(&sql, " = ecplan_k.ecplan_key;\n  EXCEPTION WHEN OTHERS THEN\n"
			   "   RAISE EXCEPTION USING MESSAGE = ecplan_which || E'" SEP "' || ecplan_k.ecplan_key_text"
			   " || E'" SEP "' || ecplan_k.ecplan_value || E'" SEP "' || SQLERRM;\n  END;\n END LOOP;\nEND ");
	ecplan_strbuf_adds(&sql, tag);
	ecplan_error e;
	ecplan_error_clear(&e);
	if (read_only(NULL, conn, sql.buf, &e) == 0) {
		/* Every row passed one by one: the failure depends on more than
		 * one row (or on timing); report it as it came. */
		*detail = ecplan_xstrfmt("%s (no single row fails on its own)", fast_error);
		goto done;
	}
	char *parts[4] = { NULL };
	char *s = e.message;
	for (int i = 0; i < 4 && s; i++) {
		parts[i] = s;
		s = i < 3 ? strstr(s, SEP) : NULL;
		if (s)
			*s++ = '\0';
	}
	if (!parts[3]) {
		*detail = ecplan_xstrfmt("%s", fast_error);
		goto done;
	}
	bool is_up = !strcmp(parts[0], "up");
	*detail = ecplan_xstrfmt("\"%s\" fails on the row with key %s=(%s), where %s = %s: %s (%s = %s); "
				 "once the sync trigger is in, the application's writes of such rows would fail "
				 "the same way: fix the rows or change.%s (e.g. with a CASE or NULLIF), then retry",
				 parts[0], label.buf, parts[1], plan->column, parts[2], parts[3], parts[0],
				 is_up ? up : down, parts[0]);
done:
	free(up);
	free(down);
	ecplan_strbuf_release(&sql);
	ecplan_strbuf_release(&label);
}

static void prove_expressions(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
			      const ecplan_catalog *cat)
{
	static const char name[] = "\"up\" and \"down\" succeed on every row of the table";
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
	ecplan_error e;
	ecplan_error_clear(&e);
	ecplan_strbuf_adds(&sql, "SELECT count(ecplan_u.");
	ecplan_sql_ident(&sql, plan->new_column);
	ecplan_strbuf_adds(&sql, ") + count(ecplan_d.ecplan_old)");
	add_from(&sql, plan, cat);
	/* Compiles? (Otherwise the "compiles" items say why.) */
	char *probe = ecplan_xstrfmt("%s LIMIT 0", sql.buf);
	int rc = read_only(NULL, conn, probe, &e);
	free(probe);
	if (rc < 0)
		goto done;
	rc = read_only(NULL, conn, sql.buf, &e);
	if (rc == 0) {
		ecplan_checklist_add(l, name, true, NULL);
	} else if (PQstatus(conn) != CONNECTION_OK || cat->nkey == 0) {
		ecplan_checklist_add(l, name, false, ecplan_xstrfmt("the proof failed: %s", e.message));
	} else {
		char *detail = NULL;
		find_first_failure(&detail, conn, plan, cat, e.message);
		ecplan_checklist_add(l, name, false, detail);
	}
done:
	ecplan_strbuf_release(&sql);
}

/* up(old) must give no duplicate within a unique index ecplan rebuilds. */
void ecplan_prove_unique(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
			 const ecplan_catalog *cat, const ecplan_index_info *ix)
{
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT, cols = ECPLAN_STRBUF_INIT, notnull = ECPLAN_STRBUF_INIT;
	char *up = ecplan_render_up_expr(plan);
	const char *type = ecplan_change_new_type(plan, cat);
	char *name = ecplan_xstrfmt("\"up\" gives no duplicate in unique index %s", ix->name);
	ecplan_strbuf_adds(&sql, "SELECT ");
	for (size_t i = 0; i < ix->nkeys; i++) {
		ecplan_strbuf_addf(&sql, "%sg%zu", i ? ", " : "", i);
		ecplan_strbuf_addf(&cols, "%s", i ? ", " : "");
		/* another column the plan changes on the table (an index on two) */
		const ecplan_plan *other = ix->keys[i].name && strcmp(ix->keys[i].name, plan->column)
			? ecplan_plan_find_change(plan, plan->schema, plan->table, ix->keys[i].name) : NULL;
		if (ix->keys[i].name && !strcmp(ix->keys[i].name, plan->column)) {
			ecplan_strbuf_addf(&cols, "CAST((%s) AS %s)", up, type);
		} else if (other) {
			char *oup = ecplan_render_up_expr(other);
			if (ecplan_change_retypes(other))
				ecplan_strbuf_addf(&cols, "CAST((%s) AS %s)", oup, other->type);
			else
				ecplan_strbuf_addf(&cols, "(%s)", oup);
			free(oup);
		} else if (ix->keys[i].name) {
			ecplan_sql_ident(&cols, ix->keys[i].name);
		} else {
			ecplan_strbuf_addf(&cols, "(%s)", ix->keys[i].expression ? ix->keys[i].expression : "NULL");
		}
		ecplan_strbuf_addf(&cols, " AS g%zu", i);
		if (!ix->nulls_not_distinct)
			ecplan_strbuf_addf(&notnull, "%sg%zu IS NOT NULL", notnull.len ? " AND " : "", i);
	}
	/* The value as text, and a few keys of the rows that share it. */
	ecplan_strbuf_adds(&sql, ", count(*), array_to_string((array_agg(ecplan_key ORDER BY ecplan_key))[1:5], ', ')"
			   " FROM (SELECT ");
	ecplan_strbuf_addf(&sql, "%s, ", cols.buf);
	if (cat->nkey) {
		ecplan_strbuf_adds(&sql, "ROW");
		key_cols(&sql, cat, "");
		ecplan_strbuf_adds(&sql, "::text AS ecplan_key FROM ");
	} else {
		ecplan_strbuf_adds(&sql, "ctid::text AS ecplan_key FROM ");
	}
	ecplan_sql_qualified(&sql, plan->schema, plan->table);
	ecplan_strbuf_adds(&sql, ") AS ecplan_s");
	if (notnull.len)
		ecplan_strbuf_addf(&sql, " WHERE %s", notnull.buf);
	ecplan_strbuf_adds(&sql, " GROUP BY ");
	for (size_t i = 0; i < ix->nkeys; i++)
		ecplan_strbuf_addf(&sql, "%sg%zu", i ? ", " : "", i);
	ecplan_strbuf_adds(&sql, " HAVING count(*) > 1 LIMIT 1");
	PGresult *res = NULL;
	ecplan_error e;
	ecplan_error_clear(&e);
	/* An up that does not compile is the "compiles" items' to report. */
	char *probe = ecplan_xstrfmt("SELECT 1 FROM (%s) AS ecplan_probe LIMIT 0", sql.buf);
	int compiles = read_only(NULL, conn, probe, &e);
	free(probe);
	ecplan_error_clear(&e);
	if (compiles < 0) {
		/* nothing to prove yet */
	} else if (read_only(&res, conn, sql.buf, &e) < 0) {
		/* up failing on a row is reported by the up/down proof */
		if (!strstr(e.message, "does not exist"))
			ecplan_checklist_add(l, name, false, ecplan_xstrfmt("the proof failed: %s", e.message));
	} else if (PQntuples(res) == 0) {
		ecplan_checklist_add(l, name, true, NULL);
	} else {
		ecplan_strbuf v = ECPLAN_STRBUF_INIT;
		for (size_t i = 0; i < ix->nkeys; i++)
			ecplan_strbuf_addf(&v, "%s%s", i ? ", " : "",
					   PQgetisnull(res, 0, (int)i) ? "NULL" : PQgetvalue(res, 0, (int)i));
		int n = (int)ix->nkeys;
		ecplan_checklist_add(l, name, false,
			 ecplan_xstrfmt("up = %s gives (%s) for %s rows (keys %s%s), so the rebuilt unique index "
					"on \"%s\" cannot be built: make the rows distinct under \"up\" (or change "
					"change.up), then retry",
					up, v.buf, PQgetvalue(res, 0, n), PQgetvalue(res, 0, n + 1),
					atoll(PQgetvalue(res, 0, n)) > 5 ? ", ..." : "", plan->new_column));
		ecplan_strbuf_release(&v);
	}
	PQclear(res);
	free(name);
	free(up);
	ecplan_strbuf_release(&sql);
	ecplan_strbuf_release(&cols);
	ecplan_strbuf_release(&notnull);
}

int ecplan_prove_precheck(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
			  const ecplan_catalog *cat, ecplan_phase phase, ecplan_error *err)
{
	if (!cat->table_exists || !cat->column_exists)
		return 0;
	if (phase == ECPLAN_PHASE_EXPAND || phase == ECPLAN_PHASE_SYNC)
		prove_expressions(l, conn, plan, cat);
	if (phase <= ECPLAN_PHASE_BACKFILL)
		for (size_t i = 0; i < cat->nindexes; i++) {
			const ecplan_index_info *ix = &cat->indexes[i];
			bool keyed = false; /* the old column is a key column (not only INCLUDEd) */
			for (size_t k = 0; k < ix->nkeys; k++)
				keyed |= ix->keys[k].name && !strcmp(ix->keys[k].name, plan->column);
			if (keyed && ix->unique && !ix->primary && !ix->predicate && !ix->uses_column_in_expression &&
			    !ix->carrier)
				ecplan_prove_unique(l, conn, plan, cat, ix);
		}
	if (PQstatus(conn) != CONNECTION_OK)
		return ecplan_error_set(err, ECPLAN_ERR, "connection to the database was lost");
	return 0;
}
