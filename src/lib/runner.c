/*
 * The runner: executes the steps of phases and undos against a live database
 * and records every move in the state store. The rules of what may happen
 * next live in phase.c; the SQL in render.c; this file only does it.
 */
#include "ecplan/runner.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ecplan/backfill.h"
#include "ecplan/backoff.h"
#include "ecplan/catalog.h"
#include "ecplan/db.h"
#include "ecplan/depend.h"
#include "ecplan/longstmt.h"
#include "ecplan/precheck.h"
#include "ecplan/privs.h"
#include "ecplan/ranges.h"
#include "ecplan/render.h"
#include "ecplan/sql.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"
#include "ecplan/template.h"
#include "ecplan/throttle.h"
#include "ecplan/watch.h"
#include "ecplan/webhook.h"
#include "ecplan/workers.h"

struct ecplan_runner {
	PGconn *conn;
	const ecplan_plan *plan;
	ecplan_run_opts opts;
	char *lock_key;
	uint64_t rng;
	ecplan_plan_row *row;
	char *conninfo;      /* for the second connection that watches long statements */
	bool undoing;        /* the command is a rollback (for messages) */
	char doing[256];     /* the step in flight, for an interruption's message */
	long long rows_done; /* backfill rows done so far, for the same */
	/* The registered plan re-read mid-run when its operational settings
	 * changed (ecplan update); plan then points here. */
	ecplan_plan *live_plan;
	int table;           /* the table (plan.h table_index) of the step in flight */
};

/* The first change of the table the step in flight works on: its schema and
 * table name the table. */
static const ecplan_plan *cur_table(const ecplan_runner *r)
{
	return ecplan_plan_table_first(r->plan, (size_t)r->table);
}

/* The catalogs of a plan's changes: cats[i] for change i. */
typedef struct catalogs {
	ecplan_catalog **cats;
	size_t n;
} catalogs;

static void catalogs_free(catalogs *c)
{
	for (size_t i = 0; i < c->n; i++)
		ecplan_catalog_free(c->cats[i]);
	free(c->cats);
	c->cats = NULL;
	c->n = 0;
}

static const ecplan_catalog *const *cats_of(const catalogs *c)
{
	return (const ecplan_catalog *const *)c->cats;
}

static void info(ecplan_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void info(ecplan_runner *r, const char *fmt, ...)
{
	if (!r->opts.info)
		return;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ecplan_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	r->opts.info(sb.buf, r->opts.ctx);
	ecplan_strbuf_release(&sb);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(ecplan_runner *r, long ms)
{
	if (ms <= 0)
		return;
	if (r->opts.sleep_ms) {
		r->opts.sleep_ms(ms, r->opts.ctx);
		return;
	}
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !ecplan_db_interrupted())
		;
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	default: return "a signal";
	}
}

/*
 * When a signal arrived (ecplan_db_interrupt), replaces whatever err holds
 * (typically the cancelled statement's 57014) with ECPLAN_EINTERRUPTED and
 * returns it; otherwise returns rc unchanged.
 */
static int interrupted(ecplan_runner *r, int rc, ecplan_error *err)
{
	int sig = ecplan_db_interrupted();
	if (!sig || rc == ECPLAN_EINTERRUPTED)
		return rc;
	if (err)
		ecplan_error_clear(err);
	ecplan_error_set(err, ECPLAN_EINTERRUPTED, "interrupted (%s) during %s", signal_name(sig),
			 r->doing[0] ? r->doing : (r->undoing ? "rollback" : "advance"));
	if (r->rows_done > 0)
		ecplan_error_detail(err, "the statement in flight was cancelled and its transaction rolled back; "
				    "finished steps and %lld backfilled rows are kept", r->rows_done);
	else
		ecplan_error_detail(err, "the statement in flight was cancelled and its transaction rolled back; "
				    "finished steps are kept");
	ecplan_error_hint(err, "the state is saved: run the same command again to resume (ecplan %s %s)",
			  r->undoing ? "rollback" : "advance", r->plan->source);
	return ECPLAN_EINTERRUPTED;
}

/*
 * Appends an event. Outside a transaction it is a statement of its own;
 * inside one (see state_change) it commits or rolls back with the state
 * change it tells of. A failure to record is returned, never ignored: a
 * history that leaves out a move tells a false story.
 */
static int vrecord(ecplan_runner *r, const char *kind, ecplan_phase phase, const char *data,
		   ecplan_error *err, const char *fmt, va_list ap)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_vaddf(&sb, fmt, ap);
	int rc = ecplan_state_log(r->conn, r->plan->name, kind, ecplan_phase_name(phase), sb.buf, data,
				  err);
	ecplan_strbuf_release(&sb);
	return rc;
}

static int log_event(ecplan_runner *r, const char *kind, ecplan_phase phase, const char *data,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* An event on its own, for what is not a state change (webhook attempts,
 * lock retries, progress). Returns the error of the insert, which callers
 * on the path of a state change turn into a failure. */
static int log_event(ecplan_runner *r, const char *kind, ecplan_phase phase, const char *data,
		     const char *fmt, ...)
{
	va_list ap;
	ecplan_error e;
	ecplan_error_clear(&e);
	if (PQstatus(r->conn) != CONNECTION_OK || ecplan_db_in_transaction(r->conn))
		return ECPLAN_ERR;
	va_start(ap, fmt);
	int rc = vrecord(r, kind, phase, data, &e, fmt, ap);
	va_end(ap);
	return rc;
}

static int log_event_or_fail(ecplan_runner *r, ecplan_error *err, const char *kind, ecplan_phase phase,
			     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* An event whose loss is an error: err says why it could not be recorded. */
static int log_event_or_fail(ecplan_runner *r, ecplan_error *err, const char *kind, ecplan_phase phase,
			     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vrecord(r, kind, phase, NULL, err, fmt, ap);
	va_end(ap);
	if (rc < 0 && err && err->code)
		ecplan_error_hint(err, "the event could not be recorded in ecplan.events, so the move was "
				       "not made; fix the cause and run the same command again");
	return rc;
}

/* What a state change does inside its transaction. */
typedef int (*change_fn)(ecplan_runner *r, void *arg, ecplan_error *err);

static int state_change(ecplan_runner *r, change_fn change, void *arg, const char *kind,
			ecplan_phase phase, ecplan_error *err, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/*
 * Runs change and appends its event in ONE transaction: either both are in
 * the database or neither is, whenever the process or the server dies.
 */
static int state_change(ecplan_runner *r, change_fn change, void *arg, const char *kind,
			ecplan_phase phase, ecplan_error *err, const char *fmt, ...)
{
	va_list ap;
	int rc;
	if ((rc = ecplan_db_begin(r->conn, err)) < 0)
		return rc;
	if ((rc = change(r, arg, err)) == 0) {
		va_start(ap, fmt);
		rc = vrecord(r, kind, phase, NULL, err, fmt, ap);
		va_end(ap);
		if (rc < 0 && err && err->code)
			ecplan_error_hint(err, "the event could not be recorded in ecplan.events, so the state "
					       "change was rolled back; fix the cause and run the same command again");
	}
	if (rc == 0)
		rc = ecplan_db_commit(r->conn, err);
	if (rc < 0 && ecplan_db_in_transaction(r->conn))
		ecplan_db_rollback(r->conn, NULL);
	return rc;
}

int ecplan_runner_open(ecplan_runner **out, const char *conninfo, const ecplan_plan *plan,
		       const ecplan_run_opts *opts, ecplan_error *err)
{
	int rc;
	bool got = false;
	*out = NULL;
	ecplan_runner *r = ecplan_xcalloc(1, sizeof(*r));
	r->plan = plan;
	if (opts)
		r->opts = *opts;
	r->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	r->lock_key = ecplan_xstrfmt("ecplan:plan:%s", plan->name);
	r->conninfo = conninfo ? ecplan_xstrdup(conninfo) : NULL;
	if ((rc = ecplan_db_connect(&r->conn, conninfo, err)) < 0 ||
	    (rc = ecplan_db_set_session_timeouts(r->conn, plan->safety.lock_timeout_ms,
						 plan->safety.statement_timeout_ms, err)) < 0 ||
	    (rc = ecplan_privs_check_state(r->conn, err)) < 0 ||
	    (rc = ecplan_state_ensure_schema(r->conn, err)) < 0 ||
	    (rc = ecplan_db_try_advisory_lock(r->conn, r->lock_key, &got, err)) < 0)
		goto fail;
	/* A runner that just exited leaves its server session for a moment (the
	 * lock goes with it): while no live session is seen holding the lock,
	 * try again, for up to two seconds, before calling it taken. */
	for (int i = 0; !got && i < 40; i++) {
		char *holder = NULL;
		bool seen = ecplan_db_advisory_lock_holder(&holder, r->conn, r->lock_key, NULL) == 0 && holder;
		free(holder);
		if (seen)
			break;
		sleep_ms(r, 50);
		if ((rc = ecplan_db_try_advisory_lock(r->conn, r->lock_key, &got, err)) < 0)
			goto fail;
	}
	if (!got) {
		ecplan_runner_info who;
		ecplan_watch_runner(&who, r->conn, plan->name, NULL);
		char *desc = ecplan_runner_info_describe(&who), *hint = ecplan_runner_info_alive_hint(&who, plan->name);
		rc = ecplan_error_set(err, ECPLAN_ELOCKED, "another runner holds plan \"%s\"", plan->name);
		ecplan_error_detail(err, "held by %s", who.held ? desc : "a session that just ended");
		ecplan_error_hint(err, "%s", hint);
		free(desc);
		free(hint);
		ecplan_runner_info_release(&who);
		goto fail;
	}
	ecplan_watch_announce(r->conn, plan->name, NULL);
	*out = r;
	return 0;
fail:
	ecplan_runner_close(r);
	return rc;
}

void ecplan_runner_close(ecplan_runner *r)
{
	if (!r)
		return;
	ecplan_db_close(r->conn);
	ecplan_plan_row_free(r->row);
	ecplan_plan_free(r->live_plan);
	free(r->lock_key);
	free(r->conninfo);
	free(r);
}

PGconn *ecplan_runner_conn(ecplan_runner *r)
{
	return r->conn;
}

/* The state changes that state_change() pairs with their events. */
typedef struct phase_move {
	ecplan_phase phase;
	bool rollback;
	ecplan_state result;
} phase_move;

static int do_register(ecplan_runner *r, void *arg, ecplan_error *err)
{
	(void)arg;
	return ecplan_state_register(r->conn, r->plan, err);
}

static int do_reregister(ecplan_runner *r, void *arg, ecplan_error *err)
{
	(void)arg;
	return ecplan_state_reregister(r->conn, r->plan, err);
}

static int do_begin_phase(ecplan_runner *r, void *arg, ecplan_error *err)
{
	phase_move *m = arg;
	return ecplan_state_begin_phase(r->conn, r->plan->name, m->phase, m->rollback, err);
}

static int do_finish_phase(ecplan_runner *r, void *arg, ecplan_error *err)
{
	phase_move *m = arg;
	return ecplan_state_finish_phase(r->conn, r->plan->name, m->result, err);
}

static int reload(ecplan_runner *r, ecplan_error *err)
{
	ecplan_plan_row_free(r->row);
	r->row = NULL;
	return ecplan_state_load(&r->row, r->conn, r->plan->name, err);
}

/* Registers the plan on first use; refuses drift. */
static int register_or_check(ecplan_runner *r, bool may_register, ecplan_error *err)
{
	int rc;
	if ((rc = reload(r, err)) < 0)
		return rc;
	if (!r->row) {
		if (!may_register) {
			ecplan_error_set(err, ECPLAN_ENOTFOUND, "plan \"%s\" is not registered in this database",
					 r->plan->name);
			ecplan_error_hint(err, "nothing was done; \"ecplan advance\" registers a plan");
			return ECPLAN_ENOTFOUND;
		}
		if ((rc = state_change(r, do_register, NULL, "register", ECPLAN_PHASE_NONE, err,
				       "plan registered from %s (sha256 %s)", r->plan->source,
				       r->plan->sha256)) < 0)
			return rc;
		return reload(r, err);
	}
	if (r->row->sha256 && !strcmp(r->row->sha256, r->plan->sha256))
		return 0;
	/* A plan that never started a phase has left nothing in the database:
	 * a corrected file (a typo in the table name, say) replaces it. */
	bool never_started = r->row->state == ECPLAN_STATE_PLANNED && r->row->running == ECPLAN_PHASE_NONE &&
			     r->row->rollback_attempts == 0;
	for (int i = 0; i < ECPLAN_PHASE_COUNT; i++)
		never_started &= r->row->attempts[i] == 0;
	if (never_started && may_register) {
		int rc2 = state_change(r, do_reregister, NULL, "register", ECPLAN_PHASE_NONE, err,
				       "plan replaced from %s (sha256 %s); it had not started any phase",
				       r->plan->source, r->plan->sha256);
		if (rc2 < 0)
			return rc2;
		return reload(r, err);
	}
	char *changes = NULL;
	if ((rc = ecplan_state_compare(&changes, r->plan, r->row, err)) <= 0)
		return rc;
	/* Only operational settings changed: the file is registered. */
	char *lines = ecplan_state_describe_changes(changes);
	rc = ecplan_state_register_settings(r->conn, r->plan, changes, err);
	if (rc == 0)
		info(r, "plan \"%s\": operational settings changed; registered:%s", r->plan->name, lines);
	free(lines);
	free(changes);
	return rc < 0 ? rc : reload(r, err);
}

/* ---- webhooks -------------------------------------------------------- */

typedef struct hook_ctx {
	ecplan_runner *r;
	ecplan_phase phase;
	long last_status;
	int attempts;
	char last_error[256];
} hook_ctx;

static int on_attempt(const ecplan_webhook_attempt *a, void *ctx)
{
	hook_ctx *h = ctx;
	h->attempts = a->attempt;
	h->last_status = a->http_status;
	snprintf(h->last_error, sizeof(h->last_error), "%s", a->error ? a->error : "");
	json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:b, s:s?, s:s?}",
			      "webhook", a->webhook, "event", a->event, "delivery_id", a->delivery_id,
			      "url", a->url, "method", a->method, "attempt", a->attempt,
			      "max_attempts", a->max_attempts, "http_status", (json_int_t)a->http_status,
			      "duration_ms", (json_int_t)a->duration_ms, "ok", a->ok, "error", a->error,
			      "response_body", a->response_body);
	char *data = json_dumps(d, JSON_COMPACT);
	log_event(h->r, "webhook", h->phase, data, "webhook \"%s\" %s attempt %d/%d: %s%s%s", a->webhook,
		  a->event, a->attempt, a->max_attempts,
		  a->ok ? "delivered" : (a->error ? a->error : "failed"),
		  a->response_body ? "; the receiver answered: " : "",
		  a->response_body ? a->response_body : "");
	info(h->r, "webhook %s (%s) attempt %d/%d: %s%s%s%s", a->webhook, a->event, a->attempt,
	     a->max_attempts, a->ok ? "delivered" : (a->error ? a->error : "failed"),
	     a->response_body ? "; the receiver answered: " : "",
	     a->response_body ? a->response_body : "", a->will_retry ? ", retrying" : "");
	free(data);
	json_decref(d);
	return 0;
}

/*
 * Delivers `event` to every subscribed webhook not yet delivered for this
 * phase attempt. A failed gate webhook makes it return ECPLAN_EGATE when
 * `gates` is true; other failures are only recorded.
 */
static int fire(ecplan_runner *r, const char *event, ecplan_phase phase, int phase_attempt,
		bool gates, const char *error_text, ecplan_error *err)
{
	const ecplan_webhook_spec **hooks = NULL;
	size_t n = ecplan_plan_webhooks_for(r->plan, event, &hooks);
	int result = 0;
	/* A plan with several changes names them all, comma-separated. */
	char *table = ecplan_plan_changes_text(r->plan, ECPLAN_FIELD_TABLE),
	     *column = ecplan_plan_changes_text(r->plan, ECPLAN_FIELD_COLUMN),
	     *new_column = ecplan_plan_changes_text(r->plan, ECPLAN_FIELD_NEW_COLUMN);
	for (size_t i = 0; i < n; i++) {
		ecplan_delivery d;
		ecplan_error e;
		ecplan_error_clear(&e);
		if (ecplan_state_delivery(&d, r->conn, r->plan->name, event, hooks[i]->name, phase_attempt,
					  hooks[i]->gate, &e) < 0) {
			ecplan_error_set(err, ECPLAN_ERR, "%s", e.message);
			result = ECPLAN_ERR;
			break;
		}
		if (d.delivered)
			continue;
		ecplan_webhook_request req = {
			.plan_name = r->plan->name, .table = table, .column = column,
			.new_column = new_column, .event = event,
			.phase = ecplan_phase_name(phase),
			.state = r->row ? ecplan_state_name(r->row->state) : "planned",
			.delivery_id = d.id, .phase_attempt = phase_attempt > 0 ? phase_attempt : 1,
			.error = error_text,
		};
		hook_ctx h = { r, phase, 0, 0, "" };
		int rc = ecplan_webhook_deliver(hooks[i], &req, on_attempt, &h, &e);
		ecplan_state_delivery_done(r->conn, d.id, rc == 0, h.attempts, h.last_status,
					   rc == 0 ? NULL : e.message, NULL);
		if (rc == 0 || !(gates && hooks[i]->gate))
			continue;
		ecplan_error_set(err, ECPLAN_EGATE, "gate webhook \"%s\" for %s failed: %s",
				 hooks[i]->name, event, e.message);
		ecplan_error_hint(err, "fix the receiver and run the same command again; it re-delivers "
				       "only what is missing (same delivery id) without repeating the database work");
		err->http_status = e.http_status;
		result = ECPLAN_EGATE;
	}
	free(hooks);
	free(table);
	free(column);
	free(new_column);
	return result;
}

/* ---- steps ------------------------------------------------------------ */

/* Describes who holds locks on the table, for an exhausted-retries error. */
static void describe_lockers(ecplan_runner *r, ecplan_error *err)
{
	ecplan_long_txn *t = NULL;
	size_t n = 0;
	if (ecplan_catalog_long_transactions(&t, &n, r->conn, cur_table(r)->schema, cur_table(r)->table, 0,
					     NULL) < 0 || n == 0) {
		ecplan_long_txns_free(t, n);
		return;
	}
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&sb, "sessions with a lock on the table:");
	for (size_t i = 0; i < n && i < 5; i++)
		ecplan_strbuf_addf(&sb, "\n  pid %d (application_name \"%s\", %s, transaction open %.0f s): %.80s",
				   t[i].pid, t[i].application_name, t[i].state ? t[i].state : "state hidden",
				   t[i].xact_age_s, t[i].query ? t[i].query : "");
	ecplan_error_detail(err, "%s", sb.buf);
	ecplan_strbuf_release(&sb);
	ecplan_long_txns_free(t, n);
}

typedef int (*try_fn)(ecplan_runner *r, void *arg, ecplan_error *err);

/*
 * Runs fn, retrying when it fails on lock_timeout, a serialization failure
 * or a deadlock (ecplan_db_error_is_retryable: the transaction left nothing
 * behind): jittered exponential backoff, at most lock_retries retries, then
 * ECPLAN_ELOCKTIMEOUT.
 */
static int with_lock_retries(ecplan_runner *r, ecplan_phase phase, const char *what, try_fn fn,
			     void *arg, ecplan_error *err)
{
	long retries = r->plan->safety.lock_retries;
	for (long attempt = 0;; attempt++) {
		ecplan_error e;
		ecplan_error_clear(&e);
		int rc = fn(r, arg, &e);
		if (ecplan_db_in_transaction(r->conn))
			ecplan_db_rollback(r->conn, NULL);
		if (rc == 0)
			return 0;
		if (ecplan_db_interrupted())
			return interrupted(r, rc, err);
		if (!ecplan_db_error_is_retryable(&e)) {
			if (err && !err->code)
				*err = e;
			return rc;
		}
		if (!ecplan_db_error_is_lock_timeout(&e)) {
			/* 40001 / 40P01: say which, and go on as for a lock timeout. */
			if (attempt >= retries) {
				if (err && !err->code) {
					*err = e;
					ecplan_error_hint(err, "%s: still failing after %ld retries; run the same "
							  "command again to resume", what, retries);
				}
				return rc;
			}
			long delay = ecplan_backoff_delay_ms((int)attempt, 200, 30000, ecplan_backoff_splitmix64,
							     &r->rng);
			log_event(r, "retry", phase, NULL, "%s: %s (SQLSTATE %s, try %ld of %ld); retrying in %ld ms",
				  what, e.message, e.sqlstate, attempt + 1, retries + 1, delay);
			info(r, "%s: %s (try %ld of %ld); retrying in %ld ms", what, e.message, attempt + 1,
			     retries + 1, delay);
			sleep_ms(r, delay);
			if (ecplan_db_interrupted())
				return interrupted(r, ECPLAN_ERR, err);
			continue;
		}
		if (attempt >= retries) {
			ecplan_error_set(err, ECPLAN_ELOCKTIMEOUT,
					 "%s: lock not granted within %ld ms, %ld retries exhausted", what,
					 r->plan->safety.lock_timeout_ms, retries);
			describe_lockers(r, err);
			ecplan_error_hint(err, "end the long transactions, or raise safety.lock_retries; "
					       "run the same command again to resume");
			return ECPLAN_ELOCKTIMEOUT;
		}
		long delay = ecplan_backoff_delay_ms((int)attempt, 200, 30000, ecplan_backoff_splitmix64,
						     &r->rng);
		log_event(r, "lock_timeout", phase, NULL, "%s: lock not granted within %ld ms (try %ld of %ld); "
			  "retrying in %ld ms", what, r->plan->safety.lock_timeout_ms, attempt + 1,
			  retries + 1, delay);
		info(r, "%s: lock not granted within %ld ms (try %ld of %ld); retrying in %ld ms", what,
		     r->plan->safety.lock_timeout_ms, attempt + 1, retries + 1, delay);
		sleep_ms(r, delay);
		if (ecplan_db_interrupted())
			return interrupted(r, ECPLAN_ERR, err);
	}
}

typedef struct ddl_arg {
	const ecplan_step *step;
	int index;            /* steps done after this one */
	long statement_timeout;
	bool waits;           /* VALIDATE: may wait for others without lock_timeout */
	ecplan_phase phase;
} ddl_arg;

/* ---- long statements: index builds and VALIDATE ----------------------- */

typedef struct long_ctx {
	ecplan_runner *r;
	ecplan_phase phase;
	const char *what;
} long_ctx;

/* Reports of the watching connection: a line for humans, and an event
 * written through the watcher (the runner's own connection is busy). */
static void on_long_report(const char *kind, const char *message, const char *data, PGconn *watcher,
			   void *ctx)
{
	long_ctx *l = ctx;
	ecplan_runner *r = l->r;
	bool wait = !strcmp(kind, "wait");
	const char *msg = message;
	char *own = NULL;
	if (wait && !*message)
		msg = own = ecplan_xstrdup("no longer waiting for other sessions");
	info(r, "%s: %s", l->what, msg);
	if (watcher)
		ecplan_state_log(watcher, r->plan->name, wait ? "index_wait" : "index_progress",
				 ecplan_phase_name(l->phase), msg, data, NULL);
	free(own);
}

/* True when every statement of st takes SHARE UPDATE EXCLUSIVE on the table
 * (VALIDATE, ANALYZE): waiting for it blocks no read or write of the
 * application, so it may wait without lock_timeout. */
static bool takes_only_sue(const ecplan_step *st)
{
	static const char sue[] = "SHARE UPDATE EXCLUSIVE";
	for (size_t i = 0; i < st->nstmts; i++)
		if (!st->stmts[i].lock || strncmp(st->stmts[i].lock, sue, sizeof(sue) - 1))
			return false;
	return st->nstmts > 0;
}

/* Runs sql on the runner's connection with no lock_timeout, watched (longstmt.h). */
static int run_long(ecplan_runner *r, ecplan_phase phase, const char *what, const char *sql,
		    ecplan_error *err)
{
	long_ctx l = { r, phase, what };
	ecplan_longstmt_opts o = { .conninfo = r->conninfo, .max_wait_s = r->plan->safety.max_index_wait_s,
				   .report = on_long_report, .ctx = &l };
	return ecplan_longstmt_exec(r->conn, sql, &o, err);
}

/* Drops schema.name when it is an invalid index (the leftover of an interrupted
 * or cancelled CREATE INDEX CONCURRENTLY). */
static int drop_invalid_index(ecplan_runner *r, const char *name, ecplan_error *err)
{
	bool exists, valid;
	int rc;
	if ((rc = ecplan_precheck_index_state(r->conn, cur_table(r)->schema, name, &exists, &valid, err)) < 0)
		return rc;
	if (!exists || valid)
		return 0;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	ecplan_strbuf_adds(&sb, "DROP INDEX CONCURRENTLY IF EXISTS ");
	ecplan_sql_qualified(&sb, cur_table(r)->schema, name);
	info(r, "dropping invalid index %s left by an interrupted build", name);
	rc = ecplan_db_exec(r->conn, sb.buf, err);
	ecplan_strbuf_release(&sb);
	return rc;
}

static int try_ddl(ecplan_runner *r, void *arg, ecplan_error *err)
{
	ddl_arg *a = arg;
	int rc;
	if (a->step->npre) {
		if (ecplan_db_interrupted())
			return ECPLAN_ERR;
		/* e.g. the archive: a full read, no statement timeout */
		if ((rc = ecplan_db_begin(r->conn, err)) < 0 ||
		    (rc = ecplan_db_set_local_timeouts(r->conn, r->plan->safety.lock_timeout_ms, 0, err)) < 0)
			return rc;
		for (size_t i = 0; i < a->step->npre; i++)
			if ((rc = ecplan_db_exec(r->conn, a->step->pre[i].sql, err)) < 0)
				return rc;
		if ((rc = ecplan_db_commit(r->conn, err)) < 0)
			return rc;
	}
	if ((rc = ecplan_db_begin(r->conn, err)) < 0 ||
	    (rc = ecplan_db_set_local_timeouts(r->conn, r->plan->safety.lock_timeout_ms,
					       a->statement_timeout, err)) < 0)
		return rc;
	if (a->waits && (rc = ecplan_db_set_local_timeouts(r->conn, 0, -1, err)) < 0)
		return rc;
	for (size_t i = 0; i < a->step->nstmts; i++) {
		if (a->waits)
			rc = run_long(r, a->phase, a->step->name, a->step->stmts[i].sql, err);
		else
			rc = ecplan_db_exec(r->conn, a->step->stmts[i].sql, err);
		if (rc < 0)
			return rc;
	}
	if ((rc = ecplan_state_set_step(r->conn, r->plan->name, a->index, err)) < 0)
		return rc;
	return ecplan_db_commit(r->conn, err);
}

static int try_index(ecplan_runner *r, void *arg, ecplan_error *err)
{
	ddl_arg *a = arg;
	int rc;
	if ((rc = drop_invalid_index(r, a->step->index_name, err)) < 0)
		return rc;
	if (ecplan_db_interrupted())
		return ECPLAN_ERR;
	/* Index builds scan the whole table (no statement timeout) and wait for
	 * every older snapshot in the database: no lock_timeout either, since
	 * waiting does not block the application; safety.max_index_wait_s
	 * bounds the total wait instead (run_long). */
	if ((rc = ecplan_db_set_session_timeouts(r->conn, 0, 0, err)) < 0)
		return rc;
	rc = run_long(r, a->phase, a->step->name, a->step->stmts[0].sql, err);
	ecplan_db_set_session_timeouts(r->conn, r->plan->safety.lock_timeout_ms,
				       r->plan->safety.statement_timeout_ms, NULL);
	if (rc == ECPLAN_ELOCKTIMEOUT && !ecplan_db_interrupted()) {
		/* Cancelled after waiting too long: leave no invalid index behind. */
		ecplan_error e;
		ecplan_error_clear(&e);
		if (drop_invalid_index(r, a->step->index_name, &e) < 0)
			ecplan_error_hint(err, "end those transactions (or raise safety.max_index_wait_s), then run "
					       "the same command again: it drops the invalid index %s left behind "
					       "(dropping it now failed: %s)", a->step->index_name, e.message);
	}
	if (rc < 0)
		return rc;
	return ecplan_state_set_step(r->conn, r->plan->name, a->index, err);
}

static int try_drop_index(ecplan_runner *r, void *arg, ecplan_error *err)
{
	ddl_arg *a = arg;
	int rc = ecplan_db_exec(r->conn, a->step->stmts[0].sql, err);
	if (rc < 0)
		return rc;
	return ecplan_state_set_step(r->conn, r->plan->name, a->index, err);
}

static int run_verify(ecplan_runner *r, const ecplan_step *st, ecplan_phase phase, ecplan_error *err)
{
	PGresult *res = NULL;
	int rc;
	if ((rc = ecplan_db_set_session_timeouts(r->conn, -1, 0, err)) < 0)
		return rc;
	rc = ecplan_db_query(&res, r->conn, st->stmts[0].sql, 0, NULL, err);
	ecplan_db_set_session_timeouts(r->conn, -1, r->plan->safety.statement_timeout_ms, NULL);
	if (rc < 0)
		return rc;
	long long divergent = atoll(PQgetvalue(res, 0, 2)), total = atoll(PQgetvalue(res, 0, 3));
	info(r, "%s: verify: %lld divergent rows of %lld", ecplan_phase_name(phase), divergent, total);
	log_event(r, "verify", phase, NULL, "%lld divergent rows of %lld (new differs %s, old differs %s)",
		  divergent, total, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
	if (divergent > 0) {
		const ecplan_plan *t = cur_table(r);
		if (r->plan->nchanges > 1)
			ecplan_error_set(err, ECPLAN_EPRECONDITION,
					 "%lld rows of %s.%s have an old and a new column out of agreement; %s refused",
					 divergent, t->schema, t->table, ecplan_phase_name(phase));
		else
			ecplan_error_set(err, ECPLAN_EPRECONDITION,
					 "%lld rows have \"%s\" and \"%s\" out of agreement; %s refused",
					 divergent, t->column, t->new_column, ecplan_phase_name(phase));
		ecplan_error_hint(err, "\"ecplan verify\" lists them; rows written to \"%s\" before the sync "
				       "trigger existed, or by hand with the trigger disabled, stay out of agreement: "
				       "fix them (or roll the plan back and advance again), then retry",
				  r->plan->nchanges > 1 ? "a new column" : t->new_column);
		return ECPLAN_EPRECONDITION;
	}
	return 0;
}

static long long estimate_rows(ecplan_runner *r, const ecplan_catalog *cat)
{
	char *v = NULL;
	char oid[16];
	snprintf(oid, sizeof(oid), "%u", cat->table_oid);
	const char *params[1] = { oid };
	long long n = -1;
	if (ecplan_db_query_value(&v, r->conn,
		/* The table, or a partitioned table's partitions; a table never
		 * analyzed has reltuples -1 (0 before PostgreSQL 14). */
		"SELECT coalesce(sum(CASE WHEN c.reltuples > 0 THEN c.reltuples::bigint"
		" ELSE s.n_live_tup END), -1)::text FROM pg_class c"
		" LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
		" WHERE c.relkind = 'r' AND (c.oid = $1::oid"
		"   OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::oid))",
		1, params, NULL) == 0 && v)
		n = atoll(v);
	free(v);
	return n;
}

/*
 * The batch SQL of the backfill of table `table`, for every combination of
 * bounds: the one place that renders it (the single cursor and the parallel
 * workers both take theirs from here).
 */
static void batch_sql(const ecplan_runner *r, const catalogs *cs, int table, const ecplan_catalog *cat,
		      ecplan_batch_sql *out)
{
	ecplan_target target = { r->plan, cats_of(cs), table };
	for (int lo = 0; lo < 2; lo++) {
		out->bound[lo] = ecplan_render_batch_bound(ecplan_plan_table_first(r->plan, (size_t)table), cat, lo);
		for (int up = 0; up < 2; up++)
			out->update[lo][up] = ecplan_render_target_batch_update(&target, lo, up);
	}
}

typedef struct batch_arg {
	const ecplan_batch_sql *sql;
	const ecplan_catalog *cat;  /* the table's (its first change's) */
	const catalogs *cs;         /* every change's, for the UPDATE */
	int table;                  /* which table of the plan */
	char **cursor;     /* in: lower bound (NULL: none); out: the new one */
	size_t ncursor;
	long size;
	long long rows;    /* out: rows covered */
	bool last;         /* out: no rows beyond this batch */
	int step_index;    /* recorded when last */
	double started;
} batch_arg;

static void free_cursor(char **c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i]);
	free(c);
}

/* Adds the key range of a failed batch to err's detail: (lower, upper]. */
static void describe_batch(ecplan_error *err, const ecplan_catalog *cat, char **lower,
			   const PGresult *upper)
{
	if (!err || ecplan_db_error_is_lock_timeout(err))
		return;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT, cols = ECPLAN_STRBUF_INIT;
	for (size_t i = 0; i < cat->nkey; i++) {
		ecplan_strbuf_adds(&cols, i ? ", " : "");
		ecplan_sql_ident(&cols, cat->key_columns[i]);
	}
	ecplan_strbuf_addf(&sb, "%s%sin the backfill batch of rows with key (%s)", err->detail,
			   err->detail[0] ? "\n" : "", cols.buf);
	if (lower) {
		ecplan_strbuf_adds(&sb, " > (");
		for (size_t i = 0; i < cat->nkey; i++)
			ecplan_strbuf_addf(&sb, "%s%s", i ? ", " : "", lower[i]);
		ecplan_strbuf_adds(&sb, ")");
	}
	if (upper && PQntuples(upper) == 1) {
		ecplan_strbuf_addf(&sb, "%s <= (", lower ? " and" : "");
		for (size_t i = 0; i < cat->nkey; i++)
			ecplan_strbuf_addf(&sb, "%s%s", i ? ", " : "", PQgetvalue(upper, 0, (int)i));
		ecplan_strbuf_adds(&sb, ")");
	}
	if (!lower && !(upper && PQntuples(upper) == 1))
		ecplan_strbuf_adds(&sb, " (the whole table)");
	ecplan_error_detail(err, "%s", sb.buf);
	ecplan_strbuf_release(&sb);
	ecplan_strbuf_release(&cols);
}

static int try_batch(ecplan_runner *r, void *arg, ecplan_error *err)
{
	batch_arg *a = arg;
	const ecplan_catalog *cat = a->cat;
	PGresult *bound = NULL, *upd = NULL;
	bool has_lower = a->cursor != NULL;
	size_t nk = cat->nkey;
	const char **params = ecplan_xcalloc(2 * nk + 1, sizeof(char *));
	char offset[32];
	int rc, np = 0;
	a->started = now_s();
	/* One round trip for the batch's settings: the mark the sync trigger
	 * honours, and the timeouts, all local to the batch's transaction. */
	char lock_v[32], stmt_v[32];
	snprintf(lock_v, sizeof(lock_v), "%ld", r->plan->safety.lock_timeout_ms);
	snprintf(stmt_v, sizeof(stmt_v), "%ld", r->plan->safety.statement_timeout_ms);
	const char *settings[3] = { r->plan->name, lock_v, stmt_v };
	/* backfill.disable_triggers: the table's other triggers stay quiet
	 * (the precondition made sure the role may set this). */
	if ((rc = ecplan_db_begin(r->conn, err)) < 0 ||
	    (rc = ecplan_db_query(NULL, r->conn,
				  r->plan->backfill.disable_triggers
				  ? "SELECT set_config('ecplan.backfill', $1, true),"
				    " set_config('lock_timeout', $2, true), set_config('statement_timeout', $3, true),"
				    " set_config('session_replication_role', 'replica', true)"
				  : "SELECT set_config('ecplan.backfill', $1, true),"
				    " set_config('lock_timeout', $2, true), set_config('statement_timeout', $3, true)",
				  3, settings, err)) < 0)
		goto done;
	for (size_t i = 0; has_lower && i < nk; i++)
		params[np++] = a->cursor[i];
	snprintf(offset, sizeof(offset), "%ld", a->size - 1);
	params[np] = offset;
	rc = ecplan_db_query(&bound, r->conn, a->sql->bound[has_lower], np + 1, params, err);
	if (rc < 0)
		goto done;
	a->last = PQntuples(bound) == 0;
	for (size_t i = 0; !a->last && i < nk; i++)
		params[np + (int)i] = PQgetvalue(bound, 0, (int)i);
	rc = ecplan_db_query(&upd, r->conn, a->sql->update[has_lower][!a->last], np + (a->last ? 0 : (int)nk),
			     params, err);
	if (rc < 0) {
		describe_batch(err, cat, has_lower ? a->cursor : NULL, a->last ? NULL : bound);
		goto done;
	}
	a->rows = a->last ? atoll(PQcmdTuples(upd)) : a->size;
	if (!a->last) {
		char **next = ecplan_xcalloc(nk, sizeof(char *));
		for (size_t i = 0; i < nk; i++)
			next[i] = ecplan_xstrdup(PQgetvalue(bound, 0, (int)i));
		rc = ecplan_state_save_batch(r->conn, r->plan->name, next, nk, a->rows,
					     now_s() - a->started, err);
		if (rc == 0)
			rc = ecplan_db_commit(r->conn, err);
		if (rc == 0) {
			free_cursor(a->cursor, a->ncursor);
			a->cursor = next;
			a->ncursor = nk;
		} else {
			free_cursor(next, nk);
		}
		goto done;
	}
	/* A plan with several tables walks them one after the other: the next
	 * one starts without a cursor. */
	bool keep = a->cursor && r->plan->ntables <= 1;
	if ((rc = ecplan_state_save_batch(r->conn, r->plan->name, a->cursor, keep ? nk : 0, a->rows,
					  now_s() - a->started, err)) < 0 ||
	    (rc = ecplan_state_set_step(r->conn, r->plan->name, a->step_index, err)) < 0)
		goto done;
	rc = ecplan_db_commit(r->conn, err);
done:
	PQclear(bound);
	PQclear(upd);
	free(params);
	return rc;
}

/*
 * True when the text of every key column's values is the same under any
 * session settings (integers, numeric, text, uuid, ...); false for dates,
 * times, intervals, floats, money, bytea and anything unknown (domains,
 * arrays, ranges, ...), whose text follows DateStyle, TimeZone, ...
 */
static bool key_text_is_stable(const ecplan_catalog *cat)
{
	static const char *const stable[] = { "smallint", "integer", "bigint", "numeric", "text",
					      "character varying", "character", "uuid", "boolean",
					      "\"char\"", "name", "oid", "inet", "cidr", "macaddr",
					      "macaddr8" };
	for (size_t i = 0; i < cat->nkey; i++) {
		const char *t = cat->key_types ? cat->key_types[i] : NULL;
		bool ok = false;
		for (size_t k = 0; t && k < sizeof(stable) / sizeof(stable[0]) && !ok; k++) {
			size_t n = strlen(stable[k]);
			ok = !strncmp(t, stable[k], n) && (t[n] == '\0' || t[n] == '(');
		}
		if (!ok)
			return false;
	}
	return true;
}

/* What the batch loop keeps between batches about pausing and throttling. */
typedef struct backfill_wait {
	bool paused;          /* a paused event was recorded, no resumed yet */
	bool throttled;       /* in a throttle episode (its event recorded) */
	double since;         /* when the current wait began */
	double last_saved;    /* when throttled_seconds was last brought up to date */
	long long rows_done;  /* of the whole backfill, for the events */
	bool slow;            /* the last batch took over max_batch_ms_factor x target */
} backfill_wait;

/* Sleeps about ms in short steps, so that a signal handler's flag (or the
 * process's end) is never far away. */
static void short_sleeps(ecplan_runner *r, long ms)
{
	while (ms > 0 && !ecplan_db_interrupted()) {
		long step = ms > 200 ? 200 : ms;
		sleep_ms(r, step);
		ms -= step;
	}
}

/*
 * Swaps in the registered plan when `ecplan update` (or an advance) changed
 * its operational settings since this batch loop last looked. A plan whose
 * defining fields differ from the running one (only possible by editing
 * ecplan.plans by hand) stops the backfill as drift.
 */
static int take_new_settings(ecplan_runner *r, const char *json, batch_arg *a, long long rows_done,
			     ecplan_error *err)
{
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	ecplan_plan *np = NULL;
	ecplan_plan_row cmp;
	int rc;
	if (ecplan_plan_parse(&np, json, strlen(json), r->plan->source, &d) < 0) {
		ecplan_diags_release(&d);
		ecplan_error_set(err, ECPLAN_ERR, "the plan registered for \"%s\" cannot be read", r->plan->name);
		ecplan_error_hint(err, "register a valid plan file with \"ecplan update PLAN.json\"");
		return ECPLAN_ERR;
	}
	ecplan_diags_release(&d);
	memset(&cmp, 0, sizeof(cmp));
	cmp.plan_json = r->plan->canonical;
	char *changes = NULL;
	if ((rc = ecplan_state_compare(&changes, np, &cmp, err)) < 0) {
		ecplan_plan_free(np);
		return rc;
	}
	char *lines = ecplan_state_describe_changes(changes);
	long old_size = r->plan->backfill.batch_size;
	ecplan_plan_free(r->live_plan);
	r->live_plan = np;
	r->plan = np;
	if (np->backfill.batch_size != old_size || np->backfill.target_batch_ms <= 0)
		a->size = np->backfill.batch_size;
	json_t *d2 = json_pack("{s:s, s:I, s:I, s:I, s:I}", "sha256", np->sha256, "batch_size",
			       (json_int_t)a->size, "pause_ms", (json_int_t)np->backfill.pause_ms,
			       "max_rows_per_second", (json_int_t)np->backfill.max_rows_per_second,
			       "rows_done", (json_int_t)rows_done);
	char *data = json_dumps(d2, JSON_COMPACT);
	rc = 0;
	if (log_event(r, "settings", ECPLAN_PHASE_BACKFILL, data,
		      "the running backfill took the new settings (sha256 %.12s), batch size now %ld:%s",
		      np->sha256, a->size, lines) < 0)
		rc = ecplan_error_set(err, ECPLAN_ERR, "the settings event could not be recorded");
	info(r, "backfill: new settings registered; taken at this batch (batch size %ld)%s", a->size, lines);
	free(data);
	json_decref(d2);
	free(lines);
	free(changes);
	return rc;
}

/*
 * Between batches (no transaction open, no lock on the table): picks up new
 * settings, waits while the plan is paused or a health signal is over its
 * limit. Returns 0 when the next batch may run, and sets *reset when it
 * waited or the settings changed (the rows-per-second limiter starts over).
 */
static int before_batch(ecplan_runner *r, batch_arg *a, backfill_wait *w, bool *reset,
			ecplan_error *err)
{
	int rc;
	*reset = false;
	for (;;) {
		ecplan_state_live live;
		/* Ctrl-C / SIGTERM while paused or throttled ends the wait. */
		if (ecplan_db_interrupted())
			return interrupted(r, ECPLAN_ERR, err);
		if ((rc = ecplan_state_poll(&live, r->conn, r->plan->name, r->plan->sha256, err)) < 0)
			return rc;
		if (live.plan_json) {
			rc = take_new_settings(r, live.plan_json, a, w->rows_done, err);
			free(live.plan_json);
			if (rc < 0)
				return rc;
			*reset = true;
		}
		double now = now_s();
		char reason[600] = "";
		if (!live.paused) {
			ecplan_throttle_readings rd;
			const ecplan_throttle_settings *ts = &r->plan->backfill.throttle;
			if (ecplan_throttle_enabled(ts)) {
				if ((rc = ecplan_throttle_read(&rd, r->conn, ts, cur_table(r)->schema, cur_table(r)->table,
							       err)) < 0)
					return rc;
				ecplan_throttle_decide(reason, sizeof(reason), ts, &rd);
			}
		}
		/* A throttle episode ends when the signals clear or a pause
		 * takes over: its time is added up. */
		if (w->throttled && (live.paused || !reason[0])) {
			w->throttled = false;
			if ((rc = ecplan_state_set_throttled(r->conn, r->plan->name, NULL, now - w->last_saved,
							     err)) < 0)
				return rc;
			log_event(r, "unthrottled", ECPLAN_PHASE_BACKFILL, NULL,
				  "throttling ended after %.1f s", now - w->since);
			info(r, "backfill: throttling ended after %.1f s", now - w->since);
		}
		if (live.paused) {
			if (!w->paused) {
				w->paused = true;
				w->since = now;
				if ((rc = log_event_or_fail(r, err, "paused", ECPLAN_PHASE_BACKFILL,
							    "backfill paused between batches (%lld rows done); "
							    "waiting for \"ecplan resume %s\"", w->rows_done,
							    r->plan->name)) < 0)
					return rc;
				info(r, "backfill: paused; waiting for \"ecplan resume %s\"", r->plan->name);
			}
			short_sleeps(r, 1000);
			*reset = true;
			continue;
		}
		if (w->paused) {
			w->paused = false;
			if ((rc = log_event_or_fail(r, err, "resumed", ECPLAN_PHASE_BACKFILL,
						    "backfill resumed after %.1f s paused", now - w->since)) < 0)
				return rc;
			info(r, "backfill: resumed after %.1f s", now - w->since);
		}
		if (!reason[0])
			return 0;
		if (!w->throttled) {
			w->throttled = true;
			w->since = w->last_saved = now;
			json_t *d = json_pack("{s:s}", "reason", reason);
			char *data = json_dumps(d, JSON_COMPACT);
			int lrc = log_event(r, "throttled", ECPLAN_PHASE_BACKFILL, data, "backfill throttled: %s",
					    reason);
			free(data);
			json_decref(d);
			if (lrc < 0)
				return ecplan_error_set(err, ECPLAN_ERR, "the throttled event could not be recorded");
			info(r, "backfill: throttled: %s", reason);
		}
		if ((rc = ecplan_state_set_throttled(r->conn, r->plan->name, reason, now - w->last_saved,
						     err)) < 0)
			return rc;
		w->last_saved = now;
		short_sleeps(r, 1000);
		*reset = true;
	}
}

/* The catalog of the first change of table t. */
static const ecplan_catalog *table_catalog(const ecplan_runner *r, const catalogs *cs, int t)
{
	return cs->cats[ecplan_plan_table_first(r->plan, (size_t)t)->change_index];
}

/* Rows to fill in every table of the plan (-1: unknown). */
static long long estimate_all(ecplan_runner *r, const catalogs *cs)
{
	long long sum = 0;
	for (size_t t = 0; t < (r->plan->ntables ? r->plan->ntables : 1); t++) {
		long long n = estimate_rows(r, table_catalog(r, cs, (int)t));
		if (n < 0)
			return -1;
		sum += n;
	}
	return sum;
}

/* ---- parallel backfill (backfill.workers > 1) --------------------------- */

/*
 * The batch loop of a parallel backfill: backfill.workers connections
 * (workers.h), each filling one key range at a time (ranges.h), driven from
 * this thread. Between batches, after each one: the rate limits of the plan
 * (max_rows_per_second over all workers, pause_ms and the latency back-off
 * per worker), and a look at the plan's row and the health signals; when
 * the plan is paused, its settings changed or a signal is over its limit,
 * no new batch starts, the running ones end, and before_batch() waits and
 * takes the settings with every worker idle (a barrier). Only there do the
 * workers change: connections open or close, and when fewer ranges are
 * unfinished than workers, the largest are cut (split_ranges).
 */
typedef struct wslot {
	ecplan_worker *w;
	int range;          /* index in ranges, -1: none */
	long size;
	double not_before;  /* no batch before this time (rate limits, retries) */
	long attempts;      /* retries of the current batch */
} wslot;

typedef struct ranged {
	ecplan_runner *r;
	const ecplan_catalog *cat;  /* the table's */
	const ecplan_batch_sql *sql;
	int step;
	long long total;
	ecplan_ranges rs;
	wslot *slots;
	size_t nslots;
	double clock;       /* the save's wall clock (ecplan_worker_job.clock) */
} ranged;

static int do_store_ranges(ecplan_runner *r, void *arg, ecplan_error *err)
{
	ranged *g = arg;
	return ecplan_ranges_store(r->conn, r->plan->name, g->step, &g->rs, err);
}

/* With every worker idle: cuts unfinished ranges until there are as many
 * as workers, and stores new ranges with a `ranges` event. */
static int split_ranges(ranged *g, ecplan_error *err)
{
	ecplan_runner *r = g->r;
	size_t want = (size_t)r->plan->backfill.workers;
	long long samples = 0;
	double t0 = now_s();
	/* About 5000 sampled keys per worker (at least 20000), as a share of
	 * the estimated rows: ranges within a few percent of each other. */
	double target = 5000.0 * (double)want < 20000 ? 20000 : 5000.0 * (double)want;
	double pct = g->total > 0 ? 100.0 * target / (double)g->total : 100;
	if (pct > 100)
		pct = 100;
	if (pct < 0.0001)
		pct = 0.0001;
	int rc = ecplan_ranges_split(&g->rs, r->conn, cur_table(r)->schema, cur_table(r)->table,
				     g->cat->key_columns, pct, want, &samples, err);
	if (rc < 0)
		return rc;
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	for (size_t i = 0; i < g->rs.count; i++) {
		if (!g->rs.items[i].is_new && !g->rs.items[i].upper_changed)
			continue;
		char *d = ecplan_ranges_describe(&g->rs, &g->rs.items[i]);
		ecplan_strbuf_addf(&sb, "%s%s", sb.len ? "; " : "", d);
		free(d);
	}
	if (!sb.len) {
		ecplan_strbuf_release(&sb);
		return 0;
	}
	rc = state_change(r, do_store_ranges, g, "ranges", ECPLAN_PHASE_BACKFILL, err,
			  "backfill key split for %zu workers: %zu ranges, %zu unfinished (%lld sampled keys, %.3f s): %s",
			  want, g->rs.count, ecplan_ranges_unfinished(&g->rs), samples, now_s() - t0, sb.buf);
	if (rc == 0)
		info(r, "backfill: %zu key ranges for %zu workers (%lld sampled keys, %.3f s)", g->rs.count, want,
		     samples, now_s() - t0);
	ecplan_strbuf_release(&sb);
	return rc;
}

/* With every worker idle: as many connections as backfill.workers. */
static int set_workers(ranged *g, ecplan_error *err)
{
	ecplan_runner *r = g->r;
	size_t want = (size_t)r->plan->backfill.workers;
	while (g->nslots > want)
		ecplan_worker_close(g->slots[--g->nslots].w);
	if (want > g->nslots) {
		g->slots = ecplan_xrealloc(g->slots, want * sizeof(*g->slots));
		for (; g->nslots < want; g->nslots++) {
			wslot *s = &g->slots[g->nslots];
			memset(s, 0, sizeof(*s));
			s->range = -1;
			s->size = r->plan->backfill.batch_size;
			int rc = ecplan_worker_open(&s->w, r->conninfo, r->plan->safety.lock_timeout_ms,
						    r->plan->safety.statement_timeout_ms, err);
			if (rc < 0)
				return rc;
		}
	}
	for (size_t i = 0; i < g->nslots; i++)
		ecplan_db_set_session_timeouts(ecplan_worker_conn(g->slots[i].w), r->plan->safety.lock_timeout_ms,
					       r->plan->safety.statement_timeout_ms, NULL);
	return 0;
}

/* An unfinished range no worker has, or -1. */
static int free_range(const ranged *g)
{
	for (size_t i = 0; i < g->rs.count; i++) {
		bool taken = g->rs.items[i].done;
		for (size_t k = 0; k < g->nslots && !taken; k++)
			taken = g->slots[k].range == (int)i;
		if (!taken)
			return (int)i;
	}
	return -1;
}

/* Between batches, without waiting: true when the plan is paused, its
 * settings changed or a health signal is over its limit (a barrier is
 * due; before_batch() then says which and waits). */
static bool wait_due(ecplan_runner *r)
{
	ecplan_state_live live;
	ecplan_error e;
	ecplan_error_clear(&e);
	if (ecplan_state_poll(&live, r->conn, r->plan->name, r->plan->sha256, &e) < 0)
		return true;
	bool due = live.paused || live.plan_json;
	free(live.plan_json);
	const ecplan_throttle_settings *ts = &r->plan->backfill.throttle;
	if (!due && ecplan_throttle_enabled(ts)) {
		ecplan_throttle_readings rd;
		char reason[600] = "";
		if (ecplan_throttle_read(&rd, r->conn, ts, cur_table(r)->schema, cur_table(r)->table, &e) < 0)
			return true;
		due = ecplan_throttle_decide(reason, sizeof(reason), ts, &rd) || reason[0];
	}
	return due;
}

static int run_backfill_ranged(ecplan_runner *r, const ecplan_catalog *cat, int step_index, char **start,
			       const ecplan_batch_sql *sql, long long total, bool first_walk, ecplan_error *err)
{
	ranged g = { .r = r, .cat = cat, .sql = sql, .step = step_index };
	bool same = true, stop = false;
	int rc;
	/* total: every table's rows (progress); g.total: this table's (sample) */
	g.total = estimate_rows(r, cat);
	if ((rc = ecplan_ranges_load(&g.rs, &same, r->conn, r->plan->name, step_index, cat->nkey, err)) < 0)
		return rc;
	if (g.rs.count && !same) {
		/* As for the single cursor: text written under other settings
		 * could point elsewhere; walk again (filled rows are skipped). */
		if ((rc = log_event_or_fail(r, err, "backfill", ECPLAN_PHASE_BACKFILL,
					    "the saved key ranges were written under other session settings;"
					    " walking the key again from the start")) < 0 ||
		    (rc = ecplan_ranges_clear(r->conn, r->plan->name, err)) < 0)
			goto done;
		ecplan_ranges_release(&g.rs);
		start = NULL;
	}
	if (g.rs.count == 0) {
		if (!start || r->row->rows_total < 0)
			ecplan_state_set_rows_total(r->conn, r->plan->name, total, !start && first_walk, NULL);
		/* One range from the single cursor (or the start) to the end,
		 * cut for the workers below. */
		ecplan_ranges_add(&g.rs, 0, start, NULL, NULL)->is_new = true;
	} else if (r->row->rows_total < 0) {
		ecplan_state_set_rows_total(r->conn, r->plan->name, total, false, NULL);
	}
	if ((rc = reload(r, err)) < 0)
		goto done;
	long long done_rows = r->row->rows_done, run_rows = 0;
	double seconds = r->row->backfill_seconds, run_start = now_s(), last_log = 0, tick = now_s();
	r->rows_done = done_rows;
	info(r, "backfill: %s with %ld workers (about %lld rows, batches of %ld)",
	     start || g.rs.count > 1 || g.rs.items[0].cursor ? "resuming" : "starting", r->plan->backfill.workers,
	     total, r->plan->backfill.batch_size);
	backfill_wait w = { false, false, 0, 0, done_rows, false };
	ecplan_state_set_throttled(r->conn, r->plan->name, NULL, 0, NULL);
	batch_arg gate = { .cat = cat, .sql = sql, .size = r->plan->backfill.batch_size };
	while (ecplan_ranges_unfinished(&g.rs) > 0) {
		/* The barrier: every worker idle, no transaction open. */
		const ecplan_plan *was = r->plan;
		long was_size = r->plan->backfill.batch_size;
		bool reset = false;
		if ((rc = before_batch(r, &gate, &w, &reset, err)) < 0)
			goto done;
		if (reset) {
			run_rows = 0;
			run_start = now_s();
		}
		if (r->plan != was && (r->plan->backfill.batch_size != was_size || r->plan->backfill.target_batch_ms <= 0))
			for (size_t i = 0; i < g.nslots; i++)
				g.slots[i].size = r->plan->backfill.batch_size;
		if ((rc = split_ranges(&g, err)) < 0 || (rc = set_workers(&g, err)) < 0)
			goto done;
		g.clock = tick = now_s();
		bool drain = false;
		for (;;) {
			double now = now_s(), wake = now + 1.0;
			size_t busy = 0;
			for (size_t i = 0; i < g.nslots; i++) {
				wslot *s = &g.slots[i];
				if (ecplan_worker_busy(s->w)) {
					busy++;
					continue;
				}
				if (drain || stop)
					continue;
				if (s->range < 0 || g.rs.items[s->range].done) {
					s->range = free_range(&g);
					s->attempts = 0;
				}
				if (s->range < 0)
					continue;
				if (s->not_before > now) {
					if (s->not_before < wake)
						wake = s->not_before;
					continue;
				}
				ecplan_range *rg = &g.rs.items[s->range];
				ecplan_worker_job job = {
					.plan_name = r->plan->name, .step = step_index, .range = rg->id,
					.nkey = cat->nkey, .key = cat->key_columns,
					.lower = rg->cursor ? rg->cursor : rg->lower, .upper = rg->upper,
					.size = s->size, .lock_timeout_ms = r->plan->safety.lock_timeout_ms,
					.statement_timeout_ms = r->plan->safety.statement_timeout_ms,
					.disable_triggers = r->plan->backfill.disable_triggers, .sql = sql,
					.clock = &g.clock,
				};
				if ((rc = ecplan_worker_start(s->w, &job, err)) < 0) {
					stop = true;
					continue;
				}
				busy++;
			}
			if (!busy) {
				if (drain || stop || ecplan_ranges_unfinished(&g.rs) == 0)
					break;
				short_sleeps(r, (long)((wake - now_s()) * 1000.0) + 1);
				if (ecplan_db_interrupted())
					stop = true;
				g.clock = tick = now_s();
				continue;
			}
			ecplan_worker *ws[16];
			for (size_t i = 0; i < g.nslots && i < 16; i++)
				ws[i] = g.slots[i].w;
			ecplan_workers_wait(ws, g.nslots, (long)((wake - now_s()) * 1000.0) + 1);
			if (ecplan_db_interrupted() && !stop) {
				stop = true;
				for (size_t i = 0; i < g.nslots; i++)
					ecplan_worker_stop(g.slots[i].w);
			}
			for (size_t i = 0; i < g.nslots; i++) {
				wslot *s = &g.slots[i];
				ecplan_worker_result res;
				if (!ecplan_worker_busy(s->w) || ecplan_worker_pump(s->w, &res) == 0)
					continue;
				ecplan_range *rg = &g.rs.items[s->range];
				now = now_s();
				if (res.rc == 0) {
					char **c = ecplan_worker_take_cursor(s->w);
					if (c) {
						free_cursor(rg->cursor, rg->cursor ? cat->nkey : 0);
						rg->cursor = c;
					}
					rg->rows_done += res.rows;
					rg->done = res.last;
					s->attempts = 0;
					done_rows += res.rows;
					run_rows += res.rows;
					seconds += now - tick;
					tick = now;
					r->rows_done = w.rows_done = done_rows;
					if (r->opts.progress) {
						ecplan_progress p = { done_rows, total, ecplan_backfill_rate(done_rows, seconds),
								      ecplan_backfill_eta(done_rows, total, seconds), s->size };
						r->opts.progress(&p, r->opts.ctx);
					}
					if (res.last) {
						char *d = ecplan_ranges_describe(&g.rs, rg);
						log_event(r, "range", ECPLAN_PHASE_BACKFILL, NULL, "%s done: %lld rows",
							  d, rg->rows_done);
						free(d);
						s->range = -1;
					}
					if (now - last_log > 10) {
						log_event(r, "backfill", ECPLAN_PHASE_BACKFILL, NULL,
							  "%lld rows done, batch size %ld, %zu workers, %zu of %zu ranges left",
							  done_rows, s->size, g.nslots, ecplan_ranges_unfinished(&g.rs),
							  g.rs.count);
						last_log = now;
					}
					s->size = ecplan_backfill_next_size(s->size, res.seconds * 1000.0,
									    r->plan->backfill.target_batch_ms,
									    r->plan->backfill.batch_size);
					s->not_before = now + (double)ecplan_backfill_throttle_ms(run_rows, now - run_start,
						r->plan->backfill.max_rows_per_second, r->plan->backfill.pause_ms) / 1000.0;
					long backoff = ecplan_throttle_latency_backoff_ms(&r->plan->backfill.throttle,
						r->plan->backfill.target_batch_ms, res.seconds * 1000.0);
					if (backoff > 0) {
						s->not_before += (double)backoff / 1000.0;
						if (!w.slow)
							log_event(r, "throttled", ECPLAN_PHASE_BACKFILL, NULL,
								  "backfill throttled: a batch of range %d took %.0f ms, more "
								  "than %ld x target_batch_ms (%ld); its worker waits as long",
								  rg->id, res.seconds * 1000.0,
								  r->plan->backfill.throttle.max_batch_ms_factor,
								  r->plan->backfill.target_batch_ms);
						ecplan_state_set_throttled(r->conn, r->plan->name, NULL,
									   (double)backoff / 1000.0, NULL);
					}
					w.slow = backoff > 0;
					if (!drain && !stop && wait_due(r))
						drain = true;
					continue;
				}
				if (stop || ecplan_db_interrupted())
					continue;
				if (ecplan_db_error_is_retryable(&res.err) && s->attempts < r->plan->safety.lock_retries) {
					long delay = ecplan_backoff_delay_ms((int)s->attempts, 200, 30000,
									     ecplan_backoff_splitmix64, &r->rng);
					s->attempts++;
					log_event(r, ecplan_db_error_is_lock_timeout(&res.err) ? "lock_timeout" : "retry",
						  ECPLAN_PHASE_BACKFILL, NULL,
						  "backfill range %d: %s (SQLSTATE %s, try %ld of %ld); retrying in %ld ms",
						  rg->id, res.err.message, res.err.sqlstate, s->attempts,
						  r->plan->safety.lock_retries + 1, delay);
					s->not_before = now + (double)delay / 1000.0;
					continue;
				}
				/* The first failure stops every worker: the others roll
				 * back their batch at its next statement. */
				stop = true;
				for (size_t k = 0; k < g.nslots; k++)
					ecplan_worker_stop(g.slots[k].w);
				if (err && !err->code) {
					char *d = ecplan_ranges_describe(&g.rs, rg);
					if (ecplan_db_error_is_lock_timeout(&res.err)) {
						ecplan_error_set(err, ECPLAN_ELOCKTIMEOUT, "backfill batch of %s: lock not "
								 "granted within %ld ms, %ld retries exhausted", d,
								 r->plan->safety.lock_timeout_ms, r->plan->safety.lock_retries);
						describe_lockers(r, err);
						ecplan_error_hint(err, "end the long transactions, or raise safety.lock_retries; "
								       "run the same command again to resume");
					} else {
						*err = res.err;
						char *m = ecplan_xstrfmt("backfill %s: %s", d, res.err.message);
						size_t n = strlen(m) < sizeof(err->message) ? strlen(m) : sizeof(err->message) - 1;
						memcpy(err->message, m, n);
						err->message[n] = '\0';
						free(m);
					}
					free(d);
				}
				rc = err && err->code ? err->code : ECPLAN_ERR;
			}
		}
		if (stop || ecplan_db_interrupted()) {
			rc = interrupted(r, rc < 0 ? rc : ECPLAN_ERR, err);
			if (err && !err->code)
				ecplan_error_set(err, ECPLAN_ERR, "the parallel backfill stopped");
			goto done;
		}
	}
	if (total < done_rows)
		ecplan_state_set_rows_total(r->conn, r->plan->name, done_rows, false, NULL);
	log_event(r, "backfill", ECPLAN_PHASE_BACKFILL, NULL, "%lld rows done, batch size %ld, %zu workers, "
		  "all %zu ranges done", done_rows, g.nslots ? g.slots[0].size : r->plan->backfill.batch_size,
		  g.nslots, g.rs.count);
	/* The step is done; a plan with several tables starts the next one
	 * without the single cursor this one may have begun from. */
	if ((rc = ecplan_db_begin(r->conn, err)) == 0 &&
	    (r->plan->ntables <= 1 ||
	     (rc = ecplan_state_save_batch(r->conn, r->plan->name, NULL, 0, 0, 0.0, err)) == 0) &&
	    (rc = ecplan_state_set_step(r->conn, r->plan->name, step_index, err)) == 0)
		rc = ecplan_db_commit(r->conn, err);
	if (rc < 0 && ecplan_db_in_transaction(r->conn))
		ecplan_db_rollback(r->conn, NULL);
done:
	for (size_t i = 0; i < g.nslots; i++)
		ecplan_worker_close(g.slots[i].w);
	free(g.slots);
	ecplan_ranges_release(&g.rs);
	return rc;
}

static int run_backfill(ecplan_runner *r, const catalogs *cs, int table, int step_index, bool first_walk,
			ecplan_error *err)
{
	const ecplan_catalog *cat = table_catalog(r, cs, table);
	ecplan_batch_sql sql;
	batch_arg a = { .sql = &sql, .cat = cat, .cs = cs, .table = table, .size = r->plan->backfill.batch_size,
			.step_index = step_index };
	int rc;
	if (cat->nkey == 0)
		return ecplan_error_set(err, ECPLAN_EPRECONDITION, "the table has no usable key for the backfill");
	bool same_settings = false;
	if ((rc = ecplan_state_load_cursor(&a.cursor, &a.ncursor, &same_settings, r->conn, r->plan->name,
					   err)) < 0)
		return rc;
	if (a.cursor && a.ncursor != cat->nkey) {
		free_cursor(a.cursor, a.ncursor);
		return ecplan_error_set(err, ECPLAN_EPRECONDITION,
					"the saved backfill cursor does not match the table's key");
	}
	batch_sql(r, cs, table, cat, &sql);
	long long total = estimate_all(r, cs);
	if (a.cursor && !same_settings && !key_text_is_stable(cat)) {
		/* Saved by an older release, as text in that session's DateStyle,
		 * TimeZone, ...: read under ours it could point elsewhere and skip
		 * rows. Walk the key again from the start instead: rows already
		 * filled are not written again (the batch only fills NULLs). */
		if ((rc = log_event_or_fail(r, err, "backfill", ECPLAN_PHASE_BACKFILL,
					    "the saved cursor was written under unknown session settings;"
					    " walking the key again from the start")) < 0)
			goto done;
		info(r, "backfill: the saved cursor came from an older ecplan under unknown session settings "
		     "(DateStyle, TimeZone, ...); walking the key again from the start (filled rows are skipped)");
		free_cursor(a.cursor, a.ncursor);
		a.cursor = NULL;
		a.ncursor = 0;
	}
	/* backfill.workers > 1, or ranges left by a parallel run of this
	 * step: the parallel backfill, from the single cursor on. */
	bool parallel = r->plan->backfill.workers > 1;
	if (!parallel) {
		ecplan_ranges rs;
		bool same;
		if ((rc = ecplan_ranges_load(&rs, &same, r->conn, r->plan->name, step_index, cat->nkey, err)) < 0)
			goto done;
		parallel = rs.count > 0;
		ecplan_ranges_release(&rs);
	}
	if (parallel) {
		rc = run_backfill_ranged(r, cat, step_index, a.cursor, &sql, total, first_walk, err);
		goto done;
	}
	if (r->row->rows_total < 0 || !a.cursor)
		ecplan_state_set_rows_total(r->conn, r->plan->name, total, !a.cursor && first_walk, NULL);
	if ((rc = reload(r, err)) < 0)
		goto done;
	long long done_rows = r->row->rows_done, run_rows = 0;
	r->rows_done = done_rows;
	double seconds = r->row->backfill_seconds, run_start = now_s(), last_log = 0;
	info(r, "backfill: %s (about %lld rows, batches of %ld)", a.cursor ? "resuming from the saved cursor" : "starting",
	     total, a.size);
	backfill_wait w = { false, false, 0, 0, done_rows, false };
	ecplan_state_set_throttled(r->conn, r->plan->name, NULL, 0, NULL);
	for (;;) {
		bool reset = false;
		if ((rc = before_batch(r, &a, &w, &reset, err)) < 0)
			goto done;
		if (reset) {
			run_rows = 0;
			run_start = now_s();
		}
		if (r->plan->backfill.workers > 1) {
			/* `ecplan update` raised workers: the parallel backfill
			 * goes on from the cursor this loop saved. */
			info(r, "backfill: workers is now %ld; going on in parallel from the saved cursor",
			     r->plan->backfill.workers);
			rc = run_backfill_ranged(r, cat, step_index, a.cursor, &sql, total, false, err);
			goto done;
		}
		rc = with_lock_retries(r, ECPLAN_PHASE_BACKFILL, "backfill batch", try_batch, &a, err);
		if (rc < 0)
			goto done;
		double elapsed = now_s() - a.started;
		done_rows += a.rows;
		run_rows += a.rows;
		r->rows_done = done_rows;
		w.rows_done = done_rows;
		seconds += elapsed;
		if (r->opts.progress) {
			ecplan_progress p = { done_rows, total, ecplan_backfill_rate(done_rows, seconds),
					      ecplan_backfill_eta(done_rows, total, seconds), a.size };
			r->opts.progress(&p, r->opts.ctx);
		}
		if (now_s() - last_log > 10 || a.last) {
			log_event(r, "backfill", ECPLAN_PHASE_BACKFILL, NULL, "%lld rows done, batch size %ld",
				  done_rows, a.size);
			last_log = now_s();
		}
		if (a.last)
			break;
		a.size = ecplan_backfill_next_size(a.size, elapsed * 1000.0, r->plan->backfill.target_batch_ms,
						   r->plan->backfill.batch_size);
		long backoff = ecplan_throttle_latency_backoff_ms(&r->plan->backfill.throttle,
								  r->plan->backfill.target_batch_ms,
								  elapsed * 1000.0);
		if (backoff > 0) {
			char why[200];
			snprintf(why, sizeof(why), "a batch took %.0f ms, more than %ld x target_batch_ms (%ld)",
				 elapsed * 1000.0, r->plan->backfill.throttle.max_batch_ms_factor,
				 r->plan->backfill.target_batch_ms);
			if (!w.slow) {
				/* One event per run of slow batches. */
				json_t *d = json_pack("{s:s}", "reason", why);
				char *data = json_dumps(d, JSON_COMPACT);
				log_event(r, "throttled", ECPLAN_PHASE_BACKFILL, data, "backfill throttled: %s; "
					  "waiting as long after each such batch", why);
				free(data);
				json_decref(d);
				info(r, "backfill: throttled: %s", why);
			}
			ecplan_state_set_throttled(r->conn, r->plan->name, why, 0, NULL);
			short_sleeps(r, backoff);
			ecplan_state_set_throttled(r->conn, r->plan->name, NULL, (double)backoff / 1000.0, NULL);
		}
		w.slow = backoff > 0;
		short_sleeps(r, ecplan_backfill_throttle_ms(run_rows, now_s() - run_start,
							    r->plan->backfill.max_rows_per_second,
							    r->plan->backfill.pause_ms));
		if (ecplan_db_interrupted()) {
			rc = interrupted(r, ECPLAN_ERR, err);
			goto done;
		}
	}
	if (total < done_rows)
		ecplan_state_set_rows_total(r->conn, r->plan->name, done_rows, false, NULL);
done:
	free_cursor(a.cursor, a.ncursor);
	ecplan_batch_sql_release(&sql);
	return rc;
}

/* Runs steps[from..] of a phase (or of its undo). */
static int run_steps(ecplan_runner *r, const ecplan_steps *steps, const catalogs *cs,
		     ecplan_phase phase, bool undo, int from, ecplan_error *err)
{
	for (int i = from; i < (int)steps->count; i++) {
		const ecplan_step *st = &steps->items[i];
		bool first_walk = true;
		for (int k = 0; k < i; k++)
			first_walk &= steps->items[k].kind != ECPLAN_STEP_BACKFILL;
		r->table = st->target;
		double t0 = now_s();
		ddl_arg a = { st, i + 1, r->plan->safety.statement_timeout_ms, false, phase };
		char what[200];
		int rc;
		snprintf(what, sizeof(what), "%s%s: %s", undo ? "rollback " : "", ecplan_phase_name(phase),
			 st->name);
		info(r, "%s (step %d/%zu)", what, i + 1, steps->count);
		snprintf(r->doing, sizeof(r->doing), "%s (step %d/%zu)", what, i + 1, steps->count);
		if (ecplan_db_interrupted())
			return interrupted(r, ECPLAN_ERR, err);
		switch (st->kind) {
		case ECPLAN_STEP_BACKFILL:
			rc = run_backfill(r, cs, st->target, i + 1, first_walk, err);
			break;
		case ECPLAN_STEP_VERIFY:
			rc = run_verify(r, st, phase, err);
			if (rc == 0)
				rc = ecplan_state_set_step(r->conn, r->plan->name, i + 1, err);
			break;
		case ECPLAN_STEP_INDEX:
			rc = with_lock_retries(r, phase, what, undo ? try_drop_index : try_index, &a, err);
			break;
		default:
			/* VALIDATE CONSTRAINT, ANALYZE: no statement timeout; they take
			 * SHARE UPDATE EXCLUSIVE, which the application does not
			 * wait for, so they wait without lock_timeout too (run_long). */
			if (st->scans_table) {
				a.statement_timeout = 0;
				a.waits = takes_only_sue(st);
			}
			rc = with_lock_retries(r, phase, what, try_ddl, &a, err);
			break;
		}
		if (rc < 0)
			return interrupted(r, rc, err);
		if ((rc = log_event_or_fail(r, err, "step", phase, "%s done in %.3f s", what, now_s() - t0)) < 0)
			return rc;
	}
	return 0;
}

/* ---- phases ----------------------------------------------------------- */

/* The catalog of every change of the plan. */
static int load_catalogs(ecplan_runner *r, catalogs *cs, ecplan_error *err)
{
	size_t n = r->plan->nchanges ? r->plan->nchanges : 1;
	cs->cats = ecplan_xcalloc(n, sizeof(*cs->cats));
	cs->n = n;
	for (size_t i = 0; i < n; i++) {
		const ecplan_plan *c = ecplan_plan_change(r->plan, i);
		int rc = ecplan_catalog_load(&cs->cats[i], r->conn, c, err);
		if (rc == 0 && !cs->cats[i]->table_exists) {
			ecplan_error_set(err, ECPLAN_EPRECONDITION, "table %s.%s does not exist", c->schema,
					 c->table);
			ecplan_error_hint(err, "check \"table\" in the plan (names are case-sensitive) and --db");
			return ECPLAN_EPRECONDITION;
		}
		if (rc < 0)
			return rc;
	}
	ecplan_depend_share(cs->cats, r->plan);
	return 0;
}

static int record_failure(ecplan_runner *r, ecplan_phase phase, const ecplan_error *e)
{
	if (PQstatus(r->conn) != CONNECTION_OK)
		return 0;
	if (ecplan_db_in_transaction(r->conn))
		ecplan_db_rollback(r->conn, NULL);
	ecplan_state_set_error(r->conn, r->plan->name, e->message, NULL);
	if (e->code == ECPLAN_EINTERRUPTED) {
		json_t *d = json_pack("{s:s, s:s, s:I}", "signal", signal_name(ecplan_db_interrupted()),
				      "during", r->doing, "rows_done", (json_int_t)r->rows_done);
		char *data = d ? json_dumps(d, JSON_COMPACT) : NULL;
		log_event(r, "interrupted", phase, data, "%s: %s", e->message, e->detail);
		free(data);
		json_decref(d);
		return 0;
	}
	log_event(r, "error", phase, NULL, "%s%s%s", e->message, e->detail[0] ? ": " : "", e->detail);
	int failure = 0;
	if (e->code != ECPLAN_EGATE && ecplan_state_next_failure(&failure, r->conn, r->plan->name, NULL) == 0)
		fire(r, "failed", phase, failure, false, e->message, NULL);
	return 0;
}

/*
 * Refuses to replace or drop the trigger function of a plan synced by a
 * release that put it in the table's schema: CREATE OR REPLACE FUNCTION in
 * schema ecplan would leave the trigger calling the old one (a switch that
 * silently switches nothing).
 */
static int check_function_schema(ecplan_runner *r, const catalogs *cs, ecplan_error *err)
{
	/* Plans with several changes came after schema ecplan: the first
	 * change's trigger is the one an older release could have made. */
	const ecplan_catalog *cat = cs->cats[0];
	char oid[16], *nsp = NULL;
	const ecplan_plan *c0 = ecplan_plan_change(r->plan, 0);
	char *tn = ecplan_render_trigger_name(c0), *fn = ecplan_render_function_name(c0);
	snprintf(oid, sizeof(oid), "%u", cat->table_oid);
	const char *params[2] = { oid, tn };
	int rc = ecplan_db_query_value(&nsp, r->conn,
		"SELECT n.nspname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid"
		" JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
		" WHERE t.tgrelid = $1::oid AND t.tgname = $2"
		" UNION ALL SELECT NULL LIMIT 1", 2, params, err);
	if (rc == 0 && nsp && strcmp(nsp, ECPLAN_FUNCTION_SCHEMA) != 0) {
		rc = ecplan_error_set(err, ECPLAN_EPRECONDITION,
				      "the sync trigger of plan \"%s\" calls \"%s\".\"%s\"(), installed by an older "
				      "ecplan; this release keeps it in schema %s", r->plan->name, nsp, fn,
				      ECPLAN_FUNCTION_SCHEMA);
		ecplan_error_hint(err, "finish this plan with the release that synced it, or roll it back to "
				       "expanded (\"ecplan rollback --to expanded\"), drop that function by hand and "
				       "advance again");
	}
	free(nsp);
	free(tn);
	free(fn);
	return rc;
}

static int run_phase(ecplan_runner *r, ecplan_phase phase, ecplan_error *err)
{
	catalogs cs = { NULL, 0 };
	ecplan_checklist checks = { NULL, 0 };
	ecplan_steps steps;
	char ev[32];
	int rc;
	bool resume = r->row->running == phase;
	memset(&steps, 0, sizeof(steps));
	r->table = 0;
	if ((rc = load_catalogs(r, &cs, err)) < 0)
		goto done;
	if ((phase == ECPLAN_PHASE_SWITCH || phase == ECPLAN_PHASE_CONTRACT) &&
	    (rc = check_function_schema(r, &cs, err)) < 0)
		goto done;
	ecplan_render_plan_phase(&steps, r->plan, cats_of(&cs), phase);
	if (!resume || r->row->step == 0) {
		if ((rc = ecplan_precheck_plan(&checks, r->conn, r->plan, cats_of(&cs), phase,
					       r->row->seconds_since_switch, err)) < 0)
			goto done;
		if ((rc = ecplan_checklist_result(&checks, phase, err)) < 0) {
			log_event(r, "precondition", phase, NULL, "%s: %s", err->message, err->detail);
			goto done;
		}
	}
	if (!resume) {
		ecplan_event_name(ev, sizeof(ev), phase, "before");
		if ((rc = fire(r, ev, phase, r->row->attempts[phase] + 1, true, NULL, err)) < 0)
			goto done;
		phase_move m = { phase, false, ECPLAN_STATE_PLANNED };
		if ((rc = state_change(r, do_begin_phase, &m, "phase", phase, err, "%s started (attempt %d)",
				       ecplan_phase_name(phase), r->row->attempts[phase] + 1)) < 0 ||
		    (rc = reload(r, err)) < 0)
			goto done;
	} else if ((size_t)r->row->step >= steps.count) {
		/* Every step is done (a failed <phase>.after gate stopped it): only
		 * the after webhooks remain, and then the state moves. */
		log_event(r, "phase", phase, NULL, "%s resumed: its %zu steps are done; delivering %s.after",
			  ecplan_phase_name(phase), steps.count, ecplan_phase_name(phase));
		info(r, "%s: the database work is done (%zu of %zu steps); delivering %s.after",
		     ecplan_phase_name(phase), steps.count, steps.count, ecplan_phase_name(phase));
	} else {
		if ((rc = log_event_or_fail(r, err, "phase", phase, "%s resumed at step %d of %zu",
					    ecplan_phase_name(phase), r->row->step + 1, steps.count)) < 0)
			goto done;
		info(r, "%s: resuming at step %d of %zu", ecplan_phase_name(phase), r->row->step + 1,
		     steps.count);
	}
	if ((rc = run_steps(r, &steps, &cs, phase, false, r->row->step, err)) < 0)
		goto done;
	ecplan_event_name(ev, sizeof(ev), phase, "after");
	if ((rc = fire(r, ev, phase, r->row->phase_attempt, true, NULL, err)) < 0)
		goto done;
	phase_move fin = { phase, false, ecplan_phase_result(phase) };
	if ((rc = state_change(r, do_finish_phase, &fin, "phase", phase, err, "%s done: state %s",
			       ecplan_phase_name(phase), ecplan_state_name(ecplan_phase_result(phase)))) < 0)
		goto done;
	info(r, "%s done: state is now %s", ecplan_phase_name(phase),
	     ecplan_state_name(ecplan_phase_result(phase)));
	rc = reload(r, err);
done:
	if (rc < 0) {
		rc = interrupted(r, rc, err);
		record_failure(r, phase, err);
	}
	ecplan_checklist_release(&checks);
	ecplan_steps_release(&steps);
	catalogs_free(&cs);
	return rc;
}

static int check_env(ecplan_runner *r, ecplan_error *err)
{
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	int rc = ecplan_template_check_plan(r->plan, NULL, NULL, &d);
	if (rc < 0 && d.count) {
		*err = d.items[0];
		if (d.count > 1)
			ecplan_error_detail(err, "and %zu more problems of the same kind", d.count - 1);
	}
	ecplan_diags_release(&d);
	return rc;
}

int ecplan_runner_advance(ecplan_runner *r, ecplan_phase to, ecplan_error *err)
{
	int rc;
	if ((rc = check_env(r, err)) < 0 || (rc = register_or_check(r, true, err)) < 0)
		return rc;
	for (bool first = true;; first = false) {
		ecplan_phase next = r->row->running;
		if (next != ECPLAN_PHASE_NONE && r->row->rolling_back) {
			ecplan_error_set(err, ECPLAN_EIMPOSSIBLE,
					 "a rollback of phase %s was interrupted", ecplan_phase_name(next));
			ecplan_error_hint(err, "run \"ecplan rollback\" to finish it first");
			return ECPLAN_EIMPOSSIBLE;
		}
		if (next == ECPLAN_PHASE_NONE)
			next = ecplan_state_next(r->row->state);
		if (next == ECPLAN_PHASE_NONE || (to != ECPLAN_PHASE_NONE && ecplan_phase_order(next, to) > 0)) {
			if (first && to == ECPLAN_PHASE_NONE) {
				ecplan_error_set(err, ECPLAN_EIMPOSSIBLE, "plan \"%s\" is %s: there is no next phase",
						 r->plan->name, ecplan_state_name(r->row->state));
				return ECPLAN_EIMPOSSIBLE;
			}
			if (first)
				info(r, "plan \"%s\" is already %s", r->plan->name,
				     ecplan_state_name(r->row->state));
			return 0;
		}
		if (!first && ecplan_db_interrupted())
			return interrupted(r, ECPLAN_ERR, err);
		/* Checked before every phase that would run (a plan already at
		 * --to is left alone and exits 0): a pause during --all stops it
		 * at the next phase boundary. */
		if (r->row->paused) {
			ecplan_error_set(err, ECPLAN_EPAUSED, "plan \"%s\" is paused", r->plan->name);
			ecplan_error_detail(err, "\"ecplan pause %s\" paused it; %s", r->plan->name,
					    first ? "nothing was run" : "no further phase was started");
			ecplan_error_hint(err, "run \"ecplan resume %s\" first, then advance again", r->plan->name);
			return ECPLAN_EPAUSED;
		}
		if ((rc = run_phase(r, next, err)) < 0)
			return rc;
		if (to == ECPLAN_PHASE_NONE)
			return 0;
	}
}

/* The phase to undo next, or NONE when the state is at (or below) `to`. */
static ecplan_phase undo_next(const ecplan_plan_row *row, ecplan_state to)
{
	if (row->running != ECPLAN_PHASE_NONE)
		return row->running;
	ecplan_phase p = ecplan_state_undo(row->state);
	if (p == ECPLAN_PHASE_NONE || ecplan_state_rank(row->state) <= ecplan_state_rank(to))
		return ECPLAN_PHASE_NONE;
	return p;
}

static int undo_phase(ecplan_runner *r, ecplan_phase phase, ecplan_state to, ecplan_error *err)
{
	catalogs cs = { NULL, 0 };
	ecplan_steps steps;
	int rc;
	memset(&steps, 0, sizeof(steps));
	r->table = 0;
	if ((rc = load_catalogs(r, &cs, err)) < 0)
		goto done;
	for (size_t i = 0; i < cs.n; i++) {
		const ecplan_plan *c = ecplan_plan_change(r->plan, i);
		/* Contract stopped before its drop step: nothing of it to undo. A
		 * plan with several tables drops one table's columns at a time:
		 * once any is gone, the contract can only go forward. */
		if (phase == ECPLAN_PHASE_CONTRACT && !cs.cats[i]->column_exists) {
			rc = ecplan_error_set(err, ECPLAN_EIMPOSSIBLE,
					      "contract already dropped \"%s\"; it cannot be rolled back", c->column);
			if (r->plan->nchanges > 1)
				ecplan_error_hint(err, "run \"ecplan advance\" to finish the contract");
			goto done;
		}
		if (phase == ECPLAN_PHASE_EXPAND && cs.cats[i]->new_column_exists && !cs.cats[i]->new_column_is_ours) {
			rc = ecplan_error_set(err, ECPLAN_EPRECONDITION,
					      "column \"%s\" was not added by plan \"%s\"; not dropping it",
					      c->new_column, r->plan->name);
			goto done;
		}
	}
	if (phase == ECPLAN_PHASE_SWITCH && (rc = check_function_schema(r, &cs, err)) < 0)
		goto done;
	bool resume = r->row->running == phase && r->row->rolling_back;
	if (!resume) {
		phase_move m = { phase, true, ECPLAN_STATE_PLANNED };
		if ((rc = state_change(r, do_begin_phase, &m, "rollback", phase, err, "undoing %s",
				       ecplan_phase_name(phase))) < 0 ||
		    (rc = reload(r, err)) < 0)
			goto done;
	} else if ((rc = log_event_or_fail(r, err, "rollback", phase, "undoing %s (resumed)",
					   ecplan_phase_name(phase))) < 0) {
		goto done;
	}
	ecplan_render_plan_undo(&steps, r->plan, cats_of(&cs), phase);
	if ((rc = run_steps(r, &steps, &cs, phase, true, r->row->step, err)) < 0)
		goto done;
	ecplan_state result = ecplan_phase_undone_to(phase);
	if (result == ECPLAN_STATE_PLANNED && to == ECPLAN_STATE_PLANNED)
		result = ECPLAN_STATE_ROLLED_BACK;
	phase_move fin = { phase, true, result };
	if ((rc = state_change(r, do_finish_phase, &fin, "rollback", phase, err, "%s undone: state %s",
			       ecplan_phase_name(phase), ecplan_state_name(result))) < 0)
		goto done;
	info(r, "rollback of %s done: state is now %s", ecplan_phase_name(phase), ecplan_state_name(result));
	rc = reload(r, err);
done:
	if (rc < 0) {
		rc = interrupted(r, rc, err);
		record_failure(r, phase, err);
	}
	ecplan_steps_release(&steps);
	catalogs_free(&cs);
	return rc;
}

int ecplan_runner_rollback(ecplan_runner *r, ecplan_state to, ecplan_error *err)
{
	int rc;
	r->undoing = true;
	if ((rc = check_env(r, err)) < 0 || (rc = register_or_check(r, false, err)) < 0)
		return rc;
	if (!ecplan_state_rollback_allowed(r->row->state)) {
		ecplan_error_set(err, ECPLAN_EIMPOSSIBLE, "plan \"%s\" is contracted: the old column is gone",
				 r->plan->name);
		if (r->plan->contract.archive)
			ecplan_error_detail(err, "its values are archived with the key in table "
					    "ecplan_archive.\"%s\"", r->plan->name);
		ecplan_error_hint(err, "restore by hand if needed: add the column back and fill it from "
				       "the archive with a keyed UPDATE");
		return ECPLAN_EIMPOSSIBLE;
	}
	if (undo_next(r->row, to) == ECPLAN_PHASE_NONE) {
		/* Nothing left to undo: deliver what the last rollback could not. */
		if (r->row->rollback_attempts > 0) {
			rc = fire(r, "rollback.after", ECPLAN_PHASE_NONE, r->row->rollback_attempts, true, NULL, err);
			if (rc < 0) {
				ecplan_state_set_error(r->conn, r->plan->name, err->message, NULL);
				return rc;
			}
		}
		info(r, "plan \"%s\" is %s: nothing to roll back", r->plan->name,
		     ecplan_state_name(r->row->state));
		return 0;
	}
	/* rollback.before is retried with the same number until it goes
	 * through; only then does the rollback count. */
	int attempt = r->row->rollback_attempts + 1;
	if ((rc = fire(r, "rollback.before", ECPLAN_PHASE_NONE, attempt, true, NULL, err)) < 0) {
		ecplan_state_set_error(r->conn, r->plan->name, err->message, NULL);
		return rc;
	}
	if ((rc = ecplan_state_begin_rollback(&attempt, r->conn, r->plan->name, err)) < 0)
		return rc;
	ecplan_phase p;
	while ((p = undo_next(r->row, to)) != ECPLAN_PHASE_NONE) {
		if (ecplan_db_interrupted()) {
			rc = interrupted(r, ECPLAN_ERR, err);
			record_failure(r, p, err);
			return rc;
		}
		if ((rc = undo_phase(r, p, to, err)) < 0)
			return rc;
	}
	if ((rc = fire(r, "rollback.after", ECPLAN_PHASE_NONE, attempt, true, NULL, err)) < 0)
		ecplan_state_set_error(r->conn, r->plan->name, err->message, NULL);
	return rc;
}
