#ifndef ECPLAN_WORKERS_H
#define ECPLAN_WORKERS_H
/*
 * The connections of a parallel backfill (backfill.workers > 1), driven
 * asynchronously from ONE thread: each worker runs one batch at a time on
 * its own connection as a chain of statements sent with PQsendQuery*; the
 * caller (the runner's batch loop) waits on every busy worker's socket at
 * once (ecplan_workers_wait) and pumps the ones that have something to read.
 * Signals, cancel (dbcancel.c registers every worker connection), pausing,
 * throttling, settings and events therefore all stay in the runner's thread.
 *
 * A batch of range R, lower bound L (R's cursor, else R's lower bound, else
 * none) and upper bound U (R's upper bound, else none) is, in one
 * transaction: BEGIN; the batch settings (the ecplan.backfill mark the sync
 * trigger honours, lock_timeout, statement_timeout, and with
 * disable_triggers session_replication_role = replica); the bound query
 * (the key `size` rows after L, kept only when <= U: ranges.h clip SQL);
 * the UPDATE of (L, bound] (or of (L, U] when the bound is past U or the
 * end: the range's last batch); the range's cursor and the plan's rows_done
 * (ranges.h save SQL); COMMIT. A kill at any moment leaves either the whole
 * batch with its cursor, or nothing.
 *
 * Once a batch has started, a signal (ecplan_db_interrupted) or
 * ecplan_worker_stop makes the worker send ROLLBACK instead of its next
 * statement; the statement in flight is cancelled by the signal handler.
 */
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "ecplan/error.h"

/* The batch SQL of the backfill, by bounds. Rendered by the runner. */
typedef struct ecplan_batch_sql {
	char *bound[2];     /* [has_lower]: parameters lower..., offset */
	char *update[2][2]; /* [has_lower][has_upper]: parameters lower..., upper... */
} ecplan_batch_sql;

void ecplan_batch_sql_release(ecplan_batch_sql *s);

/* What one batch does; the pointers must stay valid until it ends. */
typedef struct ecplan_worker_job {
	const char *plan_name;
	int step;
	int range;                 /* the range's number */
	size_t nkey;
	char *const *key;          /* the key's column names (clip SQL) */
	char *const *lower;        /* nkey values, or NULL */
	char *const *upper;        /* nkey values, or NULL */
	long size;                 /* rows per batch */
	long lock_timeout_ms;
	long statement_timeout_ms;
	bool disable_triggers;
	const ecplan_batch_sql *sql;
	/* The backfill's clock: the save adds now - *clock to backfill_seconds
	 * and sets *clock to now, so that N workers add up wall time once. */
	double *clock;
} ecplan_worker_job;

typedef struct ecplan_worker_result {
	int rc;             /* 0, or the failure (err) */
	ecplan_error err;   /* the failure, with the batch's range in its detail */
	long long rows;     /* rows covered (the size; the last batch: rows updated) */
	bool last;          /* the range is done */
	double seconds;     /* of the batch */
} ecplan_worker_result;

typedef struct ecplan_worker ecplan_worker;

/* Connects as ecplan_db_connect does and sets the session timeouts. */
int ecplan_worker_open(ecplan_worker **out, const char *conninfo, long lock_timeout_ms,
		       long statement_timeout_ms, ecplan_error *err);
void ecplan_worker_close(ecplan_worker *w);
PGconn *ecplan_worker_conn(ecplan_worker *w);

/* Starts a batch (sends BEGIN). ECPLAN_ERR when the worker is busy or the
 * connection failed. */
int ecplan_worker_start(ecplan_worker *w, const ecplan_worker_job *job, ecplan_error *err);
bool ecplan_worker_busy(const ecplan_worker *w);
/* Rolls back at the next statement boundary. */
void ecplan_worker_stop(ecplan_worker *w);

/*
 * Reads what arrived and sends the next statement while results are
 * complete. Returns 1 when the batch has ended (its outcome in *res, and its
 * new cursor for ecplan_worker_take_cursor), 0 while it runs.
 */
int ecplan_worker_pump(ecplan_worker *w, ecplan_worker_result *res);

/* The cursor the last successful batch saved (nkey values, caller frees
 * each and the array), or NULL when it saved none (a last batch). */
char **ecplan_worker_take_cursor(ecplan_worker *w);

/*
 * Waits until a busy worker of ws[0..n-1] has input, for at most
 * timeout_ms (< 0: no limit). Returns 0; a signal ends the wait early
 * (errno EINTR is not an error).
 */
int ecplan_workers_wait(ecplan_worker *const *ws, size_t n, long timeout_ms);

#endif
