#ifndef ECPLAN_RENDER_H
#define ECPLAN_RENDER_H
/*
 * SQL of every phase, as ordered steps. Pure: a function of the plan and,
 * when available, the catalog (catalog.h). Without a catalog, what depends on
 * it (key columns, index definitions, the old column's type and default) is
 * rendered as a placeholder and listed in `unknowns`.
 *
 * A step is the unit the state machine records: the statements of a
 * transactional step run in one transaction together with the state update,
 * so a crash leaves the step either done and recorded, or neither. A
 * non-transactional step (CREATE INDEX CONCURRENTLY) runs alone and is made
 * idempotent by cleaning up an invalid leftover first.
 */
#include <stdbool.h>
#include <stddef.h>

#include "ecplan/catalog.h"
#include "ecplan/phase.h"
#include "ecplan/plan.h"
#include "ecplan/steps.h"

/* The schema of ecplan's trigger functions ("ecplan"."ecplan_sync_<plan>"). */
#define ECPLAN_FUNCTION_SCHEMA "ecplan"

/*
 * Creates schema ecplan_archive when it is missing: needs no privilege when
 * it exists (CREATE SCHEMA IF NOT EXISTS checks CREATE on the database
 * first) and is safe when plans contract at the same moment (CREATE SCHEMA
 * IF NOT EXISTS is not: the loser fails on a duplicate key in pg_namespace).
 */
#define ECPLAN_ARCHIVE_SCHEMA_SQL \
	"DO $ecplan$BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace" \
	" WHERE nspname = 'ecplan_archive') THEN CREATE SCHEMA ecplan_archive; END IF;" \
	" EXCEPTION WHEN unique_violation OR duplicate_schema THEN NULL; END$ecplan$"


/* Derived, stable object names (caller frees). */
char *ecplan_render_function_name(const ecplan_plan *plan);
char *ecplan_render_trigger_name(const ecplan_plan *plan);
char *ecplan_render_check_name(const ecplan_plan *plan);
char *ecplan_render_index_name(const char *old_index);
char *ecplan_render_archive_table(const ecplan_plan *plan); /* in schema ecplan_archive */

/* Expressions: the new column from the row (bare column names), and the old
 * column from the row. Caller frees. */
char *ecplan_render_up_expr(const ecplan_plan *plan);
char *ecplan_render_down_expr(const ecplan_plan *plan, const ecplan_catalog *cat);

/* Whether the new column ends NOT NULL: change.not_null, or the old column
 * is NOT NULL (carried over). */
bool ecplan_render_not_null(const ecplan_plan *plan, const ecplan_catalog *cat);
/* Without change.default, the default the new column takes at contract when
 * the old column had one: that default, as ALTER COLUMN ... TYPE keeps it
 * (coerced to the new type, "up" not applied); NULL when none. Until contract
 * the sync trigger fills the new column from the old one, whose default still
 * applies. Caller frees. */
char *ecplan_render_carried_default(const ecplan_plan *plan, const ecplan_catalog *cat);

/*
 * The trigger function (CREATE OR REPLACE FUNCTION ...). new_wins selects the
 * form used from switch on. Caller frees.
 */
char *ecplan_render_trigger_function(const ecplan_plan *plan, const ecplan_catalog *cat,
				     bool new_wins);

/*
 * One table of a plan: the plan, the catalog of each of its changes (cats[i]
 * for ecplan_plan_change(plan, i); cats NULL or an entry NULL: unknown), and
 * which of its tables (0 .. ntables - 1).
 */
typedef struct ecplan_target {
	const ecplan_plan *plan;
	const ecplan_catalog *const *cats;
	int table;
} ecplan_target;

/*
 * The steps of a phase, or of undoing it (rollback), for every change of the
 * plan: per table (in the order the plan first names them) one transaction
 * adds all its new columns, one trigger keeps all its changes in agreement,
 * one batched UPDATE fills all its new columns, one transaction drops all its
 * old columns. cats as in ecplan_target.
 */
void ecplan_render_plan_phase(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *const *cats,
			      ecplan_phase phase);
void ecplan_render_plan_undo(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *const *cats,
			     ecplan_phase phase);
/* The same for a plan with one change and its catalog (cat may be NULL). */
void ecplan_render_phase(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *cat,
			 ecplan_phase phase);
void ecplan_render_undo(ecplan_steps *out, const ecplan_plan *plan, const ecplan_catalog *cat,
			ecplan_phase phase);

/*
 * Backfill statements for a key of cat->nkey (n) columns. Parameters are
 * text, cast to the key types, in this order: the lower bound (exclusive,
 * when has_lower), then the upper bound (inclusive, when has_upper).
 *   bound: SELECT the key of the row OFFSET rows past the lower bound; the
 *          offset is the last parameter ($n+1, or $1 without a lower bound)
 *   update: UPDATE ... SET new = up WHERE key in (lower, upper] AND new IS NULL
 *           AND up IS NOT NULL
 * Caller frees.
 */
char *ecplan_render_batch_bound(const ecplan_plan *plan, const ecplan_catalog *cat, bool has_lower);
char *ecplan_render_batch_update(const ecplan_plan *plan, const ecplan_catalog *cat,
				 bool has_lower, bool has_upper);
/* The batch UPDATE of a table of the plan: sets every new column of its
 * changes (parameters as ecplan_render_batch_update). Caller frees. */
char *ecplan_render_target_batch_update(const ecplan_target *t, bool has_lower, bool has_upper);
/* SELECT count(*) of rows where new IS DISTINCT FROM up(old), and of rows where
 * old IS DISTINCT FROM down(new) (two columns). */
char *ecplan_render_verify(const ecplan_plan *plan, const ecplan_catalog *cat);

/* SELECT the key, old and new columns of up to `limit` divergent rows. */
char *ecplan_render_divergent_sample(const ecplan_plan *plan, const ecplan_catalog *cat, int limit);

#endif
