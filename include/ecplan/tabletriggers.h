#ifndef ECPLAN_TABLETRIGGERS_H
#define ECPLAN_TABLETRIGGERS_H
/*
 * The table's own triggers that the backfill fires. The backfill's UPDATE
 * sets only the new column, yet every other user trigger on UPDATE of the
 * table fires for every backfilled row (an updated_at trigger rewrites the
 * whole table's updated_at). `ecplan check` lists them; with
 * backfill.disable_triggers each batch runs with session_replication_role =
 * replica, which PostgreSQL allows to superusers and (15+) to roles granted
 * SET on that parameter; triggers set ENABLE ALWAYS or ENABLE REPLICA still
 * fire then. Read-only.
 */
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "ecplan/error.h"
#include "ecplan/plan.h"
#include "ecplan/precheck.h"

typedef struct ecplan_table_trigger {
	char *name;
	char *definition;     /* pg_get_triggerdef */
	bool fires_in_replica;/* ENABLE ALWAYS or ENABLE REPLICA: disable_triggers cannot stop it */
	bool has_when;        /* a WHEN clause may keep it from firing */
} ecplan_table_trigger;

/*
 * Lists the enabled, user-defined (not internal) triggers of the plan's table
 * that an UPDATE of the new column fires: row or statement level, BEFORE,
 * AFTER or constraint triggers on UPDATE (an UPDATE OF list counts only when
 * it names the new column), leaving out this plan's own sync trigger. By
 * name. *out (NULL when none) is owned by the caller: free with
 * ecplan_table_triggers_free. Returns 0 or ECPLAN_ERR.
 */
int ecplan_table_triggers_list(ecplan_table_trigger **out, size_t *count, PGconn *conn,
			       const ecplan_plan *plan, ecplan_error *err);
void ecplan_table_triggers_free(ecplan_table_trigger *t, size_t count);

/*
 * Whether the current role may SET session_replication_role: a superuser, or
 * (PostgreSQL 15+) a role with has_parameter_privilege(..., 'SET').
 */
int ecplan_table_triggers_can_disable(bool *ok, PGconn *conn, ecplan_error *err);

/*
 * The precondition for backfill.disable_triggers (nothing when it is false):
 * appends one item to list, failing with the GRANT that fixes it. Returns 0
 * or ECPLAN_ERR on a database error.
 */
int ecplan_table_triggers_precheck(ecplan_checklist *list, PGconn *conn, const ecplan_plan *plan,
				   ecplan_error *err);

#endif
