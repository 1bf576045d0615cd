/*
 * A long statement run asynchronously on one connection and watched from a
 * second one. Why: CREATE INDEX CONCURRENTLY waits for every transaction
 * with an older snapshot in the whole database; under a short lock_timeout
 * one long query elsewhere throws the build away again and again. Here it
 * waits as long as it must (it does not block the application), says whom
 * it waits for, and gives up after a bounded total wait.
 */
#include "ecplan/longstmt.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ecplan/db.h"
#include "ecplan/strbuf.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The sessions the backend `pid` waits for, oldest transaction first. */
static const char blockers_sql[] =
	"WITH b AS ("
	" SELECT unnest(pg_blocking_pids($1::int)) AS pid"
	" UNION"
	" SELECT h.pid FROM pg_locks w JOIN pg_locks h ON h.locktype = 'virtualxid'"
	"  AND h.virtualxid = w.virtualxid AND h.granted AND h.pid IS DISTINCT FROM w.pid"
	" WHERE w.pid = $1::int AND w.locktype = 'virtualxid' AND NOT w.granted)"
	" SELECT a.pid, coalesce(a.application_name, ''),"
	"  coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8,"
	"  a.state, left(a.query, 200)"
	" FROM b JOIN pg_stat_activity a ON a.pid = b.pid"
	" ORDER BY a.xact_start NULLS LAST, a.pid";

static const char waiting_sql[] =
	"SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1::int";

static const char progress_sql[] =
	"SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total,"
	" lockers_done, lockers_total, current_locker_pid"
	" FROM pg_stat_progress_create_index WHERE pid = $1::int";

typedef struct watch {
	const ecplan_longstmt_opts *o;
	PGconn *mon;
	bool mon_failed;
	char pid[16];
	double waited;
	double last_look;
	double last_progress;
	char *blockers_text; /* the last reported list, for change detection */
	char *blockers_detail;
} watch;

static void report(watch *w, const char *kind, const char *msg, const char *data)
{
	if (w->o->report)
		w->o->report(kind, msg, data, w->mon, w->o->ctx);
}

static void look_blockers(watch *w, bool waiting)
{
	PGresult *res = NULL;
	const char *params[1] = { w->pid };
	if (ecplan_db_query(&res, w->mon, blockers_sql, 1, params, NULL) < 0)
		return;
	ecplan_strbuf txt = ECPLAN_STRBUF_INIT, det = ECPLAN_STRBUF_INIT;
	json_t *list = json_array();
	int n = waiting ? PQntuples(res) : 0;
	for (int i = 0; i < n; i++) {
		const char *state = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3);
		const char *query = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
		double age = atof(PQgetvalue(res, i, 2));
		ecplan_strbuf_addf(&txt, "%spid %s", i ? ", " : "", PQgetvalue(res, i, 0));
		ecplan_strbuf_addf(&det, "\n  pid %s (application_name \"%s\", %s, transaction open %.0f s): %.80s",
				   PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), state ? state : "state hidden", age,
				   query ? query : "");
		json_array_append_new(list, json_pack("{s:i, s:s, s:f, s:s?, s:s?}", "pid",
						      atoi(PQgetvalue(res, i, 0)), "application_name",
						      PQgetvalue(res, i, 1), "xact_age_s", age, "state", state,
						      "query", query));
	}
	PQclear(res);
	if (strcmp(txt.buf, w->blockers_text ? w->blockers_text : "")) {
		json_t *d = json_pack("{s:o, s:f}", "waiting_for", list, "waited_s", w->waited);
		list = NULL;
		char *data = json_dumps(d, JSON_COMPACT);
		char *msg = txt.len ? ecplan_xstrfmt("waiting for %s (transactions with an older snapshot "
						     "or a conflicting lock):%s", txt.buf, det.buf)
				    : ecplan_xstrdup("");
		report(w, "wait", msg, data);
		free(msg);
		free(data);
		json_decref(d);
		free(w->blockers_text);
		w->blockers_text = ecplan_strbuf_detach(&txt);
		free(w->blockers_detail);
		w->blockers_detail = ecplan_strbuf_detach(&det);
	}
	json_decref(list);
	ecplan_strbuf_release(&txt);
	ecplan_strbuf_release(&det);
}

static void look_progress(watch *w, double now)
{
	PGresult *res = NULL;
	const char *params[1] = { w->pid };
	if (now - w->last_progress < 10 || ecplan_db_query(&res, w->mon, progress_sql, 1, params, NULL) < 0)
		return;
	w->last_progress = now;
	if (PQntuples(res) == 1) {
		ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
		ecplan_strbuf_addf(&sb, "index build: %s", PQgetvalue(res, 0, 0));
		if (atoll(PQgetvalue(res, 0, 2)) > 0)
			ecplan_strbuf_addf(&sb, ", %s/%s blocks", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
		if (atoll(PQgetvalue(res, 0, 4)) > 0)
			ecplan_strbuf_addf(&sb, ", %s/%s tuples", PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
		if (atoll(PQgetvalue(res, 0, 6)) > 0)
			ecplan_strbuf_addf(&sb, ", %s/%s lockers waited for (now pid %s)", PQgetvalue(res, 0, 5),
					   PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 7));
		json_t *d = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:f}", "phase",
				      PQgetvalue(res, 0, 0), "blocks_done", (json_int_t)atoll(PQgetvalue(res, 0, 1)),
				      "blocks_total", (json_int_t)atoll(PQgetvalue(res, 0, 2)), "tuples_done",
				      (json_int_t)atoll(PQgetvalue(res, 0, 3)), "tuples_total",
				      (json_int_t)atoll(PQgetvalue(res, 0, 4)), "lockers_done",
				      (json_int_t)atoll(PQgetvalue(res, 0, 5)), "lockers_total",
				      (json_int_t)atoll(PQgetvalue(res, 0, 6)), "current_locker_pid",
				      atoi(PQgetvalue(res, 0, 7)), "waited_s", w->waited);
		char *data = d ? json_dumps(d, JSON_COMPACT) : NULL;
		report(w, "progress", sb.buf, data);
		free(data);
		json_decref(d);
		ecplan_strbuf_release(&sb);
	}
	PQclear(res);
}

/* One look from the watching connection. */
static void look(watch *w, double now)
{
	if (!w->mon && !w->mon_failed && ecplan_db_connect(&w->mon, w->o->conninfo, NULL) < 0)
		w->mon_failed = true;
	if (!w->mon)
		return;
	char *v = NULL;
	const char *params[1] = { w->pid };
	bool waiting = false;
	if (ecplan_db_query_value(&v, w->mon, waiting_sql, 1, params, NULL) == 0 && v)
		waiting = !strcmp(v, "t");
	free(v);
	if (waiting)
		w->waited += now - w->last_look;
	look_blockers(w, waiting);
	look_progress(w, now);
}

int ecplan_longstmt_exec(PGconn *conn, const char *sql, const ecplan_longstmt_opts *o,
			 ecplan_error *err)
{
	watch w = { .o = o };
	long poll_ms = o->poll_ms > 0 ? o->poll_ms : 1000;
	bool cancelled = false, gave_up = false;
	int rc = 0;
	snprintf(w.pid, sizeof(w.pid), "%d", PQbackendPID(conn));
	if (!PQsendQuery(conn, sql))
		return ecplan_db_error_from_result(err, conn, NULL);
	double start = now_s();
	w.last_look = start;
	w.last_progress = start;
	for (;;) {
		if (!PQconsumeInput(conn) || !PQisBusy(conn))
			break;
		struct pollfd p = { .fd = PQsocket(conn), .events = POLLIN };
		double now = now_s();
		double next = w.last_look + (double)poll_ms / 1000.0;
		int timeout = next > now ? (int)((next - now) * 1000.0) + 1 : 0;
		if (poll(&p, 1, timeout) < 0 && errno != EINTR)
			break;
		if (!cancelled && ecplan_db_interrupted()) {
			/* The signal handler cancelled what ran then; this makes sure
			 * a statement sent just after it is cancelled too. */
			PGcancel *c = PQgetCancel(conn);
			char buf[256];
			if (c) {
				PQcancel(c, buf, (int)sizeof(buf));
				PQfreeCancel(c);
			}
			cancelled = true;
		}
		now = now_s();
		if (now - w.last_look >= (double)poll_ms / 1000.0) {
			if (!cancelled)
				look(&w, now);
			w.last_look = now;
			if (!cancelled && o->max_wait_s > 0 && w.waited > (double)o->max_wait_s) {
				PGcancel *c = PQgetCancel(conn);
				char buf[256];
				if (c) {
					PQcancel(c, buf, (int)sizeof(buf));
					PQfreeCancel(c);
				}
				cancelled = gave_up = true;
			}
		}
	}
	/* Collect every result; the last error wins over nothing. */
	PGresult *res, *bad = NULL;
	while ((res = PQgetResult(conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !bad)
			bad = res;
		else
			PQclear(res);
	}
	if (PQstatus(conn) == CONNECTION_BAD && !bad)
		rc = ecplan_db_error_from_result(err, conn, NULL);
	if (bad) {
		if (gave_up) {
			ecplan_error_set(err, ECPLAN_ELOCKTIMEOUT,
					 "waited %.0f s in total for other sessions, more than safety.max_index_wait_s "
					 "(%ld s); statement cancelled", w.waited, o->max_wait_s);
			ecplan_error_detail(err, "sessions in the way:%s",
					    w.blockers_detail && *w.blockers_detail ? w.blockers_detail
										    : " (they ended just now)");
			ecplan_error_hint(err, "end those transactions (or raise safety.max_index_wait_s), then "
					       "run the same command again to resume");
			rc = ECPLAN_ELOCKTIMEOUT;
		} else {
			rc = ecplan_db_error_from_result(err, conn, bad);
		}
		PQclear(bad);
	}
	if (w.blockers_text && *w.blockers_text && rc == 0)
		report(&w, "wait", "", "{\"waiting_for\":[]}");
	ecplan_db_close(w.mon);
	free(w.blockers_text);
	free(w.blockers_detail);
	return rc;
}
