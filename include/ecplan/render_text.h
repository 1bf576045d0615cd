#ifndef ECPLAN_RENDER_TEXT_H
#define ECPLAN_RENDER_TEXT_H
/*
 * The text `ecplan render` prints for the steps of a phase (render.h): the
 * statements ecplan sends, as runner.c sends them, so that a reader or a SQL
 * linter (squawk) sees what the server sees:
 *   - the session's SET lock_timeout / statement_timeout (set on connect);
 *   - a transactional step as BEGIN; SET LOCAL lock_timeout, statement_timeout;
 *     the statements; COMMIT; (a step's "pre" statements in a transaction of
 *     their own before it, without a statement timeout);
 *   - a backfill batch as BEGIN; SET LOCAL ecplan.backfill, timeouts; the
 *     upper key's SELECT; the UPDATE; COMMIT;
 *   - CREATE/DROP INDEX CONCURRENTLY outside a transaction block, a build
 *     with SET statement_timeout = 0 around it; verify likewise.
 * Comments say what each statement locks, what ecplan records where, and
 * how it retries. Pure: a function of the steps, the plan and the catalog
 * (NULL: placeholders, as render.h).
 */
#include <stdbool.h>

#include "ecplan/catalog.h"
#include "ecplan/phase.h"
#include "ecplan/plan.h"
#include "ecplan/render.h"

/* Readable SQL of a list of steps of phase (or of its undo). Caller frees. */
char *ecplan_render_steps_text(const ecplan_steps *steps, const ecplan_plan *plan,
			       const ecplan_catalog *cat, ecplan_phase phase, bool undo);

/* The same for a plan with several changes: cats[i] the catalog of change i
 * (cats NULL: none known). */
char *ecplan_render_plan_steps_text(const ecplan_steps *steps, const ecplan_plan *plan,
				    const ecplan_catalog *const *cats, ecplan_phase phase, bool undo);

#endif
