/*
 * Column renames inside SQL text, token by token: a small lexer that knows
 * enough of PostgreSQL's lexical rules (strings, dollar quotes, comments,
 * quoted identifiers) never to touch anything but an identifier.
 */
#include "ecplan/rewrite.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

typedef enum tok_type { T_IDENT, T_QIDENT, T_STRING, T_NUMBER, T_PUNCT, T_PARAM } tok_type;

typedef struct tok {
	size_t off, len;
	tok_type type;
} tok;

typedef struct toks {
	tok *v;
	size_t n, cap;
} toks;

static void push(toks *t, size_t off, size_t len, tok_type type)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->v = ecplan_xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n].off = off;
	t->v[t->n].len = len;
	t->v[t->n].type = type;
	t->n++;
}

static bool ident_start(unsigned char c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static bool ident_cont(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

/* Length of a dollar-quote tag at s ("$tag$" or "$$"), or 0. */
static size_t dollar_tag(const char *s)
{
	size_t i = 1;
	if (s[0] != '$')
		return 0;
	if (s[1] == '$')
		return 2;
	if (!ident_start((unsigned char)s[1]))
		return 0;
	while (ident_cont((unsigned char)s[i]) && s[i] != '$')
		i++;
	return s[i] == '$' ? i + 1 : 0;
}

/* End of a quoted run starting at s[i] == q, with doubled quotes; and, with
 * backslash, backslash escapes. */
static size_t quoted_end(const char *s, size_t i, char q, bool backslash)
{
	i++;
	while (s[i]) {
		if (backslash && s[i] == '\\' && s[i + 1]) {
			i += 2;
			continue;
		}
		if (s[i] == q) {
			if (s[i + 1] == q) {
				i += 2;
				continue;
			}
			return i + 1;
		}
		i++;
	}
	return i;
}

static void tokenize(toks *t, const char *s)
{
	size_t i = 0;
	while (s[i]) {
		unsigned char c = (unsigned char)s[i];
		if (isspace(c)) {
			i++;
		} else if (c == '-' && s[i + 1] == '-') {
			while (s[i] && s[i] != '\n')
				i++;
		} else if (c == '/' && s[i + 1] == '*') {
			int depth = 0;
			while (s[i]) {
				if (s[i] == '/' && s[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (s[i] == '*' && s[i + 1] == '/') {
					i += 2;
					if (--depth == 0)
						break;
				} else {
					i++;
				}
			}
		} else if (c == '\'') {
			size_t e = quoted_end(s, i, '\'', false);
			push(t, i, e - i, T_STRING);
			i = e;
		} else if ((c == 'e' || c == 'E') && s[i + 1] == '\'') {
			size_t e = quoted_end(s, i + 1, '\'', true);
			push(t, i, e - i, T_STRING);
			i = e;
		} else if ((c == 'b' || c == 'B' || c == 'x' || c == 'X' || c == 'n' || c == 'N') &&
			   s[i + 1] == '\'') {
			size_t e = quoted_end(s, i + 1, '\'', false);
			push(t, i, e - i, T_STRING);
			i = e;
		} else if ((c == 'u' || c == 'U') && s[i + 1] == '&' && (s[i + 2] == '\'' || s[i + 2] == '"')) {
			size_t e = quoted_end(s, i + 2, s[i + 2], false);
			push(t, i, e - i, s[i + 2] == '"' ? T_QIDENT : T_STRING);
			i = e;
		} else if (c == '"') {
			size_t e = quoted_end(s, i, '"', false);
			push(t, i, e - i, T_QIDENT);
			i = e;
		} else if (c == '$' && isdigit((unsigned char)s[i + 1])) {
			size_t e = i + 1;
			while (isdigit((unsigned char)s[e]))
				e++;
			push(t, i, e - i, T_PARAM);
			i = e;
		} else if (c == '$' && dollar_tag(s + i)) {
			size_t tl = dollar_tag(s + i);
			const char *end = NULL;
			for (const char *p = s + i + tl; (p = strchr(p, '$')); p++)
				if (!strncmp(p, s + i, tl)) {
					end = p;
					break;
				}
			size_t e = end ? (size_t)(end - s) + tl : strlen(s);
			push(t, i, e - i, T_STRING);
			i = e;
		} else if (ident_start(c)) {
			size_t e = i;
			while (ident_cont((unsigned char)s[e]))
				e++;
			push(t, i, e - i, T_IDENT);
			i = e;
		} else if (isdigit(c) || (c == '.' && isdigit((unsigned char)s[i + 1]))) {
			size_t e = i;
			while (isalnum((unsigned char)s[e]) || s[e] == '.' || s[e] == '_')
				e++;
			push(t, i, e - i, T_NUMBER);
			i = e;
		} else if (c == ':' && s[i + 1] == ':') {
			push(t, i, 2, T_PUNCT);
			i += 2;
		} else {
			push(t, i, 1, T_PUNCT);
			i++;
		}
	}
}

static bool punct_is(const char *s, const tok *k, const char *p)
{
	return k->type == T_PUNCT && k->len == strlen(p) && !strncmp(s + k->off, p, k->len);
}

/* Does token k name `name`? */
static bool names(const char *s, const tok *k, const char *name, bool fold)
{
	size_t n = strlen(name);
	if (k->type == T_IDENT) {
		if (k->len != n)
			return false;
		for (size_t i = 0; i < n; i++) {
			unsigned char a = (unsigned char)s[k->off + i];
			if (fold && a < 0x80)
				a = (unsigned char)tolower(a);
			if (a != (unsigned char)name[i])
				return false;
		}
		return true;
	}
	if (k->type != T_QIDENT || s[k->off] != '"')
		return false;
	/* "...": compare the unescaped text */
	size_t j = 0;
	for (size_t i = k->off + 1; i + 1 < k->off + k->len; i++) {
		if (s[i] == '"')
			i++; /* a doubled quote */
		if (j >= n || s[i] != name[j])
			return false;
		j++;
	}
	return j == n;
}

static bool is_row_qualifier(const char *s, const tok *k)
{
	if (k->type != T_IDENT || k->len != 3)
		return false;
	return !strncasecmp(s + k->off, "new", 3) || !strncasecmp(s + k->off, "old", 3);
}

static bool candidate(const char *s, const toks *t, size_t i, int mode)
{
	const tok *prev = i > 0 ? &t->v[i - 1] : NULL, *next = i + 1 < t->n ? &t->v[i + 1] : NULL;
	if (mode & ECPLAN_REWRITE_ANY)
		return true;
	if (mode & ECPLAN_REWRITE_ROW) {
		if (prev && punct_is(s, prev, ".") && i >= 2 && is_row_qualifier(s, &t->v[i - 2]) &&
		    !(i >= 3 && punct_is(s, &t->v[i - 3], ".")))
			return true;
	}
	if (mode & ECPLAN_REWRITE_BARE) {
		if (prev && (punct_is(s, prev, ".") || punct_is(s, prev, "::")))
			return false;
		if (next && (punct_is(s, next, "(") || punct_is(s, next, ".")))
			return false;
		return true;
	}
	return false;
}

static char *rewrite_many(const char *sql, size_t from, size_t to, const char *const *olds,
			  const char *const *repls, size_t ncols, bool raw, int mode, bool fold, int *count)
{
	toks t = { NULL, 0, 0 };
	ecplan_strbuf out = ECPLAN_STRBUF_INIT;
	size_t at = 0;
	int n = 0;
	tokenize(&t, sql);
	for (size_t i = 0; i < t.n; i++) {
		const tok *k = &t.v[i];
		if (k->off < from || k->off >= to || !candidate(sql, &t, i, mode))
			continue;
		size_t c = 0;
		while (c < ncols && !names(sql, k, olds[c], fold))
			c++;
		if (c == ncols)
			continue;
		ecplan_strbuf_add(&out, sql + at, k->off - at);
		if (raw)
			ecplan_strbuf_addf(&out, "(%s)", repls[c]);
		else
			ecplan_sql_ident(&out, repls[c]);
		at = k->off + k->len;
		n += c == 0;
	}
	ecplan_strbuf_adds(&out, sql + at);
	free(t.v);
	if (count)
		*count = n;
	return ecplan_strbuf_detach(&out);
}

static char *rewrite(const char *sql, size_t from, size_t to, const char *old_col, const char *repl,
		     bool raw, int mode, bool fold, int *count)
{
	return rewrite_many(sql, from, to, &old_col, &repl, 1, raw, mode, fold, count);
}

char *ecplan_rewrite_column(const char *sql, size_t from, size_t to, const char *old_col,
			    const char *new_col, int mode, bool fold, int *count)
{
	return rewrite(sql, from, to, old_col, new_col, false, mode, fold, count);
}

char *ecplan_rewrite_substitute(const char *sql, const char *col, const char *text, bool fold, int *count)
{
	return rewrite(sql, 0, (size_t)-1, col, text, true, ECPLAN_REWRITE_BARE, fold, count);
}

char *ecplan_rewrite_columns(const char *sql, size_t from, size_t to, const char *const *old_cols,
			     const char *const *new_cols, size_t ncols, int mode, bool fold, int *count)
{
	return rewrite_many(sql, from, to, old_cols, new_cols, ncols, false, mode, fold, count);
}

char *ecplan_rewrite_substitute_many(const char *sql, const char *const *cols, const char *const *texts,
				     size_t ncols, bool fold, int *count)
{
	return rewrite_many(sql, 0, (size_t)-1, cols, texts, ncols, true, ECPLAN_REWRITE_BARE, fold, count);
}

int ecplan_rewrite_count(const char *sql, const char *col, int mode, bool fold)
{
	int n = 0;
	char *r = ecplan_rewrite_column(sql, 0, (size_t)-1, col, col, mode, fold, &n);
	free(r);
	return n;
}

size_t ecplan_rewrite_find_keyword(const char *sql, size_t from, const char *kw)
{
	toks t = { NULL, 0, 0 };
	size_t r = (size_t)-1, n = strlen(kw);
	tokenize(&t, sql);
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i].off >= from && t.v[i].type == T_IDENT && t.v[i].len == n &&
		    !strncasecmp(sql + t.v[i].off, kw, n)) {
			r = t.v[i].off;
			break;
		}
	free(t.v);
	return r;
}

bool ecplan_rewrite_token(const char *sql, int n, size_t *off, size_t *len)
{
	toks t = { NULL, 0, 0 };
	bool ok = false;
	tokenize(&t, sql);
	if (n >= 0 && (size_t)n < t.n) {
		*off = t.v[n].off;
		*len = t.v[n].len;
		ok = true;
	}
	free(t.v);
	return ok;
}
