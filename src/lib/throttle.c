/*
 * Health signals for the backfill: reading them (libpq) and deciding from
 * them (pure). The runner waits between batches while a signal is over its
 * limit; nothing here holds a lock on the table.
 */
#include "ecplan/throttle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/db.h"

void ecplan_throttle_readings_init(ecplan_throttle_readings *r)
{
	memset(r, 0, sizeof(*r));
	r->replica_lag_ms = -1;
	r->replica_lag_bytes = -1;
	r->slot_lag_bytes = -1;
	r->query = -1;
}

bool ecplan_throttle_enabled(const ecplan_throttle_settings *s)
{
	return s->max_replica_lag_ms > 0 || s->max_replica_lag_bytes > 0 || s->max_slot_lag_bytes > 0 ||
	       s->pause_during_autovacuum != ECPLAN_AUTOVACUUM_NEVER || s->query != NULL;
}

/* 1536 -> "1.5 KiB" */
static void bytes_text(char *out, size_t n, long long b)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;
	while (v >= 1024.0 && u < 4) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(out, n, "%lld bytes", b);
	else
		snprintf(out, n, "%.1f %s", v, units[u]);
}

bool ecplan_throttle_decide(char *reason, size_t size, const ecplan_throttle_settings *s,
			    const ecplan_throttle_readings *r)
{
	char a[32], b[32];
	if (size)
		reason[0] = '\0';
	if (r->query == 2) {
		snprintf(reason, size, "the throttle query failed: %s", r->query_error);
		return true;
	}
	if (r->query == 1) {
		snprintf(reason, size, "the throttle query returned true");
		return true;
	}
	if (s->max_replica_lag_ms > 0 && r->replica_lag_ms > (double)s->max_replica_lag_ms) {
		snprintf(reason, size, "standby \"%s\" replay_lag %.1f s > max_replica_lag_ms %ld",
			 r->replica_lag_name, r->replica_lag_ms / 1000.0, s->max_replica_lag_ms);
		return true;
	}
	if (s->max_replica_lag_bytes > 0 && r->replica_lag_bytes > s->max_replica_lag_bytes) {
		bytes_text(a, sizeof(a), r->replica_lag_bytes);
		bytes_text(b, sizeof(b), s->max_replica_lag_bytes);
		snprintf(reason, size, "standby \"%s\" has %s of WAL not replayed > max_replica_lag_bytes (%s)",
			 r->replica_bytes_name, a, b);
		return true;
	}
	if (s->max_slot_lag_bytes > 0 && r->slot_lag_bytes > s->max_slot_lag_bytes) {
		bytes_text(a, sizeof(a), r->slot_lag_bytes);
		bytes_text(b, sizeof(b), s->max_slot_lag_bytes);
		snprintf(reason, size, "logical slot \"%s\" has %s of WAL not confirmed > max_slot_lag_bytes (%s)",
			 r->slot_name, a, b);
		return true;
	}
	if (r->autovacuum_pid > 0 &&
	    (s->pause_during_autovacuum == ECPLAN_AUTOVACUUM_ALWAYS ||
	     (s->pause_during_autovacuum == ECPLAN_AUTOVACUUM_WRAPAROUND && r->autovacuum_wraparound))) {
		snprintf(reason, size, "autovacuum%s runs on the table (pid %d)",
			 r->autovacuum_wraparound ? " to prevent wraparound" : "", r->autovacuum_pid);
		return true;
	}
	return false;
}

long ecplan_throttle_latency_backoff_ms(const ecplan_throttle_settings *s, long target_batch_ms,
					double elapsed_ms)
{
	if (s->max_batch_ms_factor <= 0 || target_batch_ms <= 0)
		return 0;
	if (elapsed_ms <= (double)s->max_batch_ms_factor * (double)target_batch_ms)
		return 0;
	return elapsed_ms > 60000.0 ? 60000 : (long)elapsed_ms;
}

static void copy_name(char *out, size_t n, const PGresult *res, int col)
{
	snprintf(out, n, "%s", PQgetisnull(res, 0, col) ? "?" : PQgetvalue(res, 0, col));
}

/* One round trip for every catalog signal. */
static const char signals_sql[] =
	"WITH r AS (SELECT application_name AS n, extract(epoch FROM replay_lag) * 1000 AS ms,"
	"   CASE WHEN pg_is_in_recovery() OR replay_lsn IS NULL THEN NULL"
	"   ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) END AS b"
	"   FROM pg_stat_replication),"
	" s AS (SELECT slot_name::text AS n,"
	"   CASE WHEN pg_is_in_recovery() THEN NULL"
	"   ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) END AS b"
	"   FROM pg_replication_slots WHERE slot_type = 'logical' AND confirmed_flush_lsn IS NOT NULL),"
	" v AS (SELECT p.pid, coalesce(a.query LIKE '%to prevent wraparound%', false) AS wrap"
	"   FROM pg_stat_progress_vacuum p JOIN pg_stat_activity a ON a.pid = p.pid"
	"   WHERE a.backend_type = 'autovacuum worker' AND p.relid = (SELECT c.oid FROM pg_class c"
	"     JOIN pg_namespace ns ON ns.oid = c.relnamespace WHERE ns.nspname = $1 AND c.relname = $2))"
	" SELECT (SELECT ms FROM r WHERE ms IS NOT NULL ORDER BY ms DESC LIMIT 1)::float8,"
	"  (SELECT n FROM r WHERE ms IS NOT NULL ORDER BY ms DESC LIMIT 1),"
	"  (SELECT b FROM r WHERE b IS NOT NULL ORDER BY b DESC LIMIT 1)::bigint,"
	"  (SELECT n FROM r WHERE b IS NOT NULL ORDER BY b DESC LIMIT 1),"
	"  (SELECT b FROM s WHERE b IS NOT NULL ORDER BY b DESC LIMIT 1)::bigint,"
	"  (SELECT n FROM s WHERE b IS NOT NULL ORDER BY b DESC LIMIT 1),"
	"  (SELECT pid FROM v ORDER BY wrap DESC LIMIT 1),"
	"  coalesce((SELECT bool_or(wrap) FROM v), false)";

static void run_query(ecplan_throttle_readings *out, PGconn *conn, const ecplan_throttle_settings *s)
{
	ecplan_error e;
	char *v = NULL;
	ecplan_error_clear(&e);
	int rc = ecplan_db_exec(conn, "BEGIN READ ONLY", &e);
	if (rc == 0)
		rc = ecplan_db_set_local_timeouts(conn, s->query_timeout_ms, s->query_timeout_ms, &e);
	if (rc == 0)
		rc = ecplan_db_query_value(&v, conn, s->query, 0, NULL, &e);
	ecplan_db_rollback(conn, NULL);
	if (rc < 0) {
		out->query = 2;
		snprintf(out->query_error, sizeof(out->query_error), "%.500s", e.message[0] ? e.message : "error");
	} else {
		out->query = v && !strcmp(v, "t") ? 1 : 0;
	}
	free(v);
}

int ecplan_throttle_read(ecplan_throttle_readings *out, PGconn *conn,
			 const ecplan_throttle_settings *s, const char *schema, const char *table,
			 ecplan_error *err)
{
	ecplan_throttle_readings_init(out);
	if (s->max_replica_lag_ms > 0 || s->max_replica_lag_bytes > 0 || s->max_slot_lag_bytes > 0 ||
	    s->pause_during_autovacuum != ECPLAN_AUTOVACUUM_NEVER) {
		PGresult *res = NULL;
		const char *params[2] = { schema, table };
		int rc = ecplan_db_query(&res, conn, signals_sql, 2, params, err);
		if (rc < 0)
			return rc;
		if (PQntuples(res) == 1) {
			if (!PQgetisnull(res, 0, 0)) {
				out->replica_lag_ms = atof(PQgetvalue(res, 0, 0));
				copy_name(out->replica_lag_name, sizeof(out->replica_lag_name), res, 1);
			}
			if (!PQgetisnull(res, 0, 2)) {
				out->replica_lag_bytes = atoll(PQgetvalue(res, 0, 2));
				copy_name(out->replica_bytes_name, sizeof(out->replica_bytes_name), res, 3);
			}
			if (!PQgetisnull(res, 0, 4)) {
				out->slot_lag_bytes = atoll(PQgetvalue(res, 0, 4));
				copy_name(out->slot_name, sizeof(out->slot_name), res, 5);
			}
			if (!PQgetisnull(res, 0, 6))
				out->autovacuum_pid = atoi(PQgetvalue(res, 0, 6));
			out->autovacuum_wraparound = !strcmp(PQgetvalue(res, 0, 7), "t");
		}
		PQclear(res);
	}
	if (s->query)
		run_query(out, conn, s);
	return 0;
}
