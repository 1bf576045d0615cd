#ifndef ECPLAN_WATCH_H
#define ECPLAN_WATCH_H
/*
 * What an observer of a plan (status, wait, a refused second runner) needs
 * beyond the state row: which ecplan process holds the plan, whether the
 * plan's last move was a rollback, and which gate deliveries are pending.
 *
 * A runner publishes itself once it holds the plan's advisory lock
 * (ecplan_watch_announce): a `runner` event in ecplan.events whose data is
 * {"pid": <ecplan's pid>, "host": <its host name>, "backend_pid": <its
 * server backend>}; the event's time is when it took the plan. An observer
 * joins the lock holder's backend pid (and backend start) with that event, so
 * a stale event of an ended session is never taken for the live one.
 */
#include <stdbool.h>
#include <libpq-fe.h>

#include "ecplan/error.h"

typedef struct ecplan_runner_info {
	bool held;              /* a session holds the plan's runner lock */
	int backend_pid;        /* that session's server process */
	long client_pid;        /* the ecplan process, or -1 when it has not published itself */
	char *host;             /* host name of the ecplan process, or NULL */
	char *started_at;       /* ISO 8601 UTC: when it took the plan, or NULL */
	char *application_name; /* of the session, or NULL */
	char *client_addr;      /* IP address of the session, NULL for a unix socket or hidden */
} ecplan_runner_info;

/* Records that this process (getpid(), gethostname()) holds plan `name`
 * through conn. Call right after taking the runner lock. */
int ecplan_watch_announce(PGconn *conn, const char *name, ecplan_error *err);

/*
 * Fills *out with who holds plan `name` (out->held false when nobody does).
 * Needs schema ecplan. The caller releases *out with
 * ecplan_runner_info_release, also after an error.
 */
int ecplan_watch_runner(ecplan_runner_info *out, PGconn *conn, const char *name, ecplan_error *err);
void ecplan_runner_info_release(ecplan_runner_info *info);

/* One line for people: `ecplan pid 123 on host "ci-7" since 2026-...Z (server
 * backend pid 456, application_name "ecplan")`. Caller frees. */
char *ecplan_runner_info_describe(const ecplan_runner_info *info);
/* What to do to tell whether that runner is alive. Caller frees. */
char *ecplan_runner_info_alive_hint(const ecplan_runner_info *info, const char *plan_name);

/* *out true when the plan's latest move (ecplan.events kinds "phase",
 * "rollback" and "precondition", a forward attempt stopped before its start)
 * is a rollback. */
int ecplan_watch_last_move_is_rollback(bool *out, PGconn *conn, const char *name, ecplan_error *err);

/*
 * The distinct events of failed gate deliveries the next advance or rollback
 * would re-deliver, e.g. "switch.after", comma-separated and sorted in *out
 * (NULL when none; caller frees): a <phase>.before of an attempt not started,
 * the <phase>.after of the phase still running, the rollback.* of the latest
 * rollback.
 */
int ecplan_watch_pending_gates(char **out, PGconn *conn, const char *name, ecplan_error *err);

#endif
