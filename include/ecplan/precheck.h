#ifndef ECPLAN_PRECHECK_H
#define ECPLAN_PRECHECK_H
/*
 * Preconditions of a phase, checked against the live database before the
 * phase runs; `ecplan check` shows them all with pass/fail. Read-only.
 */
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "ecplan/catalog.h"
#include "ecplan/error.h"
#include "ecplan/phase.h"
#include "ecplan/plan.h"

typedef struct ecplan_check_item {
	char *name;   /* e.g. "table exists" */
	bool ok;
	char *detail; /* why it failed and what to do, or what was found; may be NULL */
} ecplan_check_item;

typedef struct ecplan_checklist {
	ecplan_check_item *items;
	size_t count;
} ecplan_checklist;

/*
 * Runs the preconditions of `phase` (for the plan's current database state)
 * and appends the results to out. switched_for_s: seconds since switch (for
 * the soak time), -1 when unknown. Returns 0 (even when checks fail) or
 * ECPLAN_ERR on a database error.
 */
int ecplan_precheck_phase(ecplan_checklist *out, PGconn *conn, const ecplan_plan *plan,
			  const ecplan_catalog *cat, ecplan_phase phase, double switched_for_s,
			  ecplan_error *err);
/*
 * The same for every change of the plan (cats[i]: the catalog of change i),
 * each item listed once, plus what concerns several changes together.
 */
int ecplan_precheck_plan(ecplan_checklist *out, PGconn *conn, const ecplan_plan *plan,
			 const ecplan_catalog *const *cats, ecplan_phase phase, double switched_for_s,
			 ecplan_error *err);
/* Fills err (ECPLAN_EPRECONDITION) from the first failed item; 0 when all pass. */
int ecplan_checklist_result(const ecplan_checklist *list, ecplan_phase phase, ecplan_error *err);
void ecplan_checklist_release(ecplan_checklist *list);
/* Appends one item (detail: malloc'ed or NULL; the list takes it). */
void ecplan_checklist_add(ecplan_checklist *list, const char *name, bool ok, char *detail);



/* Whether index schema.name exists and is valid. */
int ecplan_precheck_index_state(PGconn *conn, const char *schema, const char *name, bool *exists,
				bool *valid, ecplan_error *err);
#endif
