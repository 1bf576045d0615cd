/*
 * Data-driven render tests: every directory tests/cases/render/<case>/ holds
 *   plan.json      the plan
 *   catalog.json   optional: the catalog to render with (format below);
 *                  without it the case renders with no catalog, as
 *                  `ecplan render` does without --db
 *   expected.sql   the expected text: ecplan_render_steps_text() of every
 *                  phase in order (expand, sync, backfill, switch, contract),
 *                  concatenated with one "\n" between phases
 * Adding a case needs no code. On a mismatch the test prints a line diff
 * (- expected, + got). With ECPLAN_UPDATE_EXPECTED=1 it (re)writes
 * expected.sql instead of comparing: review the result by eye before
 * committing it.
 *
 * catalog.json (every member optional):
 *   { "column": {"name", "type", "default", "default_volatile"},
 *     "new_column": {... same ...},
 *     "key": [{"name", "type"}, ...],
 *     "indexes": [{"name", "method" (default btree), "unique", "primary",
 *                  "definition" (pg_get_indexdef), "deferrable", "deferred",
 *                  "valid" (default true), "nulls_not_distinct",
 *                  "constraint_name", "constraint_type" ("u", "p", "x"),
 *                  "predicate", "uses_column_in_expression",
 *                  "keys": [{"name", "expression", "opclass", "collation",
 *                            "desc", "nulls_first"}],
 *                  "include": ["col", ...]}] }
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <sys/stat.h>

#include "ecplan/catalog.h"
#include "ecplan/plan.h"
#include "ecplan/render.h"
#include "ecplan/render_text.h"
#include "ecplan/strbuf.h"

#define CASES_DIR ECPLAN_SOURCE_DIR "/tests/cases/render"

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		ecplan_strbuf_add(&sb, buf, n);
	fclose(f);
	return ecplan_strbuf_detach(&sb);
}

static bool write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return false;
	bool ok = fwrite(text, 1, strlen(text), f) == strlen(text);
	return fclose(f) == 0 && ok;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* ---- catalog.json ------------------------------------------------------------ */

static char *jstr(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? ecplan_xstrdup(json_string_value(v)) : NULL;
}

static bool jbool(const json_t *obj, const char *key, bool dflt)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static void load_column(ecplan_column_info *c, const json_t *j)
{
	c->name = jstr(j, "name");
	c->type = jstr(j, "type");
	c->default_expr = jstr(j, "default");
	c->default_volatile = jbool(j, "default_volatile", false);
}

static ecplan_catalog *load_catalog(const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
	ecplan_catalog *cat = ecplan_xcalloc(1, sizeof(*cat));
	cat->server_version_num = 150000;
	cat->table_exists = true;
	cat->relkind = 'r';
	cat->reltuples = -1;
	const json_t *j;
	if ((j = json_object_get(root, "column"))) {
		cat->column_exists = true;
		load_column(&cat->column, j);
	}
	if ((j = json_object_get(root, "new_column"))) {
		cat->new_column_exists = true;
		load_column(&cat->new_col, j);
	}
	if ((j = json_object_get(root, "key")) && json_array_size(j)) {
		cat->nkey = json_array_size(j);
		cat->key_columns = ecplan_xcalloc(cat->nkey, sizeof(char *));
		cat->key_types = ecplan_xcalloc(cat->nkey, sizeof(char *));
		for (size_t i = 0; i < cat->nkey; i++) {
			cat->key_columns[i] = jstr(json_array_get(j, i), "name");
			cat->key_types[i] = jstr(json_array_get(j, i), "type");
		}
	}
	if ((j = json_object_get(root, "indexes")) && json_array_size(j)) {
		cat->nindexes = json_array_size(j);
		cat->indexes = ecplan_xcalloc(cat->nindexes, sizeof(*cat->indexes));
		for (size_t i = 0; i < cat->nindexes; i++) {
			const json_t *x = json_array_get(j, i);
			ecplan_index_info *ix = &cat->indexes[i];
			ix->name = jstr(x, "name");
			ix->method = jstr(x, "method");
			if (!ix->method)
				ix->method = ecplan_xstrdup("btree");
			ix->unique = jbool(x, "unique", false);
			ix->primary = jbool(x, "primary", false);
			ix->valid = jbool(x, "valid", true);
			ix->nulls_not_distinct = jbool(x, "nulls_not_distinct", false);
			ix->constraint_name = jstr(x, "constraint_name");
			char *ct = jstr(x, "constraint_type");
			ix->constraint_type = ct ? ct[0] : 0;
			free(ct);
			ix->predicate = jstr(x, "predicate");
			ix->uses_column_in_expression = jbool(x, "uses_column_in_expression", false);
			ix->definition = jstr(x, "definition");
			ix->deferrable = jbool(x, "deferrable", false);
			ix->deferred = jbool(x, "deferred", false);
			const json_t *keys = json_object_get(x, "keys");
			ix->nkeys = json_array_size(keys);
			ix->keys = ecplan_xcalloc(ix->nkeys ? ix->nkeys : 1, sizeof(*ix->keys));
			for (size_t k = 0; k < ix->nkeys; k++) {
				const json_t *kj = json_array_get(keys, k);
				ix->keys[k].name = jstr(kj, "name");
				ix->keys[k].expression = jstr(kj, "expression");
				ix->keys[k].opclass = jstr(kj, "opclass");
				ix->keys[k].collation = jstr(kj, "collation");
				ix->keys[k].desc = jbool(kj, "desc", false);
				ix->keys[k].nulls_first = jbool(kj, "nulls_first", false);
			}
			const json_t *inc = json_object_get(x, "include");
			ix->ninclude = json_array_size(inc);
			ix->include = ecplan_xcalloc(ix->ninclude ? ix->ninclude : 1, sizeof(char *));
			for (size_t k = 0; k < ix->ninclude; k++)
				ix->include[k] = ecplan_xstrdup(json_string_value(json_array_get(inc, k)));
		}
	}
	json_decref(root);
	return cat;
}

/* ---- rendering ------------------------------------------------------------------- */

static char *render_all(const ecplan_plan *plan, const ecplan_catalog *cat)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	for (int p = 0; p < ECPLAN_PHASE_COUNT; p++) {
		ecplan_steps steps;
		ecplan_render_phase(&steps, plan, cat, (ecplan_phase)p);
		char *text = ecplan_render_steps_text(&steps, plan, cat, (ecplan_phase)p, false);
		if (p)
			ecplan_strbuf_addch(&sb, '\n');
		ecplan_strbuf_adds(&sb, text);
		free(text);
		ecplan_steps_release(&steps);
	}
	return ecplan_strbuf_detach(&sb);
}

/* ---- a line diff (LCS), for mismatches ------------------------------------------- */

static size_t split_lines(char *text, char ***out)
{
	char **v = NULL;
	size_t n = 0;
	char *p = text;
	while (*p) {
		char *nl = strchr(p, '\n');
		v = ecplan_xrealloc(v, (n + 1) * sizeof(char *));
		v[n++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	*out = v;
	return n;
}

static void print_diff(const char *expected, const char *got)
{
	char *ea = ecplan_xstrdup(expected), *ga = ecplan_xstrdup(got);
	char **a, **b;
	size_t n = split_lines(ea, &a), m = split_lines(ga, &b);
	/* lcs[i][j]: LCS length of a[i..] and b[j..] */
	size_t *lcs = ecplan_xcalloc((n + 1) * (m + 1), sizeof(size_t));
#define L(i, j) lcs[(i) * (m + 1) + (j)]
	for (size_t i = n; i-- > 0;)
		for (size_t j = m; j-- > 0;)
			L(i, j) = !strcmp(a[i], b[j]) ? L(i + 1, j + 1) + 1
				  : (L(i + 1, j) > L(i, j + 1) ? L(i + 1, j) : L(i, j + 1));
	/* Walk it, printing changed lines with up to 2 lines of context. */
	size_t i = 0, j = 0, since_change = 99;
	const char *ctx[2] = { NULL, NULL };
	size_t nctx = 0;
	print_error("--- expected.sql\n+++ rendered\n");
	while (i < n || j < m) {
		if (i < n && j < m && !strcmp(a[i], b[j])) {
			if (since_change < 2)
				print_error("  %s\n", a[i]);
			else {
				if (nctx == 2)
					ctx[0] = ctx[1], nctx = 1;
				ctx[nctx++] = a[i];
			}
			since_change++;
			i++;
			j++;
			continue;
		}
		if (since_change >= 2) {
			print_error("@@ expected line %zu, rendered line %zu @@\n", i + 1, j + 1);
			for (size_t k = 0; k < nctx; k++)
				print_error("  %s\n", ctx[k]);
		}
		nctx = 0;
		since_change = 0;
		if (j < m && (i >= n || L(i, j + 1) >= L(i + 1, j)))
			print_error("+ %s\n", b[j++]);
		else
			print_error("- %s\n", a[i++]);
	}
#undef L
	free(lcs);
	free(a);
	free(b);
	free(ea);
	free(ga);
}

/* ---- the cases ---------------------------------------------------------------------- */

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void test_render_cases(void **state)
{
	(void)state;
	bool update = getenv("ECPLAN_UPDATE_EXPECTED") && !strcmp(getenv("ECPLAN_UPDATE_EXPECTED"), "1");
	DIR *d = opendir(CASES_DIR);
	if (!d)
		fail_msg("cannot open %s", CASES_DIR);
	char **cases = NULL;
	size_t ncases = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		cases = ecplan_xrealloc(cases, (ncases + 1) * sizeof(char *));
		cases[ncases++] = ecplan_xstrdup(e->d_name);
	}
	closedir(d);
	if (ncases)
		qsort(cases, ncases, sizeof(char *), cmp_str);
	assert_true(ncases >= 5);

	int failures = 0;
	for (size_t c = 0; c < ncases; c++) {
		char *plan_path = ecplan_xstrfmt("%s/%s/plan.json", CASES_DIR, cases[c]);
		char *cat_path = ecplan_xstrfmt("%s/%s/catalog.json", CASES_DIR, cases[c]);
		char *exp_path = ecplan_xstrfmt("%s/%s/expected.sql", CASES_DIR, cases[c]);
		ecplan_diags diags = ECPLAN_DIAGS_INIT;
		ecplan_plan *plan = NULL;
		if (ecplan_plan_load_file(&plan, plan_path, &diags) != 0) {
			for (size_t k = 0; k < diags.count; k++) {
				char *m = ecplan_error_format(&diags.items[k]);
				print_error("%s\n", m);
				free(m);
			}
			print_error("render/%s: plan.json does not load\n", cases[c]);
			failures++;
			goto next;
		}
		ecplan_catalog *cat = file_exists(cat_path) ? load_catalog(cat_path) : NULL;
		char *got = render_all(plan, cat);
		if (update) {
			if (!write_file(exp_path, got)) {
				print_error("render/%s: cannot write %s\n", cases[c], exp_path);
				failures++;
			} else {
				print_message("render/%s: wrote expected.sql\n", cases[c]);
			}
		} else {
			char *want = read_file(exp_path);
			if (!want) {
				print_error("render/%s: no expected.sql (run with ECPLAN_UPDATE_EXPECTED=1 "
					    "to write it, then review it)\n", cases[c]);
				failures++;
			} else if (strcmp(want, got)) {
				print_error("render/%s: rendered SQL differs from expected.sql\n", cases[c]);
				print_diff(want, got);
				failures++;
			} else {
				print_message("render/%s: ok\n", cases[c]);
			}
			free(want);
		}
		free(got);
		ecplan_catalog_free(cat);
		ecplan_plan_free(plan);
next:
		ecplan_diags_release(&diags);
		free(plan_path);
		free(cat_path);
		free(exp_path);
		free(cases[c]);
	}
	free(cases);
	if (failures)
		fail_msg("%d render case(s) failed", failures);
}

static void test_diff_printer(void **state)
{
	(void)state;
	/* Smoke test of the diff output (goes to stderr; must not crash or leak). */
	print_diff("a\nb\nc\nd\ne\nf\n", "a\nb\nX\nd\ne\nf\ng\n");
	print_diff("", "x\n");
	print_diff("x\n", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_printer),
		cmocka_unit_test(test_render_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
