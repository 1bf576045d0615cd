/*
 * Observing a plan from outside its runner: who holds it, how it last moved,
 * what gate deliveries wait. Read-only except for the runner's own
 * announcement (one event).
 */
#include "ecplan/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ecplan/db.h"
#include "ecplan/state.h"
#include "ecplan/strbuf.h"

int ecplan_watch_announce(PGconn *conn, const char *name, ecplan_error *err)
{
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
		snprintf(host, sizeof(host), "unknown");
	json_t *d = json_pack("{s:I, s:s, s:i}", "pid", (json_int_t)getpid(), "host", host, "backend_pid",
			      PQbackendPID(conn));
	char *data = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *msg = ecplan_xstrfmt("runner ecplan pid %ld on host \"%s\" holds the plan (server backend pid %d)",
				   (long)getpid(), host, PQbackendPID(conn));
	int rc = ecplan_state_log(conn, name, "runner", NULL, msg, data, err);
	free(msg);
	free(data);
	json_decref(d);
	return rc;
}

/* The lock holder (as db.c's ecplan_db_advisory_lock_holder finds it: the
 * bigint key splits into classid/objid, objsubid 1) joined with its
 * announcement. */
static const char runner_sql[] =
	"WITH k AS (SELECT hashtextextended('ecplan:plan:' || $1, 0) AS k),"
	" h AS (SELECT a.pid, a.application_name, host(a.client_addr) AS addr, a.backend_start"
	"  FROM k, pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
	"  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
	"   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
	"   AND l.classid::bigint = ((k.k >> 32) & 4294967295)"
	"   AND l.objid::bigint = (k.k & 4294967295)"
	"  ORDER BY a.pid LIMIT 1)"
	" SELECT h.pid, h.application_name, h.addr, e.data->>'pid', e.data->>'host',"
	"  to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	" FROM h LEFT JOIN LATERAL (SELECT data, at FROM ecplan.events"
	"  WHERE plan = $1 AND kind = 'runner' AND (data->>'backend_pid')::int = h.pid"
	"   AND (h.backend_start IS NULL OR at >= h.backend_start)"
	"  ORDER BY id DESC LIMIT 1) e ON true";

static char *dup_or_null(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : ecplan_xstrdup(PQgetvalue(res, 0, col));
}

int ecplan_watch_runner(ecplan_runner_info *out, PGconn *conn, const char *name, ecplan_error *err)
{
	PGresult *res = NULL;
	memset(out, 0, sizeof(*out));
	out->client_pid = -1;
	int rc = ecplan_db_query(&res, conn, runner_sql, 1, &name, err);
	if (rc == 0 && PQntuples(res) == 1) {
		out->held = true;
		out->backend_pid = atoi(PQgetvalue(res, 0, 0));
		out->application_name = dup_or_null(res, 1);
		out->client_addr = dup_or_null(res, 2);
		if (!PQgetisnull(res, 0, 3))
			out->client_pid = atol(PQgetvalue(res, 0, 3));
		out->host = dup_or_null(res, 4);
		out->started_at = dup_or_null(res, 5);
	}
	PQclear(res);
	return rc;
}

void ecplan_runner_info_release(ecplan_runner_info *info)
{
	if (!info)
		return;
	free(info->host);
	free(info->started_at);
	free(info->application_name);
	free(info->client_addr);
	memset(info, 0, sizeof(*info));
	info->client_pid = -1;
}

char *ecplan_runner_info_describe(const ecplan_runner_info *info)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	if (!info->held)
		return ecplan_xstrdup("no runner");
	if (info->client_pid > 0)
		ecplan_strbuf_addf(&sb, "ecplan pid %ld on host \"%s\" since %s", info->client_pid,
				   info->host ? info->host : "?", info->started_at ? info->started_at : "?");
	else
		ecplan_strbuf_adds(&sb, "a runner that has not published its pid and host yet");
	ecplan_strbuf_addf(&sb, " (server backend pid %d, application_name \"%s\"", info->backend_pid,
			   info->application_name ? info->application_name : "");
	if (info->client_addr)
		ecplan_strbuf_addf(&sb, ", client address %s", info->client_addr);
	ecplan_strbuf_addch(&sb, ')');
	return ecplan_strbuf_detach(&sb);
}

char *ecplan_runner_info_alive_hint(const ecplan_runner_info *info, const char *plan_name)
{
	if (info->client_pid > 0)
		return ecplan_xstrfmt("it is alive while \"kill -0 %ld\" (or \"ps -p %ld\") succeeds on host \"%s\" "
				      "and \"ecplan status %s\" says running; wait for it (ecplan wait), or stop "
				      "it: its work resumes where it stopped",
				      info->client_pid, info->client_pid, info->host ? info->host : "?", plan_name);
	return ecplan_xstrfmt("its database session is server backend pid %d: it is alive while "
			      "\"ecplan status %s\" says running (the lock ends with the session); wait for it "
			      "(ecplan wait), or end the session with pg_terminate_backend(%d): its work "
			      "resumes where it stopped",
			      info->backend_pid, plan_name, info->backend_pid);
}

int ecplan_watch_last_move_is_rollback(bool *out, PGconn *conn, const char *name, ecplan_error *err)
{
	char *v = NULL;
	*out = false;
	int rc = ecplan_db_query_value(&v, conn,
		/* A failed precondition is a forward attempt that logged no phase start. */
		"SELECT kind FROM ecplan.events WHERE plan = $1 AND kind IN ('phase', 'rollback', 'precondition')"
		" ORDER BY id DESC LIMIT 1", 1, &name, err);
	*out = rc == 0 && v && !strcmp(v, "rollback");
	free(v);
	return rc;
}

int ecplan_watch_pending_gates(char **out, PGconn *conn, const char *name, ecplan_error *err)
{
	char *v = NULL;
	*out = NULL;
	int rc = ecplan_db_query_value(&v, conn,
		/* Only what the next command would re-deliver: a .before of an
		 * attempt not started yet, the .after of the phase still running
		 * (its work done), the rollback.* of the latest rollback. An older
		 * attempt's failed delivery is never re-delivered. */
		"SELECT string_agg(DISTINCT d.event, ',' ORDER BY d.event) FROM ecplan.deliveries d"
		" JOIN ecplan.plans p ON p.name = d.plan,"
		" LATERAL (SELECT split_part(d.event, '.', 1) AS ph, split_part(d.event, '.', 2) AS wh,"
		"  coalesce(p.attempts[array_position(ARRAY['expand', 'sync', 'backfill', 'switch', 'contract'],"
		"   split_part(d.event, '.', 1))], 0) AS n) e"
		" WHERE d.plan = $1 AND d.gate AND NOT d.delivered AND d.event <> 'failed'"
		"  AND CASE WHEN e.ph = 'rollback' AND e.wh = 'before' THEN d.phase_attempt > p.rollback_attempts"
		"   WHEN e.ph = 'rollback' THEN d.phase_attempt = p.rollback_attempts"
		"   WHEN e.wh = 'before' THEN d.phase_attempt > e.n"
		"   ELSE d.phase_attempt = e.n AND p.running_phase = e.ph AND NOT p.rolling_back END",
		1, &name, err);
	if (rc == 0 && v && *v)
		*out = v;
	else
		free(v);
	return rc;
}
