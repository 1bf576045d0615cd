#ifndef ECPLAN_STRBUF_H
#define ECPLAN_STRBUF_H
/*
 * A growable string, modelled on git's strbuf. All SQL and text generation
 * goes through it. `buf` is always NUL-terminated and never NULL once
 * initialised (ECPLAN_STRBUF_INIT points it at a shared empty string).
 *
 * Allocation failure aborts the process: ecplan cannot do anything useful
 * without memory and every caller would otherwise have to thread ENOMEM.
 */
#include <stdarg.h>
#include <stddef.h>

typedef struct ecplan_strbuf {
	size_t alloc;
	size_t len;
	char *buf;
} ecplan_strbuf;

extern char ecplan_strbuf_empty[];
#define ECPLAN_STRBUF_INIT { 0, 0, ecplan_strbuf_empty }

void ecplan_strbuf_init(ecplan_strbuf *sb);
/* Frees the contents; the buffer is empty and reusable afterwards. */
void ecplan_strbuf_release(ecplan_strbuf *sb);
/* Returns the buffer, now owned by the caller (never NULL); sb is reset. */
char *ecplan_strbuf_detach(ecplan_strbuf *sb);
void ecplan_strbuf_reset(ecplan_strbuf *sb);
void ecplan_strbuf_grow(ecplan_strbuf *sb, size_t extra);
void ecplan_strbuf_add(ecplan_strbuf *sb, const void *data, size_t len);
void ecplan_strbuf_adds(ecplan_strbuf *sb, const char *s);
void ecplan_strbuf_addch(ecplan_strbuf *sb, char c);
void ecplan_strbuf_addf(ecplan_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ecplan_strbuf_vaddf(ecplan_strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Truncates to len bytes (len <= sb->len). */
void ecplan_strbuf_setlen(ecplan_strbuf *sb, size_t len);

/* strdup that aborts on allocation failure; NULL in, NULL out. */
char *ecplan_xstrdup(const char *s);
void *ecplan_xcalloc(size_t n, size_t size);
void *ecplan_xrealloc(void *p, size_t size);
/* Returns a new string formatted like printf; caller frees. */
char *ecplan_xstrfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
