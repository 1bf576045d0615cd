/* The string builder used for all generated SQL and text. */
#include "ecplan/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char ecplan_strbuf_empty[1];

static void die_oom(void)
{
	fputs("ecplan: out of memory\n", stderr);
	abort();
}

char *ecplan_xstrdup(const char *s)
{
	char *p;
	if (!s)
		return NULL;
	p = strdup(s);
	if (!p)
		die_oom();
	return p;
}

void *ecplan_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die_oom();
	return p;
}

void *ecplan_xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);
	if (!q)
		die_oom();
	return q;
}

void ecplan_strbuf_init(ecplan_strbuf *sb)
{
	sb->alloc = 0;
	sb->len = 0;
	sb->buf = ecplan_strbuf_empty;
}

void ecplan_strbuf_release(ecplan_strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	ecplan_strbuf_init(sb);
}

char *ecplan_strbuf_detach(ecplan_strbuf *sb)
{
	char *r = sb->alloc ? sb->buf : ecplan_xstrdup("");
	ecplan_strbuf_init(sb);
	return r;
}

void ecplan_strbuf_reset(ecplan_strbuf *sb)
{
	ecplan_strbuf_setlen(sb, 0);
}

void ecplan_strbuf_grow(ecplan_strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	if (need <= sb->alloc)
		return;
	size_t n = sb->alloc ? sb->alloc : 64;
	while (n < need)
		n *= 2;
	if (sb->alloc) {
		sb->buf = ecplan_xrealloc(sb->buf, n);
	} else {
		sb->buf = ecplan_xrealloc(NULL, n);
		sb->buf[0] = '\0';
	}
	sb->alloc = n;
}

void ecplan_strbuf_setlen(ecplan_strbuf *sb, size_t len)
{
	if (!sb->alloc)
		return;
	sb->len = len;
	sb->buf[len] = '\0';
}

void ecplan_strbuf_add(ecplan_strbuf *sb, const void *data, size_t len)
{
	if (!len)
		return;
	ecplan_strbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void ecplan_strbuf_adds(ecplan_strbuf *sb, const char *s)
{
	ecplan_strbuf_add(sb, s, strlen(s));
}

void ecplan_strbuf_addch(ecplan_strbuf *sb, char c)
{
	ecplan_strbuf_add(sb, &c, 1);
}

void ecplan_strbuf_vaddf(ecplan_strbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n <= 0)
		return;
	ecplan_strbuf_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void ecplan_strbuf_addf(ecplan_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ecplan_strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

char *ecplan_xstrfmt(const char *fmt, ...)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ecplan_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	return ecplan_strbuf_detach(&sb);
}
