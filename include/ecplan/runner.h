#ifndef ECPLAN_RUNNER_H
#define ECPLAN_RUNNER_H
/*
 * Doing it: advance and rollback of a plan on a live database. One runner
 * per plan at a time (a session advisory lock held for the whole command);
 * each phase is a list of steps (render.h), each recorded in the state row in
 * the same transaction as its DDL; DDL waits at most lock_timeout_ms per try
 * and is retried with jittered backoff up to lock_retries times.
 *
 * The runner never prints: it reports through the callbacks in the options.
 */
#include <stdbool.h>
#include <libpq-fe.h>

#include "ecplan/error.h"
#include "ecplan/phase.h"
#include "ecplan/plan.h"

typedef struct ecplan_progress {
	long long rows_done;
	long long rows_total; /* -1 unknown */
	double rows_per_second;
	double eta_seconds;   /* -1 unknown */
	long batch_size;
} ecplan_progress;

typedef struct ecplan_run_opts {
	/* A line for humans, e.g. "expand: step 1/1 add column full_name". */
	void (*info)(const char *line, void *ctx);
	/* Backfill progress after every batch. */
	void (*progress)(const ecplan_progress *p, void *ctx);
	void *ctx;
	/* Sleep hook (tests); NULL: nanosleep. */
	void (*sleep_ms)(long ms, void *ctx);
} ecplan_run_opts;

/*
 * Connects and takes the plan's runner lock. ECPLAN_ELOCKED (with the holder
 * in err->detail) when another runner holds it.
 */
typedef struct ecplan_runner ecplan_runner;
int ecplan_runner_open(ecplan_runner **out, const char *conninfo, const ecplan_plan *plan,
		       const ecplan_run_opts *opts, ecplan_error *err);
void ecplan_runner_close(ecplan_runner *r);
PGconn *ecplan_runner_conn(ecplan_runner *r);

/*
 * Runs phases from the current state up to and including `to` (the next
 * phase only when to is ECPLAN_PHASE_NONE). Registers the plan on first use
 * and refuses a plan that drifted (ECPLAN_EDRIFT).
 */
int ecplan_runner_advance(ecplan_runner *r, ecplan_phase to, ecplan_error *err);

/* Undoes phases newest first until the state is `to` (planned: the plan ends
 * rolled_back). ECPLAN_EIMPOSSIBLE after contract. */
int ecplan_runner_rollback(ecplan_runner *r, ecplan_state to, ecplan_error *err);

#endif
