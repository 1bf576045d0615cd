/*
 * The readable text of a list of steps (`ecplan render`): the statements with
 * the lock each one takes and the transaction each step runs in, as comments.
 */
#include "ecplan/render_text.h"

#include "ecplan/strbuf.h"

/* Text for a one-line SQL comment: line breaks become spaces. */
static void comment_text(ecplan_strbuf *sb, const char *text)
{
	for (const char *p = text; *p; p++)
		ecplan_strbuf_addch(sb, (*p == '\n' || *p == '\r') ? ' ' : *p);
}

char *ecplan_render_steps_text(const ecplan_steps *steps, ecplan_phase phase, bool undo)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_addf(&sb, "-- %s%s\n", undo ? "rollback of phase " : "phase ",
			   ecplan_phase_name(phase));
	for (size_t i = 0; i < steps->count; i++) {
		const ecplan_step *st = &steps->items[i];
		ecplan_strbuf_addf(&sb, "\n-- step %zu: ", i + 1);
		comment_text(&sb, st->name);
		ecplan_strbuf_addf(&sb, "%s\n", st->transactional
			? (st->nstmts > 1 ? " (one transaction)" : " (in a transaction)")
			: " (must run outside a transaction block)");
		if (st->note) {
			ecplan_strbuf_adds(&sb, "-- ");
			comment_text(&sb, st->note);
			ecplan_strbuf_addch(&sb, '\n');
		}
		if (st->npre)
			ecplan_strbuf_adds(&sb, "-- first, in its own transaction (repeated before every try):\n");
		for (size_t k = 0; k < st->npre; k++)
			ecplan_strbuf_addf(&sb, "-- lock: %s\n%s;\n", st->pre[k].lock, st->pre[k].sql);
		if (st->npre)
			ecplan_strbuf_adds(&sb, "-- then, in one transaction:\n");
		for (size_t k = 0; k < st->nstmts; k++)
			ecplan_strbuf_addf(&sb, "-- lock: %s\n%s;\n", st->stmts[k].lock, st->stmts[k].sql);
	}
	for (size_t i = 0; i < steps->nblockers; i++)
	{
		ecplan_strbuf_adds(&sb, "-- BLOCKED: ");
		comment_text(&sb, steps->blockers[i]);
		ecplan_strbuf_addch(&sb, '\n');
	}
	for (size_t i = 0; i < steps->nunknowns; i++)
	{
		ecplan_strbuf_adds(&sb, "-- not known without --db: ");
		comment_text(&sb, steps->unknowns[i]);
		ecplan_strbuf_addch(&sb, '\n');
	}
	return ecplan_strbuf_detach(&sb);
}
