/* Unit tests for plan.h: every example plan parses, defaults, the table's
 * schema splitting, canonical JSON and its hash, every invalid case under
 * tests/cases/invalid with the positions in its expected.err, several errors
 * reported at once, plan names and webhooks_for. */
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
#include <unistd.h>

#include "ecplan/plan.h"
#include "ecplan/strbuf.h"

#define MINIMAL_PLAN \
	"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\"," \
	" \"change\": {\"column\": \"a\", \"new_column\": \"b\"}}"

/* ---- helpers ----------------------------------------------------------- */

static ecplan_plan *parse_ok(const char *text)
{
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	ecplan_plan *plan = NULL;
	int rc = ecplan_plan_parse(&plan, text, strlen(text), NULL, &d);
	if (rc != 0 || d.count) {
		for (size_t i = 0; i < d.count; i++) {
			char *m = ecplan_error_format(&d.items[i]);
			print_error("%s\n", m);
			free(m);
		}
		ecplan_diags_release(&d);
		fail_msg("plan did not parse: %s", text);
	}
	assert_non_null(plan);
	ecplan_diags_release(&d);
	return plan;
}

/* Parses text that must fail; returns the diags (caller releases). */
static ecplan_diags parse_bad(const char *text)
{
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	ecplan_plan *plan = (ecplan_plan *)1;
	int rc = ecplan_plan_parse(&plan, text, strlen(text), "bad.json", &d);
	assert_int_equal(rc, ECPLAN_EINVALID);
	assert_null(plan);
	assert_true(d.count > 0);
	for (size_t i = 0; i < d.count; i++) {
		assert_int_equal(d.items[i].code, ECPLAN_EINVALID);
		assert_true(d.items[i].message[0] != '\0');
		assert_string_equal(d.items[i].source, "bad.json");
	}
	return d;
}

static const ecplan_error *find_path(const ecplan_diags *d, const char *path)
{
	for (size_t i = 0; i < d->count; i++)
		if (!strcmp(d->items[i].path, path))
			return &d->items[i];
	return NULL;
}

/* A JSON string literal for s (quotes and escapes), malloc'ed. */
static char *json_quote(const char *s)
{
	json_t *j = json_string(s);
	assert_non_null(j);
	char *r = json_dumps(j, JSON_ENCODE_ANY);
	json_decref(j);
	assert_non_null(r);
	return r;
}

static char *plan_with_table(const char *table)
{
	char *q = json_quote(table);
	char *text = ecplan_xstrfmt("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": %s,"
				    " \"change\": {\"column\": \"a\", \"new_column\": \"b\"}}", q);
	free(q);
	return text;
}

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

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of dir (files or directories) matching the filter. */
static size_t list_dir(const char *dir, bool want_dirs, const char *suffix, char ***out)
{
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("cannot open directory %s", dir);
	char **v = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *full = ecplan_xstrfmt("%s/%s", dir, e->d_name);
		struct stat st;
		bool ok = stat(full, &st) == 0 && (want_dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
		size_t len = strlen(e->d_name), sl = suffix ? strlen(suffix) : 0;
		if (ok && suffix && (len < sl || strcmp(e->d_name + len - sl, suffix)))
			ok = false;
		free(full);
		if (!ok)
			continue;
		v = ecplan_xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = ecplan_xstrdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- example plans ------------------------------------------------------ */

static void test_example_plans_parse(void **state)
{
	(void)state;
	char **names;
	size_t n = list_dir(ECPLAN_SOURCE_DIR "/plans", false, ".json", &names);
	size_t parsed = 0;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(names[i], "schema.json"))
			continue;
		char *path = ecplan_xstrfmt("%s/plans/%s", ECPLAN_SOURCE_DIR, names[i]);
		ecplan_diags d = ECPLAN_DIAGS_INIT;
		ecplan_plan *plan = NULL;
		int rc = ecplan_plan_load_file(&plan, path, &d);
		if (rc != 0) {
			for (size_t k = 0; k < d.count; k++) {
				char *m = ecplan_error_format(&d.items[k]);
				print_error("%s\n", m);
				free(m);
			}
			fail_msg("%s does not parse", path);
		}
		assert_int_equal(d.count, 0);
		assert_non_null(plan);
		assert_string_equal(plan->source, path);
		assert_true(ecplan_plan_name_valid(plan->name));
		/* The plan's name is its file name. */
		char *stem = ecplan_xstrfmt("%s.json", plan->name);
		assert_string_equal(stem, names[i]);
		free(stem);
		for (size_t k = 0; k < plan->nchanges; k++) {
			const ecplan_plan *c = ecplan_plan_change(plan, k);
			assert_non_null(c->schema);
			assert_non_null(c->table);
			assert_non_null(c->column);
			assert_non_null(c->new_column);
			assert_string_not_equal(c->column, c->new_column);
		}
		assert_non_null(plan->canonical);
		assert_non_null(plan->sha256);
		assert_int_equal(strlen(plan->sha256), 64);
		ecplan_plan_free(plan);
		ecplan_diags_release(&d);
		free(path);
		parsed++;
	}
	assert_true(parsed >= 6);
	free_list(names, n);
}

static ecplan_plan *load_example(const char *name)
{
	char *path = ecplan_xstrfmt("%s/plans/%s", ECPLAN_SOURCE_DIR, name);
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	ecplan_plan *plan = NULL;
	assert_int_equal(ecplan_plan_load_file(&plan, path, &d), 0);
	ecplan_diags_release(&d);
	free(path);
	return plan;
}

static void test_example_values(void **state)
{
	(void)state;
	ecplan_plan *p = load_example("weird-quoted-names.json");
	assert_string_equal(p->schema, "My Schema");
	assert_string_equal(p->table, "Weird \"Table\"");
	assert_string_equal(p->column, "naïve col");
	assert_string_equal(p->new_column, "Naïve \"New\" Col");
	assert_string_equal(p->type, "text");
	assert_null(p->up);   /* null is the same as absent */
	assert_null(p->down);
	assert_int_equal(p->backfill.batch_size, 1000);
	ecplan_plan_free(p);

	p = load_example("orders-quantity-bigint.json");
	assert_string_equal(p->schema, "public");
	assert_string_equal(p->table, "orders");
	assert_string_equal(p->type, "bigint");
	assert_string_equal(p->up, "quantity::bigint");
	assert_string_equal(p->down, "quantity_big::integer");
	assert_true(p->not_null);
	assert_string_equal(p->default_expr, "1");
	assert_int_equal(p->backfill.batch_size, 20000);
	assert_int_equal(p->backfill.max_rows_per_second, 100000);
	assert_int_equal(p->safety.statement_timeout_ms, 60000);
	assert_int_equal(p->safety.max_transaction_age_s, 30);
	assert_true(p->contract.archive); /* default */
	ecplan_plan_free(p);

	p = load_example("products-price-numeric.json");
	assert_null(p->default_expr);
	assert_int_equal(p->backfill.target_batch_ms, 0);
	assert_int_equal(p->backfill.pause_ms, 50);
	assert_int_equal(p->contract.min_soak_s, 3600);
	assert_int_equal(p->safety.lock_timeout_ms, 2000);
	assert_int_equal(p->safety.statement_timeout_ms, 300000); /* default */
	ecplan_plan_free(p);

	p = load_example("accounts-status-webhooks.json");
	assert_int_equal(p->nwebhooks, 2);
	const ecplan_webhook_spec *w = &p->webhooks[0];
	assert_string_equal(w->name, "flip-flag");
	assert_string_equal(w->method, "POST");
	assert_true(w->gate);
	assert_int_equal(w->retries, 5);
	assert_string_equal(w->secret_env, "ECPLAN_WEBHOOK_SECRET");
	assert_int_equal(w->signature, ECPLAN_SIGNATURE_ECPLAN | ECPLAN_SIGNATURE_STANDARD);
	assert_int_equal(p->webhooks[1].signature, ECPLAN_SIGNATURE_ECPLAN); /* the default */
	assert_int_equal(w->nheaders, 1);
	assert_string_equal(w->headers[0].name, "Authorization");
	assert_string_equal(w->headers[0].value, "Bearer ${env.FLAG_TOKEN}");
	assert_int_equal(w->nevents, 2);
	assert_string_equal(w->events[0], "switch.after");
	assert_string_equal(w->events[1], "rollback.after");
	w = &p->webhooks[1];
	assert_string_equal(w->name, "audit-log");
	assert_false(w->gate);
	assert_int_equal(w->timeout_ms, 2000);
	assert_int_equal(w->retries, 2);
	assert_null(w->secret_env);
	assert_null(w->body);
	assert_int_equal(p->nchecks, 2);
	assert_string_equal(p->checks[0].name, "replicas caught up");
	assert_int_equal(p->checks[0].before, ECPLAN_PHASE_BACKFILL);
	assert_int_equal(p->checks[1].before, ECPLAN_PHASE_CONTRACT);
	assert_non_null(strstr(p->checks[1].sql, "accounts-api-v1"));
	ecplan_plan_free(p);
}

/* ---- defaults ------------------------------------------------------------- */

static void assert_default_settings(const ecplan_plan *p)
{
	assert_int_equal(p->backfill.batch_size, 5000);
	assert_int_equal(p->backfill.target_batch_ms, 200);
	assert_int_equal(p->backfill.pause_ms, 0);
	assert_int_equal(p->backfill.max_rows_per_second, 0);
	assert_int_equal(p->safety.lock_timeout_ms, 1000);
	assert_int_equal(p->safety.statement_timeout_ms, 300000);
	assert_int_equal(p->safety.lock_retries, 10);
	assert_int_equal(p->safety.max_transaction_age_s, 60);
	assert_int_equal(p->safety.max_index_wait_s, 3600);
	assert_false(p->backfill.disable_triggers);
	assert_int_equal(p->contract.min_soak_s, 0);
	assert_true(p->contract.archive);
}

static void test_defaults(void **state)
{
	(void)state;
	ecplan_plan *p = parse_ok(MINIMAL_PLAN);
	assert_string_equal(p->source, "<string>");
	assert_string_equal(p->name, "p");
	assert_null(p->description);
	assert_string_equal(p->schema, "public");
	assert_string_equal(p->table, "users");
	assert_string_equal(p->column, "a");
	assert_string_equal(p->new_column, "b");
	assert_null(p->type);
	assert_null(p->up);
	assert_null(p->down);
	assert_null(p->default_expr);
	assert_false(p->not_null);
	assert_default_settings(p);
	assert_int_equal(p->nwebhooks, 0);
	assert_int_equal(p->nchecks, 0);
	ecplan_plan_free(p);

	/* users-full-name.json spells out every setting at its default value. */
	p = load_example("users-full-name.json");
	assert_default_settings(p);
	ecplan_plan_free(p);

	/* Empty sections keep every default. */
	p = parse_ok("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"t\","
		     " \"change\": {\"column\": \"a\", \"new_column\": \"b\"},"
		     " \"backfill\": {}, \"safety\": {}, \"contract\": {}, \"webhooks\": [], \"checks\": []}");
	assert_default_settings(p);
	ecplan_plan_free(p);

	/* archive can be turned off; 0 is a valid statement timeout. */
	p = parse_ok("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"t\","
		     " \"change\": {\"column\": \"a\", \"new_column\": \"b\"},"
		     " \"contract\": {\"archive\": false}, \"safety\": {\"statement_timeout_ms\": 0}}");
	assert_false(p->contract.archive);
	assert_int_equal(p->safety.statement_timeout_ms, 0);
	ecplan_plan_free(p);
}

static void test_webhook_defaults(void **state)
{
	(void)state;
	ecplan_plan *p = parse_ok(
		"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"t\","
		" \"change\": {\"column\": \"a\", \"new_column\": \"b\"},"
		" \"webhooks\": [{\"name\": \"w\", \"url\": \"https://example.com/h\","
		" \"events\": [\"failed\"]}]}");
	assert_int_equal(p->nwebhooks, 1);
	const ecplan_webhook_spec *w = &p->webhooks[0];
	assert_string_equal(w->method, "POST");
	assert_int_equal(w->timeout_ms, 5000);
	assert_int_equal(w->retries, 3);
	assert_false(w->gate);
	assert_false(w->follow_redirects);
	assert_null(w->body);
	assert_null(w->secret_env);
	assert_int_equal(w->nheaders, 0);
	assert_int_equal(w->nevents, 1);
	ecplan_plan_free(p);
}

/* ---- table names ---------------------------------------------------------- */

static void test_table_split(void **state)
{
	(void)state;
	static const char *const good[][3] = {
		{ "users", "public", "users" },
		{ "a.b", "a", "b" },
		{ "public.users", "public", "users" },
		{ "Users", "public", "Users" }, /* literal, not case-folded */
		{ "\"My Schema\".\"Weird \"\"Table\"\"\"", "My Schema", "Weird \"Table\"" },
		{ "\"a.b\".c", "a.b", "c" },
		{ "\"a.b\"", "public", "a.b" },
		{ "s.\"t\"", "s", "t" },
		{ "naïve.tablé", "naïve", "tablé" },
		{ "with space.x y", "with space", "x y" },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *text = plan_with_table(good[i][0]);
		ecplan_plan *p = parse_ok(text);
		assert_string_equal(p->schema, good[i][1]);
		assert_string_equal(p->table, good[i][2]);
		ecplan_plan_free(p);
		free(text);
	}

	char long_part[65];
	memset(long_part, 'x', 64);
	long_part[64] = '\0';
	char *long_table = ecplan_xstrfmt("s.%s", long_part);
	const char *const bad[] = {
		"a.b.c", "", "\"unterminated", "a.", ".a", "a..b", "\"\"", "\"\".b",
		"a\"b", "\"a\"b", "\"a\".", "a.\"b", long_table, long_part,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = plan_with_table(bad[i]);
		ecplan_diags d = parse_bad(text);
		const ecplan_error *e = find_path(&d, "$.table");
		if (!e)
			fail_msg("table \"%s\" was not reported at $.table", bad[i]);
		assert_int_equal(d.count, 1);
		assert_int_equal(e->line, 1);
		/* The error points at the value's opening quote. */
		assert_int_equal(e->column, (int)(strstr(text, "\"table\": ") - text) + 10);
		ecplan_diags_release(&d);
		free(text);
	}
	free(long_table);

	/* 63 bytes is the longest name a part can have. */
	char ok_part[64];
	memset(ok_part, 'y', 63);
	ok_part[63] = '\0';
	char *text = plan_with_table(ok_part);
	ecplan_plan *p = parse_ok(text);
	assert_string_equal(p->table, ok_part);
	ecplan_plan_free(p);
	free(text);
}

/* ---- canonical JSON and its hash ------------------------------------------ */

static void test_canonical_stable(void **state)
{
	(void)state;
	const char *a =
		"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\",\n"
		"  \"change\": {\"column\": \"a\", \"new_column\": \"b\", \"type\": \"text\"},\n"
		"  \"backfill\": {\"batch_size\": 10, \"pause_ms\": 5}}\n";
	const char *b =
		"\n\n  {  \"backfill\" :{ \"pause_ms\":5,\"batch_size\":10 },\n"
		"\"change\":{\"type\":\"text\",\t\"new_column\":\"b\",\"column\":\"a\"},"
		"\"table\":\"users\",\"name\":\"p\",\"format\":\"ecplan/v1\"}";
	ecplan_plan *pa = parse_ok(a), *pb = parse_ok(b);
	assert_string_equal(pa->canonical, pb->canonical);
	assert_string_equal(pa->sha256, pb->sha256);
	/* Sorted keys, no whitespace. */
	assert_string_equal(pa->canonical,
			    "{\"backfill\":{\"batch_size\":10,\"pause_ms\":5},"
			    "\"change\":{\"column\":\"a\",\"new_column\":\"b\",\"type\":\"text\"},"
			    "\"format\":\"ecplan/v1\",\"name\":\"p\",\"table\":\"users\"}");
	/* Lowercase hex SHA-256 of exactly the canonical text. */
	assert_int_equal(strlen(pa->sha256), 64);
	for (const char *c = pa->sha256; *c; c++)
		assert_true((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));

	/* The canonical form is a fixed point. */
	ecplan_plan *pc = parse_ok(pa->canonical);
	assert_string_equal(pc->canonical, pa->canonical);
	assert_string_equal(pc->sha256, pa->sha256);

	/* Any change of value changes the hash. */
	const char *c =
		"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\",\n"
		"  \"change\": {\"column\": \"a\", \"new_column\": \"b\", \"type\": \"text\"},\n"
		"  \"backfill\": {\"batch_size\": 11, \"pause_ms\": 5}}\n";
	ecplan_plan *pd = parse_ok(c);
	assert_string_not_equal(pd->sha256, pa->sha256);
	ecplan_plan_free(pa);
	ecplan_plan_free(pb);
	ecplan_plan_free(pc);
	ecplan_plan_free(pd);
}

/* "$schema" is for editors: accepted (a string), ignored, and not part of
 * the plan's identity. */
static void test_schema_key_ignored(void **state)
{
	(void)state;
	ecplan_plan *a = parse_ok(MINIMAL_PLAN);
	ecplan_plan *b = parse_ok("{\"$schema\": \"./schema.json\", \"format\": \"ecplan/v1\", \"name\": \"p\","
				  " \"table\": \"users\", \"change\": {\"column\": \"a\", \"new_column\": \"b\"}}");
	ecplan_plan *c = parse_ok("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\","
				  " \"change\": {\"column\": \"a\", \"new_column\": \"b\"},"
				  " \"$schema\": \"urn:ecplan:schema:plan:v1\"}");
	assert_string_equal(a->canonical, b->canonical);
	assert_string_equal(a->sha256, b->sha256);
	assert_string_equal(a->sha256, c->sha256);
	assert_null(strstr(b->canonical, "schema"));
	ecplan_plan_free(a);
	ecplan_plan_free(b);
	ecplan_plan_free(c);
	/* a non-string "$schema" is an error, with its path */
	ecplan_diags d = parse_bad("{\"$schema\": 7, \"format\": \"ecplan/v1\", \"name\": \"p\","
				   " \"table\": \"users\", \"change\": {\"column\": \"a\", \"new_column\": \"b\"}}");
	assert_int_equal(d.count, 1);
	assert_string_equal(d.items[0].path, "$[\"$schema\"]");
	ecplan_diags_release(&d);
}

static void test_sha256_known_value(void **state)
{
	(void)state;
	/* sha256 of the canonical text, computed independently:
	 * printf '%s' '<canonical>' | sha256sum */
	ecplan_plan *p = parse_ok(MINIMAL_PLAN);
	assert_string_equal(p->canonical,
			    "{\"change\":{\"column\":\"a\",\"new_column\":\"b\"},\"format\":\"ecplan/v1\","
			    "\"name\":\"p\",\"table\":\"users\"}");
	assert_string_equal(p->sha256,
			    "98f2ce610d7ab04925986c8a3d1fe2ceb4ad218c480f35da58693fe526dad66a");
	ecplan_plan_free(p);
}

/* ---- invalid cases ---------------------------------------------------------- */

typedef struct want_err {
	int line;
	int column; /* 0: any */
	char path[256];
} want_err;

/* Parses expected.err (see tests/integration/plans_schema.sh). */
static size_t read_expected(const char *file, want_err **out)
{
	char *text = read_file(file);
	if (!text)
		fail_msg("cannot read %s", file);
	want_err *v = NULL;
	size_t n = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			line[--len] = '\0';
		if (!len)
			continue;
		want_err w;
		memset(&w, 0, sizeof(w));
		char col[16];
		int used = 0;
		if (sscanf(line, "%d:%15[0-9*]: %n", &w.line, col, &used) != 2 || used == 0)
			fail_msg("%s: bad line \"%s\"", file, line);
		w.column = strcmp(col, "*") ? atoi(col) : 0;
		snprintf(w.path, sizeof(w.path), "%s", line + used);
		v = ecplan_xrealloc(v, (n + 1) * sizeof(*v));
		v[n++] = w;
	}
	free(text);
	*out = v;
	return n;
}

static void print_diags(const ecplan_diags *d)
{
	for (size_t i = 0; i < d->count; i++)
		print_error("    got %d:%d: %s: %s\n", d->items[i].line, d->items[i].column,
			    d->items[i].path, d->items[i].message);
}

static void test_invalid_cases(void **state)
{
	(void)state;
	char **cases;
	const char *dir = ECPLAN_SOURCE_DIR "/tests/cases/invalid";
	size_t n = list_dir(dir, true, NULL, &cases);
	assert_true(n >= 30);
	int failures = 0;
	for (size_t c = 0; c < n; c++) {
		char *plan_path = ecplan_xstrfmt("%s/%s/plan.json", dir, cases[c]);
		char *err_path = ecplan_xstrfmt("%s/%s/expected.err", dir, cases[c]);
		want_err *want;
		size_t nwant = read_expected(err_path, &want);
		assert_true(nwant > 0);

		ecplan_diags d = ECPLAN_DIAGS_INIT;
		ecplan_plan *plan = (ecplan_plan *)1;
		int rc = ecplan_plan_load_file(&plan, plan_path, &d);
		bool ok = rc == ECPLAN_EINVALID && plan == NULL && d.count == nwant;
		bool *used = ecplan_xcalloc(d.count + 1, sizeof(bool));
		for (size_t w = 0; w < nwant; w++) {
			bool found = false;
			for (size_t i = 0; i < d.count && !found; i++) {
				const ecplan_error *e = &d.items[i];
				if (used[i] || e->line != want[w].line || strcmp(e->path, want[w].path) ||
				    (want[w].column && e->column != want[w].column))
					continue;
				used[i] = found = true;
			}
			if (!found) {
				print_error("invalid/%s: missing %d:%d: %s\n", cases[c], want[w].line,
					    want[w].column, want[w].path);
				ok = false;
			}
		}
		for (size_t i = 0; i < d.count; i++) {
			const ecplan_error *e = &d.items[i];
			if (e->code != ECPLAN_EINVALID || !e->message[0] || strcmp(e->source, plan_path) ||
			    e->line < 1 || e->column < 1)
				ok = false;
		}
		if (!ok) {
			print_error("invalid/%s: rc %d, %zu error(s), want %zu:\n", cases[c], rc, d.count,
				    nwant);
			print_diags(&d);
			failures++;
		}
		if (rc == 0)
			ecplan_plan_free(plan);
		free(used);
		free(want);
		ecplan_diags_release(&d);
		free(plan_path);
		free(err_path);
	}
	free_list(cases, n);
	if (failures)
		fail_msg("%d invalid case(s) did not match expected.err", failures);
}

/* safety.max_index_wait_s and backfill.disable_triggers (issue 10). */
static void test_index_wait_and_triggers_settings(void **state)
{
	(void)state;
	ecplan_plan *p = parse_ok(
		"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\","
		" \"change\": {\"column\": \"a\", \"new_column\": \"b\"},"
		" \"backfill\": {\"disable_triggers\": true}, \"safety\": {\"max_index_wait_s\": 120}}");
	assert_int_equal(p->safety.max_index_wait_s, 120);
	assert_true(p->backfill.disable_triggers);
	ecplan_plan_free(p);
	const char *bad[] = {
		"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\","
		" \"change\": {\"column\": \"a\", \"new_column\": \"b\"}, \"safety\": {\"max_index_wait_s\": 0}}",
		"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\","
		" \"change\": {\"column\": \"a\", \"new_column\": \"b\"}, \"safety\": {\"max_index_wait_s\": 604801}}",
		"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\","
		" \"change\": {\"column\": \"a\", \"new_column\": \"b\"}, \"safety\": {\"max_index_wait_s\": \"60\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ecplan_diags d = parse_bad(bad[i]);
		assert_non_null(find_path(&d, "$.safety.max_index_wait_s"));
		ecplan_diags_release(&d);
	}
	ecplan_diags d = parse_bad(
		"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\","
		" \"change\": {\"column\": \"a\", \"new_column\": \"b\"}, \"backfill\": {\"disable_triggers\": 1}}");
	assert_non_null(find_path(&d, "$.backfill.disable_triggers"));
	ecplan_diags_release(&d);
}

static void test_multiple_errors(void **state)
{
	(void)state;
	/* Problems in every section are all reported, in one pass. */
	const char *text =
		"{\n"
		"  \"format\": \"ecplan/v2\",\n"                            /* 2 */
		"  \"name\": \"Bad.Name\",\n"                               /* 3 */
		"  \"table\": \"a.b.c\",\n"                                 /* 4 */
		"  \"change\": {\"column\": \"x\", \"new_column\": \"x\", \"not_null\": \"yes\"},\n" /* 5 */
		"  \"backfill\": {\"batch_size\": 0, \"pause_ms\": \"1\"},\n" /* 6 */
		"  \"safety\": {\"lock_timeout_ms\": 0, \"lock_retries\": -1},\n" /* 7 */
		"  \"colour\": \"blue\"\n"                                   /* 8 */
		"}\n";
	ecplan_diags d = parse_bad(text);
	static const struct { const char *path; int line, col; } want[] = {
		{ "$.format", 2, 13 },
		{ "$.name", 3, 11 },
		{ "$.table", 4, 12 },
		{ "$.change.new_column", 5, 43 },
		{ "$.change.not_null", 5, 60 },
		{ "$.backfill.batch_size", 6, 30 },
		{ "$.backfill.pause_ms", 6, 45 },
		{ "$.safety.lock_timeout_ms", 7, 33 },
		{ "$.safety.lock_retries", 7, 52 },
		{ "$.colour", 8, 3 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const ecplan_error *e = find_path(&d, want[i].path);
		if (!e) {
			print_diags(&d);
			fail_msg("no error at %s", want[i].path);
		}
		if (e->line != want[i].line || e->column != want[i].col) {
			print_diags(&d);
			fail_msg("%s at %d:%d, want %d:%d", want[i].path, e->line, e->column,
				 want[i].line, want[i].col);
		}
	}
	assert_int_equal(d.count, sizeof(want) / sizeof(want[0]));
	/* Hints say what to do. */
	assert_true(find_path(&d, "$.colour")->hint[0] != '\0');
	assert_true(find_path(&d, "$.safety.lock_timeout_ms")->hint[0] != '\0');
	ecplan_diags_release(&d);

	/* Diags already in the list are kept; the new ones are appended. */
	ecplan_diags acc = ECPLAN_DIAGS_INIT;
	ecplan_error *first = ecplan_diags_add(&acc);
	first->code = ECPLAN_ERR;
	snprintf(first->message, sizeof(first->message), "earlier");
	ecplan_plan *p = NULL;
	assert_int_equal(ecplan_plan_parse(&p, text, strlen(text), "x", &acc), ECPLAN_EINVALID);
	assert_int_equal(acc.count, 1 + sizeof(want) / sizeof(want[0]));
	assert_string_equal(acc.items[0].message, "earlier");
	ecplan_diags_release(&acc);

	/* ... and a good plan parses even when the list already holds errors. */
	acc = (ecplan_diags)ECPLAN_DIAGS_INIT;
	first = ecplan_diags_add(&acc);
	first->code = ECPLAN_ERR;
	assert_int_equal(ecplan_plan_parse(&p, MINIMAL_PLAN, strlen(MINIMAL_PLAN), NULL, &acc), 0);
	assert_non_null(p);
	assert_int_equal(acc.count, 1);
	ecplan_plan_free(p);
	ecplan_diags_release(&acc);
}

static void test_positions_count_characters(void **state)
{
	(void)state;
	/* Columns count characters, not bytes: "ï" and "é" are one column each. */
	const char *text =
		"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"t\",\n"
		"\"description\": \"naïve café\", \"change\": {\"column\": \"a\", \"new_column\": 7}}";
	ecplan_diags d = parse_bad(text);
	const ecplan_error *e = find_path(&d, "$.change.new_column");
	assert_non_null(e);
	assert_int_equal(e->line, 2);
	/* Byte offset of the 7 on line 2, minus one per extra UTF-8 byte (2). */
	const char *line2 = strchr(text, '\n') + 1;
	int bytes = (int)(strchr(line2, '7') - line2) + 1;
	assert_int_equal(e->column, bytes - 2);
	ecplan_diags_release(&d);
}

static void test_type_names(void **state)
{
	(void)state;
	/* The type is pasted into DDL: only what type names hold is accepted. */
	static const char *const good[] = {
		"text", "numeric(12,2)", "timestamp with time zone", "character varying(40)",
		"int[]", "public.my_type", "\"My Type\"", "\"my;type\"",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *q = json_quote(good[i]);
		char *text = ecplan_xstrfmt("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"t\","
					    " \"change\": {\"column\": \"a\", \"new_column\": \"b\", \"type\": %s}}", q);
		ecplan_plan *p = parse_ok(text);
		assert_string_equal(p->type, good[i]);
		ecplan_plan_free(p);
		free(text);
		free(q);
	}
	static const char *const bad[] = {
		"text; DROP TABLE users", "text -- x", "text /* x */", "int DEFAULT 1; SELECT 1",
		"\"unterminated", "text'", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *q = json_quote(bad[i]);
		char *text = ecplan_xstrfmt("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"t\","
					    " \"change\": {\"column\": \"a\", \"new_column\": \"b\", \"type\": %s}}", q);
		ecplan_diags d = parse_bad(text);
		if (!find_path(&d, "$.change.type"))
			fail_msg("type [%s] was not rejected at $.change.type", bad[i]);
		assert_int_equal(d.count, 1);
		ecplan_diags_release(&d);
		free(text);
		free(q);
	}
}

static void test_load_file_missing(void **state)
{
	(void)state;
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	ecplan_plan *p = (ecplan_plan *)1;
	const char *path = ECPLAN_SOURCE_DIR "/plans/no-such-plan.json";
	assert_int_equal(ecplan_plan_load_file(&p, path, &d), ECPLAN_EINVALID);
	assert_null(p);
	assert_int_equal(d.count, 1);
	assert_string_equal(d.items[0].source, path);
	assert_int_equal(d.items[0].code, ECPLAN_EINVALID);
	assert_true(d.items[0].message[0] != '\0');
	ecplan_diags_release(&d);
}

/* ---- names and webhooks_for ------------------------------------------------ */

static void test_name_valid(void **state)
{
	(void)state;
	char n63[64], n64[65];
	memset(n63, 'a', 63);
	n63[63] = '\0';
	memset(n64, 'a', 64);
	n64[64] = '\0';
	assert_true(ecplan_plan_name_valid(n63));
	assert_false(ecplan_plan_name_valid(n64));
	assert_true(ecplan_plan_name_valid("a"));
	assert_true(ecplan_plan_name_valid("0"));
	assert_true(ecplan_plan_name_valid("users-email_lower-2"));
	assert_true(ecplan_plan_name_valid("-"));
	assert_true(ecplan_plan_name_valid("_"));
	assert_false(ecplan_plan_name_valid(""));
	assert_false(ecplan_plan_name_valid(NULL));
	assert_false(ecplan_plan_name_valid("Users"));
	assert_false(ecplan_plan_name_valid("usErs"));
	assert_false(ecplan_plan_name_valid("a.b"));
	assert_false(ecplan_plan_name_valid("a b"));
	assert_false(ecplan_plan_name_valid("a/b"));
	assert_false(ecplan_plan_name_valid("a'b"));
	assert_false(ecplan_plan_name_valid("a\"b"));
	assert_false(ecplan_plan_name_valid("naïve"));
	assert_false(ecplan_plan_name_valid("a\n"));

	/* The parser enforces it: 63 passes, 64 fails. */
	char *text = ecplan_xstrfmt("{\"format\": \"ecplan/v1\", \"name\": \"%s\", \"table\": \"t\","
				    " \"change\": {\"column\": \"a\", \"new_column\": \"b\"}}", n63);
	ecplan_plan *p = parse_ok(text);
	ecplan_plan_free(p);
	free(text);
	text = ecplan_xstrfmt("{\"format\": \"ecplan/v1\", \"name\": \"%s\", \"table\": \"t\","
			      " \"change\": {\"column\": \"a\", \"new_column\": \"b\"}}", n64);
	ecplan_diags d = parse_bad(text);
	assert_non_null(find_path(&d, "$.name"));
	assert_int_equal(d.count, 1);
	ecplan_diags_release(&d);
	free(text);
}

static void test_webhooks_for(void **state)
{
	(void)state;
	ecplan_plan *p = load_example("accounts-status-webhooks.json");
	const ecplan_webhook_spec **out = NULL;
	assert_int_equal(ecplan_plan_webhooks_for(p, "switch.after", &out), 1);
	assert_string_equal(out[0]->name, "flip-flag");
	free(out);
	assert_int_equal(ecplan_plan_webhooks_for(p, "rollback.after", &out), 1);
	assert_string_equal(out[0]->name, "flip-flag");
	free(out);
	assert_int_equal(ecplan_plan_webhooks_for(p, "failed", &out), 1);
	assert_string_equal(out[0]->name, "audit-log");
	free(out);
	assert_int_equal(ecplan_plan_webhooks_for(p, "expand.before", &out), 0);
	assert_null(out);
	assert_int_equal(ecplan_plan_webhooks_for(p, "switch.before", &out), 0);
	assert_int_equal(ecplan_plan_webhooks_for(p, "", &out), 0);
	assert_null(out);
	ecplan_plan_free(p);

	/* Several subscribers come back in plan order. */
	p = parse_ok("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"t\","
		     " \"change\": {\"column\": \"a\", \"new_column\": \"b\"}, \"webhooks\": ["
		     " {\"name\": \"one\", \"url\": \"http://h/1\", \"events\": [\"expand.after\", \"failed\"]},"
		     " {\"name\": \"two\", \"url\": \"http://h/2\", \"events\": [\"failed\"]},"
		     " {\"name\": \"three\", \"url\": \"http://h/3\", \"events\": [\"sync.after\"]},"
		     " {\"name\": \"four\", \"url\": \"http://h/4\", \"events\": [\"sync.before\", \"failed\"]}]}");
	assert_int_equal(ecplan_plan_webhooks_for(p, "failed", &out), 3);
	assert_string_equal(out[0]->name, "one");
	assert_string_equal(out[1]->name, "two");
	assert_string_equal(out[2]->name, "four");
	free(out);
	assert_int_equal(ecplan_plan_webhooks_for(p, "sync.after", &out), 1);
	assert_string_equal(out[0]->name, "three");
	free(out);
	ecplan_plan_free(p);

	/* No fixed limit: 200 subscribers of one event all come back. */
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&sb, "{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"t\","
			   " \"change\": {\"column\": \"a\", \"new_column\": \"b\"}, \"webhooks\": [");
	for (int i = 0; i < 200; i++)
		ecplan_strbuf_addf(&sb, "%s{\"name\": \"h%d\", \"url\": \"http://h/%d\", \"events\": [\"failed\"]}",
				   i ? ", " : "", i, i);
	ecplan_strbuf_adds(&sb, "]}");
	p = parse_ok(sb.buf);
	ecplan_strbuf_release(&sb);
	assert_int_equal(ecplan_plan_webhooks_for(p, "failed", &out), 200);
	assert_string_equal(out[0]->name, "h0");
	assert_string_equal(out[64]->name, "h64");
	assert_string_equal(out[199]->name, "h199");
	free(out);
	ecplan_plan_free(p);
}

/* A plan file is read whole or refused: never cut, never waited on. */
static void test_load_file_limits(void **state)
{
	(void)state;
	char dir[] = "/tmp/ecplan-test-plan-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *big = ecplan_xstrfmt("%s/big.json", dir), *fifo = ecplan_xstrfmt("%s/fifo", dir);
	ecplan_plan *p = NULL;
	ecplan_diags d = ECPLAN_DIAGS_INIT;

	/* A valid plan followed by garbage, past 16 MiB. */
	FILE *f = fopen(big, "wb");
	assert_non_null(f);
	fputs("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"t\","
	      " \"change\": {\"column\": \"a\", \"new_column\": \"b\"}}", f);
	for (long i = 0; i < 16L * 1024 * 1024 / 64 + 1; i++)
		fputs("                                                               \n", f);
	fputs("this is not JSON", f);
	fclose(f);
	assert_int_equal(ecplan_plan_load_file(&p, big, &d), ECPLAN_EINVALID);
	assert_null(p);
	assert_int_equal(d.count, 1);
	assert_non_null(strstr(d.items[0].message, "plan file is too large"));
	assert_non_null(strstr(d.items[0].message, "16 MiB"));
	ecplan_diags_release(&d);

	/* The same plan with the garbage within 16 MiB: read whole, so refused
	 * as JSON (trailing garbage), not cut and accepted. */
	f = fopen(big, "wb");
	fputs("{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"t\","
	      " \"change\": {\"column\": \"a\", \"new_column\": \"b\"}}", f);
	for (long i = 0; i < 1024; i++)
		fputs("                                                               \n", f);
	fputs("garbage", f);
	fclose(f);
	assert_int_equal(ecplan_plan_load_file(&p, big, &d), ECPLAN_EINVALID);
	assert_null(p);
	ecplan_diags_release(&d);

	/* A directory and a FIFO (no writer: opening it must not block). */
	alarm(20); /* a blocking open would hang the test: SIGALRM fails it */
	assert_int_equal(ecplan_plan_load_file(&p, dir, &d), ECPLAN_EINVALID);
	assert_int_equal(d.count, 1);
	assert_string_equal(d.items[0].message, "plan file is a directory");
	ecplan_diags_release(&d);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(ecplan_plan_load_file(&p, fifo, &d), ECPLAN_EINVALID);
	assert_int_equal(d.count, 1);
	assert_string_equal(d.items[0].message, "plan file is a FIFO");
	ecplan_diags_release(&d);
	assert_int_equal(ecplan_plan_load_file(&p, "/dev/null", &d), ECPLAN_EINVALID);
	assert_string_equal(d.items[0].message, "plan file is a device");
	ecplan_diags_release(&d);
	alarm(0);

	unlink(big);
	unlink(fifo);
	rmdir(dir);
	free(big);
	free(fifo);
}


/* ---- backfill.throttle and operational paths ----------------------------- */

static void test_throttle_defaults(void **state)
{
	(void)state;
	ecplan_plan *p = parse_ok(MINIMAL_PLAN);
	assert_int_equal(p->backfill.throttle.max_replica_lag_ms, 10000);
	assert_int_equal(p->backfill.throttle.max_replica_lag_bytes, 256L * 1024 * 1024);
	assert_int_equal(p->backfill.throttle.max_slot_lag_bytes, 1024L * 1024 * 1024);
	assert_int_equal(p->backfill.throttle.pause_during_autovacuum, ECPLAN_AUTOVACUUM_WRAPAROUND);
	assert_null(p->backfill.throttle.query);
	assert_int_equal(p->backfill.throttle.query_timeout_ms, 2000);
	assert_int_equal(p->backfill.throttle.max_batch_ms_factor, 10);
	ecplan_plan_free(p);
}

static void test_throttle_settings(void **state)
{
	(void)state;
	ecplan_plan *p = parse_ok(
		"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\","
		" \"change\": {\"column\": \"a\", \"new_column\": \"b\"},"
		" \"backfill\": {\"throttle\": {\"max_replica_lag_ms\": 0, \"max_replica_lag_bytes\": 1048576,"
		" \"max_slot_lag_bytes\": 0, \"pause_during_autovacuum\": \"always\","
		" \"query\": \"SELECT hold FROM ops.flag\", \"query_timeout_ms\": 500,"
		" \"max_batch_ms_factor\": 0}}}");
	assert_int_equal(p->backfill.throttle.max_replica_lag_ms, 0);
	assert_int_equal(p->backfill.throttle.max_replica_lag_bytes, 1048576);
	assert_int_equal(p->backfill.throttle.max_slot_lag_bytes, 0);
	assert_int_equal(p->backfill.throttle.pause_during_autovacuum, ECPLAN_AUTOVACUUM_ALWAYS);
	assert_string_equal(p->backfill.throttle.query, "SELECT hold FROM ops.flag");
	assert_int_equal(p->backfill.throttle.query_timeout_ms, 500);
	assert_int_equal(p->backfill.throttle.max_batch_ms_factor, 0);
	assert_string_equal(ecplan_autovacuum_mode_name(ECPLAN_AUTOVACUUM_NEVER), "never");
	ecplan_plan_free(p);
}

static void test_throttle_errors(void **state)
{
	(void)state;
	static const char *const bad[][2] = {
		{ "{\"pause_during_autovacuum\": \"wraparond\"}", "$.backfill.throttle.pause_during_autovacuum" },
		{ "{\"pause_during_autovacuum\": true}", "$.backfill.throttle.pause_during_autovacuum" },
		{ "{\"max_replica_lag_ms\": -1}", "$.backfill.throttle.max_replica_lag_ms" },
		{ "{\"query\": \"\"}", "$.backfill.throttle.query" },
		{ "{\"query_timeout_ms\": 0}", "$.backfill.throttle.query_timeout_ms" },
		{ "{\"max_lag\": 1}", "$.backfill.throttle.max_lag" },
		{ "[]", "$.backfill.throttle" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = ecplan_xstrfmt(
			"{\"format\": \"ecplan/v1\", \"name\": \"p\", \"table\": \"users\","
			" \"change\": {\"column\": \"a\", \"new_column\": \"b\"},"
			" \"backfill\": {\"throttle\": %s}}", bad[i][0]);
		ecplan_diags d = parse_bad(text);
		assert_int_equal(d.count, 1);
		assert_string_equal(d.items[0].path, bad[i][1]);
		ecplan_diags_release(&d);
		free(text);
	}
}

static void test_operational_paths(void **state)
{
	(void)state;
	static const char *const op[] = { "$.backfill", "$.backfill.batch_size",
					  "$.backfill.throttle.query", "$.safety.lock_retries", "$.webhooks",
					  "$.webhooks[0].url", "$.checks[1].sql", "$.contract.min_soak_s",
					  "$.description", NULL };
	static const char *const defining[] = { "$.table", "$.change.up", "$.change.type", "$.change",
						"$.name", "$.format", "$.contract.archive", "$.contract",
						"$.backfillx", "$.descriptions", "$", NULL };
	for (size_t i = 0; op[i]; i++)
		assert_true(ecplan_plan_path_is_operational(op[i]));
	for (size_t i = 0; defining[i]; i++)
		assert_false(ecplan_plan_path_is_operational(defining[i]));
}


/* "changes": sub-plans sharing the parent's settings, tables numbered in
 * order of first mention, each change's own table or the plan's. */
static void test_changes(void **state)
{
	(void)state;
	ecplan_plan *p = parse_ok(
		"{\"format\": \"ecplan/v1\", \"name\": \"m\", \"table\": \"public.a\","
		" \"backfill\": {\"batch_size\": 77},"
		" \"changes\": [{\"column\": \"x\", \"new_column\": \"x2\"},"
		"  {\"table\": \"s.b\", \"column\": \"y\", \"new_column\": \"y2\", \"type\": \"bigint\"},"
		"  {\"column\": \"z\", \"new_column\": \"z2\", \"not_null\": true}]}");
	assert_int_equal(p->nchanges, 3);
	assert_int_equal(p->ntables, 2);
	assert_null(p->column);
	const ecplan_plan *c0 = ecplan_plan_change(p, 0), *c1 = ecplan_plan_change(p, 1),
			  *c2 = ecplan_plan_change(p, 2);
	assert_string_equal(c0->table, "a");
	assert_string_equal(c1->schema, "s");
	assert_string_equal(c1->table, "b");
	assert_string_equal(c1->type, "bigint");
	assert_int_equal(c0->table_index, 0);
	assert_int_equal(c1->table_index, 1);
	assert_int_equal(c2->table_index, 0);
	assert_int_equal(c2->change_index, 2);
	assert_true(c2->not_null);
	assert_string_equal(c1->json_path, "$.changes[1]");
	/* Shared, not copied: the parent's settings and name. */
	assert_int_equal(c1->backfill.batch_size, 77);
	assert_ptr_equal(c1->name, p->name);
	assert_ptr_equal(ecplan_plan_root(c1), p);
	assert_ptr_equal(ecplan_plan_table_first(p, 1), c1);
	ecplan_plan_free(p);

	/* One entry is the same as "change" (its own table wins). */
	p = parse_ok("{\"format\": \"ecplan/v1\", \"name\": \"m\","
		     " \"changes\": [{\"table\": \"t\", \"column\": \"x\", \"new_column\": \"x2\"}]}");
	assert_int_equal(p->nchanges, 1);
	assert_null(p->changes);
	assert_string_equal(p->table, "t");
	assert_string_equal(p->column, "x");
	assert_ptr_equal(ecplan_plan_change(p, 0), p);
	ecplan_plan_free(p);
}

static void expect_error_at(const char *text, const char *path)
{
	ecplan_diags d = parse_bad(text);
	bool found = false;
	for (size_t i = 0; i < d.count; i++)
		found |= !strcmp(d.items[i].path, path);
	if (!found)
		fail_msg("no error at %s for %s (first: %s %s)", path, text, d.count ? d.items[0].path : "-",
			 d.count ? d.items[0].message : "-");
	ecplan_diags_release(&d);
}

static void test_changes_errors(void **state)
{
	(void)state;
	const char *head = "{\"format\": \"ecplan/v1\", \"name\": \"m\", \"table\": \"t\", ";
	char buf[512];
#define BAD(tail, path) do { snprintf(buf, sizeof(buf), "%s%s}", head, tail); expect_error_at(buf, path); } while (0)
	BAD("\"changes\": [{\"column\": \"a\", \"new_column\": \"b\"}, {\"column\": \"a\", \"new_column\": \"c\"}]",
	    "$.changes[1].column");
	BAD("\"changes\": [{\"column\": \"a\", \"new_column\": \"b\"}, {\"column\": \"c\", \"new_column\": \"b\"}]",
	    "$.changes[1].new_column");
	BAD("\"changes\": [{\"column\": \"a\", \"new_column\": \"b\"}, {\"column\": \"c\", \"new_column\": \"a\"}]",
	    "$.changes[1].new_column");
	BAD("\"changes\": [{\"column\": \"a\", \"new_column\": \"b\"}, {\"column\": \"b\", \"new_column\": \"c\"}]",
	    "$.changes[1].column");
	BAD("\"changes\": []", "$.changes");
	BAD("\"changes\": {}", "$.changes");
	BAD("\"changes\": [3, {\"column\": \"a\", \"new_column\": \"b\"}]", "$.changes[0]");
	BAD("\"changes\": [{\"column\": \"a\", \"new_column\": \"b\", \"colour\": 1}, {\"column\": \"c\", \"new_column\": \"d\"}]",
	    "$.changes[0].colour");
	BAD("\"change\": {\"column\": \"a\", \"new_column\": \"b\"}, \"changes\": [{\"column\": \"c\", \"new_column\": \"d\"}]",
	    "$.changes");
#undef BAD
	/* The same column on two tables is fine. */
	ecplan_plan *p = parse_ok("{\"format\": \"ecplan/v1\", \"name\": \"m\", \"table\": \"t\", \"changes\": ["
				  "{\"column\": \"a\", \"new_column\": \"b\"},"
				  " {\"table\": \"u\", \"column\": \"a\", \"new_column\": \"b\"}]}");
	assert_int_equal(p->ntables, 2);
	ecplan_plan_free(p);
	/* Without a plan table, each change names its own. */
	expect_error_at("{\"format\": \"ecplan/v1\", \"name\": \"m\", \"changes\": ["
			"{\"table\": \"t\", \"column\": \"a\", \"new_column\": \"b\"},"
			" {\"column\": \"c\", \"new_column\": \"d\"}]}", "$.changes[1].table");
	assert_true(ecplan_plan_path_is_operational("$.changes[3].functions_ignored"));
	assert_true(ecplan_plan_path_is_operational("$.changes[0].functions_ignored[1]"));
	assert_false(ecplan_plan_path_is_operational("$.changes[0].column"));
	assert_false(ecplan_plan_path_is_operational("$.changes[x].functions_ignored"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_plans_parse),
		cmocka_unit_test(test_example_values),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_webhook_defaults),
		cmocka_unit_test(test_table_split),
		cmocka_unit_test(test_canonical_stable),
		cmocka_unit_test(test_sha256_known_value),
		cmocka_unit_test(test_schema_key_ignored),
		cmocka_unit_test(test_invalid_cases),
		cmocka_unit_test(test_index_wait_and_triggers_settings),
		cmocka_unit_test(test_multiple_errors),
		cmocka_unit_test(test_positions_count_characters),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_load_file_missing),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_webhooks_for),
		cmocka_unit_test(test_load_file_limits),
		cmocka_unit_test(test_throttle_defaults),
		cmocka_unit_test(test_throttle_settings),
		cmocka_unit_test(test_throttle_errors),
		cmocka_unit_test(test_operational_paths),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_changes_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
