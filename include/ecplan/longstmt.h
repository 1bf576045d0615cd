#ifndef ECPLAN_LONGSTMT_H
#define ECPLAN_LONGSTMT_H
/*
 * Long statements that may wait for other sessions without stalling the
 * application: CREATE INDEX CONCURRENTLY (which waits for every older
 * snapshot in the database) and ALTER TABLE ... VALIDATE CONSTRAINT (which
 * waits for SHARE UPDATE EXCLUSIVE). They run with no lock_timeout; instead
 * a second connection watches the statement's backend while it runs and
 *   - reports the sessions it waits for (pg_locks virtualxid waits and
 *     pg_blocking_pids, joined with pg_stat_activity: pid, application_name,
 *     transaction age, state, query),
 *   - reports progress from pg_stat_progress_create_index,
 *   - adds up the time the backend spends waiting on a heavyweight lock and
 *     cancels the statement once that total passes max_wait_s.
 * Never prints; reports go through the callback. Thread-free: the statement
 * is sent with PQsendQuery and its socket polled.
 */
#include <libpq-fe.h>

#include "ecplan/error.h"

typedef struct ecplan_longstmt_opts {
	/* Connection string for the watching connection (NULL: resolved as by
	 * ecplan_db_connect). When it cannot connect the statement still runs,
	 * unwatched and without the wait limit. */
	const char *conninfo;
	/* Longest total time the statement may wait for other sessions, in
	 * seconds; 0: no limit. */
	long max_wait_s;
	/* How often to look, in milliseconds (0: 1000). */
	long poll_ms;
	/*
	 * kind "wait": the sessions in the way changed; message names them
	 * ("" when the statement no longer waits), data_json is
	 * {"waiting_for":[{"pid":..,"application_name":..,"xact_age_s":..,
	 * "state":..,"query":..}], "waited_s":..}.
	 * kind "progress": at most every 10 s, message like "building index:
	 * scanning table, 1200/5000 blocks", data_json the progress row.
	 * May be NULL. Strings are valid during the call only. watcher is the
	 * watching connection (idle, autocommit; conn itself is busy): the
	 * callback may use it, e.g. to record an event, and must leave it idle.
	 */
	void (*report)(const char *kind, const char *message, const char *data_json, PGconn *watcher,
		       void *ctx);
	void *ctx;
} ecplan_longstmt_opts;

/*
 * Runs sql (one statement, no parameters) on conn and waits for it as
 * described above. Returns 0; ECPLAN_ERR with the server's error (a cancel
 * by ecplan_db_interrupt() included: SQLSTATE 57014); or ECPLAN_ELOCKTIMEOUT
 * when the total wait passed max_wait_s: the statement was cancelled and
 * err->detail names the sessions that were in the way. The caller cleans up
 * what a cancelled statement leaves (an invalid index).
 */
int ecplan_longstmt_exec(PGconn *conn, const char *sql, const ecplan_longstmt_opts *opts,
			 ecplan_error *err);

#endif
