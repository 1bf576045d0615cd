/*
 * The worker connections of a parallel backfill, one batch each at a time,
 * driven asynchronously from the runner's thread. See workers.h.
 */
#include "ecplan/workers.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecplan/db.h"
#include "ecplan/ranges.h"
#include "ecplan/strbuf.h"

typedef enum wstate {
	W_IDLE, W_BEGIN, W_SETTINGS, W_BOUND, W_UPDATE, W_SAVE, W_COMMIT, W_ROLLBACK
} wstate;

struct ecplan_worker {
	PGconn *conn;
	wstate st;
	bool stop;
	ecplan_worker_job job;
	PGresult *bound;       /* the bound query's row, until the batch ends */
	PGresult *cur;         /* the result of the statement in flight */
	ecplan_worker_result res;
	char **cursor;         /* the cursor the batch saves (nkey values) */
	bool has_cursor;
	double started;
	char lock_v[32], stmt_v[32], offset[32], rows_v[32], secs_v[32], step_v[16], range_v[16];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ecplan_batch_sql_release(ecplan_batch_sql *s)
{
	for (int i = 0; i < 2; i++) {
		free(s->bound[i]);
		free(s->update[i][0]);
		free(s->update[i][1]);
	}
	memset(s, 0, sizeof(*s));
}

static void free_values(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int ecplan_worker_open(ecplan_worker **out, const char *conninfo, long lock_timeout_ms,
		       long statement_timeout_ms, ecplan_error *err)
{
	PGconn *conn = NULL;
	int rc;
	*out = NULL;
	if ((rc = ecplan_db_connect(&conn, conninfo, err)) < 0)
		return rc;
	if ((rc = ecplan_db_set_session_timeouts(conn, lock_timeout_ms, statement_timeout_ms, err)) < 0) {
		ecplan_db_close(conn);
		return rc;
	}
	ecplan_worker *w = ecplan_xcalloc(1, sizeof(*w));
	w->conn = conn;
	*out = w;
	return 0;
}

static void end_batch(ecplan_worker *w)
{
	PQclear(w->bound);
	w->bound = NULL;
	PQclear(w->cur);
	w->cur = NULL;
	w->st = W_IDLE;
	w->stop = false;
}

void ecplan_worker_close(ecplan_worker *w)
{
	if (!w)
		return;
	end_batch(w);
	free_values(w->cursor, w->job.nkey);
	ecplan_db_close(w->conn);
	free(w);
}

PGconn *ecplan_worker_conn(ecplan_worker *w)
{
	return w->conn;
}

bool ecplan_worker_busy(const ecplan_worker *w)
{
	return w->st != W_IDLE;
}

void ecplan_worker_stop(ecplan_worker *w)
{
	w->stop = true;
}

static int send_simple(ecplan_worker *w, const char *sql, wstate next)
{
	w->st = next;
	if (!PQsendQuery(w->conn, sql))
		return ecplan_db_error_from_result(&w->res.err, w->conn, NULL);
	return 0;
}

static int send_params(ecplan_worker *w, const char *sql, int n, const char *const *params, wstate next)
{
	w->st = next;
	if (!PQsendQueryParams(w->conn, sql, n, NULL, params, NULL, NULL, 0))
		return ecplan_db_error_from_result(&w->res.err, w->conn, NULL);
	return 0;
}

int ecplan_worker_start(ecplan_worker *w, const ecplan_worker_job *job, ecplan_error *err)
{
	if (w->st != W_IDLE)
		return ecplan_error_set(err, ECPLAN_ERR, "a backfill worker was given a batch while busy");
	free_values(w->cursor, w->job.nkey);
	w->cursor = NULL;
	w->has_cursor = false;
	w->job = *job;
	memset(&w->res, 0, sizeof(w->res));
	ecplan_error_clear(&w->res.err);
	w->started = now_s();
	if (send_simple(w, "BEGIN", W_BEGIN) < 0) {
		w->st = W_IDLE;
		if (err)
			*err = w->res.err;
		return ECPLAN_ERR;
	}
	return 0;
}

/* Adds the batch's range and bounds to the error's detail. */
static void describe(ecplan_worker *w)
{
	ecplan_error *e = &w->res.err;
	if (ecplan_db_error_is_lock_timeout(e))
		return;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_addf(&sb, "%s%sin the batch of backfill range %d, rows with key", e->detail,
			   e->detail[0] ? "\n" : "", w->job.range);
	if (w->job.lower) {
		ecplan_strbuf_adds(&sb, " > (");
		for (size_t i = 0; i < w->job.nkey; i++)
			ecplan_strbuf_addf(&sb, "%s%s", i ? ", " : "", w->job.lower[i]);
		ecplan_strbuf_adds(&sb, ")");
	}
	bool has_bound = w->bound && PQntuples(w->bound) == 1;
	char *const *up = w->job.upper;
	if (has_bound || up) {
		ecplan_strbuf_addf(&sb, "%s <= (", w->job.lower ? " and" : "");
		for (size_t i = 0; i < w->job.nkey; i++)
			ecplan_strbuf_addf(&sb, "%s%s", i ? ", " : "",
					   has_bound ? PQgetvalue(w->bound, 0, (int)i) : up[i]);
		ecplan_strbuf_adds(&sb, ")");
	}
	if (!w->job.lower && !has_bound && !up)
		ecplan_strbuf_adds(&sb, " (all of them)");
	ecplan_error_detail(e, "%s", sb.buf);
	ecplan_strbuf_release(&sb);
}

/* The next statement after the one that just succeeded. */
static int advance(ecplan_worker *w)
{
	const ecplan_worker_job *j = &w->job;
	size_t nk = j->nkey;
	bool has_lower = j->lower != NULL;
	const char **params = ecplan_xcalloc(3 * nk + ECPLAN_RANGES_SAVE_FIXED_PARAMS + 2, sizeof(char *));
	int np = 0, rc = 0;
	switch (w->st) {
	case W_BEGIN: {
		snprintf(w->lock_v, sizeof(w->lock_v), "%ld", j->lock_timeout_ms);
		snprintf(w->stmt_v, sizeof(w->stmt_v), "%ld", j->statement_timeout_ms);
		params[0] = j->plan_name;
		params[1] = w->lock_v;
		params[2] = w->stmt_v;
		rc = send_params(w, j->disable_triggers
			? "SELECT set_config('ecplan.backfill', $1, true),"
			  " set_config('lock_timeout', $2, true), set_config('statement_timeout', $3, true),"
			  " set_config('session_replication_role', 'replica', true)"
			: "SELECT set_config('ecplan.backfill', $1, true),"
			  " set_config('lock_timeout', $2, true), set_config('statement_timeout', $3, true)",
			3, params, W_SETTINGS);
		break;
	}
	case W_SETTINGS: {
		for (size_t i = 0; has_lower && i < nk; i++)
			params[np++] = j->lower[i];
		snprintf(w->offset, sizeof(w->offset), "%ld", j->size - 1);
		params[np++] = w->offset;
		char *clip = NULL;
		const char *sql = j->sql->bound[has_lower];
		if (j->upper) {
			for (size_t i = 0; i < nk; i++)
				params[np++] = j->upper[i];
			sql = clip = ecplan_ranges_clip_sql(sql, j->key, nk, (int)(has_lower ? nk : 0) + 2);
		}
		rc = send_params(w, sql, np, params, W_BOUND);
		free(clip);
		break;
	}
	case W_BOUND: {
		w->bound = w->cur;
		w->cur = NULL;
		w->res.last = PQntuples(w->bound) == 0;
		for (size_t i = 0; has_lower && i < nk; i++)
			params[np++] = j->lower[i];
		/* Up to the bound; the last batch up to the range's end. */
		char *const *up = j->upper;
		bool has_upper = !w->res.last || up;
		for (size_t i = 0; has_upper && i < nk; i++)
			params[np++] = w->res.last ? up[i] : PQgetvalue(w->bound, 0, (int)i);
		rc = send_params(w, j->sql->update[has_lower][has_upper], np, params, W_UPDATE);
		break;
	}
	case W_UPDATE: {
		w->res.rows = w->res.last ? atoll(PQcmdTuples(w->cur)) : j->size;
		/* The new cursor: the bound, or the range's end; a last batch of
		 * the last range keeps the cursor it had. */
		char *const *next = !w->res.last ? NULL : (j->upper ? j->upper : j->lower);
		w->has_cursor = !w->res.last || next;
		if (w->has_cursor) {
			w->cursor = ecplan_xcalloc(nk, sizeof(char *));
			for (size_t i = 0; i < nk; i++)
				w->cursor[i] = ecplan_xstrdup(next ? next[i] : PQgetvalue(w->bound, 0, (int)i));
		}
		double t = now_s();
		snprintf(w->rows_v, sizeof(w->rows_v), "%lld", w->res.rows);
		snprintf(w->secs_v, sizeof(w->secs_v), "%.6f", t - *j->clock > 0 ? t - *j->clock : 0.0);
		*j->clock = t;
		snprintf(w->step_v, sizeof(w->step_v), "%d", j->step);
		snprintf(w->range_v, sizeof(w->range_v), "%d", j->range);
		params[0] = j->plan_name;
		params[1] = w->step_v;
		params[2] = w->range_v;
		params[3] = w->rows_v;
		params[4] = w->res.last ? "true" : "false";
		params[5] = ecplan_db_value_settings();
		params[6] = w->secs_v;
		np = ECPLAN_RANGES_SAVE_FIXED_PARAMS;
		for (size_t i = 0; w->has_cursor && i < nk; i++)
			params[np++] = w->cursor[i];
		char *sql = ecplan_ranges_save_sql(nk, w->has_cursor);
		rc = send_params(w, sql, np, params, W_SAVE);
		free(sql);
		break;
	}
	case W_SAVE:
		if (atoi(PQcmdTuples(w->cur)) != 1) {
			rc = ecplan_error_set(&w->res.err, ECPLAN_ERR, "backfill range %d of plan \"%s\" is not in "
					      "ecplan.backfill_ranges", j->range, j->plan_name);
			ecplan_error_hint(&w->res.err, "was the plan forgotten or rolled back meanwhile? run the "
					  "same command again");
			break;
		}
		rc = send_simple(w, "COMMIT", W_COMMIT);
		break;
	default:
		break;
	}
	free(params);
	return rc;
}

static bool result_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	return res && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

/* Ends the batch in failure: rolls back first when a transaction is open. */
static int fail(ecplan_worker *w, ecplan_worker_result *res)
{
	if (!w->res.rc)
		w->res.rc = w->res.err.code ? w->res.err.code : ECPLAN_ERR;
	if (w->st != W_ROLLBACK && PQstatus(w->conn) == CONNECTION_OK &&
	    PQtransactionStatus(w->conn) != PQTRANS_IDLE && send_simple(w, "ROLLBACK", W_ROLLBACK) == 0)
		return 0;
	*res = w->res;
	free_values(w->cursor, w->job.nkey);
	w->cursor = NULL;
	end_batch(w);
	return 1;
}

int ecplan_worker_pump(ecplan_worker *w, ecplan_worker_result *res)
{
	if (w->st == W_IDLE)
		return 0;
	if (!PQconsumeInput(w->conn)) {
		ecplan_db_error_from_result(&w->res.err, w->conn, NULL);
		w->st = W_ROLLBACK; /* nothing to roll back on a lost connection */
		return fail(w, res);
	}
	while (!PQisBusy(w->conn)) {
		PGresult *r = PQgetResult(w->conn);
		if (r) {
			/* A statement's result; NULL follows it. */
			if (!w->cur)
				w->cur = r;
			else
				PQclear(r);
			continue;
		}
		/* The statement is complete. */
		PGresult *cur = w->cur;
		if (w->st == W_ROLLBACK) {
			PQclear(cur);
			w->cur = NULL;
			return fail(w, res);
		}
		if (!result_ok(cur)) {
			ecplan_db_error_from_result(&w->res.err, w->conn, cur);
			if (w->st == W_UPDATE || w->st == W_BOUND)
				describe(w);
			PQclear(cur);
			w->cur = NULL;
			return fail(w, res);
		}
		if (w->st == W_COMMIT) {
			PQclear(cur);
			w->cur = NULL;
			w->res.seconds = now_s() - w->started;
			*res = w->res;
			end_batch(w);
			return 1;
		}
		if (w->stop || ecplan_db_interrupted()) {
			PQclear(cur);
			w->cur = NULL;
			ecplan_error_set(&w->res.err, ECPLAN_ERR, "the batch of backfill range %d was stopped",
					 w->job.range);
			return fail(w, res);
		}
		int rc = advance(w);
		if (w->cur == cur) {
			PQclear(cur);
			w->cur = NULL;
		}
		if (rc < 0)
			return fail(w, res);
	}
	return 0;
}

char **ecplan_worker_take_cursor(ecplan_worker *w)
{
	char **c = w->cursor;
	w->cursor = NULL;
	return c;
}

int ecplan_workers_wait(ecplan_worker *const *ws, size_t n, long timeout_ms)
{
	struct pollfd *fds = ecplan_xcalloc(n ? n : 1, sizeof(*fds));
	nfds_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!ws[i] || !ecplan_worker_busy(ws[i]) || PQsocket(ws[i]->conn) < 0)
			continue;
		/* Input may already be buffered: no need to wait. */
		if (!PQisBusy(ws[i]->conn)) {
			free(fds);
			return 0;
		}
		fds[k].fd = PQsocket(ws[i]->conn);
		fds[k].events = POLLIN;
		k++;
	}
	if (k > 0 || timeout_ms >= 0)
		(void)poll(fds, k, timeout_ms > 2147483647L ? -1 : (int)timeout_ms);
	free(fds);
	return 0;
}
