/*
 * The readable text of a list of steps (`ecplan render`): the statements ecplan
 * sends, in the order and the transactions it sends them (runner.c), with the
 * timeouts it sets and the lock each statement takes, so that a reader or a
 * linter (squawk) sees what the server sees.
 *
 * ecplan sets the timeouts with set_config(name, value, is_local) as query
 * parameters; the text shows the equivalent SET / SET LOCAL.
 */
#include "ecplan/render_text.h"

#include <stdlib.h>
#include <string.h>

#include "ecplan/sql.h"
#include "ecplan/strbuf.h"

/* Text for a one-line SQL comment: line breaks become spaces. */
static void comment_text(ecplan_strbuf *sb, const char *text)
{
	for (const char *p = text; *p; p++)
		ecplan_strbuf_addch(sb, (*p == '\n' || *p == '\r') ? ' ' : *p);
}

/* What runner.c runs without a statement timeout: steps that read the whole
 * table (VALIDATE CONSTRAINT, ANALYZE), index builds and verify. */
static bool unbounded(const ecplan_step *st)
{
	return st->scans_table || st->kind == ECPLAN_STEP_VERIFY || st->kind == ECPLAN_STEP_INDEX;
}

static void set_timeout(ecplan_strbuf *sb, bool local, const char *name, long ms)
{
	if (ms > 0)
		ecplan_strbuf_addf(sb, "SET %s%s = '%ldms';\n", local ? "LOCAL " : "", name, ms);
	else
		ecplan_strbuf_addf(sb, "SET %s%s = 0;\n", local ? "LOCAL " : "", name);
}

static void stmts_text(ecplan_strbuf *sb, const ecplan_stmt *stmts, size_t n)
{
	for (size_t k = 0; k < n; k++)
		ecplan_strbuf_addf(sb, "-- lock: %s\n%s;\n", stmts[k].lock, stmts[k].sql);
}

/* BEGIN; SET LOCAL timeouts; [mark;] statements; COMMIT; */
static void transaction_text(ecplan_strbuf *sb, const ecplan_plan *plan, long stmt_ms,
			     const char *mark, const ecplan_stmt *stmts, size_t n,
			     const char *before_commit)
{
	ecplan_strbuf_adds(sb, "BEGIN;\n");
	set_timeout(sb, true, "lock_timeout", plan->safety.lock_timeout_ms);
	set_timeout(sb, true, "statement_timeout", stmt_ms);
	if (mark)
		ecplan_strbuf_addf(sb, "%s\n", mark);
	stmts_text(sb, stmts, n);
	if (before_commit)
		ecplan_strbuf_addf(sb, "-- %s\n", before_commit);
	ecplan_strbuf_adds(sb, "COMMIT;\n");
}

static void step_text(ecplan_strbuf *sb, const ecplan_step *st, const ecplan_plan *plan,
		      const ecplan_catalog *const *cats, bool undo)
{
	/* The table the step works on, and its catalog (its first change's). */
	const ecplan_plan *tp = ecplan_plan_table_first(plan, (size_t)st->target);
	const ecplan_catalog *cat = cats ? cats[tp->change_index] : NULL;
	long stmt_ms = unbounded(st) ? 0 : plan->safety.statement_timeout_ms;
	switch (st->kind) {
	case ECPLAN_STEP_BACKFILL: {
		/* run_backfill: per batch, the upper key, then the update and the cursor. */
		ecplan_strbuf mark = ECPLAN_STRBUF_INIT;
		ecplan_strbuf_adds(&mark, "SET LOCAL ecplan.backfill = ");
		ecplan_sql_literal(&mark, plan->name);
		ecplan_strbuf_addch(&mark, ';');
		char *bound = ecplan_render_batch_bound(tp, cat, true);
		ecplan_stmt stmts[2] = { { bound, "ACCESS SHARE (reads and writes continue)" },
					 st->nstmts ? st->stmts[0] : (ecplan_stmt){ (char *)"", "" } };
		transaction_text(sb, plan, stmt_ms, mark.buf, stmts, st->nstmts ? 2 : 1,
				 "ecplan saves the cursor (the upper key) in ecplan.plans here");
		free(bound);
		ecplan_strbuf_release(&mark);
		break;
	}
	case ECPLAN_STEP_INDEX:
		/* Outside a transaction block; the session's lock_timeout applies. */
		if (!undo)
			set_timeout(sb, false, "statement_timeout", 0);
		stmts_text(sb, st->stmts, st->nstmts);
		if (!undo)
			set_timeout(sb, false, "statement_timeout", plan->safety.statement_timeout_ms);
		ecplan_strbuf_adds(sb, "-- then ecplan records the step in ecplan.plans\n");
		break;
	case ECPLAN_STEP_VERIFY:
		set_timeout(sb, false, "statement_timeout", 0);
		stmts_text(sb, st->stmts, st->nstmts);
		set_timeout(sb, false, "statement_timeout", plan->safety.statement_timeout_ms);
		break;
	default:
		if (st->npre) {
			ecplan_strbuf_adds(sb, "-- first, in its own transaction (repeated before every try):\n");
			transaction_text(sb, plan, 0, NULL, st->pre, st->npre, NULL);
			ecplan_strbuf_adds(sb, "-- then, in one transaction:\n");
		}
		transaction_text(sb, plan, stmt_ms, NULL, st->stmts, st->nstmts,
				 "ecplan records the step in ecplan.plans here, in the same transaction");
		break;
	}
}

char *ecplan_render_steps_text(const ecplan_steps *steps, const ecplan_plan *plan,
			       const ecplan_catalog *cat, ecplan_phase phase, bool undo)
{
	const ecplan_catalog *cats[1] = { cat };
	return ecplan_render_plan_steps_text(steps, plan, plan->nchanges > 1 ? NULL : cats, phase, undo);
}

char *ecplan_render_plan_steps_text(const ecplan_steps *steps, const ecplan_plan *plan,
				    const ecplan_catalog *const *cats, ecplan_phase phase, bool undo)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_addf(&sb, "-- %s%s\n", undo ? "rollback of phase " : "phase ",
			   ecplan_phase_name(phase));
	/* runner.c sets these for the session as soon as it connects. */
	ecplan_strbuf_adds(&sb, "-- ecplan's session settings:\n");
	set_timeout(&sb, false, "lock_timeout", plan->safety.lock_timeout_ms);
	set_timeout(&sb, false, "statement_timeout", plan->safety.statement_timeout_ms);
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
		if (st->kind == ECPLAN_STEP_DDL || st->kind == ECPLAN_STEP_INDEX)
			ecplan_strbuf_addf(&sb, "-- when a lock is not granted within lock_timeout: %swait "
						"(jittered backoff) and try again, up to %ld times\n",
					   st->kind == ECPLAN_STEP_DDL ? "ROLLBACK, " : "",
					   plan->safety.lock_retries);
		step_text(&sb, st, plan, cats, undo);
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
