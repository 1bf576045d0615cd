#ifndef ECPLAN_DB_H
#define ECPLAN_DB_H
/*
 * The database connection and the small helpers every phase uses. Together
 * with catalog.c this is the only module that talks libpq. Nothing here
 * prints or exits: failures come back as an ecplan_error.
 *
 * Errors from the server fill err like this: code ECPLAN_ERR, message = the
 * server's primary message, detail = its detail (plus its context, when the
 * error came from inside a function or trigger), hint = its hint, sqlstate =
 * the SQLSTATE. A lost connection says "connection to the database was lost".
 * As everywhere in ecplan, the first error wins: a helper called with an err
 * that already holds an error leaves it untouched.
 */
#include <stdbool.h>
#include <libpq-fe.h>

#include "ecplan/error.h"

/* SQLSTATEs callers test for. */
#define ECPLAN_SQLSTATE_LOCK_NOT_AVAILABLE "55P03" /* lock_timeout, NOWAIT */
#define ECPLAN_SQLSTATE_QUERY_CANCELED "57014"     /* statement_timeout, cancel */
#define ECPLAN_SQLSTATE_SERIALIZATION_FAILURE "40001"
#define ECPLAN_SQLSTATE_DEADLOCK_DETECTED "40P01"

/* Where the connection string came from, for messages. */
typedef enum ecplan_db_source {
	ECPLAN_DB_FROM_OPTION,       /* --db */
	ECPLAN_DB_FROM_ECPLAN_DB,    /* $ECPLAN_DB */
	ECPLAN_DB_FROM_DATABASE_URL, /* $DATABASE_URL */
	ECPLAN_DB_FROM_DEFAULTS      /* libpq defaults: PGHOST, PGPORT, ... */
} ecplan_db_source;

/*
 * Picks the connection string: `option` (the --db value) when not NULL, else
 * $ECPLAN_DB, else $DATABASE_URL (empty variables count as unset), else ""
 * (libpq's defaults: PGHOST, PGPORT, PGUSER, PGDATABASE, ~/.pgpass, ...).
 * Returns a pointer to option, into the environment or to a static "": not
 * owned by the caller. source_out may be NULL.
 */
const char *ecplan_db_resolve(const char *option, ecplan_db_source *source_out);
/* "--db", "ECPLAN_DB", "DATABASE_URL" or "the PG* environment variables". */
const char *ecplan_db_source_name(ecplan_db_source source);

/*
 * conninfo with every password in it replaced by "***": the password of a
 * URI's user info (postgresql://user:***@host/db), and the values of
 * password= and sslpassword= in a keyword string or a URI's query. Returns a
 * new string (caller frees), or NULL when conninfo holds no password. Pure;
 * the CLI uses it to hide --db from the process list (ps).
 */
char *ecplan_db_mask_password(const char *conninfo);

/*
 * Connects. conninfo is a libpq keyword/value string ("host=/tmp dbname=app"),
 * a URI ("postgresql://user@host/app") or a bare database name; NULL means
 * "resolve it" with ecplan_db_resolve(NULL, ...).
 *
 * Whatever conninfo says, the session gets application_name=ecplan (so that
 * other sessions can tell an ecplan runner in pg_stat_activity) and
 * client_encoding=UTF8 (plans are JSON, hence UTF-8). connect_timeout is 10
 * seconds unless conninfo or PGCONNECT_TIMEOUT sets it. libpq's notices
 * (NOTICE, WARNING) are discarded rather than printed.
 *
 * Right after connecting, the session's settings that ecplan's SQL and the
 * text of values depend on are pinned, whatever the server, the role, the
 * database, PGOPTIONS, PGDATESTYLE, PGTZ or conninfo's options say:
 * DateStyle 'ISO, MDY', IntervalStyle postgres, TimeZone UTC,
 * extra_float_digits 3, bytea_output hex (these decide the text of a key
 * value, hence of the backfill cursor: see ecplan_db_value_settings()),
 * search_path 'pg_catalog, "$user", public' (PostgreSQL's default, with
 * pg_catalog first: the plan's expressions find unqualified functions in
 * the role's own schema and in public, as on a default server; name any
 * other schema explicitly), default_transaction_isolation 'read committed'
 * and default_transaction_read_only off.
 *
 * On success returns 0 and sets *out to a connection the caller closes with
 * ecplan_db_close(). On failure *out is NULL and err says why:
 *   ECPLAN_EINVALID  conninfo cannot be parsed (the message never repeats the
 *                    parts of conninfo that could be a password)
 *   ECPLAN_ERR       the connection failed; message names the target as
 *                    ecplan_db_describe_target() does, detail is libpq's
 *                    message, hint says where the settings came from
 */
int ecplan_db_connect(PGconn **out, const char *conninfo, ecplan_error *err);
/* PQfinish; NULL is allowed. */
void ecplan_db_close(PGconn *conn);

/*
 * A description of a connection target for messages and logs, which never
 * contains a password: the host, hostaddr, port, dbname and user that conninfo
 * sets, e.g. `host=/tmp/x port=5433 dbname=app user=bob` (values quoted as in
 * a conninfo string when they need it). Only what conninfo itself says: the
 * empty string for "" (all defaults), `dbname=app` for a bare name, and
 * "(invalid connection string)" when it cannot be parsed. Caller frees.
 */
char *ecplan_db_describe_target(const char *conninfo);
/* The same for an open (or failed) connection, with the values libpq
 * actually used, defaults and environment included. Caller frees. */
char *ecplan_db_describe_conn(PGconn *conn);

/* Runs one or more SQL commands with no parameters (PQexec); results are
 * discarded. Returns 0 or ECPLAN_ERR. */
int ecplan_db_exec(PGconn *conn, const char *sql, ecplan_error *err);

/*
 * Runs one statement with text parameters $1..$n (PQexecParams; a NULL
 * element is SQL NULL). On success returns 0 and sets *out to the result
 * (PGRES_TUPLES_OK or PGRES_COMMAND_OK), which the caller PQclear()s; out may
 * be NULL to discard it. On failure returns ECPLAN_ERR with *out NULL.
 */
int ecplan_db_query(PGresult **out, PGconn *conn, const char *sql, int nparams,
		    const char *const *params, ecplan_error *err);

/*
 * Runs a query expected to return exactly one row and one column and returns
 * that value, a malloc'ed string the caller frees (NULL for SQL NULL) in *out.
 * Zero rows or more than one is ECPLAN_ERR.
 */
int ecplan_db_query_value(char **out, PGconn *conn, const char *sql, int nparams,
			  const char *const *params, ecplan_error *err);

/* server_version_num, e.g. 150018; 0 when unknown (no connection). */
int ecplan_db_server_version(PGconn *conn);

/* True when err holds a database error with that SQLSTATE. */
bool ecplan_db_error_is(const ecplan_error *err, const char *sqlstate);
/* Shorthand for ECPLAN_SQLSTATE_LOCK_NOT_AVAILABLE: lock_timeout expired. */
bool ecplan_db_error_is_lock_timeout(const ecplan_error *err);
/*
 * True for errors after which running the same transaction again can
 * succeed and nothing of it stayed: a lock timeout (55P03), a serialization
 * failure (40001) and a deadlock (40P01, the server rolled the transaction
 * back). A statement timeout or a cancel is not retryable.
 */
bool ecplan_db_error_is_retryable(const ecplan_error *err);

/*
 * The pinned settings that decide how values are written as text (see
 * ecplan_db_connect), as one string, e.g. "DateStyle=ISO, MDY;...". A text
 * saved by an ecplan session is read back correctly by any other ecplan
 * session that reports the same string. Static storage.
 */
const char *ecplan_db_value_settings(void);

/* BEGIN / COMMIT / ROLLBACK. A COMMIT of a failed transaction (which the
 * server turns into a ROLLBACK) is reported as an error. */
int ecplan_db_begin(PGconn *conn, ecplan_error *err);
int ecplan_db_commit(PGconn *conn, ecplan_error *err);
int ecplan_db_rollback(PGconn *conn, ecplan_error *err);
/* True when a transaction block is open (idle, active or failed). */
bool ecplan_db_in_transaction(PGconn *conn);

/*
 * Sets lock_timeout and statement_timeout in milliseconds (0 = no limit, as
 * in PostgreSQL; a negative value leaves that setting alone) through
 * set_config(). _local lasts until the end of the current transaction (SET
 * LOCAL; call it inside one); _session until the connection ends.
 */
int ecplan_db_set_local_timeouts(PGconn *conn, long lock_timeout_ms,
				 long statement_timeout_ms, ecplan_error *err);
int ecplan_db_set_session_timeouts(PGconn *conn, long lock_timeout_ms,
				   long statement_timeout_ms, ecplan_error *err);

/*
 * Session-level advisory lock on hashtextextended(key, 0) in the current
 * database, e.g. key "ecplan:plan:<name>". Never waits: *got says whether it
 * was taken. The lock lasts until ecplan_db_advisory_unlock() or the end of
 * the connection (also when the process dies). Taking it twice in one
 * session stacks, as in PostgreSQL.
 */
int ecplan_db_try_advisory_lock(PGconn *conn, const char *key, bool *got, ecplan_error *err);
/* Releases one hold; *released (may be NULL) is false when none was held. */
int ecplan_db_advisory_unlock(PGconn *conn, const char *key, bool *released,
			      ecplan_error *err);

/*
 * Describes the session(s) holding the advisory lock for key, for a message
 * such as "plan is locked by pid 1234 (application_name "ecplan", client
 * 10.0.0.5, connected since 2026-11-25 03:50:01+00, state idle)". PostgreSQL
 * does not record when an advisory lock was taken; "connected since" is the
 * holder's backend_start, a lower bound. Sets *out to a malloc'ed string,
 * or to NULL when nobody holds it (any more). Returns 0 or ECPLAN_ERR.
 */
int ecplan_db_advisory_lock_holder(char **out, PGconn *conn, const char *key,
				   ecplan_error *err);

/*
 * Fills err (if not already set) from a failed result or, with res NULL,
 * from the connection: the building block of the helpers above, for callers
 * that use libpq directly (COPY, pipelines). Returns ECPLAN_ERR.
 */
int ecplan_db_error_from_result(ecplan_error *err, PGconn *conn, const PGresult *res);

/*
 * Interrupts (dbcancel.c). ecplan_db_connect() registers every connection it
 * opens for cancelling and ecplan_db_close() unregisters it (up to 32 at a
 * time; callers need not do anything).
 *
 * ecplan_db_interrupt(signo) is async-signal-safe and meant for a SIGINT or
 * SIGTERM handler: the first call records signo and sends a cancel request
 * (PQcancel) for every registered connection, so a statement in flight ends
 * with SQLSTATE 57014; later calls do nothing. ecplan_db_interrupted()
 * returns the recorded signal number (0: none): long-running library code
 * (the runner) checks it between statements and returns ECPLAN_EINTERRUPTED.
 * ecplan_db_interrupt_reset() forgets the signal (tests).
 */
void ecplan_db_cancel_register(PGconn *conn);
void ecplan_db_cancel_unregister(PGconn *conn);
void ecplan_db_interrupt(int signo);
int ecplan_db_interrupted(void);
void ecplan_db_interrupt_reset(void);

#endif
