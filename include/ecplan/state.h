#ifndef ECPLAN_STATE_H
#define ECPLAN_STATE_H
/*
 * The persistent state of plans, stored in the target database in schema
 * `ecplan` (created on first use, versioned: ecplan.schema_version holds the
 * applied migrations, and a later release adds migrations, never edits them).
 *
 *   ecplan.plans       one row per registered plan: its JSON, SHA-256, state,
 *                      the phase in progress and how many of its steps are
 *                      done, the backfill cursor and counters
 *   ecplan.events      append-only log: attempts, steps, errors, webhook
 *                      deliveries, with times
 *   ecplan.deliveries  one row per webhook delivery (id stable across retries
 *                      and re-deliveries), so a gate can be re-delivered
 */
#include <stdbool.h>
#include <libpq-fe.h>

#include "ecplan/error.h"
#include "ecplan/phase.h"
#include "ecplan/plan.h"

#define ECPLAN_STATE_SCHEMA_VERSION 4

typedef struct ecplan_plan_row {
	char *name;
	char *plan_json;      /* canonical JSON as registered */
	char *sha256;
	ecplan_state state;
	ecplan_phase running; /* phase in progress, or NONE */
	bool rolling_back;    /* the phase in progress is being undone */
	int step;             /* steps of `running` done */
	int attempts[ECPLAN_PHASE_COUNT]; /* how many times each phase started */
	int phase_attempt;    /* attempts[running], or 0 when nothing runs */
	int rollback_attempts;/* how many rollbacks started */
	int failures;         /* how many attempts failed */
	char *cursor;         /* backfill cursor as a text[] literal, or NULL */
	long long rows_done;
	long long rows_total; /* estimate; -1 unknown */
	double backfill_seconds; /* time spent in batches */
	char *switched_at;    /* ISO 8601, or NULL */
	double seconds_since_switch; /* -1 when not switched */
	char *last_error;     /* or NULL */
	char *updated_at;     /* ISO 8601 UTC */
	bool paused;          /* ecplan pause: a backfill waits between batches */
	char *throttled;      /* why the running backfill waits now, or NULL */
	double throttled_seconds; /* time the backfill spent throttled */
	char *table_name;     /* "schema.table" as in the plan */
	char *column;
	char *new_column;
} ecplan_plan_row;

/*
 * Makes schema ecplan current. Reads the catalog first: when the schema is
 * there at ECPLAN_STATE_SCHEMA_VERSION nothing is created, locked or
 * altered (a table owner granted its use by an admin needs nothing more).
 * Otherwise creates what is missing and applies the migrations, serialised
 * by a transaction-level advisory lock (concurrent first runs are safe); a
 * role that may not do so gets the server's 42501 error with a hint naming
 * "ecplan init".
 */
int ecplan_state_ensure_schema(PGconn *conn, ecplan_error *err);
/* *out: the applied version of schema ecplan, -1 when it does not exist. */
int ecplan_state_schema_version(int *out, PGconn *conn, ecplan_error *err);
/* What "ecplan init" does as an admin: ecplan_state_ensure_schema, then
 * schema ecplan_archive when missing. */
int ecplan_state_init(PGconn *conn, ecplan_error *err);
/* The SQL of ecplan_state_init, to run by hand (idempotent: each migration
 * is applied once). Caller frees. */
char *ecplan_state_init_sql(void);
/* True when schema ecplan exists (read-only commands do not create it). */
int ecplan_state_schema_exists(PGconn *conn, bool *out, ecplan_error *err);

/* Loads the row of a plan; *out NULL when not registered. */
int ecplan_state_load(ecplan_plan_row **out, PGconn *conn, const char *name, ecplan_error *err);
/* All registered plans, by name. */
int ecplan_state_load_all(ecplan_plan_row ***out, size_t *count, PGconn *conn, ecplan_error *err);
void ecplan_plan_row_free(ecplan_plan_row *row);
void ecplan_plan_rows_free(ecplan_plan_row **rows, size_t count);

/* Registers plan in state planned. */
int ecplan_state_register(PGconn *conn, const ecplan_plan *plan, ecplan_error *err);

/*
 * Compares plan with the registered one. Returns 0 when they are the same;
 * ECPLAN_EDRIFT when a field that defines the change differs (err->detail
 * lists those JSON paths, registered value -> file value); 1 when only
 * operational settings differ (ecplan_plan_path_is_operational), with
 * *changes (when changes is not NULL; caller frees) a JSON array text of
 * {path, registered, file, operational}, header values "(hidden)".
 */
int ecplan_state_compare(char **changes, const ecplan_plan *plan, const ecplan_plan_row *row,
			 ecplan_error *err);
/* ecplan_state_compare without the changes: 0 or ECPLAN_EDRIFT. */
int ecplan_state_check_drift(const ecplan_plan *plan, const ecplan_plan_row *row,
			     ecplan_error *err);
/* "\n  path: registered a, file b" lines of a changes array; caller frees. */
char *ecplan_state_describe_changes(const char *changes);
/*
 * Registers plan (only operational settings differ: see ecplan_state_compare)
 * and records a "settings" event with the changes, in one transaction. A
 * running backfill picks the new settings up at its next batch.
 */
int ecplan_state_register_settings(PGconn *conn, const ecplan_plan *plan, const char *changes,
				   ecplan_error *err);

/*
 * ecplan pause / resume: sets the plan's paused flag and records a "pause"
 * or "resume" event (message names `who`) in one transaction. *changed is
 * false when the flag already had that value (nothing recorded).
 * ECPLAN_ENOTFOUND when not registered; pausing a contracted plan is
 * ECPLAN_EIMPOSSIBLE.
 */
int ecplan_state_set_paused(bool *changed, PGconn *conn, const char *name, bool paused,
			    const char *who, ecplan_error *err);

/* What a running backfill reads between batches. */
typedef struct ecplan_state_live {
	bool paused;
	char *plan_json; /* the registered plan when its sha256 differs from the one given, else NULL */
} ecplan_state_live;
/* One small read of the plan's row; the caller frees out->plan_json. */
int ecplan_state_poll(ecplan_state_live *out, PGconn *conn, const char *name, const char *have_sha256,
		      ecplan_error *err);
/* Records why the backfill waits (NULL: it does not) and adds add_seconds
 * to the time spent throttled. */
int ecplan_state_set_throttled(PGconn *conn, const char *name, const char *reason, double add_seconds,
			       ecplan_error *err);

/* Marks `phase` as started (running, step 0, its attempt count + 1, last
 * error cleared) or, for rollback, as being undone (attempts unchanged). */
int ecplan_state_begin_phase(PGconn *conn, const char *name, ecplan_phase phase, bool rollback,
			     ecplan_error *err);
/* Counts a new rollback (*out: its number, for webhook idempotency). */
int ecplan_state_begin_rollback(int *out, PGconn *conn, const char *name, ecplan_error *err);
/* Counts a failed attempt (*out: its number, for the `failed` webhook). */
int ecplan_state_next_failure(int *out, PGconn *conn, const char *name, ecplan_error *err);
/* Replaces the registered plan (only for a plan that never started a phase). */
int ecplan_state_reregister(PGconn *conn, const ecplan_plan *plan, ecplan_error *err);

/*
 * Removes a plan that never started a phase (a typo's leftover): its row,
 * events and deliveries, in one transaction. ECPLAN_ENOTFOUND when not
 * registered, ECPLAN_ELOCKED while a runner holds it, ECPLAN_EIMPOSSIBLE
 * (with the phases started in err->detail) for anything else.
 */
int ecplan_state_forget(PGconn *conn, const char *name, ecplan_error *err);

/* Records that `step` steps of the running phase are done. Meant to run
 * inside the step's own transaction. */
int ecplan_state_set_step(PGconn *conn, const char *name, int step, ecplan_error *err);
/* Completes the running phase: state becomes `state`, nothing running. */
int ecplan_state_finish_phase(PGconn *conn, const char *name, ecplan_state state,
			      ecplan_error *err);
int ecplan_state_set_error(PGconn *conn, const char *name, const char *error, ecplan_error *err);

/* Backfill bookkeeping, inside the batch's transaction: the cursor is the
 * key of the last row the batch covered, one text value per key column, as
 * written under ecplan's pinned value settings (ecplan_db_value_settings(),
 * saved with it). */
int ecplan_state_save_batch(PGconn *conn, const char *name, char *const *cursor, size_t ncursor,
			    long long rows, double seconds, ecplan_error *err);
/* The saved cursor: *out an array of ncursor strings (NULL when none);
 * *same_settings is true when it was written under the value settings this
 * session has (false for a cursor saved by a release before schema 2, whose
 * text followed that session's DateStyle, TimeZone, ...). */
int ecplan_state_load_cursor(char ***out, size_t *ncursor, bool *same_settings, PGconn *conn,
			     const char *name, ecplan_error *err);
int ecplan_state_set_rows_total(PGconn *conn, const char *name, long long total,
				bool reset_progress, ecplan_error *err);

/*
 * Appends an event. kind: "attempt", "step", "phase", "error", "webhook",
 * "precondition", "rollback", ...; phase may be NULL; data_json a JSON object
 * text or NULL. Returns the insert's error. Run inside the transaction of the
 * state change it tells of, it commits or rolls back with it (the runner
 * does so for every phase start, end and undo), so the history never tells
 * of a move that did not happen nor leaves one out.
 */
int ecplan_state_log(PGconn *conn, const char *name, const char *kind, const char *phase,
		     const char *message, const char *data_json, ecplan_error *err);

/* Webhook deliveries. */
typedef struct ecplan_delivery {
	char id[40];
	bool delivered;
	int attempts;
} ecplan_delivery;
/* Finds the delivery of (plan, event, webhook, phase_attempt), creating it
 * pending with a new id when absent. */
int ecplan_state_delivery(ecplan_delivery *out, PGconn *conn, const char *name,
			  const char *event, const char *webhook, int phase_attempt, bool gate,
			  ecplan_error *err);
int ecplan_state_delivery_done(PGconn *conn, const char *id, bool delivered, int attempts,
			       long http_status, const char *error, ecplan_error *err);
/* Gate deliveries not yet delivered, for status. */
int ecplan_state_pending_webhooks(long long *out, PGconn *conn, const char *name,
				  ecplan_error *err);

#endif
