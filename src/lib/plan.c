/*
 * Plan format v1: parse with jansson, then validate every field and collect
 * every problem. jansson gives positions only for syntax errors, so after a
 * successful parse a small scanner (jsonpos) walks the same text once and
 * records where each value and key sits, keyed by JSON path.
 */
#include "ecplan/plan.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ecplan/sign.h"
#include "ecplan/strbuf.h"
#include "ecplan/suggest.h"
#include "ecplan/webhook.h"

/* ---- positions of values and keys by JSON path ---------------------- */

typedef struct jpos {
	char *path;
	int vline, vcol; /* value */
	int kline, kcol; /* key, when the value is an object member */
} jpos;

typedef struct jscan {
	const char *s;
	size_t len, i;
	int line, col;
	jpos *items;
	size_t count, alloc;
} jscan;

static void path_child_key(ecplan_strbuf *out, const char *parent, const char *key, size_t klen)
{
	bool simple = klen > 0 && (isalpha((unsigned char)key[0]) || key[0] == '_');
	for (size_t i = 0; simple && i < klen; i++)
		if (!isalnum((unsigned char)key[i]) && key[i] != '_')
			simple = false;
	ecplan_strbuf_adds(out, parent);
	if (simple) {
		ecplan_strbuf_addch(out, '.');
		ecplan_strbuf_add(out, key, klen);
		return;
	}
	ecplan_strbuf_adds(out, "[\"");
	for (size_t i = 0; i < klen; i++) {
		if (key[i] == '"' || key[i] == '\\')
			ecplan_strbuf_addch(out, '\\');
		ecplan_strbuf_addch(out, key[i]);
	}
	ecplan_strbuf_adds(out, "\"]");
}

static void js_adv(jscan *js)
{
	unsigned char c = (unsigned char)js->s[js->i++];
	if (c == '\n') {
		js->line++;
		js->col = 1;
	} else if ((c & 0xC0) != 0x80) {
		js->col++; /* count characters, as jansson does, not bytes */
	}
}

static void js_ws(jscan *js)
{
	while (js->i < js->len && strchr(" \t\r\n", js->s[js->i]))
		js_adv(js);
}

/* Reads a string token, appending its decoded-enough form (escapes kept
 * simple: \" and \\ and \/ decoded, \uXXXX kept raw) to out when non-NULL. */
static void js_string(jscan *js, ecplan_strbuf *out)
{
	js_adv(js); /* opening quote */
	while (js->i < js->len && js->s[js->i] != '"') {
		if (js->s[js->i] == '\\' && js->i + 1 < js->len) {
			js_adv(js);
			char e = js->s[js->i];
			if (out) {
				const char *map = strchr("\"\\/bfnrt", e);
				static const char dec[] = "\"\\/\b\f\n\r\t";
				if (map)
					ecplan_strbuf_addch(out, dec[map - "\"\\/bfnrt"]);
				else {
					ecplan_strbuf_addch(out, '\\');
					ecplan_strbuf_addch(out, e);
				}
			}
			js_adv(js);
			continue;
		}
		if (out)
			ecplan_strbuf_addch(out, js->s[js->i]);
		js_adv(js);
	}
	if (js->i < js->len)
		js_adv(js); /* closing quote */
}

static jpos *js_record(jscan *js, const char *path)
{
	if (js->count == js->alloc) {
		js->alloc = js->alloc ? js->alloc * 2 : 32;
		js->items = ecplan_xrealloc(js->items, js->alloc * sizeof(*js->items));
	}
	jpos *p = &js->items[js->count++];
	memset(p, 0, sizeof(*p));
	p->path = ecplan_xstrdup(path);
	p->vline = js->line;
	p->vcol = js->col;
	return p;
}

static void js_value(jscan *js, const char *path, int kline, int kcol, int depth)
{
	js_ws(js);
	if (js->i >= js->len || depth > 64)
		return;
	jpos *me = js_record(js, path);
	me->kline = kline;
	me->kcol = kcol;
	char c = js->s[js->i];
	if (c == '{') {
		js_adv(js);
		for (;;) {
			js_ws(js);
			if (js->i >= js->len || js->s[js->i] == '}')
				break;
			if (js->s[js->i] == ',') {
				js_adv(js);
				continue;
			}
			int kl = js->line, kc = js->col;
			ecplan_strbuf key = ECPLAN_STRBUF_INIT, child = ECPLAN_STRBUF_INIT;
			js_string(js, &key);
			js_ws(js);
			if (js->i < js->len && js->s[js->i] == ':')
				js_adv(js);
			path_child_key(&child, path, key.buf, key.len);
			js_value(js, child.buf, kl, kc, depth + 1);
			ecplan_strbuf_release(&key);
			ecplan_strbuf_release(&child);
		}
		if (js->i < js->len)
			js_adv(js);
	} else if (c == '[') {
		js_adv(js);
		for (size_t n = 0;; n++) {
			js_ws(js);
			if (js->i >= js->len || js->s[js->i] == ']')
				break;
			if (js->s[js->i] == ',') {
				js_adv(js);
				n--;
				continue;
			}
			char *child = ecplan_xstrfmt("%s[%zu]", path, n);
			js_value(js, child, 0, 0, depth + 1);
			free(child);
		}
		if (js->i < js->len)
			js_adv(js);
	} else if (c == '"') {
		js_string(js, NULL);
	} else {
		while (js->i < js->len && !strchr(",]} \t\r\n", js->s[js->i]))
			js_adv(js);
	}
}

static const jpos *js_find(const jscan *js, const char *path)
{
	for (size_t i = 0; i < js->count; i++)
		if (!strcmp(js->items[i].path, path))
			return &js->items[i];
	return NULL;
}

static void js_release(jscan *js)
{
	for (size_t i = 0; i < js->count; i++)
		free(js->items[i].path);
	free(js->items);
}

/* ---- validation context -------------------------------------------- */

typedef struct vctx {
	ecplan_diags *diags;
	const char *source;
	jscan *pos;
} vctx;

enum where { AT_VALUE, AT_KEY };

static ecplan_error *report(vctx *v, const char *path, enum where w, const char *hint,
			    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static ecplan_error *report(vctx *v, const char *path, enum where w, const char *hint,
			    const char *fmt, ...)
{
	ecplan_error *e = ecplan_diags_add(v->diags);
	va_list ap;
	e->code = ECPLAN_EINVALID;
	snprintf(e->source, sizeof(e->source), "%s", v->source);
	snprintf(e->path, sizeof(e->path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	if (hint)
		snprintf(e->hint, sizeof(e->hint), "%s", hint);
	const jpos *p = v->pos ? js_find(v->pos, path) : NULL;
	if (p) {
		if (w == AT_KEY && p->kline) {
			e->line = p->kline;
			e->column = p->kcol;
		} else {
			e->line = p->vline;
			e->column = p->vcol;
		}
	}
	return e;
}

static char *child_path(const char *parent, const char *key)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	path_child_key(&sb, parent, key, strlen(key));
	return ecplan_strbuf_detach(&sb);
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* Reports every key of obj not in allowed (NULL-terminated). */
static void check_keys(vctx *v, const json_t *obj, const char *path, const char *const *allowed,
		       const char *what)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val) {
		bool ok = false;
		for (size_t i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				ok = true;
		if (ok)
			continue;
		ecplan_strbuf hint = ECPLAN_STRBUF_INIT;
		const char *near = ecplan_suggest(key, allowed);
		if (near)
			ecplan_strbuf_addf(&hint, "did you mean \"%s\"? ", near);
		ecplan_strbuf_addf(&hint, "%s accepts only:", what);
		for (size_t i = 0; allowed[i]; i++)
			ecplan_strbuf_addf(&hint, "%s \"%s\"", i ? "," : "", allowed[i]);
		char *p = child_path(path, key);
		report(v, p, AT_KEY, hint.buf, "unknown key \"%s\"", key);
		free(p);
		ecplan_strbuf_release(&hint);
	}
}

static void missing(vctx *v, const char *path, const char *key, const char *hint)
{
	char *p = child_path(path, key);
	ecplan_error *e = report(v, path, AT_VALUE, hint, "required key \"%s\" is missing", key);
	snprintf(e->path, sizeof(e->path), "%s", p);
	free(p);
}

/*
 * Typed getters. Each returns true when the key is present with the right
 * type and value; reports a problem otherwise (absent is a problem only when
 * required). `null_ok` treats JSON null as absent.
 */
static bool get_string(vctx *v, const json_t *obj, const char *path, const char *key,
		       bool required, bool null_ok, char **out, const char *hint)
{
	json_t *j = json_object_get(obj, key);
	if (!j || (null_ok && json_is_null(j))) {
		if (required)
			missing(v, path, key, hint);
		return false;
	}
	char *p = child_path(path, key);
	bool ok = json_is_string(j);
	if (!ok)
		report(v, p, AT_VALUE, hint, "expected a string, found %s", type_name(j));
	else
		*out = ecplan_xstrdup(json_string_value(j));
	free(p);
	return ok;
}

static bool get_long(vctx *v, const json_t *obj, const char *path, const char *key, long min,
		     long max, long *out)
{
	json_t *j = json_object_get(obj, key);
	if (!j)
		return false;
	char *p = child_path(path, key);
	bool ok = false;
	if (!json_is_integer(j)) {
		report(v, p, AT_VALUE, NULL, "expected an integer, found %s", type_name(j));
	} else if (json_integer_value(j) < min || json_integer_value(j) > max) {
		char hint[128];
		snprintf(hint, sizeof(hint), "use an integer from %ld to %ld", min, max);
		report(v, p, AT_VALUE, hint, "%lld is out of range", (long long)json_integer_value(j));
	} else {
		*out = (long)json_integer_value(j);
		ok = true;
	}
	free(p);
	return ok;
}

static bool get_bool(vctx *v, const json_t *obj, const char *path, const char *key, bool *out)
{
	json_t *j = json_object_get(obj, key);
	if (!j)
		return false;
	if (!json_is_boolean(j)) {
		char *p = child_path(path, key);
		report(v, p, AT_VALUE, "write true or false, without quotes",
		       "expected a boolean, found %s", type_name(j));
		free(p);
		return false;
	}
	*out = json_is_true(j);
	return true;
}

/* Returns the member if it has type `type` (reporting otherwise), else NULL. */
static json_t *get_typed(vctx *v, const json_t *obj, const char *path, const char *key,
			 bool required, json_type type, const char *what)
{
	json_t *j = json_object_get(obj, key);
	if (!j) {
		if (required)
			missing(v, path, key, NULL);
		return NULL;
	}
	if (json_typeof(j) != type) {
		char *p = child_path(path, key);
		report(v, p, AT_VALUE, NULL, "expected %s, found %s", what, type_name(j));
		free(p);
		return NULL;
	}
	return j;
}

static json_t *get_object(vctx *v, const json_t *obj, const char *path, const char *key,
			  bool required)
{
	return get_typed(v, obj, path, key, required, JSON_OBJECT, "an object");
}

static json_t *get_array(vctx *v, const json_t *obj, const char *path, const char *key,
			 bool required)
{
	return get_typed(v, obj, path, key, required, JSON_ARRAY, "an array");
}

bool ecplan_plan_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) ||
		      name[i] == '_' || name[i] == '-'))
			return false;
	return true;
}

static bool env_name_valid(const char *s)
{
	if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/*
 * Splits `table` into schema and relation. A part is either written as is
 * (taken literally, not case-folded) or in double quotes with "" for a quote.
 * Returns false on a malformed value.
 */
static bool split_table(const char *s, char **schema, char **table)
{
	char *parts[3] = { NULL, NULL, NULL };
	int n = 0;
	const char *p = s;
	while (n < 3) {
		ecplan_strbuf part = ECPLAN_STRBUF_INIT;
		if (*p == '"') {
			p++;
			for (;;) {
				if (!*p)
					goto bad_part;
				if (*p == '"') {
					if (p[1] == '"') {
						ecplan_strbuf_addch(&part, '"');
						p += 2;
						continue;
					}
					p++;
					break;
				}
				ecplan_strbuf_addch(&part, *p++);
			}
		} else {
			while (*p && *p != '.' && *p != '"')
				ecplan_strbuf_addch(&part, *p++);
		}
		if (!part.len || part.len > 63)
			goto bad_part;
		parts[n++] = ecplan_strbuf_detach(&part);
		if (!*p)
			break;
		if (*p != '.')
			goto bad;
		p++;
		continue;
bad_part:
		ecplan_strbuf_release(&part);
		goto bad;
	}
	if (n == 1) {
		*schema = ecplan_xstrdup("public");
		*table = parts[0];
		return true;
	}
	if (n == 2) {
		*schema = parts[0];
		*table = parts[1];
		return true;
	}
bad:
	for (int i = 0; i < 3; i++)
		free(parts[i]);
	return false;
}

static bool column_name_ok(vctx *v, const char *path, const char *key, const char *name)
{
	char *p = child_path(path, key);
	bool ok = true;
	if (!name[0]) {
		report(v, p, AT_VALUE, "name the column as it is spelled in the catalog",
		       "column name is empty");
		ok = false;
	} else if (strlen(name) > 63) {
		report(v, p, AT_VALUE, "PostgreSQL names are at most 63 bytes",
		       "column name \"%s\" is longer than 63 bytes", name);
		ok = false;
	}
	free(p);
	return ok;
}

/*
 * A type is pasted into DDL, so it may only hold what type names hold:
 * letters, digits, spaces, _ . , ( ) [ ] and double-quoted names.
 */
static bool type_name_safe(const char *t)
{
	bool quoted = false;
	for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (!quoted && !(isalnum(*p) || *p >= 0x80 || strchr(" _.,()[]", *p)))
			return false;
	}
	return !quoted;
}

/* change.functions / change.functions_ignored: "schema.name" strings. */
static void get_function_list(vctx *v, const json_t *c, const char *path, const char *key, char ***out,
			      size_t *n)
{
	json_t *fa = get_array(v, c, path, key, false);
	if (!fa)
		return;
	size_t i;
	json_t *e;
	*out = ecplan_xcalloc(json_array_size(fa) + 1, sizeof(char *));
	json_array_foreach(fa, i, e) {
		char *p = ecplan_xstrfmt("%s.%s[%zu]", path, key, i);
		const char *s = json_is_string(e) ? json_string_value(e) : NULL;
		if (!s)
			report(v, p, AT_VALUE, "write the function as \"schema.name\"", "expected a string, found %s",
			       type_name(e));
		else if (!strchr(s, '.') || s[0] == '.' || s[strlen(s) - 1] == '.')
			report(v, p, AT_VALUE, "write the function as \"schema.name\" (as \"ecplan check\" prints it)",
			       "\"%s\" is not a schema-qualified function name", s);
		else
			(*out)[(*n)++] = ecplan_xstrdup(s);
		free(p);
	}
}

/* One change object at path into plan's change fields. */
static void parse_change(vctx *v, const json_t *c, const char *path, ecplan_plan *plan, bool own_table)
{
	static const char *const keys[] = { "column", "new_column", "type", "up", "down",
					    "not_null", "default", "functions", "functions_ignored", NULL };
	static const char *const keys_table[] = { "table", "column", "new_column", "type", "up", "down",
						  "not_null", "default", "functions", "functions_ignored",
						  NULL };
	snprintf(plan->json_path, sizeof(plan->json_path), "%s", path);
	check_keys(v, c, path, own_table ? keys_table : keys, own_table ? "a change" : "\"change\"");
	if (own_table) {
		char *table = NULL;
		if (get_string(v, c, path, "table", false, false, &table,
			       "name the table, e.g. \"public.users\"")) {
			free(plan->schema);
			free(plan->table);
			plan->schema = plan->table = NULL;
			if (!split_table(table, &plan->schema, &plan->table)) {
				char *p = child_path(path, "table");
				report(v, p, AT_VALUE,
				       "write \"table\" or \"schema.table\"; double-quote a part that contains a dot",
				       "invalid table name \"%s\"", table);
				free(p);
			}
		} else if (!plan->table && !json_object_get(c, "table")) {
			missing(v, path, "table", "name the change's table, or the plan's \"table\" for all changes");
		}
		free(table);
	}
	if (get_string(v, c, path, "column", true, false, &plan->column,
		       "name the column being changed"))
		column_name_ok(v, path, "column", plan->column);
	if (get_string(v, c, path, "new_column", true, false, &plan->new_column,
		       "name the replacement column")) {
		if (column_name_ok(v, path, "new_column", plan->new_column) && plan->column &&
		    !strcmp(plan->column, plan->new_column)) {
			char *p = child_path(path, "new_column");
			report(v, p, AT_VALUE, "choose a new name for the replacement column",
			       "\"%s\" is the column being changed", plan->new_column);
			free(p);
		}
	}
	const char *sql_keys[] = { "type", "up", "down", "default" };
	char **sql_out[] = { &plan->type, &plan->up, &plan->down, &plan->default_expr };
	for (size_t i = 0; i < 4; i++) {
		if (get_string(v, c, path, sql_keys[i], false, true, sql_out[i], NULL) &&
		    !*sql_out[i][0]) {
			char *p = child_path(path, sql_keys[i]);
			report(v, p, AT_VALUE, "leave the key out (or null) to use the default",
			       "must not be empty");
			free(p);
		}
	}
	if (plan->type && plan->type[0] && !type_name_safe(plan->type)) {
		char *p = child_path(path, "type");
		report(v, p, AT_VALUE,
		       "write a type name such as \"numeric(12,2)\", \"text\" or \"timestamp with time zone\"",
		       "\"%s\" is not a type name", plan->type);
		free(p);
	}
	get_bool(v, c, path, "not_null", &plan->not_null);
	get_function_list(v, c, path, "functions", &plan->functions, &plan->nfunctions);
	get_function_list(v, c, path, "functions_ignored", &plan->functions_ignored, &plan->nfunctions_ignored);
}

static bool same_table(const ecplan_plan *a, const ecplan_plan *b)
{
	return a->schema && b->schema && a->table && b->table && !strcmp(a->schema, b->schema) &&
	       !strcmp(a->table, b->table);
}

static bool same_name(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* Duplicate (table, column) or (table, new_column) pairs, and a new column
 * that is another change's column, are errors at the later change. */
static void check_change_pairs(vctx *v, ecplan_plan *plan)
{
	for (size_t i = 1; i < plan->nchanges; i++) {
		const ecplan_plan *b = plan->changes[i];
		for (size_t k = 0; k < i; k++) {
			const ecplan_plan *a = plan->changes[k];
			if (!same_table(a, b))
				continue;
			const char *key = NULL, *what = NULL;
			if (same_name(a->column, b->column))
				key = "column", what = "column";
			else if (same_name(a->new_column, b->new_column))
				key = "new_column", what = "new_column";
			else if (same_name(b->new_column, a->column))
				key = "new_column", what = "column";
			else if (same_name(b->column, a->new_column))
				key = "column", what = "new_column";
			if (!key)
				continue;
			char *p = child_path(b->json_path, key);
			report(v, p, AT_VALUE,
			       "change each column of a table once, into a column that no other change names",
			       "\"%s\" of table %s.%s is already the %s of %s",
			       !strcmp(key, "column") ? b->column : b->new_column, b->schema, b->table, what,
			       a->json_path);
			free(p);
			break;
		}
	}
}

/* A sub-plan for change i: its own table defaults to the plan's. */
static ecplan_plan *new_sub(const ecplan_plan *plan, size_t i)
{
	ecplan_plan *sub = ecplan_xcalloc(1, sizeof(*sub));
	sub->is_sub = true;
	sub->change_index = (int)i;
	sub->schema = plan->schema ? ecplan_xstrdup(plan->schema) : NULL;
	sub->table = plan->table ? ecplan_xstrdup(plan->table) : NULL;
	snprintf(sub->json_path, sizeof(sub->json_path), "$.changes[%zu]", i);
	return sub;
}

/* "change" (one object) or "changes" (an array of them): exactly one. */
static void parse_changes(vctx *v, const json_t *root, ecplan_plan *plan)
{
	json_t *one = json_object_get(root, "change"), *many = json_object_get(root, "changes");
	plan->nchanges = 1;
	plan->ntables = 1;
	if (one && many) {
		report(v, "$.changes", AT_KEY, "keep \"changes\" and move the \"change\" object into it",
		       "a plan has \"change\" or \"changes\", not both");
		return;
	}
	if (!many) {
		json_t *c = get_object(v, root, "$", "change", true);
		if (c)
			parse_change(v, c, "$.change", plan, false);
		return;
	}
	if (!json_is_array(many) || json_array_size(many) == 0) {
		if (json_is_array(many))
			report(v, "$.changes", AT_VALUE, "give one or more change objects", "must not be empty");
		else
			report(v, "$.changes", AT_VALUE, "give an array of change objects",
			       "expected an array, found %s", type_name(many));
		return;
	}
	size_t n = json_array_size(many);
	if (n > 1) {
		plan->nchanges = n;
		plan->ntables = 0;
		plan->changes = ecplan_xcalloc(n, sizeof(*plan->changes));
	}
	for (size_t i = 0; i < n; i++) {
		ecplan_plan *dst = n > 1 ? (plan->changes[i] = new_sub(plan, i)) : plan;
		char path[32];
		snprintf(path, sizeof(path), "$.changes[%zu]", i);
		json_t *c = json_array_get(many, i);
		if (json_is_object(c))
			parse_change(v, c, path, dst, true);
		else
			report(v, path, AT_VALUE, "a change is an object", "expected an object, found %s",
			       type_name(c));
	}
	if (n == 1)
		return;
	/* Tables numbered in order of first mention. */
	for (size_t i = 0; i < n; i++) {
		ecplan_plan *sub = plan->changes[i];
		sub->table_index = -1;
		for (size_t k = 0; k < i && sub->table_index < 0; k++)
			if (same_table(plan->changes[k], sub))
				sub->table_index = plan->changes[k]->table_index;
		if (sub->table_index < 0)
			sub->table_index = (int)plan->ntables++;
	}
	check_change_pairs(v, plan);
}

/* Each sub-plan takes the parent's shared fields (not owned) once the whole
 * plan is read. */
static void share_parent(ecplan_plan *plan)
{
	for (size_t i = 0; plan->changes && i < plan->nchanges; i++) {
		ecplan_plan *sub = plan->changes[i], own = *sub;
		*sub = *plan;
		sub->schema = own.schema;
		sub->table = own.table;
		sub->column = own.column;
		sub->new_column = own.new_column;
		sub->type = own.type;
		sub->up = own.up;
		sub->down = own.down;
		sub->not_null = own.not_null;
		sub->default_expr = own.default_expr;
		sub->functions = own.functions;
		sub->nfunctions = own.nfunctions;
		sub->functions_ignored = own.functions_ignored;
		sub->nfunctions_ignored = own.nfunctions_ignored;
		sub->changes = NULL;
		sub->root = plan;
		sub->is_sub = true;
		sub->change_index = own.change_index;
		sub->table_index = own.table_index;
		memcpy(sub->json_path, own.json_path, sizeof(sub->json_path));
	}
}

const ecplan_plan *ecplan_plan_change(const ecplan_plan *plan, size_t i)
{
	return plan->changes ? plan->changes[i] : plan;
}

const ecplan_plan *ecplan_plan_find_change(const ecplan_plan *plan, const char *schema, const char *table,
					   const char *column)
{
	const ecplan_plan *root = ecplan_plan_root(plan);
	for (size_t i = 0; i < (root->nchanges ? root->nchanges : 1); i++) {
		const ecplan_plan *c = ecplan_plan_change(root, i);
		if (c->schema && c->table && c->column && !strcmp(c->schema, schema) && !strcmp(c->table, table) &&
		    !strcmp(c->column, column))
			return c;
	}
	return NULL;
}

char *ecplan_plan_changes_text(const ecplan_plan *plan, ecplan_change_field what)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	for (size_t i = 0; i < (plan->nchanges ? plan->nchanges : 1); i++) {
		const ecplan_plan *c = ecplan_plan_change(plan, i);
		if (what == ECPLAN_FIELD_TABLE && i > 0 && plan->ntables <= 1)
			break;
		ecplan_strbuf_adds(&sb, i ? ", " : "");
		if (what == ECPLAN_FIELD_TABLE)
			ecplan_strbuf_addf(&sb, "%s.%s", c->schema, c->table);
		else
			ecplan_strbuf_adds(&sb, what == ECPLAN_FIELD_COLUMN ? c->column : c->new_column);
	}
	return ecplan_strbuf_detach(&sb);
}

const ecplan_plan *ecplan_plan_table_first(const ecplan_plan *plan, size_t t)
{
	for (size_t i = 0; i < plan->nchanges; i++)
		if (ecplan_plan_change(plan, i)->table_index == (int)t)
			return ecplan_plan_change(plan, i);
	return plan;
}

static const char *const autovacuum_modes[] = { "never", "wraparound", "always", NULL };

const char *ecplan_autovacuum_mode_name(ecplan_autovacuum_mode m)
{
	return (unsigned)m < 3 ? autovacuum_modes[m] : "?";
}

static void parse_throttle(vctx *v, const json_t *t, ecplan_throttle_settings *s)
{
	static const char *const tkeys[] = { "max_replica_lag_ms", "max_replica_lag_bytes",
					     "max_slot_lag_bytes", "pause_during_autovacuum", "query",
					     "query_timeout_ms", "max_batch_ms_factor", NULL };
	const char *path = "$.backfill.throttle";
	char *mode = NULL;
	check_keys(v, t, path, tkeys, "\"throttle\"");
	get_long(v, t, path, "max_replica_lag_ms", 0, 86400000L, &s->max_replica_lag_ms);
	get_long(v, t, path, "max_replica_lag_bytes", 0, 1L << 50, &s->max_replica_lag_bytes);
	get_long(v, t, path, "max_slot_lag_bytes", 0, 1L << 50, &s->max_slot_lag_bytes);
	get_long(v, t, path, "query_timeout_ms", 1, 600000, &s->query_timeout_ms);
	get_long(v, t, path, "max_batch_ms_factor", 0, 1000, &s->max_batch_ms_factor);
	if (get_string(v, t, path, "pause_during_autovacuum", false, false, &mode,
		       "use \"never\", \"wraparound\" or \"always\"")) {
		int found = -1;
		for (int i = 0; autovacuum_modes[i]; i++)
			if (!strcmp(mode, autovacuum_modes[i]))
				found = i;
		if (found < 0) {
			const char *near = ecplan_suggest(mode, autovacuum_modes);
			char *hint = ecplan_xstrfmt("%s%s%suse \"never\", \"wraparound\" or \"always\"",
						    near ? "did you mean \"" : "", near ? near : "",
						    near ? "\"? " : "");
			report(v, "$.backfill.throttle.pause_during_autovacuum", AT_VALUE, hint,
			       "unknown mode \"%s\"", mode);
			free(hint);
		} else {
			s->pause_during_autovacuum = (ecplan_autovacuum_mode)found;
		}
	}
	free(mode);
	if (get_string(v, t, path, "query", false, true, &s->query,
		       "give a query that returns true while the backfill should wait") &&
	    !s->query[0])
		report(v, "$.backfill.throttle.query", AT_VALUE,
		       "give a query that returns true while the backfill should wait, or remove the key",
		       "must not be empty");
}

bool ecplan_plan_path_is_operational(const char *path)
{
	static const char *const prefixes[] = { "$.backfill", "$.safety", "$.webhooks", "$.checks",
						"$.contract.min_soak_s", "$.description",
						/* a false match of the function scan, found late */
						"$.change.functions_ignored", NULL };
	for (size_t i = 0; prefixes[i]; i++) {
		size_t n = strlen(prefixes[i]);
		if (!strncmp(path, prefixes[i], n) && (path[n] == '\0' || path[n] == '.' || path[n] == '['))
			return true;
	}
	/* "$.changes[N].functions_ignored" */
	if (!strncmp(path, "$.changes[", strlen("$.changes["))) {
		const char *rest = path + strlen("$.changes[");
		if (!isdigit((unsigned char)*rest))
			return false;
		while (isdigit((unsigned char)*rest))
			rest++;
		const char *key = "].functions_ignored";
		size_t n = strlen(key);
		return !strncmp(rest, key, n) && (rest[n] == '\0' || rest[n] == '.' || rest[n] == '[');
	}
	return false;
}

static void parse_sections(vctx *v, const json_t *root, ecplan_plan *plan)
{
	static const char *const bkeys[] = { "batch_size", "target_batch_ms", "pause_ms",
					     "max_rows_per_second", "disable_triggers", "throttle", "workers",
					     NULL };
	static const char *const skeys[] = { "lock_timeout_ms", "statement_timeout_ms",
					     "lock_retries", "max_transaction_age_s", "checks_role",
					     "max_index_wait_s", NULL };
	static const char *const ckeys[] = { "min_soak_s", "archive", NULL };
	json_t *o;
	if ((o = get_object(v, root, "$", "backfill", false))) {
		check_keys(v, o, "$.backfill", bkeys, "\"backfill\"");
		get_long(v, o, "$.backfill", "batch_size", 1, 1000000, &plan->backfill.batch_size);
		get_long(v, o, "$.backfill", "target_batch_ms", 0, 3600000,
			 &plan->backfill.target_batch_ms);
		get_long(v, o, "$.backfill", "pause_ms", 0, 3600000, &plan->backfill.pause_ms);
		get_long(v, o, "$.backfill", "max_rows_per_second", 0, 100000000,
			 &plan->backfill.max_rows_per_second);
		get_bool(v, o, "$.backfill", "disable_triggers", &plan->backfill.disable_triggers);
		get_long(v, o, "$.backfill", "workers", 1, 16, &plan->backfill.workers);
		json_t *t = get_object(v, o, "$.backfill", "throttle", false);
		if (t)
			parse_throttle(v, t, &plan->backfill.throttle);
	}
	if ((o = get_object(v, root, "$", "safety", false))) {
		check_keys(v, o, "$.safety", skeys, "\"safety\"");
		json_t *lt = json_object_get(o, "lock_timeout_ms");
		if (lt && json_is_integer(lt) && json_integer_value(lt) == 0)
			report(v, "$.safety.lock_timeout_ms", AT_VALUE,
			       "use a short timeout such as 1000; ecplan retries with backoff",
			       "0 means wait forever for locks, which stalls the application");
		else
			get_long(v, o, "$.safety", "lock_timeout_ms", 1, 600000,
				 &plan->safety.lock_timeout_ms);
		get_long(v, o, "$.safety", "statement_timeout_ms", 0, 86400000L,
			 &plan->safety.statement_timeout_ms);
		get_long(v, o, "$.safety", "lock_retries", 0, 1000, &plan->safety.lock_retries);
		get_long(v, o, "$.safety", "max_transaction_age_s", 0, 86400 * 7,
			 &plan->safety.max_transaction_age_s);
		if (get_string(v, o, "$.safety", "checks_role", false, true, &plan->safety.checks_role, NULL) &&
		    (!plan->safety.checks_role[0] || strlen(plan->safety.checks_role) > 63))
			report(v, "$.safety.checks_role", AT_VALUE,
			       "name a role as it is spelled in the catalog (1 to 63 bytes)",
			       "\"%s\" is not a role name", plan->safety.checks_role);
		get_long(v, o, "$.safety", "max_index_wait_s", 1, 86400 * 7,
			 &plan->safety.max_index_wait_s);
	}
	if ((o = get_object(v, root, "$", "contract", false))) {
		check_keys(v, o, "$.contract", ckeys, "\"contract\"");
		get_long(v, o, "$.contract", "min_soak_s", 0, 86400L * 365, &plan->contract.min_soak_s);
		get_bool(v, o, "$.contract", "archive", &plan->contract.archive);
	}
}

/* "signature": ["ecplan", "standard"]: the schemes sent when secret_env is
 * set (default ["ecplan"]). The Standard Webhooks headers then cannot be plan
 * headers. */
static void parse_signature(vctx *v, const json_t *w, const char *path, ecplan_webhook_spec *spec)
{
	static const char *const std_headers[] = { ECPLAN_SIGN_STD_ID_HEADER,
						   ECPLAN_SIGN_STD_TIMESTAMP_HEADER,
						   ECPLAN_SIGN_STD_HEADER, NULL };
	const char *hint = "list \"ecplan\" (X-Ecplan-Signature) and/or \"standard\" "
			   "(Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)";
	spec->signature = ECPLAN_SIGNATURE_ECPLAN;
	json_t *arr = get_array(v, w, path, "signature", false);
	if (!arr)
		return;
	char *spath = child_path(path, "signature"), *p;
	size_t i;
	json_t *e;
	if (json_array_size(arr) == 0)
		report(v, spath, AT_VALUE, hint, "no signature scheme");
	else if (!spec->secret_env)
		report(v, spath, AT_VALUE, "name the signing secret's variable in \"secret_env\"",
		       "\"signature\" needs \"secret_env\"");
	spec->signature = 0;
	json_array_foreach(arr, i, e) {
		p = ecplan_xstrfmt("%s[%zu]", spath, i);
		unsigned bit = 0;
		if (!json_is_string(e))
			report(v, p, AT_VALUE, hint, "expected a string, found %s", type_name(e));
		else if (!strcmp(json_string_value(e), "ecplan"))
			bit = ECPLAN_SIGNATURE_ECPLAN;
		else if (!strcmp(json_string_value(e), "standard"))
			bit = ECPLAN_SIGNATURE_STANDARD;
		else
			report(v, p, AT_VALUE, hint, "unknown signature scheme \"%s\"",
			       json_string_value(e));
		if (bit && (spec->signature & bit))
			report(v, p, AT_VALUE, "list each scheme once", "signature scheme \"%s\" is listed twice",
			       json_string_value(e));
		spec->signature |= bit;
		free(p);
	}
	free(spath);
	if (!(spec->signature & ECPLAN_SIGNATURE_STANDARD))
		return;
	json_t *h = json_object_get(w, "headers");
	const char *key;
	json_t *val;
	if (json_is_object(h))
		json_object_foreach(h, key, val) {
			for (size_t k = 0; std_headers[k]; k++)
				if (!strcasecmp(key, std_headers[k])) {
					char *hp = child_path(path, "headers");
					p = child_path(hp, key);
					report(v, p, AT_KEY,
					       "the standard signature sets this header; remove it from the plan",
					       "header \"%s\" cannot be set by a plan with the standard signature",
					       key);
					free(p);
					free(hp);
				}
		}
}

static void parse_webhook(vctx *v, const json_t *w, const char *path, ecplan_webhook_spec *spec)
{
	static const char *const keys[] = { "name", "url", "events", "method", "headers", "body",
					    "secret_env", "timeout_ms", "retries", "gate",
					    "follow_redirects", "signature", NULL };
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE", NULL };
	char *p;
	check_keys(v, w, path, keys, "a webhook");
	if (get_string(v, w, path, "name", true, false, &spec->name,
		       "give the webhook a short name of [a-z0-9_-]") &&
	    !ecplan_plan_name_valid(spec->name)) {
		p = child_path(path, "name");
		report(v, p, AT_VALUE, "use 1-63 characters of [a-z0-9_-]",
		       "invalid webhook name \"%s\"", spec->name);
		free(p);
	}
	if (get_string(v, w, path, "url", true, false, &spec->url, "give an http:// or https:// URL") &&
	    strncmp(spec->url, "http://", 7) && strncmp(spec->url, "https://", 8) &&
	    strncmp(spec->url, "${env.", 6)) {
		p = child_path(path, "url");
		report(v, p, AT_VALUE, "use an http:// or https:// URL",
		       "unsupported URL scheme in \"%.40s\"", spec->url);
		free(p);
	}
	if (get_string(v, w, path, "method", false, false, &spec->method, NULL)) {
		bool ok = false;
		for (size_t i = 0; methods[i]; i++)
			ok |= !strcmp(methods[i], spec->method);
		if (!ok) {
			p = child_path(path, "method");
			report(v, p, AT_VALUE, "use GET, POST, PUT, PATCH or DELETE",
			       "unsupported method \"%s\"", spec->method);
			free(p);
		}
	} else {
		free(spec->method);
		spec->method = ecplan_xstrdup("POST");
	}
	char *events_path = child_path(path, "events");
	json_t *ev = get_array(v, w, path, "events", true);
	if (ev && json_array_size(ev) == 0)
		report(v, events_path, AT_VALUE,
		       "subscribe to at least one event, e.g. \"switch.after\"", "no events");
	if (ev) {
		size_t i;
		json_t *e;
		spec->events = ecplan_xcalloc(json_array_size(ev), sizeof(char *));
		json_array_foreach(ev, i, e) {
			p = ecplan_xstrfmt("%s[%zu]", events_path, i);
			if (!json_is_string(e)) {
				report(v, p, AT_VALUE, NULL, "expected a string, found %s", type_name(e));
			} else if (!ecplan_event_valid(json_string_value(e))) {
				report(v, p, AT_VALUE,
				       "events are <phase>.before or <phase>.after for expand, sync, "
				       "backfill, switch, contract; rollback.before, rollback.after; failed",
				       "unknown event \"%s\"", json_string_value(e));
			} else {
				bool dup = false;
				for (size_t k = 0; k < spec->nevents; k++)
					dup |= !strcmp(spec->events[k], json_string_value(e));
				if (dup)
					report(v, p, AT_VALUE, "list each event once",
					       "event \"%s\" is listed twice", json_string_value(e));
				else
					spec->events[spec->nevents++] = ecplan_xstrdup(json_string_value(e));
			}
			free(p);
		}
	}
	free(events_path);
	json_t *h = get_object(v, w, path, "headers", false);
	if (h) {
		const char *key;
		json_t *val;
		char *hpath = child_path(path, "headers");
		spec->headers = ecplan_xcalloc(json_object_size(h), sizeof(ecplan_header));
		json_object_foreach(h, key, val) {
			p = child_path(hpath, key);
			if (!ecplan_webhook_is_token(key))
				report(v, p, AT_KEY, "header names are HTTP tokens: letters, digits and !#$%&'*+-.^_`|~",
				       "invalid header name");
			else if (ecplan_webhook_header_reserved(key))
				report(v, p, AT_KEY, "ecplan sets this header itself; remove it from the plan",
				       "header \"%s\" cannot be set by a plan", key);
			else if (!json_is_string(val))
				report(v, p, AT_VALUE, NULL, "expected a string, found %s", type_name(val));
			else if (strpbrk(json_string_value(val), "\r\n"))
				report(v, p, AT_VALUE, NULL, "header value contains a line break");
			else {
				ecplan_header *hd = &spec->headers[spec->nheaders++];
				hd->name = ecplan_xstrdup(key);
				hd->value = ecplan_xstrdup(json_string_value(val));
			}
			free(p);
		}
		free(hpath);
	}
	get_string(v, w, path, "body", false, false, &spec->body, NULL);
	if (get_string(v, w, path, "secret_env", false, false, &spec->secret_env, NULL) &&
	    !env_name_valid(spec->secret_env)) {
		p = child_path(path, "secret_env");
		report(v, p, AT_VALUE, "name an environment variable, e.g. ECPLAN_WEBHOOK_SECRET",
		       "\"%s\" is not a valid environment variable name", spec->secret_env);
		free(p);
	}
	get_long(v, w, path, "timeout_ms", 1, 300000, &spec->timeout_ms);
	long retries = spec->retries;
	if (get_long(v, w, path, "retries", 0, 20, &retries))
		spec->retries = (int)retries;
	get_bool(v, w, path, "gate", &spec->gate);
	get_bool(v, w, path, "follow_redirects", &spec->follow_redirects);
	parse_signature(v, w, path, spec);
}

static void parse_webhooks(vctx *v, const json_t *root, ecplan_plan *plan)
{
	json_t *arr = get_array(v, root, "$", "webhooks", false);
	if (!arr)
		return;
	size_t i;
	json_t *w;
	plan->webhooks = ecplan_xcalloc(json_array_size(arr), sizeof(ecplan_webhook_spec));
	json_array_foreach(arr, i, w) {
		char *path = ecplan_xstrfmt("$.webhooks[%zu]", i);
		if (!json_is_object(w)) {
			report(v, path, AT_VALUE, NULL, "expected an object, found %s", type_name(w));
			free(path);
			continue;
		}
		ecplan_webhook_spec *spec = &plan->webhooks[plan->nwebhooks++];
		spec->timeout_ms = 5000;
		spec->retries = 3;
		parse_webhook(v, w, path, spec);
		for (size_t k = 0; spec->name && k + 1 < plan->nwebhooks; k++)
			if (plan->webhooks[k].name && !strcmp(plan->webhooks[k].name, spec->name)) {
				char *p = child_path(path, "name");
				report(v, p, AT_VALUE, "give each webhook its own name",
				       "webhook name \"%s\" is used twice", spec->name);
				free(p);
			}
		free(path);
	}
}

static void parse_checks(vctx *v, const json_t *root, ecplan_plan *plan)
{
	static const char *const keys[] = { "name", "before", "sql", NULL };
	json_t *arr = get_array(v, root, "$", "checks", false);
	if (!arr)
		return;
	size_t i;
	json_t *c;
	plan->checks = ecplan_xcalloc(json_array_size(arr), sizeof(ecplan_check));
	json_array_foreach(arr, i, c) {
		char *path = ecplan_xstrfmt("$.checks[%zu]", i);
		if (!json_is_object(c)) {
			report(v, path, AT_VALUE, NULL, "expected an object, found %s", type_name(c));
			free(path);
			continue;
		}
		ecplan_check *chk = &plan->checks[plan->nchecks++];
		char *before = NULL;
		chk->before = ECPLAN_PHASE_NONE;
		check_keys(v, c, path, keys, "a check");
		get_string(v, c, path, "name", true, false, &chk->name, "give the check a name");
		if (get_string(v, c, path, "before", true, false, &before,
			       "name the phase the check guards, e.g. \"contract\"")) {
			chk->before = ecplan_phase_parse(before);
			if (chk->before == ECPLAN_PHASE_NONE) {
				char *p = child_path(path, "before");
				report(v, p, AT_VALUE,
				       "use one of expand, sync, backfill, switch, contract",
				       "unknown phase \"%s\"", before);
				free(p);
			}
		}
		free(before);
		if (get_string(v, c, path, "sql", true, false, &chk->sql,
			       "give a query that returns true when it is safe to go on") &&
		    !chk->sql[0]) {
			char *p = child_path(path, "sql");
			report(v, p, AT_VALUE, "give a query that returns true when it is safe to go on",
			       "must not be empty");
			free(p);
		}
		free(path);
	}
}

static void set_defaults(ecplan_plan *plan)
{
	plan->backfill.batch_size = 5000;
	plan->backfill.target_batch_ms = 200;
	plan->backfill.workers = 1;
	plan->backfill.throttle.max_replica_lag_ms = 10000;
	plan->backfill.throttle.max_replica_lag_bytes = 256L * 1024 * 1024;
	plan->backfill.throttle.max_slot_lag_bytes = 1024L * 1024 * 1024;
	plan->backfill.throttle.pause_during_autovacuum = ECPLAN_AUTOVACUUM_WRAPAROUND;
	plan->backfill.throttle.query_timeout_ms = 2000;
	plan->backfill.throttle.max_batch_ms_factor = 10;
	plan->safety.lock_timeout_ms = 1000;
	plan->safety.statement_timeout_ms = 300000;
	plan->safety.lock_retries = 10;
	plan->safety.max_transaction_age_s = 60;
	plan->safety.max_index_wait_s = 3600;
	plan->contract.archive = true;
}

static char *sha256_hex(const char *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	char *hex = ecplan_xcalloc(n * 2 + 1, 1);
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return hex;
}

static void validate_root(vctx *v, json_t *root, ecplan_plan *plan)
{
	static const char *const keys[] = { "$schema", "format", "name", "description", "table",
					    "change", "changes", "backfill", "safety", "contract",
					    "webhooks", "checks", NULL };
	char *format = NULL, *table = NULL, *schema_ref = NULL;
	check_keys(v, root, "$", keys, "a plan");
	/* "$schema": for editors and validators (plans/schema.json); ignored. */
	get_string(v, root, "$", "$schema", false, false, &schema_ref, NULL);
	free(schema_ref);
	if (get_string(v, root, "$", "format", true, false, &format,
		       "start the plan with \"format\": \"" ECPLAN_PLAN_FORMAT "\"") &&
	    strcmp(format, ECPLAN_PLAN_FORMAT)) {
		if (!strncmp(format, "ecplan/v", 8))
			report(v, "$.format", AT_VALUE, "upgrade ecplan to run this plan",
			       "format \"%s\" is not supported by ecplan %s (it reads \"%s\")", format,
			       ECPLAN_VERSION, ECPLAN_PLAN_FORMAT);
		else
			report(v, "$.format", AT_VALUE,
			       "use \"format\": \"" ECPLAN_PLAN_FORMAT "\"",
			       "unknown format \"%s\"", format);
	}
	free(format);
	if (get_string(v, root, "$", "name", true, false, &plan->name,
		       "name the plan with 1-63 characters of [a-z0-9_-]") &&
	    !ecplan_plan_name_valid(plan->name))
		report(v, "$.name", AT_VALUE, "use 1-63 characters of [a-z0-9_-]",
		       "invalid plan name \"%s\"", plan->name);
	get_string(v, root, "$", "description", false, false, &plan->description, NULL);
	/* With "changes" the plan's table is the default of each change's. */
	if (get_string(v, root, "$", "table", !json_object_get(root, "changes"), false, &table,
		       "name the table, e.g. \"public.users\"") &&
	    !split_table(table, &plan->schema, &plan->table))
		report(v, "$.table", AT_VALUE,
		       "write \"table\" or \"schema.table\"; double-quote a part that contains a dot",
		       "invalid table name \"%s\"", table);
	free(table);
	parse_changes(v, root, plan);
	parse_sections(v, root, plan);
	parse_webhooks(v, root, plan);
	parse_checks(v, root, plan);
}

int ecplan_plan_parse(ecplan_plan **out, const char *text, size_t len, const char *source,
		      ecplan_diags *diags)
{
	json_error_t jerr;
	size_t before = diags->count;
	*out = NULL;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	vctx v = { diags, source ? source : "<string>", NULL };
	if (!root) {
		ecplan_error *e = report(&v, "$", AT_VALUE, "fix the JSON syntax", "%s", jerr.text);
		e->line = jerr.line > 0 ? jerr.line : 1;
		e->column = jerr.column > 0 ? jerr.column : 1;
		return ECPLAN_EINVALID;
	}
	jscan js = { .s = text, .len = len, .line = 1, .col = 1 };
	js_value(&js, "$", 0, 0, 0);
	v.pos = &js;
	ecplan_plan *plan = ecplan_xcalloc(1, sizeof(*plan));
	plan->source = ecplan_xstrdup(v.source);
	set_defaults(plan);
	if (!json_is_object(root))
		report(&v, "$", AT_VALUE, "a plan is a JSON object: { \"format\": \"ecplan/v1\", ... }",
		       "expected an object, found %s", type_name(root));
	else
		validate_root(&v, root, plan);
	js_release(&js);
	if (diags->count > before) {
		json_decref(root);
		ecplan_plan_free(plan);
		return ECPLAN_EINVALID;
	}
	/* "$schema" is not part of the plan's identity (nor of drift). */
	json_object_del(root, "$schema");
	plan->canonical = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT);
	plan->sha256 = sha256_hex(plan->canonical);
	json_decref(root);
	share_parent(plan);
	*out = plan;
	return 0;
}

static int file_error(ecplan_diags *diags, const char *path, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int file_error(ecplan_diags *diags, const char *path, const char *hint, const char *fmt, ...)
{
	va_list ap;
	ecplan_error *e = ecplan_diags_add(diags);
	e->code = ECPLAN_EINVALID;
	snprintf(e->source, sizeof(e->source), "%s", path);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	snprintf(e->hint, sizeof(e->hint), "%s", hint);
	return ECPLAN_EINVALID;
}

static const char *file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

int ecplan_plan_load_file(ecplan_plan **out, const char *path, ecplan_diags *diags)
{
	*out = NULL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused
	 * below, as is anything but a regular file. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return file_error(diags, path, "give the path of a plan JSON file",
				  "cannot read plan file: %s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return file_error(diags, path, "give the path of a plan JSON file",
				  "cannot read plan file: %s", strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return file_error(diags, path, "give the path of a plan JSON file (a regular file)",
				  "plan file is %s", file_kind(st.st_mode));
	}
	if ((unsigned long long)st.st_size > ECPLAN_PLAN_MAX_FILE_SIZE) {
		close(fd);
		return file_error(diags, path, "a plan is a small JSON file; check the path",
				  "plan file is too large: %lld bytes, the limit is %u bytes (16 MiB)",
				  (long long)st.st_size, ECPLAN_PLAN_MAX_FILE_SIZE);
	}
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	char buf[8192];
	ssize_t n;
	bool too_large = false;
	/* Read to the end, whatever fstat said (the file may grow meanwhile). */
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (sb.len + (size_t)n > ECPLAN_PLAN_MAX_FILE_SIZE) {
			too_large = true;
			break;
		}
		ecplan_strbuf_add(&sb, buf, (size_t)n);
	}
	int rerr = n < 0 ? errno : 0;
	close(fd);
	if (rerr || too_large) {
		ecplan_strbuf_release(&sb);
		if (too_large)
			return file_error(diags, path, "a plan is a small JSON file; check the path",
					  "plan file is too large: more than %u bytes (16 MiB)",
					  ECPLAN_PLAN_MAX_FILE_SIZE);
		return file_error(diags, path, "give the path of a plan JSON file",
				  "error reading plan file: %s", strerror(rerr));
	}
	int rc = ecplan_plan_parse(out, sb.buf, sb.len, path, diags);
	ecplan_strbuf_release(&sb);
	return rc;
}

static void webhook_release(ecplan_webhook_spec *w)
{
	free(w->name);
	free(w->url);
	free(w->method);
	free(w->body);
	free(w->secret_env);
	for (size_t i = 0; i < w->nevents; i++)
		free(w->events[i]);
	free(w->events);
	for (size_t i = 0; i < w->nheaders; i++) {
		free(w->headers[i].name);
		free(w->headers[i].value);
	}
	free(w->headers);
}

/* The fields a sub-plan owns. */
static void change_release(ecplan_plan *plan)
{
	free(plan->schema);
	free(plan->table);
	free(plan->column);
	free(plan->new_column);
	free(plan->type);
	free(plan->up);
	free(plan->down);
	free(plan->default_expr);
	for (size_t i = 0; i < plan->nfunctions; i++)
		free(plan->functions[i]);
	free(plan->functions);
	for (size_t i = 0; i < plan->nfunctions_ignored; i++)
		free(plan->functions_ignored[i]);
	free(plan->functions_ignored);
}

void ecplan_plan_free(ecplan_plan *plan)
{
	if (!plan)
		return;
	if (plan->is_sub) {
		change_release(plan);
		free(plan);
		return;
	}
	for (size_t i = 0; plan->changes && i < plan->nchanges; i++)
		ecplan_plan_free(plan->changes[i]);
	free(plan->changes);
	change_release(plan);
	free(plan->source);
	free(plan->name);
	free(plan->description);
	free(plan->backfill.throttle.query);
	free(plan->safety.checks_role);
	for (size_t i = 0; i < plan->nwebhooks; i++)
		webhook_release(&plan->webhooks[i]);
	free(plan->webhooks);
	for (size_t i = 0; i < plan->nchecks; i++) {
		free(plan->checks[i].name);
		free(plan->checks[i].sql);
	}
	free(plan->checks);
	free(plan->canonical);
	free(plan->sha256);
	free(plan);
}

size_t ecplan_plan_webhooks_for(const ecplan_plan *plan, const char *event,
				const ecplan_webhook_spec ***out)
{
	size_t n = 0;
	*out = NULL;
	for (size_t i = 0; i < plan->nwebhooks; i++)
		for (size_t k = 0; k < plan->webhooks[i].nevents; k++)
			if (!strcmp(plan->webhooks[i].events[k], event)) {
				*out = ecplan_xrealloc(*out, (n + 1) * sizeof(**out));
				(*out)[n++] = &plan->webhooks[i];
				break;
			}
	return n;
}
