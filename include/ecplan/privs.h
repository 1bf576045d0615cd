#ifndef ECPLAN_PRIVS_H
#define ECPLAN_PRIVS_H
/*
 * Privileges: what the session's role needs to run a plan through every
 * phase, checked from the catalog (has_*_privilege, pg_has_role) before the
 * first change, so that a plan never stops half way for a privilege. Every
 * missing privilege is named with the statement that grants it. Read-only.
 *
 * What a plan needs (README, "Least privilege"):
 *   - to own the table (ALTER TABLE, CREATE TRIGGER, CREATE INDEX, ...), or
 *     have the privileges of its owner, and USAGE on the table's schema;
 *     CREATE on the table's schema too when the backfill rebuilds indexes
 *     (PostgreSQL checks it for CREATE INDEX; builds_indexes below);
 *   - USAGE and CREATE on schema ecplan (state tables; the trigger function
 *     ecplan.ecplan_sync_<plan>) and SELECT/INSERT/UPDATE on its tables,
 *     USAGE on ecplan.events_id_seq; or, when schema ecplan does not exist
 *     yet, CREATE on the database;
 *   - REFERENCES on every table a foreign key from the column refers to
 *     (the key is carried to the new column);
 *   - with contract.archive: USAGE and CREATE on schema ecplan_archive (or
 *     CREATE on the database when it is missing), and to own
 *     ecplan_archive."<plan>" when it exists already.
 * TEMP is never needed. A superuser has all of them.
 */
#include <stdbool.h>
#include <libpq-fe.h>

#include "ecplan/catalog.h"
#include "ecplan/error.h"
#include "ecplan/plan.h"
#include "ecplan/precheck.h"

/*
 * What the role lacks: *out one line per missing privilege, each
 * "<what> (<why>): <statement that grants it>", joined by newlines, or NULL
 * when nothing is missing (caller frees). plan NULL: only what ecplan's state
 * store needs (every command that records state); else everything the plan
 * needs, table_oid being the plan's table (0: not known, table checks are
 * skipped); builds_indexes: the plan rebuilds indexes on the column.
 * Returns 0 or ECPLAN_ERR on a database error.
 */
int ecplan_privs_missing(char **out, PGconn *conn, const ecplan_plan *plan, unsigned int table_oid,
			 bool builds_indexes, ecplan_error *err);

/*
 * Appends to l one item, "role has every privilege the plan needs", failed
 * with the list of ecplan_privs_missing when something is missing. Meant for
 * the expand phase's preconditions (and `ecplan check`).
 */
int ecplan_privs_check(ecplan_checklist *l, PGconn *conn, const ecplan_plan *plan,
		       const ecplan_catalog *cat, ecplan_error *err);

/*
 * Inside the transaction a check (checks[].sql) runs in, which the caller
 * opened READ ONLY with its timeouts: SET LOCAL ROLE safety.checks_role when
 * the plan names one (nothing otherwise). What that enforces and what not:
 * README, "checks[].sql". Returns 0 or ECPLAN_ERR (e.g. not a member).
 */
int ecplan_privs_enter_check(PGconn *conn, const ecplan_plan *plan, ecplan_error *err);

/* ECPLAN_EPRECONDITION (detail: the missing privileges) when the role can
 * neither use nor create ecplan's state store; 0 when it can. */
int ecplan_privs_check_state(PGconn *conn, ecplan_error *err);

/*
 * The GRANTs an admin runs (after "ecplan init") so that `role` can run
 * plans on the tables it owns: schema ecplan and its tables, schema
 * ecplan_archive. role is quoted here. Caller frees.
 */
char *ecplan_privs_grant_sql(const char *role);
/* Runs ecplan_privs_grant_sql(role) in one transaction. */
int ecplan_privs_grant(PGconn *conn, const char *role, ecplan_error *err);

#endif
