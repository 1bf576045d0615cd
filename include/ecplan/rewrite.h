#ifndef ECPLAN_REWRITE_H
#define ECPLAN_REWRITE_H
/*
 * Renames a column inside SQL text by replacing identifier tokens, never
 * substrings. Pure.
 *
 * The input is either PostgreSQL's own deparsed text (pg_get_constraintdef,
 * pg_get_indexdef, pg_get_triggerdef, pg_get_expr), where an identifier is
 * printed exactly as quote_ident() would and keywords are printed in upper
 * case, or a function body written by a person (fold = true: unquoted
 * identifiers compare case-insensitively, as PostgreSQL folds them).
 *
 * The tokenizer skips string constants ('...', E'...', U&'...'), dollar-quoted
 * strings, comments (-- and nested block comments) and numbers. An identifier
 * token is a candidate for the column when:
 *   ECPLAN_REWRITE_BARE  it is not qualified (no "." before it), not a type
 *                        name after "::", not followed by "(" (a function
 *                        call) or "." (a schema or table qualifier);
 *   ECPLAN_REWRITE_ROW   it follows "new." or "old." (trigger WHEN clauses,
 *                        trigger function bodies).
 */
#include <stdbool.h>
#include <stddef.h>

typedef enum ecplan_rewrite_mode {
	ECPLAN_REWRITE_BARE = 1,
	ECPLAN_REWRITE_ROW = 2,
	ECPLAN_REWRITE_ANY = 4, /* any identifier token (for searching, not rewriting) */
} ecplan_rewrite_mode;

/*
 * Returns a malloc'ed copy of sql in which every candidate token (per mode,
 * a bitwise or of modes) that starts at a byte offset in [from, to) and
 * names old_col is replaced by new_col, double-quoted. *count (may be NULL)
 * receives the number of replacements. to = (size_t)-1 means the end.
 */
char *ecplan_rewrite_column(const char *sql, size_t from, size_t to, const char *old_col,
			    const char *new_col, int mode, bool fold, int *count);

/*
 * The same for several columns at once, in one pass (so that names may be
 * swapped): a token naming old_cols[i] becomes new_cols[i]. *count receives
 * the replacements of old_cols[0] only.
 */
char *ecplan_rewrite_columns(const char *sql, size_t from, size_t to, const char *const *old_cols,
			     const char *const *new_cols, size_t ncols, int mode, bool fold, int *count);

/* Replaces every bare reference to col in an expression with "(text)"
 * (e.g. the new column in a CHECK replaced by the plan's "up"). */
char *ecplan_rewrite_substitute(const char *sql, const char *col, const char *text, bool fold, int *count);

/* The same for several columns at once (texts[i] for cols[i]); *count as
 * for ecplan_rewrite_columns. */
char *ecplan_rewrite_substitute_many(const char *sql, const char *const *cols, const char *const *texts,
				     size_t ncols, bool fold, int *count);

/* Counts the candidate tokens naming col (nothing is rewritten). */
int ecplan_rewrite_count(const char *sql, const char *col, int mode, bool fold);

/*
 * Byte offset of the first token at or after `from` that is the unquoted
 * keyword kw (compared case-insensitively, outside strings and comments), or
 * (size_t)-1 when there is none.
 */
size_t ecplan_rewrite_find_keyword(const char *sql, size_t from, const char *kw);

/*
 * Byte offset and length of the n-th token (0-based) of sql, skipping
 * comments; false when sql has fewer tokens.
 */
bool ecplan_rewrite_token(const char *sql, int n, size_t *off, size_t *len);

#endif
