#ifndef ECPLAN_SQL_H
#define ECPLAN_SQL_H
/*
 * Quoting of names and literals for generated SQL. Pure.
 *
 * Every identifier that reaches SQL goes through ecplan_sql_ident(), which
 * quotes exactly as libpq's PQescapeIdentifier does: always double quotes,
 * embedded double quotes doubled (an integration test checks it against
 * libpq). Run-time values go through PQexecParams, never through literals;
 * ecplan_sql_literal() is for the few constants baked into generated DDL
 * (plan names, comments), and quotes like PQescapeLiteral with
 * standard_conforming_strings on.
 */
#include "ecplan/strbuf.h"

/* Appends "name" with embedded " doubled. */
void ecplan_sql_ident(ecplan_strbuf *sb, const char *name);
/* Appends "schema"."name". */
void ecplan_sql_qualified(ecplan_strbuf *sb, const char *schema, const char *name);
/* Appends 'text' with ' doubled; when text has a backslash, ' E'...' ' with
 * backslashes doubled, as PQescapeLiteral does. */
void ecplan_sql_literal(ecplan_strbuf *sb, const char *text);
/* Returns a malloc'ed quoted identifier. */
char *ecplan_sql_ident_dup(const char *name);

/*
 * Appends a dollar-quoted string whose tag does not occur in body:
 * $ecplan$...$ecplan$, or $ecplan1$..., $ecplan2$... as needed.
 */
void ecplan_sql_dollar_quote(ecplan_strbuf *sb, const char *body);

/*
 * Builds a PostgreSQL identifier from parts such as the plan name, limited to
 * 63 bytes (NAMEDATALEN - 1); when too long, the middle is replaced by a
 * short hash so that names stay stable and distinct. Returns malloc'ed text.
 */
char *ecplan_sql_object_name(const char *prefix, const char *name, const char *suffix);

/* Appends name quoted as an identifier for a -- or block comment: no line
 * breaks, no comment opener or closer. */
void ecplan_sql_comment_ident(ecplan_strbuf *sb, const char *name);

#endif
