/* Unit tests for render.h: derived names, up/down defaults, the sync trigger
 * function (old wins / new wins, fast path, defaults, dollar quoting), every
 * phase and its undo with and without a hand-built catalog (index rebuilds,
 * blockers, contract), the backfill's parameter numbering, the verify query,
 * and hostile names that must never escape their quotes or comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ecplan/catalog.h"
#include "ecplan/plan.h"
#include "ecplan/render.h"
#include "ecplan/render_text.h"
#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

/* ---- plans ------------------------------------------------------------------ */

static ecplan_plan *parse_plan(const char *text)
{
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	ecplan_plan *plan = NULL;
	if (ecplan_plan_parse(&plan, text, strlen(text), NULL, &d) != 0) {
		for (size_t i = 0; i < d.count; i++) {
			char *m = ecplan_error_format(&d.items[i]);
			print_error("%s\n", m);
			free(m);
		}
		ecplan_diags_release(&d);
		fail_msg("plan did not parse: %s", text);
	}
	ecplan_diags_release(&d);
	return plan;
}

static char *jq(const char *s)
{
	json_t *j = json_string(s);
	char *r = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	return r;
}

/*
 * A plan named `name` on `table` changing column -> new_column; `change_extra`
 * is more members of "change" (JSON, starting with a comma, or ""), `extra`
 * more top-level members (likewise).
 */
static ecplan_plan *mkplan_ex(const char *name, const char *table, const char *column,
			      const char *new_column, const char *change_extra, const char *extra)
{
	char *qt = jq(table), *qc = jq(column), *qn = jq(new_column);
	char *text = ecplan_xstrfmt("{\"format\": \"ecplan/v1\", \"name\": \"%s\", \"table\": %s,"
				    " \"change\": {\"column\": %s, \"new_column\": %s%s}%s}",
				    name, qt, qc, qn, change_extra, extra);
	ecplan_plan *p = parse_plan(text);
	free(text);
	free(qt);
	free(qc);
	free(qn);
	return p;
}

static ecplan_plan *mkplan(const char *change_extra)
{
	return mkplan_ex("p", "t", "a", "b", change_extra, "");
}

/* ---- catalogs (plain structs; ecplan_catalog_free frees every field) ---------- */

static ecplan_catalog *cat_new(const char *old_col, const char *old_type)
{
	ecplan_catalog *c = ecplan_xcalloc(1, sizeof(*c));
	c->server_version_num = 150000;
	c->table_exists = true;
	c->table_oid = 16384;
	c->relkind = 'r';
	c->column_exists = true;
	c->column.name = ecplan_xstrdup(old_col);
	c->column.type = ecplan_xstrdup(old_type);
	c->column.attnum = 2;
	c->reltuples = -1;
	return c;
}

static void cat_key(ecplan_catalog *c, size_t n, const char *const *cols, const char *const *types)
{
	c->nkey = n;
	c->key_columns = ecplan_xcalloc(n, sizeof(char *));
	c->key_types = ecplan_xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		c->key_columns[i] = ecplan_xstrdup(cols[i]);
		c->key_types[i] = ecplan_xstrdup(types[i]);
	}
	c->key_source = ecplan_xstrdup("primary key \"t_pkey\"");
	c->key_index = ecplan_xstrdup("t_pkey");
}

/* A catalog for plan `a -> b` on public.t with key id bigint. */
static ecplan_catalog *cat_std(const char *old_type)
{
	static const char *const k[] = { "id" }, *const kt[] = { "bigint" };
	ecplan_catalog *c = cat_new("a", old_type);
	cat_key(c, 1, k, kt);
	return c;
}

static ecplan_index_info *cat_index(ecplan_catalog *c, const char *name)
{
	c->indexes = ecplan_xrealloc(c->indexes, (c->nindexes + 1) * sizeof(*c->indexes));
	ecplan_index_info *ix = &c->indexes[c->nindexes++];
	memset(ix, 0, sizeof(*ix));
	ix->name = ecplan_xstrdup(name);
	ix->method = ecplan_xstrdup("btree");
	ix->definition = ecplan_xstrfmt("CREATE INDEX %s ON public.t USING btree (...)", name);
	ix->valid = true;
	return ix;
}

static ecplan_index_column *ix_key(ecplan_index_info *ix, const char *col)
{
	ix->keys = ecplan_xrealloc(ix->keys, (ix->nkeys + 1) * sizeof(*ix->keys));
	ecplan_index_column *k = &ix->keys[ix->nkeys++];
	memset(k, 0, sizeof(*k));
	k->name = ecplan_xstrdup(col);
	return k;
}

static void ix_include(ecplan_index_info *ix, const char *col)
{
	ix->include = ecplan_xrealloc(ix->include, (ix->ninclude + 1) * sizeof(char *));
	ix->include[ix->ninclude++] = ecplan_xstrdup(col);
}

/* ---- steps helpers ------------------------------------------------------------ */

/* All statements of steps joined with ";\n". Caller frees. */
static char *all_sql(const ecplan_steps *s)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	for (size_t i = 0; i < s->count; i++)
		for (size_t k = 0; k < s->items[i].nstmts; k++)
			ecplan_strbuf_addf(&sb, "%s;\n", s->items[i].stmts[k].sql);
	return ecplan_strbuf_detach(&sb);
}

static const ecplan_step *find_step(const ecplan_steps *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++)
		if (!strcmp(s->items[i].name, name))
			return &s->items[i];
	return NULL;
}

static bool list_has(char *const *list, size_t n, const char *needle)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(list[i], needle))
			return true;
	return false;
}

#define assert_contains(hay, needle) do { \
	const char *h_ = (hay), *n_ = (needle); \
	if (!strstr(h_, n_)) \
		fail_msg("expected to find\n  [%s]\nin\n  [%s]", n_, h_); \
} while (0)

#define assert_not_contains(hay, needle) do { \
	const char *h_ = (hay), *n_ = (needle); \
	if (strstr(h_, n_)) \
		fail_msg("did not expect\n  [%s]\nin\n  [%s]", n_, h_); \
} while (0)

static void assert_stmt(const ecplan_step *st, size_t i, const char *want)
{
	assert_non_null(st);
	if (i >= st->nstmts)
		fail_msg("step \"%s\" has %zu statements, wanted #%zu: %s", st->name, st->nstmts, i, want);
	assert_string_equal(st->stmts[i].sql, want);
	assert_non_null(st->stmts[i].lock);
	assert_true(st->stmts[i].lock[0] != '\0');
}

/* ---- a small SQL lexer, for the hostile-name tests ---------------------------- */

/*
 * Reads SQL the way PostgreSQL's scanner does as far as quoting goes: '...'
 * (E'...' with backslash escapes), "...", -- comments to the end of the line,
 * nested block comments, $tag$...$tag$ and $n parameters. Appends the text
 * outside all quotes and comments ("bare" text) to bare, and checks the
 * contents of every dollar-quoted string (a PL/pgSQL body) the same way.
 * Returns false when the text ends inside a quote or comment.
 */
static bool is_ident_char(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (unsigned char)c >= 0x80 || c == '$';
}

static bool sql_lex(const char *s, ecplan_strbuf *bare)
{
	size_t i = 0, n = strlen(s);
	while (i < n) {
		char c = s[i];
		bool after_ident = i > 0 && is_ident_char(s[i - 1]);
		if (c == '-' && s[i + 1] == '-') {
			while (i < n && s[i] != '\n')
				i++;
			ecplan_strbuf_addch(bare, ' ');
		} else if (c == '/' && s[i + 1] == '*') {
			int depth = 0;
			do {
				if (s[i] == '/' && s[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (s[i] == '*' && s[i + 1] == '/') {
					depth--;
					i += 2;
				} else {
					i++;
				}
			} while (depth > 0 && i < n);
			if (depth > 0)
				return false;
			ecplan_strbuf_addch(bare, ' ');
		} else if (c == '\'') {
			bool e = i > 0 && (s[i - 1] == 'E' || s[i - 1] == 'e') &&
				 !(i > 1 && is_ident_char(s[i - 2]));
			i++;
			for (;;) {
				if (i >= n)
					return false;
				if (e && s[i] == '\\') {
					i += 2;
					continue;
				}
				if (s[i] == '\'') {
					if (s[i + 1] == '\'') {
						i += 2;
						continue;
					}
					i++;
					break;
				}
				i++;
			}
			ecplan_strbuf_adds(bare, " 'lit' ");
		} else if (c == '"') {
			i++;
			for (;;) {
				if (i >= n)
					return false;
				if (s[i] == '"') {
					if (s[i + 1] == '"') {
						i += 2;
						continue;
					}
					i++;
					break;
				}
				i++;
			}
			ecplan_strbuf_adds(bare, " ident ");
		} else if (c == '$' && !after_ident && s[i + 1] >= '0' && s[i + 1] <= '9') {
			i++;
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
			ecplan_strbuf_adds(bare, " param ");
		} else if (c == '$' && !after_ident) {
			size_t j = i + 1;
			while (j < n && s[j] != '$' && is_ident_char(s[j]))
				j++;
			if (j >= n || s[j] != '$') {
				ecplan_strbuf_addch(bare, c);
				i++;
				continue;
			}
			size_t taglen = j - i + 1;
			char tag[128];
			if (taglen >= sizeof(tag))
				return false;
			memcpy(tag, s + i, taglen);
			tag[taglen] = '\0';
			const char *end = strstr(s + i + taglen, tag);
			if (!end)
				return false;
			size_t blen = (size_t)(end - (s + i + taglen));
			char *body = ecplan_xcalloc(blen + 1, 1);
			memcpy(body, s + i + taglen, blen);
			ecplan_strbuf inner = ECPLAN_STRBUF_INIT;
			bool ok = sql_lex(body, &inner);
			ecplan_strbuf_adds(bare, " body( ");
			ecplan_strbuf_adds(bare, inner.buf);
			ecplan_strbuf_adds(bare, " ) ");
			ecplan_strbuf_release(&inner);
			free(body);
			if (!ok)
				return false;
			i = (size_t)(end - s) + taglen;
		} else {
			ecplan_strbuf_addch(bare, c);
			i++;
		}
	}
	return true;
}

/* The bare text of sql; fails the test when sql does not lex. */
static char *bare_text(const char *sql)
{
	ecplan_strbuf bare = ECPLAN_STRBUF_INIT;
	if (!sql_lex(sql, &bare)) {
		ecplan_strbuf_release(&bare);
		fail_msg("SQL ends inside a quote or comment:\n%s", sql);
	}
	return ecplan_strbuf_detach(&bare);
}

static void test_lexer_self_check(void **state)
{
	(void)state;
	char *b = bare_text("SELECT \"a\"\"b\", 'x''y', E'\\'', $q$ in $x $q$ /* c /* d */ e */ -- f\nFROM t");
	assert_string_equal(b, "SELECT  ident ,  'lit' , E 'lit' ,  body(  in $x  )     \nFROM t");
	free(b);
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	assert_false(sql_lex("SELECT /* /* */", &sb));
	ecplan_strbuf_reset(&sb);
	assert_false(sql_lex("SELECT \"x", &sb));
	ecplan_strbuf_reset(&sb);
	assert_false(sql_lex("SELECT $a$ x $a", &sb));
	ecplan_strbuf_release(&sb);
}

/* ---- names ----------------------------------------------------------------- */

static void test_names(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan_ex("users-email", "users", "email", "email_new", "", "");
	char *s;
	s = ecplan_render_function_name(p);
	assert_string_equal(s, "ecplan_sync_users-email");
	free(s);
	s = ecplan_render_trigger_name(p);
	assert_string_equal(s, "zz_ecplan_sync_users-email");
	free(s);
	s = ecplan_render_check_name(p);
	assert_string_equal(s, "ecplan_not_null_users-email");
	free(s);
	s = ecplan_render_archive_table(p);
	assert_string_equal(s, "users-email");
	free(s);
	s = ecplan_render_index_name("users_email_key");
	assert_string_equal(s, "users_email_key_ecplan");
	free(s);
	ecplan_plan_free(p);
}

static void test_long_names(void **state)
{
	(void)state;
	char n1[64], n2[64];
	memset(n1, 'x', 63);
	n1[63] = '\0';
	memcpy(n2, n1, sizeof(n1));
	n2[62] = 'y';
	ecplan_plan *p1 = mkplan_ex(n1, "t", "a", "b", "", "");
	ecplan_plan *p2 = mkplan_ex(n2, "t", "a", "b", "", "");
	char *(*const fns[])(const ecplan_plan *) = {
		ecplan_render_function_name, ecplan_render_trigger_name, ecplan_render_check_name,
	};
	static const char *const prefixes[] = { "ecplan_sync_", "zz_ecplan_sync_", "ecplan_not_null_" };
	char *all[6];
	for (size_t i = 0; i < 3; i++) {
		char *a = fns[i](p1), *a2 = fns[i](p1), *b = fns[i](p2);
		assert_true(strlen(a) <= 63);
		assert_true(strlen(b) <= 63);
		assert_string_equal(a, a2);    /* stable */
		assert_string_not_equal(a, b); /* distinct for plans that differ only at the end */
		/* The same derivation as ecplan_sql_object_name, so other modules agree. */
		char *o = ecplan_sql_object_name(prefixes[i], n1, "");
		assert_string_equal(a, o);
		assert_int_equal(strncmp(a, prefixes[i], strlen(prefixes[i])), 0);
		free(o);
		free(a2);
		all[2 * i] = a;
		all[2 * i + 1] = b;
	}
	/* Function, trigger and check names never collide with one another. */
	for (size_t i = 0; i < 6; i++)
		for (size_t k = i + 1; k < 6; k++)
			assert_string_not_equal(all[i], all[k]);
	for (size_t i = 0; i < 6; i++)
		free(all[i]);

	/* A 63-byte index name gets a distinct, stable, short replacement name. */
	char ix1[64], ix2[64];
	memset(ix1, 'i', 63);
	ix1[63] = '\0';
	memcpy(ix2, ix1, sizeof(ix1));
	ix2[60] = 'j';
	char *r1 = ecplan_render_index_name(ix1), *r1b = ecplan_render_index_name(ix1);
	char *r2 = ecplan_render_index_name(ix2);
	assert_true(strlen(r1) <= 63);
	assert_string_equal(r1, r1b);
	assert_string_not_equal(r1, r2);
	assert_string_not_equal(r1, ix1);
	free(r1);
	free(r1b);
	free(r2);
	ecplan_plan_free(p1);
	ecplan_plan_free(p2);
}

/* ---- up and down ------------------------------------------------------------ */

static void test_up_down_defaults(void **state)
{
	(void)state;
	ecplan_catalog *cat = cat_std("double precision");
	char *s;

	/* Rename: the bare quoted columns. */
	ecplan_plan *p = mkplan("");
	s = ecplan_render_up_expr(p);
	assert_string_equal(s, "\"a\"");
	free(s);
	s = ecplan_render_down_expr(p, NULL);
	assert_string_equal(s, "\"b\"");
	free(s);
	s = ecplan_render_down_expr(p, cat);
	assert_string_equal(s, "\"b\"");
	free(s);
	ecplan_plan_free(p);

	/* Type change: casts both ways; down needs the old type from the catalog. */
	p = mkplan(", \"type\": \"numeric(12,2)\"");
	s = ecplan_render_up_expr(p);
	assert_string_equal(s, "CAST(\"a\" AS numeric(12,2))");
	free(s);
	s = ecplan_render_down_expr(p, cat);
	assert_string_equal(s, "CAST(\"b\" AS double precision)");
	free(s);
	s = ecplan_render_down_expr(p, NULL);
	assert_contains(s, "CAST(\"b\" AS ");
	assert_contains(s, "known with --db");
	assert_contains(s, "unknown)");
	free(s);
	/* A catalog that says the column does not exist is no help either. */
	cat->column_exists = false;
	s = ecplan_render_down_expr(p, cat);
	assert_contains(s, "known with --db");
	free(s);
	cat->column_exists = true;
	ecplan_plan_free(p);

	/* Given expressions are used verbatim. */
	p = mkplan(", \"type\": \"text\", \"up\": \"lower(a)\", \"down\": \"b\"");
	s = ecplan_render_up_expr(p);
	assert_string_equal(s, "lower(a)");
	free(s);
	s = ecplan_render_down_expr(p, cat);
	assert_string_equal(s, "b");
	free(s);
	ecplan_plan_free(p);

	/* Hostile names are quoted. */
	p = mkplan_ex("w", "t", "naïve \"col\"", "new", ", \"type\": \"text\"", "");
	s = ecplan_render_up_expr(p);
	assert_string_equal(s, "CAST(\"naïve \"\"col\"\"\" AS text)");
	free(s);
	ecplan_plan_free(p);
	ecplan_catalog_free(cat);
}

/* ---- the trigger function ---------------------------------------------------- */

static void test_trigger_rename_exact(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan("");
	char *f = ecplan_render_trigger_function(p, NULL, false);
	assert_string_equal(f,
		"CREATE OR REPLACE FUNCTION \"ecplan\".\"ecplan_sync_p\"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$\n"
		"#variable_conflict use_column\n"
		"-- ecplan:p: keeps \"a\" and \"b\" in agreement; the old column wins a conflict\n"
		"BEGIN\n"
		"  IF current_setting('ecplan.backfill', true) = 'p' THEN\n"
		"    RETURN NEW;\n"
		"  END IF;\n"
		"  IF TG_OP = 'INSERT' THEN\n"
		"    IF NEW.\"b\" IS NULL THEN\n"
		"      NEW.\"b\" := NEW.\"a\";\n"
		"    ELSIF NEW.\"a\" IS NULL THEN\n"
		"      NEW.\"a\" := NEW.\"b\";\n"
		"    ELSE\n"
		"      NEW.\"b\" := NEW.\"a\";\n"
		"    END IF;\n"
		"  ELSIF NEW.\"a\" IS DISTINCT FROM OLD.\"a\" THEN\n"
		"    NEW.\"b\" := NEW.\"a\";\n"
		"  ELSIF NEW.\"b\" IS DISTINCT FROM OLD.\"b\" THEN\n"
		"    NEW.\"a\" := NEW.\"b\";\n"
		"  ELSIF NEW.\"b\" IS NULL THEN\n"
		"    NEW.\"b\" := NEW.\"a\";\n"
		"  END IF;\n"
		"  RETURN NEW;\n"
		"END\n"
		"$ecplan$");
	free(f);

	f = ecplan_render_trigger_function(p, NULL, true);
	assert_string_equal(f,
		"CREATE OR REPLACE FUNCTION \"ecplan\".\"ecplan_sync_p\"() RETURNS trigger LANGUAGE plpgsql AS $ecplan$\n"
		"#variable_conflict use_column\n"
		"-- ecplan:p: keeps \"a\" and \"b\" in agreement; the new column wins a conflict\n"
		"BEGIN\n"
		"  IF current_setting('ecplan.backfill', true) = 'p' THEN\n"
		"    RETURN NEW;\n"
		"  END IF;\n"
		"  IF TG_OP = 'INSERT' THEN\n"
		"    IF NEW.\"b\" IS NULL THEN\n"
		"      NEW.\"b\" := NEW.\"a\";\n"
		"    ELSIF NEW.\"a\" IS NULL THEN\n"
		"      NEW.\"a\" := NEW.\"b\";\n"
		"    ELSE\n"
		"      NEW.\"a\" := NEW.\"b\";\n"
		"    END IF;\n"
		"  ELSIF NEW.\"a\" IS DISTINCT FROM OLD.\"a\" THEN\n"
		"    IF NEW.\"b\" IS NOT DISTINCT FROM OLD.\"b\" THEN\n"
		"      NEW.\"b\" := NEW.\"a\";\n"
		"    ELSE\n"
		"      NEW.\"a\" := NEW.\"b\";\n"
		"    END IF;\n"
		"  ELSIF NEW.\"b\" IS DISTINCT FROM OLD.\"b\" THEN\n"
		"    NEW.\"a\" := NEW.\"b\";\n"
		"  ELSIF NEW.\"b\" IS NULL THEN\n"
		"    NEW.\"b\" := NEW.\"a\";\n"
		"  END IF;\n"
		"  RETURN NEW;\n"
		"END\n"
		"$ecplan$");
	free(f);
	ecplan_plan_free(p);
}

static void test_trigger_fast_path_vs_subquery(void **state)
{
	(void)state;
	/* up/down spelled as the bare column (plain, quoted, padded) use NEW."col". */
	static const char *const bare_forms[] = {
		", \"up\": \"a\", \"down\": \"b\"",
		", \"up\": \"\\\"a\\\"\", \"down\": \"\\\"b\\\"\"",
		", \"up\": \"  a \", \"down\": \" b\\n\"",
	};
	for (size_t i = 0; i < sizeof(bare_forms) / sizeof(bare_forms[0]); i++) {
		ecplan_plan *p = mkplan(bare_forms[i]);
		char *f = ecplan_render_trigger_function(p, NULL, false);
		assert_contains(f, "NEW.\"b\" := NEW.\"a\";");
		assert_contains(f, "NEW.\"a\" := NEW.\"b\";");
		assert_not_contains(f, "SELECT NEW.*");
		free(f);
		ecplan_plan_free(p);
	}

	/* An expression is evaluated over NEW's columns in a one-row subquery. */
	ecplan_plan *p = mkplan(", \"type\": \"text\", \"up\": \"lower(a)\", \"down\": \"b\"");
	char *f = ecplan_render_trigger_function(p, NULL, false);
	assert_contains(f, "NEW.\"b\" := (SELECT (lower(a)) FROM (SELECT NEW.*) AS ecplan_row);");
	assert_contains(f, "NEW.\"a\" := NEW.\"b\";");
	free(f);
	ecplan_plan_free(p);

	/* A column that merely starts like the other is not the bare column. */
	p = mkplan(", \"up\": \"ab\"");
	f = ecplan_render_trigger_function(p, NULL, false);
	assert_contains(f, "(SELECT (ab) FROM (SELECT NEW.*) AS ecplan_row)");
	free(f);
	ecplan_plan_free(p);

	/* Default type-change casts read NEW directly (PL/pgSQL's simple-expression
	 * fast path, no subquery), with the catalog's type for the way back. */
	ecplan_catalog *cat = cat_std("integer");
	p = mkplan(", \"type\": \"bigint\"");
	f = ecplan_render_trigger_function(p, cat, false);
	assert_contains(f, "NEW.\"b\" := CAST(NEW.\"a\" AS bigint);");
	assert_contains(f, "NEW.\"a\" := CAST(NEW.\"b\" AS integer);");
	assert_not_contains(f, "SELECT NEW.*");
	free(f);
	ecplan_plan_free(p);
	ecplan_catalog_free(cat);
}

/*
 * up and down are SQL: an unquoted name is folded to lower case there, so
 * `Email` names the column "email", not "Email". The fast path must read the
 * same column the SQL would (the backfill and verify paste the expression as
 * written), or trigger and backfill would compute from different columns.
 */
static void test_trigger_fast_path_case_folding(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan_ex("p", "t", "Email", "email_new", ", \"up\": \"Email\"", "");
	char *f = ecplan_render_trigger_function(p, NULL, false);
	bool reads_quoted = strstr(f, "NEW.\"email_new\" := NEW.\"Email\";") != NULL;
	if (reads_quoted)
		print_error("%s\n", f);
	free(f);
	ecplan_plan_free(p);
	if (reads_quoted)
		fail_msg("up `Email` (SQL: the column \"email\") is read as NEW.\"Email\"");

	/* Quoted, it is the column "Email": the fast path is right. */
	p = mkplan_ex("p", "t", "Email", "email_new", ", \"up\": \"\\\"Email\\\"\"", "");
	f = ecplan_render_trigger_function(p, NULL, false);
	assert_contains(f, "NEW.\"email_new\" := NEW.\"Email\";");
	free(f);
	ecplan_plan_free(p);
	/* Lower case unquoted folds to itself: fast path. */
	p = mkplan_ex("p", "t", "email", "email_new", ", \"up\": \"email\"", "");
	f = ecplan_render_trigger_function(p, NULL, false);
	assert_contains(f, "NEW.\"email_new\" := NEW.\"email\";");
	free(f);
	ecplan_plan_free(p);
}

static void test_trigger_old_default(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan(", \"type\": \"text\"");
	ecplan_catalog *cat = cat_std("character varying(16)");
	cat->column.default_expr = ecplan_xstrdup("'active'::character varying");

	/* Non-volatile default: before switch, an INSERT leaving the old column at
	 * it (and giving the new one) counts as new code: old computed from new. */
	char *f = ecplan_render_trigger_function(p, cat, false);
	assert_contains(f, "    ELSIF NEW.\"a\" IS NULL THEN\n      NEW.\"a\" := ");
	assert_contains(f, "    ELSIF (NEW.\"a\" IS NOT DISTINCT FROM ('active'::character varying)) AND NOT (false) THEN\n      NEW.\"a\" := ");
	free(f);
	/* After switch the new column wins a conflict anyway (ELSE: old from new);
	 * the old default only guards the branch that computes the new column. */
	f = ecplan_render_trigger_function(p, cat, true);
	assert_contains(f, "    ELSE\n      NEW.\"a\" := ");
	assert_not_contains(f, "ELSIF (NEW.\"a\" IS NOT DISTINCT FROM");
	free(f);

	/* Volatile default (nextval, random): never re-evaluated in the trigger. */
	cat->column.default_volatile = true;
	f = ecplan_render_trigger_function(p, cat, false);
	assert_not_contains(f, "IS NOT DISTINCT FROM ('active'");
	assert_contains(f, "ELSIF NEW.\"a\" IS NULL THEN");
	free(f);
	cat->column.default_volatile = false;

	/* No catalog: nothing known about the default, only NULL counts as missing. */
	f = ecplan_render_trigger_function(p, NULL, false);
	assert_not_contains(f, "IS NOT DISTINCT FROM (");
	free(f);

	/* No default in the catalog: likewise. */
	free(cat->column.default_expr);
	cat->column.default_expr = NULL;
	f = ecplan_render_trigger_function(p, cat, false);
	assert_not_contains(f, "IS NOT DISTINCT FROM (");
	free(f);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

static void test_trigger_new_default(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan(", \"type\": \"text\", \"default\": \"'active'\"");
	ecplan_catalog *cat = cat_std("text");
	/* New wins: an INSERT leaving the new column at the plan's default (and
	 * giving the old one) counts as old code: new computed from old. */
	char *f = ecplan_render_trigger_function(p, cat, true);
	assert_contains(f, "    ELSIF (NEW.\"b\" IS NOT DISTINCT FROM ('active')) AND NOT (false) THEN\n      NEW.\"b\" := ");
	free(f);
	/* Old wins: an old-code INSERT gets the default in the new column, and the
	 * old column wins anyway, so no comparison is needed. */
	f = ecplan_render_trigger_function(p, cat, false);
	assert_not_contains(f, "IS NOT DISTINCT FROM ('active')");
	free(f);
	/* A volatile default on the new column is not compared. */
	cat->new_column_exists = true;
	cat->new_col.name = ecplan_xstrdup("b");
	cat->new_col.type = ecplan_xstrdup("text");
	cat->new_col.default_expr = ecplan_xstrdup("'active'::text");
	cat->new_col.default_volatile = true;
	f = ecplan_render_trigger_function(p, cat, true);
	assert_not_contains(f, "IS NOT DISTINCT FROM ('active')");
	free(f);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

static void test_trigger_dollar_quoting(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan(", \"type\": \"text\", \"up\": \"replace(a, '$ecplan$', '')\"");
	char *f = ecplan_render_trigger_function(p, NULL, false);
	assert_contains(f, "LANGUAGE plpgsql AS $ecplan1$\n");
	size_t n = strlen(f);
	assert_true(n > 9);
	assert_string_equal(f + n - 9, "$ecplan1$");
	assert_contains(f, "replace(a, '$ecplan$', '')");
	/* The whole thing lexes: the body is one dollar-quoted string, the last
	 * thing in the statement. */
	char *b = bare_text(f);
	assert_int_equal(strncmp(b, "CREATE OR REPLACE FUNCTION  ident . ident () RETURNS trigger"
				    " LANGUAGE plpgsql AS  body( ", 88), 0);
	assert_string_equal(b + strlen(b) - 3, " ) ");
	const char *open = strstr(f, "$ecplan1$");
	assert_ptr_equal(strstr(open + 9, "$ecplan1$"), f + n - 9);
	free(b);
	free(f);
	ecplan_plan_free(p);
}

/* ---- phases ------------------------------------------------------------------ */

static void test_expand(void **state)
{
	(void)state;
	ecplan_steps s;
	ecplan_plan *p = mkplan(", \"type\": \"text\", \"default\": \"'active'\"");
	ecplan_render_phase(&s, p, NULL, ECPLAN_PHASE_EXPAND);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.items[0].kind, ECPLAN_STEP_DDL);
	assert_true(s.items[0].transactional);
	assert_int_equal(s.items[0].nstmts, 2);
	/* The default is not set here but with the sync trigger (see test_sync):
	 * a row inserted before the trigger must not get it. */
	assert_stmt(&s.items[0], 0, "ALTER TABLE \"public\".\"t\" ADD COLUMN IF NOT EXISTS \"b\" text");
	assert_not_contains(s.items[0].stmts[0].sql, "DEFAULT");
	assert_stmt(&s.items[0], 1,
		    "COMMENT ON COLUMN \"public\".\"t\".\"b\" IS 'ecplan:p: replaces column a'");
	assert_int_equal(s.nunknowns, 0);
	assert_int_equal(s.nblockers, 0);
	ecplan_steps_release(&s);
	ecplan_plan_free(p);

	/* No default: no SET DEFAULT. */
	p = mkplan(", \"type\": \"bigint\"");
	ecplan_render_phase(&s, p, NULL, ECPLAN_PHASE_EXPAND);
	assert_stmt(&s.items[0], 0, "ALTER TABLE \"public\".\"t\" ADD COLUMN IF NOT EXISTS \"b\" bigint");
	ecplan_steps_release(&s);
	ecplan_plan_free(p);

	/* No type: the catalog's, or a placeholder that is listed as unknown. */
	p = mkplan("");
	ecplan_catalog *cat = cat_std("character varying(40)");
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_EXPAND);
	assert_stmt(&s.items[0], 0, "ALTER TABLE \"public\".\"t\" ADD COLUMN IF NOT EXISTS \"b\" character varying(40)");
	assert_int_equal(s.nunknowns, 0);
	ecplan_steps_release(&s);
	ecplan_render_phase(&s, p, NULL, ECPLAN_PHASE_EXPAND);
	assert_contains(s.items[0].stmts[0].sql, "known with --db");
	assert_int_equal(s.nunknowns, 1);
	assert_contains(s.unknowns[0], "type");
	assert_contains(s.unknowns[0], "\"a\"");
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);

	/* A comment literal with a quote and a backslash in the column name. */
	p = mkplan_ex("p", "t", "it's\\x", "b", ", \"type\": \"text\"", "");
	ecplan_render_phase(&s, p, NULL, ECPLAN_PHASE_EXPAND);
	assert_stmt(&s.items[0], 1,
		    "COMMENT ON COLUMN \"public\".\"t\".\"b\" IS  E'ecplan:p: replaces column it''s\\\\x'");
	ecplan_steps_release(&s);
	ecplan_plan_free(p);
}

static void test_sync(void **state)
{
	(void)state;
	ecplan_steps s;
	ecplan_plan *p = mkplan_ex("users-email", "users", "email", "email_new",
				   ", \"type\": \"text\", \"up\": \"lower(email)\", \"down\": \"email_new\"", "");
	ecplan_catalog *cat = cat_new("email", "character varying(255)");
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_SYNC);
	assert_int_equal(s.count, 1);
	assert_true(s.items[0].transactional);
	assert_int_equal(s.items[0].nstmts, 2);
	char *f = ecplan_render_trigger_function(p, cat, false);
	assert_stmt(&s.items[0], 0, f);
	free(f);
	assert_stmt(&s.items[0], 1,
		    "CREATE TRIGGER \"zz_ecplan_sync_users-email\" BEFORE INSERT OR UPDATE ON \"public\".\"users\""
		    " FOR EACH ROW EXECUTE FUNCTION \"ecplan\".\"ecplan_sync_users-email\"()");
	/* The backfill's own writes return at once, before anything is computed. */
	assert_contains(s.items[0].stmts[0].sql,
			"BEGIN\n  IF current_setting('ecplan.backfill', true) = 'users-email' THEN\n    RETURN NEW;\n  END IF;\n"
			"  IF TG_OP = 'INSERT' THEN\n");
	assert_int_equal(s.nunknowns, 0);
	ecplan_steps_release(&s);

	/* Without a catalog the old column's default is unknown. */
	ecplan_render_phase(&s, p, NULL, ECPLAN_PHASE_SYNC);
	assert_true(list_has(s.unknowns, s.nunknowns, "default of \"email\""));
	ecplan_steps_release(&s);
	ecplan_plan_free(p);

	/* A new-column default is set in the trigger's transaction, first (one
	 * ACCESS EXCLUSIVE, no lock upgrade), and dropped when sync is undone. */
	p = mkplan_ex("users-email", "users", "email", "email_new",
		      ", \"type\": \"text\", \"default\": \"'none'\"", "");
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_SYNC);
	assert_int_equal(s.items[0].nstmts, 3);
	assert_stmt(&s.items[0], 0, "ALTER TABLE \"public\".\"users\" ALTER COLUMN \"email_new\" SET DEFAULT ('none')");
	assert_contains(s.items[0].stmts[2].sql, "CREATE TRIGGER");
	ecplan_steps_release(&s);
	ecplan_render_undo(&s, p, cat, ECPLAN_PHASE_SYNC);
	assert_stmt(&s.items[0], 0, "ALTER TABLE \"public\".\"users\" ALTER COLUMN \"email_new\" DROP DEFAULT");
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

static void test_backfill_steps(void **state)
{
	(void)state;
	ecplan_steps s;
	ecplan_plan *p = mkplan(", \"type\": \"bigint\"");
	ecplan_catalog *cat = cat_std("integer");

	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_BACKFILL);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.items[0].kind, ECPLAN_STEP_BACKFILL);
	assert_true(s.items[0].transactional);
	assert_contains(s.items[0].note, "5000");
	assert_contains(s.items[0].note, "SET LOCAL ecplan.backfill = 'p'");
	char *u = ecplan_render_batch_update(p, cat, true, true);
	assert_stmt(&s.items[0], 0, u);
	free(u);
	assert_int_equal(s.items[1].kind, ECPLAN_STEP_DDL);
	assert_stmt(&s.items[1], 0, "ANALYZE \"public\".\"t\" (\"b\")");
	assert_int_equal(s.nunknowns, 0);
	assert_int_equal(s.nblockers, 0);
	ecplan_steps_release(&s);
	ecplan_plan_free(p);

	/* not_null: a NOT VALID check, then its validation, before the analyze. */
	p = mkplan(", \"type\": \"bigint\", \"not_null\": true");
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_BACKFILL);
	assert_int_equal(s.count, 4);
	assert_int_equal(s.items[0].kind, ECPLAN_STEP_BACKFILL);
	assert_stmt(&s.items[1], 0,
		    "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"ecplan_not_null_p\" CHECK (\"b\" IS NOT NULL) NOT VALID");
	assert_true(s.items[1].transactional);
	assert_stmt(&s.items[2], 0, "ALTER TABLE \"public\".\"t\" VALIDATE CONSTRAINT \"ecplan_not_null_p\"");
	assert_true(s.items[2].transactional);
	assert_stmt(&s.items[3], 0, "ANALYZE \"public\".\"t\" (\"b\")");
	ecplan_steps_release(&s);

	/* Without a catalog: the key and the indexes are unknown. */
	ecplan_render_phase(&s, p, NULL, ECPLAN_PHASE_BACKFILL);
	assert_true(list_has(s.unknowns, s.nunknowns, "key"));
	assert_true(list_has(s.unknowns, s.nunknowns, "indexes on \"a\""));
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

/* Renders the backfill phase with cat and returns the SQL of the INDEX steps. */
static char *index_sql(const ecplan_plan *p, const ecplan_catalog *cat, ecplan_steps *s)
{
	ecplan_render_phase(s, p, cat, ECPLAN_PHASE_BACKFILL);
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	for (size_t i = 0; i < s->count; i++) {
		const ecplan_step *st = &s->items[i];
		if (st->kind != ECPLAN_STEP_INDEX)
			continue;
		assert_false(st->transactional);
		assert_int_equal(st->nstmts, 1);
		assert_non_null(st->index_name);
		ecplan_strbuf_addf(&sb, "%s;\n", st->stmts[0].sql);
	}
	return ecplan_strbuf_detach(&sb);
}

static void test_index_rebuild(void **state)
{
	(void)state;
	ecplan_steps s;
	ecplan_plan *rename = mkplan("");
	ecplan_plan *retype = mkplan(", \"type\": \"bigint\"");
	ecplan_catalog *cat = cat_std("integer");
	ecplan_index_info *ix;
	ecplan_index_column *k;

	/* Multi-column, DESC (NULLS FIRST is DESC's default), ASC NULLS FIRST, DESC NULLS LAST. */
	ix = cat_index(cat, "t_multi");
	ix_key(ix, "tenant");
	k = ix_key(ix, "a");
	k->desc = true;
	k->nulls_first = true;
	k = ix_key(ix, "c");
	k->nulls_first = true;
	k = ix_key(ix, "d");
	k->desc = true;
	char *sql = index_sql(retype, cat, &s);
	assert_string_equal(sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"t_multi_ecplan\" ON \"public\".\"t\""
				 " USING btree (\"tenant\", \"b\" DESC, \"c\" NULLS FIRST, \"d\" DESC NULLS LAST);\n");
	assert_int_equal(s.nblockers, 0);
	const ecplan_step *st = find_step(&s, "build index t_multi");
	assert_non_null(st);
	assert_string_equal(st->index_name, "t_multi_ecplan");
	assert_contains(st->note, "t_multi");
	/* Index builds come after the backfill and before the analyze. */
	assert_int_equal(s.items[0].kind, ECPLAN_STEP_BACKFILL);
	assert_int_equal(s.items[s.count - 1].kind, ECPLAN_STEP_DDL);
	assert_string_equal(s.items[s.count - 1].name, "analyze");
	free(sql);
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);

	/* Unique, INCLUDE with the old column, a predicate on another column,
	 * NULLS NOT DISTINCT, another access method. */
	cat = cat_std("integer");
	ix = cat_index(cat, "t_hash"); /* catalog.c orders indexes by name */
	free(ix->method);
	ix->method = ecplan_xstrdup("hash");
	ix_key(ix, "a");
	ix = cat_index(cat, "t_u");
	ix->unique = true;
	ix->nulls_not_distinct = true;
	ix_key(ix, "x");
	ix_include(ix, "a");
	ix_include(ix, "y");
	ix->predicate = ecplan_xstrdup("deleted_at IS NULL");
	sql = index_sql(retype, cat, &s);
	assert_string_equal(sql,
		"CREATE INDEX CONCURRENTLY IF NOT EXISTS \"t_hash_ecplan\" ON \"public\".\"t\" USING hash (\"b\");\n"
		"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"t_u_ecplan\" ON \"public\".\"t\" USING btree (\"x\")"
		" INCLUDE (\"b\", \"y\") NULLS NOT DISTINCT WHERE (deleted_at IS NULL);\n");
	assert_int_equal(s.nblockers, 0);
	free(sql);
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);

	/* Operator class and collation: kept for a pure rename... */
	cat = cat_std("text");
	ix = cat_index(cat, "t_pattern");
	k = ix_key(ix, "a");
	k->opclass = ecplan_xstrdup("pg_catalog.text_pattern_ops");
	k->collation = ecplan_xstrdup("pg_catalog.\"C\"");
	sql = index_sql(rename, cat, &s);
	assert_string_equal(sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"t_pattern_ecplan\" ON \"public\".\"t\""
				 " USING btree (\"b\" COLLATE pg_catalog.\"C\" pg_catalog.text_pattern_ops);\n");
	assert_int_equal(s.nblockers, 0);
	free(sql);
	ecplan_steps_release(&s);
	/* ... a blocker with a type change (the class may not fit the new type). */
	sql = index_sql(retype, cat, &s);
	assert_string_equal(sql, "");
	assert_int_equal(s.nblockers, 1);
	assert_contains(s.blockers[0], "t_pattern");
	assert_contains(s.blockers[0], "operator class");
	free(sql);
	ecplan_steps_release(&s);
	/* An opclass on another column of the index is no problem. */
	free(ix->keys[0].name);
	ix->keys[0].name = ecplan_xstrdup("other");
	ix_key(ix, "a");
	sql = index_sql(retype, cat, &s);
	assert_string_equal(sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"t_pattern_ecplan\" ON \"public\".\"t\""
				 " USING btree (\"other\" COLLATE pg_catalog.\"C\" pg_catalog.text_pattern_ops, \"b\");\n");
	assert_int_equal(s.nblockers, 0);
	free(sql);
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);

	/* Expression index, primary key, exclusion constraint: blockers; an
	 * invalid index: skipped without a word. */
	cat = cat_std("integer");
	ix = cat_index(cat, "t_expr");
	ix->uses_column_in_expression = true;
	k = ix_key(ix, NULL);
	free(k->name);
	k->name = NULL;
	k->expression = ecplan_xstrdup("lower(a)");
	ix = cat_index(cat, "t_pkey2");
	ix->primary = true;
	ix->unique = true;
	ix->constraint_type = 'p';
	ix->constraint_name = ecplan_xstrdup("t_pkey2");
	ix_key(ix, "a");
	ix = cat_index(cat, "t_excl");
	ix->constraint_type = 'x';
	ix->constraint_name = ecplan_xstrdup("t_no_overlap");
	free(ix->method);
	ix->method = ecplan_xstrdup("gist");
	ix_key(ix, "a");
	ix = cat_index(cat, "t_invalid");
	ix->valid = false;
	ix_key(ix, "a");
	sql = index_sql(retype, cat, &s);
	/* A primary key is rebuilt as a unique index (it becomes the key at contract). */
	assert_string_equal(sql, "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"t_pkey2_ecplan\" ON \"public\".\"t\" "
				 "USING btree (\"b\");\n");
	assert_int_equal(s.nblockers, 2);
	assert_true(list_has(s.blockers, s.nblockers, "\"t_expr\""));
	assert_false(list_has(s.blockers, s.nblockers, "t_pkey2"));
	assert_true(list_has(s.blockers, s.nblockers, "\"t_no_overlap\""));
	assert_false(list_has(s.blockers, s.nblockers, "t_invalid"));
	assert_null(find_step(&s, "build index t_invalid"));
	free(sql);
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);

	ecplan_plan_free(rename);
	ecplan_plan_free(retype);
}

/*
 * An index whose keys are the old column and an expression on some other
 * column: the expression does not use the old column, so it is not a blocker
 * (uses_column_in_expression is false), and catalog.h gives its key as
 * name = NULL, expression = "lower(c)". The rebuild must keep the expression.
 */
static void test_index_rebuild_other_expression(void **state)
{
	(void)state;
	ecplan_steps s;
	ecplan_plan *p = mkplan(", \"type\": \"bigint\"");
	ecplan_catalog *cat = cat_std("integer");
	ecplan_index_info *ix = cat_index(cat, "t_mixed");
	ix_key(ix, "a");
	ecplan_index_column *k = ix_key(ix, "x");
	free(k->name);
	k->name = NULL;
	k->expression = ecplan_xstrdup("lower(c)");
	char *sql = index_sql(p, cat, &s);
	assert_string_equal(sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"t_mixed_ecplan\" ON \"public\".\"t\""
				 " USING btree (\"b\", (lower(c)));\n");
	free(sql);
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

static void test_switch(void **state)
{
	(void)state;
	ecplan_steps s;
	ecplan_plan *p = mkplan(", \"type\": \"bigint\"");
	ecplan_catalog *cat = cat_std("integer");
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_SWITCH);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.items[0].kind, ECPLAN_STEP_VERIFY);
	char *v = ecplan_render_verify(p, cat);
	assert_stmt(&s.items[0], 0, v);
	free(v);
	assert_int_equal(s.items[1].kind, ECPLAN_STEP_DDL);
	char *f = ecplan_render_trigger_function(p, cat, true);
	assert_stmt(&s.items[1], 0, f);
	free(f);
	assert_int_equal(s.nunknowns, 0);
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

static void test_contract(void **state)
{
	(void)state;
	ecplan_steps s;
	ecplan_plan *p = mkplan(", \"type\": \"bigint\", \"not_null\": true");
	ecplan_catalog *cat = cat_std("integer");
	/* By name, as catalog.c orders them. */
	ecplan_index_info *ix = cat_index(cat, "t_a_bad");
	ix->valid = false;
	ix_key(ix, "a");
	ix = cat_index(cat, "t_a_expr");
	ix->uses_column_in_expression = true;
	ix_key(ix, "a");
	ix = cat_index(cat, "t_a_idx");
	ix_key(ix, "a");
	ix = cat_index(cat, "t_a_key");
	ix->unique = true;
	ix->constraint_type = 'u';
	ix->constraint_name = ecplan_xstrdup("t_a_key");
	ix_key(ix, "a");

	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_CONTRACT);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.items[0].kind, ECPLAN_STEP_VERIFY);

	/* The archive runs in its own transaction before every try of the drop,
	 * so it holds the values of the moment before the drop. */
	const ecplan_step *st = &s.items[1];
	assert_true(st->transactional);
	assert_int_equal(st->npre, 3);
	assert_string_equal(st->pre[0].sql, ECPLAN_ARCHIVE_SCHEMA_SQL);
	assert_string_equal(st->pre[1].sql, "DROP TABLE IF EXISTS \"ecplan_archive\".\"p\"");
	assert_string_equal(st->pre[2].sql,
			    "CREATE TABLE \"ecplan_archive\".\"p\" AS SELECT \"id\", \"a\" FROM \"public\".\"t\"");

	/* One transaction: the old column never exists without its trigger. */
	assert_int_equal(st->kind, ECPLAN_STEP_DDL);
	assert_true(st->transactional);
	assert_int_equal(st->nstmts, 8);
	assert_stmt(st, 0, "DROP TRIGGER \"zz_ecplan_sync_p\" ON \"public\".\"t\"");
	assert_stmt(st, 1, "DROP FUNCTION \"ecplan\".\"ecplan_sync_p\"()");
	assert_stmt(st, 2, "ALTER TABLE \"public\".\"t\" DROP COLUMN \"a\"");
	/* The new column takes the old one's comment (none here), dropping ecplan's marker. */
	assert_stmt(st, 3, "COMMENT ON COLUMN \"public\".\"t\".\"b\" IS NULL");
	assert_stmt(st, 4, "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"b\" SET NOT NULL");
	assert_stmt(st, 5, "ALTER TABLE \"public\".\"t\" DROP CONSTRAINT \"ecplan_not_null_p\"");
	/* Indexes by name: t_a_bad (invalid) and t_a_expr (blocked) are not renamed. */
	assert_stmt(st, 6, "ALTER INDEX \"public\".\"t_a_idx_ecplan\" RENAME TO \"t_a_idx\"");
	assert_stmt(st, 7, "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_a_key\" UNIQUE USING INDEX \"t_a_key_ecplan\"");
	assert_int_equal(s.nunknowns, 0);
	ecplan_steps_release(&s);
	ecplan_plan_free(p);

	/* No archive, no NOT NULL: just the verify and the drops. */
	p = mkplan_ex("p", "t", "a", "b", ", \"type\": \"bigint\"", ", \"contract\": {\"archive\": false}");
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_CONTRACT);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.items[0].kind, ECPLAN_STEP_VERIFY);
	st = &s.items[1];
	assert_int_equal(st->nstmts, 6);
	assert_stmt(st, 2, "ALTER TABLE \"public\".\"t\" DROP COLUMN \"a\"");
	char *sql = all_sql(&s);
	assert_not_contains(sql, "ecplan_archive");
	assert_not_contains(sql, "NOT NULL");
	free(sql);
	ecplan_steps_release(&s);

	/* Without a catalog the renames are unknown. */
	ecplan_render_phase(&s, p, NULL, ECPLAN_PHASE_CONTRACT);
	assert_true(list_has(s.unknowns, s.nunknowns, "renamed"));
	ecplan_steps_release(&s);
	ecplan_plan_free(p);
	ecplan_catalog_free(cat);
}

/*
 * An index the backfill cannot rebuild (non-default operator class with a
 * type change) gets a blocker there and no "<name>_ecplan" index is built; the
 * contract must then not rename a "<name>_ecplan" that was never created.
 */
static void test_contract_skips_blocked_opclass_index(void **state)
{
	(void)state;
	ecplan_steps s;
	ecplan_plan *p = mkplan(", \"type\": \"bigint\"");
	ecplan_catalog *cat = cat_std("text");
	ecplan_index_info *ix = cat_index(cat, "t_pattern");
	ecplan_index_column *k = ix_key(ix, "a");
	k->opclass = ecplan_xstrdup("pg_catalog.text_pattern_ops");

	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_BACKFILL);
	assert_int_equal(s.nblockers, 1);
	assert_null(find_step(&s, "build index t_pattern"));
	ecplan_steps_release(&s);

	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_CONTRACT);
	char *sql = all_sql(&s);
	bool renames_missing_index = strstr(sql, "t_pattern_ecplan") != NULL;
	if (renames_missing_index)
		print_error("contract SQL:\n%s", sql);
	free(sql);
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
	if (renames_missing_index)
		fail_msg("contract renames \"t_pattern_ecplan\", which the backfill never builds");
}

static void test_undo(void **state)
{
	(void)state;
	ecplan_steps s;
	ecplan_plan *p = mkplan(", \"type\": \"bigint\", \"not_null\": true");
	ecplan_catalog *cat = cat_std("integer");
	ecplan_index_info *ix = cat_index(cat, "t_a_idx");
	ix_key(ix, "a");

	ecplan_render_undo(&s, p, cat, ECPLAN_PHASE_EXPAND);
	assert_int_equal(s.count, 1);
	assert_true(s.items[0].transactional);
	assert_stmt(&s.items[0], 0, "ALTER TABLE \"public\".\"t\" DROP COLUMN IF EXISTS \"b\"");
	ecplan_steps_release(&s);

	ecplan_render_undo(&s, p, cat, ECPLAN_PHASE_SYNC);
	assert_int_equal(s.count, 1);
	assert_true(s.items[0].transactional);
	assert_int_equal(s.items[0].nstmts, 2);
	assert_stmt(&s.items[0], 0, "DROP TRIGGER IF EXISTS \"zz_ecplan_sync_p\" ON \"public\".\"t\"");
	assert_stmt(&s.items[0], 1, "DROP FUNCTION IF EXISTS \"ecplan\".\"ecplan_sync_p\"()");
	ecplan_steps_release(&s);

	ecplan_render_undo(&s, p, cat, ECPLAN_PHASE_BACKFILL);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.items[0].kind, ECPLAN_STEP_INDEX);
	assert_false(s.items[0].transactional);
	assert_string_equal(s.items[0].index_name, "t_a_idx_ecplan");
	assert_stmt(&s.items[0], 0, "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"t_a_idx_ecplan\"");
	assert_true(s.items[1].transactional);
	assert_stmt(&s.items[1], 0, "ALTER TABLE \"public\".\"t\" DROP CONSTRAINT IF EXISTS \"ecplan_not_null_p\"");
	assert_int_equal(s.nunknowns, 0);
	ecplan_steps_release(&s);

	/* Without a catalog: the indexes to drop are unknown. */
	ecplan_render_undo(&s, p, NULL, ECPLAN_PHASE_BACKFILL);
	assert_int_equal(s.count, 1);
	assert_true(list_has(s.unknowns, s.nunknowns, "indexes"));
	ecplan_steps_release(&s);

	ecplan_render_undo(&s, p, cat, ECPLAN_PHASE_SWITCH);
	assert_int_equal(s.count, 1);
	char *f = ecplan_render_trigger_function(p, cat, false);
	assert_stmt(&s.items[0], 0, f);
	free(f);
	ecplan_steps_release(&s);

	/* The contract cannot be undone. */
	ecplan_render_undo(&s, p, cat, ECPLAN_PHASE_CONTRACT);
	assert_int_equal(s.count, 0);
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

/* ---- unknowns ----------------------------------------------------------------- */

static void test_no_unknowns_with_catalog(void **state)
{
	(void)state;
	static const char *const changes[] = {
		"", ", \"type\": \"bigint\"", ", \"type\": \"text\", \"up\": \"a::text\", \"down\": \"b::int\"",
		", \"type\": \"bigint\", \"not_null\": true, \"default\": \"1\"",
	};
	ecplan_catalog *cat = cat_std("integer");
	for (size_t c = 0; c < sizeof(changes) / sizeof(changes[0]); c++) {
		ecplan_plan *p = mkplan(changes[c]);
		for (int ph = 0; ph < ECPLAN_PHASE_COUNT; ph++) {
			for (int undo = 0; undo < 2; undo++) {
				ecplan_steps s;
				if (undo)
					ecplan_render_undo(&s, p, cat, (ecplan_phase)ph);
				else
					ecplan_render_phase(&s, p, cat, (ecplan_phase)ph);
				char *sql = all_sql(&s);
				if (s.nunknowns || strstr(sql, "known with --db"))
					fail_msg("change [%s] phase %s%s: unknowns with a catalog:\n%s", changes[c],
						 ecplan_phase_name((ecplan_phase)ph), undo ? " (undo)" : "", sql);
				free(sql);
				ecplan_steps_release(&s);
			}
		}
		ecplan_plan_free(p);
	}
	ecplan_catalog_free(cat);
}

/*
 * Without a catalog, every placeholder in the SQL must be listed in unknowns
 * (render.h: "rendered as a placeholder and listed in unknowns"), so that
 * `ecplan render` tells the reader what the SQL is missing.
 */
static void test_placeholders_listed_as_unknowns(void **state)
{
	(void)state;
	static const char *const changes[] = {
		"", ", \"type\": \"bigint\"", ", \"type\": \"text\", \"up\": \"a::text\", \"down\": \"b::int\"",
		", \"type\": \"bigint\", \"not_null\": true",
	};
	int problems = 0;
	for (size_t c = 0; c < sizeof(changes) / sizeof(changes[0]); c++) {
		ecplan_plan *p = mkplan(changes[c]);
		for (int ph = 0; ph < ECPLAN_PHASE_COUNT; ph++) {
			ecplan_steps s;
			ecplan_render_phase(&s, p, NULL, (ecplan_phase)ph);
			char *sql = all_sql(&s);
			const char *why = NULL;
			if (strstr(sql, "key columns, known with --db") &&
			    !list_has(s.unknowns, s.nunknowns, "key"))
				why = "the key placeholder is not listed in unknowns";
			else if (strstr(sql, "/* type of") && !list_has(s.unknowns, s.nunknowns, "type"))
				why = "the old type placeholder is not listed in unknowns";
			else if (strstr(sql, "known with --db") && !s.nunknowns)
				why = "a placeholder but no unknowns";
			if (why) {
				print_error("change [%s] phase %s: %s\n", changes[c],
					    ecplan_phase_name((ecplan_phase)ph), why);
				problems++;
			}
			free(sql);
			ecplan_steps_release(&s);
		}
		ecplan_plan_free(p);
	}
	if (problems)
		fail_msg("%d phase(s) render placeholders they do not list as unknown", problems);
}

/* ---- backfill statements --------------------------------------------------------- */

static void test_batch_statements_one_column(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan(", \"type\": \"text\", \"up\": \"lower(a)\"");
	ecplan_catalog *cat = cat_std("text");
	char *s;
	s = ecplan_render_batch_bound(p, cat, false);
	assert_string_equal(s, "SELECT \"id\" FROM \"public\".\"t\" ORDER BY \"id\" OFFSET $1 LIMIT 1");
	free(s);
	s = ecplan_render_batch_bound(p, cat, true);
	assert_string_equal(s, "SELECT \"id\" FROM \"public\".\"t\" WHERE (\"id\") > ($1::bigint)"
			       " ORDER BY \"id\" OFFSET $2 LIMIT 1");
	free(s);
	s = ecplan_render_batch_update(p, cat, true, true);
	assert_string_equal(s, "UPDATE \"public\".\"t\" SET \"b\" = (lower(a)) WHERE (\"id\") > ($1::bigint)"
			       " AND (\"id\") <= ($2::bigint) AND \"b\" IS NULL AND (lower(a)) IS NOT NULL");
	free(s);
	s = ecplan_render_batch_update(p, cat, true, false);
	assert_string_equal(s, "UPDATE \"public\".\"t\" SET \"b\" = (lower(a)) WHERE (\"id\") > ($1::bigint)"
			       " AND \"b\" IS NULL AND (lower(a)) IS NOT NULL");
	free(s);
	s = ecplan_render_batch_update(p, cat, false, true);
	assert_string_equal(s, "UPDATE \"public\".\"t\" SET \"b\" = (lower(a)) WHERE (\"id\") <= ($1::bigint)"
			       " AND \"b\" IS NULL AND (lower(a)) IS NOT NULL");
	free(s);
	s = ecplan_render_batch_update(p, cat, false, false);
	assert_string_equal(s, "UPDATE \"public\".\"t\" SET \"b\" = (lower(a)) WHERE"
			       " \"b\" IS NULL AND (lower(a)) IS NOT NULL");
	free(s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

static void test_batch_statements_two_columns(void **state)
{
	(void)state;
	static const char *const k[] = { "tenant id", "id" }, *const kt[] = { "integer", "uuid" };
	ecplan_plan *p = mkplan(", \"type\": \"bigint\"");
	ecplan_catalog *cat = cat_new("a", "integer");
	cat_key(cat, 2, k, kt);
	char *s;
	s = ecplan_render_batch_bound(p, cat, false);
	assert_string_equal(s, "SELECT \"tenant id\", \"id\" FROM \"public\".\"t\" ORDER BY \"tenant id\", \"id\""
			       " OFFSET $1 LIMIT 1");
	free(s);
	s = ecplan_render_batch_bound(p, cat, true);
	assert_string_equal(s, "SELECT \"tenant id\", \"id\" FROM \"public\".\"t\" WHERE (\"tenant id\", \"id\") >"
			       " ($1::integer, $2::uuid) ORDER BY \"tenant id\", \"id\" OFFSET $3 LIMIT 1");
	free(s);
	s = ecplan_render_batch_update(p, cat, true, true);
	assert_string_equal(s, "UPDATE \"public\".\"t\" SET \"b\" = (CAST(\"a\" AS bigint)) WHERE"
			       " (\"tenant id\", \"id\") > ($1::integer, $2::uuid) AND"
			       " (\"tenant id\", \"id\") <= ($3::integer, $4::uuid) AND"
			       " \"b\" IS NULL AND (CAST(\"a\" AS bigint)) IS NOT NULL");
	free(s);
	s = ecplan_render_batch_update(p, cat, false, true);
	assert_string_equal(s, "UPDATE \"public\".\"t\" SET \"b\" = (CAST(\"a\" AS bigint)) WHERE"
			       " (\"tenant id\", \"id\") <= ($1::integer, $2::uuid) AND"
			       " \"b\" IS NULL AND (CAST(\"a\" AS bigint)) IS NOT NULL");
	free(s);
	s = ecplan_render_batch_update(p, cat, true, false);
	assert_string_equal(s, "UPDATE \"public\".\"t\" SET \"b\" = (CAST(\"a\" AS bigint)) WHERE"
			       " (\"tenant id\", \"id\") > ($1::integer, $2::uuid) AND"
			       " \"b\" IS NULL AND (CAST(\"a\" AS bigint)) IS NOT NULL");
	free(s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

static void test_verify(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan(", \"type\": \"text\", \"up\": \"lower(a)\", \"down\": \"b\"");
	char *s = ecplan_render_verify(p, NULL);
	assert_string_equal(s,
		"SELECT count(*) FILTER (WHERE \"b\" IS DISTINCT FROM (lower(a))) AS new_differs,"
		" count(*) FILTER (WHERE \"a\" IS DISTINCT FROM (b)) AS old_differs,"
		" count(*) FILTER (WHERE \"b\" IS DISTINCT FROM (lower(a)) AND \"a\" IS DISTINCT FROM (b)) AS divergent,"
		" count(*) AS total FROM \"public\".\"t\"");
	free(s);
	ecplan_plan_free(p);

	p = mkplan(", \"type\": \"bigint\"");
	ecplan_catalog *cat = cat_std("integer");
	s = ecplan_render_verify(p, cat);
	assert_string_equal(s,
		"SELECT count(*) FILTER (WHERE \"b\" IS DISTINCT FROM (CAST(\"a\" AS bigint))) AS new_differs,"
		" count(*) FILTER (WHERE \"a\" IS DISTINCT FROM (CAST(\"b\" AS integer))) AS old_differs,"
		" count(*) FILTER (WHERE \"b\" IS DISTINCT FROM (CAST(\"a\" AS bigint)) AND"
		" \"a\" IS DISTINCT FROM (CAST(\"b\" AS integer))) AS divergent,"
		" count(*) AS total FROM \"public\".\"t\"");
	free(s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

/* ---- steps text ---------------------------------------------------------------- */

static void test_steps_text(void **state)
{
	(void)state;
	ecplan_steps s;
	ecplan_plan *p = mkplan(", \"type\": \"bigint\", \"not_null\": true");
	ecplan_catalog *cat = cat_std("integer");
	ecplan_index_info *ix = cat_index(cat, "t_a_idx");
	ix_key(ix, "a");
	ix = cat_index(cat, "t_a_expr");
	ix->uses_column_in_expression = true;
	ix_key(ix, "a");
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_BACKFILL);
	char *t = ecplan_render_steps_text(&s, p, cat, ECPLAN_PHASE_BACKFILL, false);
	assert_int_equal(strncmp(t, "-- phase backfill\n-- ecplan's session settings:\n"
				    "SET lock_timeout = '1000ms';\nSET statement_timeout = '300000ms';\n\n"
				    "-- step 1: backfill b (in a transaction)\n-- repeated", 150), 0);
	/* a batch: its own transaction, the mark and the timeouts, the upper key, the update */
	assert_contains(t, "BEGIN;\nSET LOCAL lock_timeout = '1000ms';\nSET LOCAL statement_timeout = '300000ms';\n"
			   "SET LOCAL ecplan.backfill = 'p';\n-- lock: ACCESS SHARE (reads and writes continue)\nSELECT ");
	assert_contains(t, "-- ecplan saves the cursor (the upper key) in ecplan.plans here\nCOMMIT;\n");
	/* VALIDATE runs without a statement timeout, the NOT VALID check with it */
	assert_contains(t, "SET LOCAL statement_timeout = 0;\n-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)\n"
			   "ALTER TABLE \"public\".\"t\" VALIDATE CONSTRAINT ");
	assert_contains(t, "SET LOCAL statement_timeout = '300000ms';\n-- lock: ACCESS EXCLUSIVE, metadata only (brief)\n"
			   "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT ");
	/* an index build: no transaction block, no statement timeout while it runs */
	assert_contains(t, "\n-- step 4: build index t_a_idx (must run outside a transaction block)\n"
			   "-- replaces t_a_idx;");
	assert_contains(t, "SET statement_timeout = 0;\n-- lock: SHARE UPDATE EXCLUSIVE (reads and writes continue)\n"
			   "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"t_a_idx_ecplan\" ON \"public\".\"t\" USING btree (\"b\");\n"
			   "SET statement_timeout = '300000ms';\n");
	assert_contains(t, "-- BLOCKED: index \"t_a_expr\" uses \"a\"");
	assert_not_contains(t, "not known without --db");
	free(t);
	ecplan_steps_release(&s);

	ecplan_render_undo(&s, p, NULL, ECPLAN_PHASE_SYNC);
	t = ecplan_render_steps_text(&s, p, NULL, ECPLAN_PHASE_SYNC, true);
	assert_string_equal(t,
		"-- rollback of phase sync\n"
		"-- ecplan's session settings:\n"
		"SET lock_timeout = '1000ms';\n"
		"SET statement_timeout = '300000ms';\n"
		"\n-- step 1: remove sync trigger (one transaction)\n"
		"-- when a lock is not granted within lock_timeout: ROLLBACK, wait (jittered backoff) and try again, up to 10 times\n"
		"BEGIN;\n"
		"SET LOCAL lock_timeout = '1000ms';\n"
		"SET LOCAL statement_timeout = '300000ms';\n"
		"-- lock: ACCESS EXCLUSIVE, metadata only (brief)\n"
		"DROP TRIGGER IF EXISTS \"zz_ecplan_sync_p\" ON \"public\".\"t\";\n"
		"-- lock: none on the table\n"
		"DROP FUNCTION IF EXISTS \"ecplan\".\"ecplan_sync_p\"();\n"
		"-- ecplan records the step in ecplan.plans here, in the same transaction\n"
		"COMMIT;\n");
	free(t);
	ecplan_steps_release(&s);

	ecplan_render_phase(&s, p, NULL, ECPLAN_PHASE_CONTRACT);
	t = ecplan_render_steps_text(&s, p, NULL, ECPLAN_PHASE_CONTRACT, false);
	assert_contains(t, "\n-- not known without --db: the rebuilt indexes renamed to their old names\n");
	free(t);
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

/* ---- hostile names ----------------------------------------------------------------- */

/*
 * Renders every phase and undo of p (with and without cat) and checks that all
 * SQL, and the readable text, lexes cleanly and that none of the forbidden
 * words appears outside quotes and comments.
 */
static int check_contained(const ecplan_plan *p, const ecplan_catalog *cat,
			   const char *const *forbidden, size_t nforbidden)
{
	int problems = 0;
	for (int with_cat = 0; with_cat < 2; with_cat++) {
		for (int ph = 0; ph < ECPLAN_PHASE_COUNT; ph++) {
			for (int undo = 0; undo < 2; undo++) {
				ecplan_steps s;
				const ecplan_catalog *c = with_cat ? cat : NULL;
				if (undo)
					ecplan_render_undo(&s, p, c, (ecplan_phase)ph);
				else
					ecplan_render_phase(&s, p, c, (ecplan_phase)ph);
				char *texts[2] = { all_sql(&s),
						   ecplan_render_steps_text(&s, p, c, (ecplan_phase)ph, undo) };
				for (int k = 0; k < 2; k++) {
					ecplan_strbuf bare = ECPLAN_STRBUF_INIT;
					const char *where = NULL;
					if (!sql_lex(texts[k], &bare))
						where = "ends inside a quote or comment";
					for (size_t f = 0; !where && f < nforbidden; f++)
						if (strstr(bare.buf, forbidden[f]))
							where = forbidden[f];
					if (where) {
						print_error("%s%s of phase %s, %s catalog: %s\n---\n%s\n---\n",
							    k ? "text" : "SQL", undo ? " (undo)" : "",
							    ecplan_phase_name((ecplan_phase)ph),
							    with_cat ? "with" : "without", where, texts[k]);
						problems++;
					}
					ecplan_strbuf_release(&bare);
					free(texts[k]);
				}
				ecplan_steps_release(&s);
			}
		}
	}
	return problems;
}

static ecplan_catalog *cat_for(const char *old_col, const char *old_type, const char *index)
{
	static const char *const k[] = { "id" }, *const kt[] = { "bigint" };
	ecplan_catalog *c = cat_new(old_col, old_type);
	cat_key(c, 1, k, kt);
	c->column.default_expr = ecplan_xstrdup("'x'::text");
	ecplan_index_info *ix = cat_index(c, index);
	ix->unique = true;
	ix->constraint_type = 'u';
	ix->constraint_name = ecplan_xstrdup(index);
	ix_key(c->indexes, old_col);
	return c;
}

static void test_hostile_quoted_names(void **state)
{
	(void)state;
	ecplan_plan *p = mkplan_ex("weird", "\"My Schema\".\"Weird \"\"Table\"\"\"", "naïve col",
				   "Naïve \"New\" Col", ", \"type\": \"text\", \"not_null\": true", "");
	assert_string_equal(p->schema, "My Schema");
	assert_string_equal(p->table, "Weird \"Table\"");
	ecplan_catalog *cat = cat_for("naïve col", "character varying(40)", "Weird \"idx\"");
	static const char *const forbidden[] = { "Weird", "naïve", "Naïve", "My Schema", "New", "idx" };
	int problems = check_contained(p, cat, forbidden, 6);
	if (problems)
		fail_msg("%d rendering(s) let a name out of its quotes", problems);

	/* And the names are there, properly quoted. */
	ecplan_steps s;
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_BACKFILL);
	char *sql = all_sql(&s);
	assert_contains(sql, "\"My Schema\".\"Weird \"\"Table\"\"\"");
	assert_contains(sql, "SET \"Naïve \"\"New\"\" Col\" = (CAST(\"naïve col\" AS text))");
	assert_contains(sql, "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"Weird \"\"idx\"\"_ecplan\"");
	free(sql);
	ecplan_steps_release(&s);
	ecplan_render_phase(&s, p, cat, ECPLAN_PHASE_CONTRACT);
	sql = all_sql(&s);
	assert_contains(sql, "ADD CONSTRAINT \"Weird \"\"idx\"\"\" UNIQUE USING INDEX \"Weird \"\"idx\"\"_ecplan\"");
	free(sql);
	ecplan_steps_release(&s);
	ecplan_catalog_free(cat);
	ecplan_plan_free(p);
}

/* A column name with a newline and the end of a block comment: inside a --
 * comment the newline would end the comment, inside a block comment the
 * end marker would; the rest of the name would then be SQL. */
static void test_hostile_comment_breakout(void **state)
{
	(void)state;
	const char *evil_old = "x */ SELECT pwned_old(); \n SELECT pwned_old2(); --";
	const char *evil_new = "y */ SELECT pwned_new(); --\nSELECT pwned_new2();";
	static const char *const forbidden[] = { "pwned" };
	int problems = 0;
	/* With and without a type (the placeholders differ), default up and down. */
	static const char *const changes[] = { "", ", \"type\": \"text\"", ", \"type\": \"text\", \"not_null\": true" };
	for (size_t i = 0; i < 3; i++) {
		ecplan_plan *p = mkplan_ex("evil", "t", evil_old, evil_new, changes[i], "");
		ecplan_catalog *cat = cat_for(evil_old, "text", "evil */ SELECT pwned_idx(); --\nx");
		problems += check_contained(p, cat, forbidden, 1);
		ecplan_catalog_free(cat);
		ecplan_plan_free(p);
	}
	if (problems)
		fail_msg("%d rendering(s) let SQL out of a comment", problems);
}

/* PostgreSQL's block comments nest: a "/" "*" inside one opens another level,
 * so a name containing it would swallow the SQL after the comment. */
static void test_hostile_nested_comment(void **state)
{
	(void)state;
	static const char *const forbidden[] = { "pwned" };
	ecplan_catalog *cat = cat_for("a /* b", "text", "i /* x");
	ecplan_plan *p = mkplan_ex("evil", "t", "a /* b", "c", "", "");
	int problems = check_contained(p, cat, forbidden, 1);
	ecplan_plan_free(p);
	p = mkplan_ex("evil", "t", "a /* b", "c", ", \"type\": \"text\"", "");
	problems += check_contained(p, cat, forbidden, 1);
	ecplan_plan_free(p);
	ecplan_catalog_free(cat);
	if (problems)
		fail_msg("%d rendering(s) do not lex (an unterminated nested comment)", problems);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lexer_self_check),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_up_down_defaults),
		cmocka_unit_test(test_trigger_rename_exact),
		cmocka_unit_test(test_trigger_fast_path_vs_subquery),
		cmocka_unit_test(test_trigger_fast_path_case_folding),
		cmocka_unit_test(test_trigger_old_default),
		cmocka_unit_test(test_trigger_new_default),
		cmocka_unit_test(test_trigger_dollar_quoting),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_backfill_steps),
		cmocka_unit_test(test_index_rebuild),
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_contract),
		cmocka_unit_test(test_contract_skips_blocked_opclass_index),
		cmocka_unit_test(test_undo),
		cmocka_unit_test(test_no_unknowns_with_catalog),
		cmocka_unit_test(test_placeholders_listed_as_unknowns),
		cmocka_unit_test(test_batch_statements_one_column),
		cmocka_unit_test(test_batch_statements_two_columns),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_steps_text),
		cmocka_unit_test(test_hostile_quoted_names),
		cmocka_unit_test(test_hostile_comment_breakout),
		cmocka_unit_test(test_hostile_nested_comment),
		/* Last: with the current render.c it dereferences NULL, which
		 * UBSan (-fno-sanitize-recover) turns into an abort of the whole
		 * executable; every other test has run by then. */
		cmocka_unit_test(test_index_rebuild_other_expression),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
