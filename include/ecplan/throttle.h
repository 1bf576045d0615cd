#ifndef ECPLAN_THROTTLE_H
#define ECPLAN_THROTTLE_H
/*
 * Throttling the backfill on the health of the database. Before every batch
 * the runner reads the signals (ecplan_throttle_read: libpq, read-only) and
 * asks ecplan_throttle_decide (pure) whether any is over its limit in the
 * plan's backfill.throttle settings; while one is, it waits.
 *
 * Signals: the replay lag of every standby (pg_stat_replication.replay_lag,
 * and the WAL bytes not yet replayed), the WAL bytes every logical slot has
 * not confirmed (pg_replication_slots.confirmed_flush_lsn), an autovacuum of
 * the table (pg_stat_progress_vacuum with pg_stat_activity), and a custom
 * query returning true to pause. Values the role may not see (pg_stat_* hide
 * other roles' details without pg_read_all_stats) read as unknown and never
 * throttle.
 */
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "ecplan/error.h"
#include "ecplan/plan.h"

typedef struct ecplan_throttle_readings {
	double replica_lag_ms;         /* worst replay_lag; -1 none or unknown */
	char replica_lag_name[64];     /* its application_name */
	long long replica_lag_bytes;   /* worst WAL bytes not replayed; -1 none */
	char replica_bytes_name[64];
	long long slot_lag_bytes;      /* worst logical slot; -1 none */
	char slot_name[64];
	int autovacuum_pid;            /* an autovacuum worker on the table, or 0 */
	bool autovacuum_wraparound;    /* ... running to prevent wraparound */
	int query;                     /* custom query: -1 not run, 0 false/NULL, 1 true, 2 failed */
	char query_error[512];
} ecplan_throttle_readings;

/* Readings with nothing known (nothing throttles). */
void ecplan_throttle_readings_init(ecplan_throttle_readings *r);

/* True when settings enable at least one signal that needs reading. */
bool ecplan_throttle_enabled(const ecplan_throttle_settings *s);

/*
 * Pure: whether the readings call for waiting. Returns true and writes the
 * reason (one line, e.g. `standby "replica1" replay_lag 12.3 s > 10 s`) into
 * reason[size]; false (reason "") otherwise. A failed custom query
 * throttles: the backfill never runs blind on a query meant to stop it.
 */
bool ecplan_throttle_decide(char *reason, size_t size, const ecplan_throttle_settings *s,
			    const ecplan_throttle_readings *r);

/*
 * Pure: the extra wait after a batch that took elapsed_ms, when it took more
 * than max_batch_ms_factor x target_batch_ms (the batch's own time again, at
 * most 60 s); 0 otherwise or when either is 0.
 */
long ecplan_throttle_latency_backoff_ms(const ecplan_throttle_settings *s, long target_batch_ms,
					double elapsed_ms);

/*
 * Reads the signals the settings enable, on conn (outside a transaction;
 * leaves none open). The custom query runs in a READ ONLY transaction with
 * statement_timeout = query_timeout_ms; its failure is a reading (query 2),
 * not an error. Returns ECPLAN_ERR only when the catalog query itself fails.
 */
int ecplan_throttle_read(ecplan_throttle_readings *out, PGconn *conn,
			 const ecplan_throttle_settings *s, const char *schema, const char *table,
			 ecplan_error *err);

#endif
