/* Error values: first error wins; diagnostics lists for validation. */
#include "ecplan/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/strbuf.h"

void ecplan_error_clear(ecplan_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int ecplan_error_set(ecplan_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	if (!err || err->code)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

void ecplan_error_detail(ecplan_error *err, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

void ecplan_error_hint(ecplan_error *err, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

ecplan_error *ecplan_diags_add(ecplan_diags *d)
{
	if (d->count == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 8;
		d->items = ecplan_xrealloc(d->items, d->alloc * sizeof(*d->items));
	}
	ecplan_error *e = &d->items[d->count++];
	memset(e, 0, sizeof(*e));
	return e;
}

void ecplan_diags_release(ecplan_diags *d)
{
	free(d->items);
	d->items = NULL;
	d->count = d->alloc = 0;
}

char *ecplan_error_format(const ecplan_error *err)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	if (err->source[0]) {
		ecplan_strbuf_adds(&sb, err->source);
		if (err->line > 0)
			ecplan_strbuf_addf(&sb, ":%d:%d", err->line, err->column);
		ecplan_strbuf_adds(&sb, ": ");
	}
	if (err->path[0])
		ecplan_strbuf_addf(&sb, "%s: ", err->path);
	ecplan_strbuf_adds(&sb, err->message);
	if (err->sqlstate[0])
		ecplan_strbuf_addf(&sb, " (SQLSTATE %s)", err->sqlstate);
	ecplan_strbuf_addch(&sb, '\n');
	if (err->detail[0])
		ecplan_strbuf_addf(&sb, "detail: %s\n", err->detail);
	if (err->hint[0])
		ecplan_strbuf_addf(&sb, "hint: %s\n", err->hint);
	return ecplan_strbuf_detach(&sb);
}
