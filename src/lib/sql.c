/* Quoting of identifiers and literals for generated SQL, libpq-compatible. */
#include "ecplan/sql.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ecplan_sql_ident(ecplan_strbuf *sb, const char *name)
{
	ecplan_strbuf_addch(sb, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			ecplan_strbuf_addch(sb, '"');
		ecplan_strbuf_addch(sb, *p);
	}
	ecplan_strbuf_addch(sb, '"');
}

void ecplan_sql_qualified(ecplan_strbuf *sb, const char *schema, const char *name)
{
	ecplan_sql_ident(sb, schema);
	ecplan_strbuf_addch(sb, '.');
	ecplan_sql_ident(sb, name);
}

char *ecplan_sql_ident_dup(const char *name)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_sql_ident(&sb, name);
	return ecplan_strbuf_detach(&sb);
}

void ecplan_sql_literal(ecplan_strbuf *sb, const char *text)
{
	if (strchr(text, '\\'))
		ecplan_strbuf_adds(sb, " E");
	ecplan_strbuf_addch(sb, '\'');
	for (const char *p = text; *p; p++) {
		if (*p == '\'' || *p == '\\')
			ecplan_strbuf_addch(sb, *p);
		ecplan_strbuf_addch(sb, *p);
	}
	ecplan_strbuf_addch(sb, '\'');
}

/* True when tag's first occurrence in body followed by tag is that final tag:
 * the string then closes exactly where it should. */
static bool tag_closes_at_end(const char *body, const char *tag)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&sb, body);
	ecplan_strbuf_adds(&sb, tag);
	const char *first = strstr(sb.buf, tag);
	bool ok = first && (size_t)(first - sb.buf) == strlen(body);
	ecplan_strbuf_release(&sb);
	return ok;
}

void ecplan_sql_dollar_quote(ecplan_strbuf *sb, const char *body)
{
	char tag[32] = "$ecplan$";
	for (int n = 1; !tag_closes_at_end(body, tag); n++)
		snprintf(tag, sizeof(tag), "$ecplan%d$", n);
	ecplan_strbuf_adds(sb, tag);
	ecplan_strbuf_adds(sb, body);
	ecplan_strbuf_adds(sb, tag);
}

/* FNV-1a, 32 bits: only used to keep shortened names distinct and stable. */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

char *ecplan_sql_object_name(const char *prefix, const char *name, const char *suffix)
{
	char *full = ecplan_xstrfmt("%s%s%s", prefix, name, suffix);
	size_t len = strlen(full);
	if (len <= 63)
		return full;
	/* Keep the prefix, as much of the name as fits, a hash of the whole, and the suffix. */
	char hash[16];
	snprintf(hash, sizeof(hash), "_%08x", fnv1a(full));
	size_t fixed = strlen(prefix) + strlen(hash) + strlen(suffix);
	size_t keep = fixed < 63 ? 63 - fixed : 0;
	/* do not cut a UTF-8 sequence in half */
	while (keep > 0 && ((unsigned char)name[keep] & 0xC0) == 0x80)
		keep--;
	char *r = ecplan_xstrfmt("%s%.*s%s%s", prefix, (int)keep, name, hash, suffix);
	free(full);
	if (strlen(r) > 63)
		r[63] = '\0';
	return r;
}

/* A quoted name inside a -- or block comment: no line breaks, no comment end. */
void ecplan_sql_comment_ident(ecplan_strbuf *sb, const char *name)
{
	size_t start = sb->len;
	ecplan_sql_ident(sb, name);
	for (size_t i = start; i < sb->len; i++) {
		if (sb->buf[i] == '\n' || sb->buf[i] == '\r')
			sb->buf[i] = ' ';
		/* block comments nest in PostgreSQL: defuse openers and closers */
		if (i + 1 < sb->len && ((sb->buf[i] == '*' && sb->buf[i + 1] == '/') ||
					(sb->buf[i] == '/' && sb->buf[i + 1] == '*')))
			sb->buf[i] = '+';
	}
}
