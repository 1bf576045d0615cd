/* Building lists of steps; see steps.h. */
#include "ecplan/steps.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/strbuf.h"

ecplan_step *ecplan_steps_add(ecplan_steps *s, ecplan_step_kind kind, bool txn, const char *fmt, ...)
{
	va_list ap;
	ecplan_strbuf name = ECPLAN_STRBUF_INIT;
	s->items = ecplan_xrealloc(s->items, (s->count + 1) * sizeof(*s->items));
	ecplan_step *st = &s->items[s->count++];
	memset(st, 0, sizeof(*st));
	va_start(ap, fmt);
	ecplan_strbuf_vaddf(&name, fmt, ap);
	va_end(ap);
	st->name = ecplan_strbuf_detach(&name);
	st->kind = kind;
	st->transactional = txn;
	return st;
}

void ecplan_step_add_pre(ecplan_step *st, char *sql, const char *lock)
{
	st->pre = ecplan_xrealloc(st->pre, (st->npre + 1) * sizeof(*st->pre));
	st->pre[st->npre].sql = sql;
	st->pre[st->npre].lock = lock;
	st->npre++;
}

void ecplan_step_add_stmt(ecplan_step *st, char *sql, const char *lock)
{
	st->stmts = ecplan_xrealloc(st->stmts, (st->nstmts + 1) * sizeof(*st->stmts));
	st->stmts[st->nstmts].sql = sql;
	st->stmts[st->nstmts].lock = lock;
	st->nstmts++;
}

void ecplan_steps_add_line(char ***list, size_t *n, const char *fmt, ...)
{
	va_list ap;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	va_start(ap, fmt);
	ecplan_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*list)[i], sb.buf)) {
			ecplan_strbuf_release(&sb);
			return;
		}
	*list = ecplan_xrealloc(*list, (*n + 1) * sizeof(char *));
	(*list)[(*n)++] = ecplan_strbuf_detach(&sb);
}

void ecplan_steps_release(ecplan_steps *steps)
{
	for (size_t i = 0; i < steps->count; i++) {
		ecplan_step *st = &steps->items[i];
		for (size_t k = 0; k < st->nstmts; k++)
			free(st->stmts[k].sql);
		free(st->stmts);
		for (size_t k = 0; k < st->npre; k++)
			free(st->pre[k].sql);
		free(st->pre);
		free(st->name);
		free(st->note);
		free(st->index_name);
	}
	free(steps->items);
	for (size_t i = 0; i < steps->nunknowns; i++)
		free(steps->unknowns[i]);
	free(steps->unknowns);
	for (size_t i = 0; i < steps->nblockers; i++)
		free(steps->blockers[i]);
	free(steps->blockers);
	memset(steps, 0, sizeof(*steps));
}
