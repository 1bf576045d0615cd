/*
 * Connections and the libpq helpers the phases share.
 *
 * Two things here are about not leaking secrets: a connection string may carry
 * a password, and libpq's own parse errors quote pieces of the string they
 * choke on (a whole URI, or the word after a stray space in a password). So
 * target descriptions are built from a whitelist of keywords, and parse
 * errors are shown only after every quoted fragment that could come from a
 * password has been blanked out.
 */
#include "ecplan/db.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/strbuf.h"

const char *ecplan_db_resolve(const char *option, ecplan_db_source *source_out)
{
	static const char empty[] = "";
	const char *v;
	ecplan_db_source src;

	if (option) {
		src = ECPLAN_DB_FROM_OPTION;
		v = option;
	} else if ((v = getenv("ECPLAN_DB")) && *v) {
		src = ECPLAN_DB_FROM_ECPLAN_DB;
	} else if ((v = getenv("DATABASE_URL")) && *v) {
		src = ECPLAN_DB_FROM_DATABASE_URL;
	} else {
		src = ECPLAN_DB_FROM_DEFAULTS;
		v = empty;
	}
	if (source_out)
		*source_out = src;
	return v;
}

const char *ecplan_db_source_name(ecplan_db_source source)
{
	switch (source) {
	case ECPLAN_DB_FROM_OPTION:
		return "--db";
	case ECPLAN_DB_FROM_ECPLAN_DB:
		return "ECPLAN_DB";
	case ECPLAN_DB_FROM_DATABASE_URL:
		return "DATABASE_URL";
	case ECPLAN_DB_FROM_DEFAULTS:
		break;
	}
	return "the PG* environment variables";
}

/* libpq's own test (recognized_connection_string): a URI or contains '='. */
static bool is_uri(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

static bool is_connection_string(const char *s)
{
	return is_uri(s) || strchr(s, '=') != NULL;
}

static bool secret_keyword(const char *k, size_t n)
{
	return (n == 8 && !strncmp(k, "password", 8)) || (n == 11 && !strncmp(k, "sslpassword", 11));
}

char *ecplan_db_mask_password(const char *conninfo)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	bool masked = false;
	const char *p = conninfo;

	if (!conninfo)
		return NULL;
	if (is_uri(conninfo)) {
		const char *auth = strstr(conninfo, "://") + 3;
		const char *q = strchr(auth, '?');
		const char *end = q ? q : auth + strlen(auth);
		const char *at = NULL, *colon;
		/* The user info ends at the last '@' before the query (a password
		 * typed with a raw '@' or '/' is still hidden whole). */
		for (const char *s = auth; s < end; s++)
			if (*s == '@')
				at = s;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			ecplan_strbuf_add(&sb, conninfo, (size_t)(colon - conninfo) + 1);
			ecplan_strbuf_adds(&sb, "***");
			p = at;
			masked = true;
		}
		if (q) {
			ecplan_strbuf_add(&sb, p, (size_t)(q - p));
			p = q;
			while (*p) {
				/* p at '?' or '&': copy the key, mask a secret value */
				const char *k = p + 1, *eq = k, *amp;
				while (*eq && *eq != '=' && *eq != '&')
					eq++;
				amp = strchr(k, '&');
				if (!amp)
					amp = k + strlen(k);
				if (*eq == '=' && eq < amp && secret_keyword(k, (size_t)(eq - k))) {
					ecplan_strbuf_add(&sb, p, (size_t)(eq - p) + 1);
					ecplan_strbuf_adds(&sb, "***");
					masked = true;
				} else {
					ecplan_strbuf_add(&sb, p, (size_t)(amp - p));
				}
				p = amp;
			}
		}
		ecplan_strbuf_adds(&sb, p);
	} else {
		/* keyword = value pairs; a value is 'quoted' (\' and \\ escapes) or
		 * runs to the next white space */
		while (*p) {
			const char *k = p, *e;
			while (*p && !isspace((unsigned char)*p) && *p != '=')
				p++;
			e = p;
			while (isspace((unsigned char)*p))
				p++;
			if (*p != '=') {
				ecplan_strbuf_add(&sb, k, (size_t)(p - k));
				continue;
			}
			p++;
			while (isspace((unsigned char)*p))
				p++;
			bool secret = secret_keyword(k, (size_t)(e - k));
			ecplan_strbuf_add(&sb, k, (size_t)(p - k));
			const char *v = p;
			if (*p == '\'') {
				for (p++; *p && *p != '\''; p++)
					if (*p == '\\' && p[1])
						p++;
				if (*p)
					p++;
			} else {
				while (*p && !isspace((unsigned char)*p))
					p++;
			}
			if (secret) {
				ecplan_strbuf_adds(&sb, "***");
				masked = true;
			} else {
				ecplan_strbuf_add(&sb, v, (size_t)(p - v));
			}
			while (isspace((unsigned char)*p))
				ecplan_strbuf_addch(&sb, *p++);
		}
	}
	if (!masked) {
		ecplan_strbuf_release(&sb);
		return NULL;
	}
	return ecplan_strbuf_detach(&sb);
}

/* Appends value the way a conninfo string would need it. */
static void add_conninfo_value(ecplan_strbuf *sb, const char *v)
{
	bool quote = !*v;
	const char *p;

	for (p = v; *p && !quote; p++)
		if (isspace((unsigned char)*p) || *p == '\'' || *p == '\\')
			quote = true;
	if (!quote) {
		ecplan_strbuf_adds(sb, v);
		return;
	}
	ecplan_strbuf_addch(sb, '\'');
	for (p = v; *p; p++) {
		if (*p == '\'' || *p == '\\')
			ecplan_strbuf_addch(sb, '\\');
		ecplan_strbuf_addch(sb, *p);
	}
	ecplan_strbuf_addch(sb, '\'');
}

/* The keywords a target description shows; never a password. */
static const char *const target_keywords[] = { "host", "hostaddr", "port", "dbname", "user" };

static char *describe_options(const PQconninfoOption *opts)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	size_t i;
	const PQconninfoOption *o;

	for (i = 0; i < sizeof(target_keywords) / sizeof(target_keywords[0]); i++) {
		for (o = opts; o->keyword; o++) {
			if (strcmp(o->keyword, target_keywords[i]) != 0)
				continue;
			/* Belt and braces: libpq flags secret options with '*'. */
			if (!o->val || !*o->val || (o->dispchar && strchr(o->dispchar, '*')))
				break;
			if (sb.len)
				ecplan_strbuf_addch(&sb, ' ');
			ecplan_strbuf_addf(&sb, "%s=", o->keyword);
			add_conninfo_value(&sb, o->val);
			break;
		}
	}
	return ecplan_strbuf_detach(&sb);
}

char *ecplan_db_describe_target(const char *conninfo)
{
	PQconninfoOption *opts;
	char *perr = NULL, *out;

	if (!conninfo || !*conninfo)
		return ecplan_xstrdup("");
	if (!is_connection_string(conninfo)) {
		ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
		ecplan_strbuf_adds(&sb, "dbname=");
		add_conninfo_value(&sb, conninfo);
		return ecplan_strbuf_detach(&sb);
	}
	opts = PQconninfoParse(conninfo, &perr);
	if (!opts) {
		PQfreemem(perr);
		return ecplan_xstrdup("(invalid connection string)");
	}
	out = describe_options(opts);
	PQconninfoFree(opts);
	return out;
}

char *ecplan_db_describe_conn(PGconn *conn)
{
	PQconninfoOption *opts;
	char *out;

	if (!conn || !(opts = PQconninfo(conn)))
		return ecplan_xstrdup("");
	out = describe_options(opts);
	PQconninfoFree(opts);
	return out;
}

/*
 * Is s[0..len) a keyword-like word that occurs in conninfo only where a
 * keyword can stand (so it cannot be a piece of a password)? In a keyword
 * string that is at the start or after white space, followed by '='; in a
 * URI after '?' or '&'.
 */
static bool safe_fragment(const char *conninfo, const char *s, size_t len)
{
	const char *p;
	size_t i;
	bool uri = is_uri(conninfo), seen = false;

	if (len == 0)
		return true;
	for (i = 0; i < len; i++)
		if (!isalpha((unsigned char)s[i]) && s[i] != '_')
			return false;
	for (p = conninfo; *p; p++) {
		const char *q;
		if (strncmp(p, s, len) != 0)
			continue;
		seen = true;
		q = p + len;
		if (uri) {
			if (p == conninfo || (p[-1] != '?' && p[-1] != '&'))
				return false;
		} else {
			if (p != conninfo && !isspace((unsigned char)p[-1]))
				return false;
			while (isspace((unsigned char)*q))
				q++;
			if (*q != '=')
				return false;
		}
	}
	return seen;
}

/*
 * libpq's parse error with every "quoted fragment" that might be part of a
 * password replaced by "...". Fragments of one character ("=", "]") are
 * libpq's own punctuation and stay.
 */
static char *redact_parse_error(const char *msg, const char *conninfo)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	const char *p = msg, *open, *close;

	while ((open = strchr(p, '"')) && (close = strchr(open + 1, '"'))) {
		size_t len = (size_t)(close - open - 1);
		ecplan_strbuf_add(&sb, p, (size_t)(open - p) + 1);
		if (len <= 1 || safe_fragment(conninfo, open + 1, len))
			ecplan_strbuf_add(&sb, open + 1, len);
		else
			ecplan_strbuf_adds(&sb, "...");
		ecplan_strbuf_addch(&sb, '"');
		p = close + 1;
	}
	/* An unmatched quote: drop the rest rather than risk it. */
	if (strchr(p, '"'))
		ecplan_strbuf_add(&sb, p, (size_t)(strchr(p, '"') - p));
	else
		ecplan_strbuf_adds(&sb, p);
	while (sb.len && isspace((unsigned char)sb.buf[sb.len - 1]))
		ecplan_strbuf_setlen(&sb, sb.len - 1);
	return ecplan_strbuf_detach(&sb);
}

/* Copies msg without trailing white space (libpq ends messages with \n). */
static void set_trimmed(char *dst, size_t size, const char *msg)
{
	size_t n;

	if (!msg)
		msg = "";
	n = strlen(msg);
	while (n && isspace((unsigned char)msg[n - 1]))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(dst, msg, n);
	dst[n] = '\0';
}

/* The settings pinned for every ecplan session; see ecplan_db_connect. The
 * first five decide the text form of values (ecplan_db_value_settings). */
static const char *const pinned[][2] = {
	{ "DateStyle", "ISO, MDY" },
	{ "IntervalStyle", "postgres" },
	{ "TimeZone", "UTC" },
	{ "extra_float_digits", "3" },
	{ "bytea_output", "hex" },
	{ "search_path", "pg_catalog, \"$user\", public" },
	{ "default_transaction_isolation", "read committed" },
	{ "default_transaction_read_only", "off" },
};
#define NPINNED (sizeof(pinned) / sizeof(pinned[0]))

const char *ecplan_db_value_settings(void)
{
	return "DateStyle=ISO, MDY;IntervalStyle=postgres;TimeZone=UTC;extra_float_digits=3;"
	       "bytea_output=hex";
}

/* One round trip: set_config() of every pinned setting, for the session. */
static int pin_settings(PGconn *conn, ecplan_error *err)
{
	ecplan_strbuf sql = ECPLAN_STRBUF_INIT;
	const char *params[2 * NPINNED];
	size_t i;
	int rc;

	ecplan_strbuf_adds(&sql, "SELECT ");
	for (i = 0; i < NPINNED; i++) {
		ecplan_strbuf_addf(&sql, "%sset_config($%zu, $%zu, false)", i ? ", " : "", 2 * i + 1,
				   2 * i + 2);
		params[2 * i] = pinned[i][0];
		params[2 * i + 1] = pinned[i][1];
	}
	rc = ecplan_db_query(NULL, conn, sql.buf, (int)(2 * NPINNED), params, err);
	ecplan_strbuf_release(&sql);
	if (rc < 0)
		ecplan_error_hint(err, "ecplan pins its session's DateStyle, TimeZone, search_path and"
				  " similar settings; check that the server accepts them");
	return rc;
}

static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int ecplan_db_connect(PGconn **out, const char *conninfo, ecplan_error *err)
{
	ecplan_db_source src = ECPLAN_DB_FROM_OPTION;
	const char *keywords[6], *values[6];
	const char *env;
	int n = 0;
	PGconn *conn;

	*out = NULL;
	if (!conninfo)
		conninfo = ecplan_db_resolve(NULL, &src);

	if (is_connection_string(conninfo)) {
		char *perr = NULL;
		PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
		if (!opts) {
			char *msg = redact_parse_error(perr ? perr : "out of memory", conninfo);
			PQfreemem(perr);
			if (err && !err->code) {
				ecplan_error_set(err, ECPLAN_EINVALID, "invalid connection string from %s: %s",
						 ecplan_db_source_name(src), msg);
				ecplan_error_hint(err, "use a libpq connection string (\"host=... dbname=...\")"
						  " or a URI (\"postgresql://user@host/dbname\")");
			}
			free(msg);
			return ECPLAN_EINVALID;
		}
		PQconninfoFree(opts);
	}

	/* Settings before "dbname" can be overridden by the expanded conninfo,
	 * those after it cannot. */
	env = getenv("PGCONNECT_TIMEOUT");
	if (!env || !*env) {
		keywords[n] = "connect_timeout";
		values[n++] = "10";
	}
	keywords[n] = "dbname";
	values[n++] = conninfo;
	keywords[n] = "application_name";
	values[n++] = "ecplan";
	keywords[n] = "client_encoding";
	values[n++] = "UTF8";
	keywords[n] = NULL;
	values[n] = NULL;

	conn = PQconnectdbParams(keywords, values, 1);
	if (!conn)
		return ecplan_error_set(err, ECPLAN_ERR, "could not connect to the database: out of memory");
	if (PQstatus(conn) != CONNECTION_OK) {
		if (err && !err->code) {
			char *target = ecplan_db_describe_conn(conn);
			ecplan_error_set(err, ECPLAN_ERR, "could not connect to the database%s%s%s",
					 *target ? " (" : "", target, *target ? ")" : "");
			set_trimmed(err->detail, sizeof(err->detail), PQerrorMessage(conn));
			switch (src) {
			case ECPLAN_DB_FROM_OPTION:
				ecplan_error_hint(err, "check the --db connection string");
				break;
			case ECPLAN_DB_FROM_ECPLAN_DB:
				ecplan_error_hint(err, "the connection string came from ECPLAN_DB;"
						  " check it, or pass --db");
				break;
			case ECPLAN_DB_FROM_DATABASE_URL:
				ecplan_error_hint(err, "the connection string came from DATABASE_URL;"
						  " check it, or set ECPLAN_DB or pass --db");
				break;
			case ECPLAN_DB_FROM_DEFAULTS:
				ecplan_error_hint(err, "no --db, ECPLAN_DB or DATABASE_URL was given, so libpq used"
						  " the PG* variables (PGHOST, PGPORT, PGUSER, PGDATABASE)"
						  " and its defaults; set one of them");
				break;
			}
			free(target);
		}
		PQfinish(conn);
		return ECPLAN_ERR;
	}
	PQsetNoticeProcessor(conn, ignore_notice, NULL);
	if (pin_settings(conn, err) < 0) {
		PQfinish(conn);
		return ECPLAN_ERR;
	}
	ecplan_db_cancel_register(conn);
	*out = conn;
	return 0;
}

void ecplan_db_close(PGconn *conn)
{
	if (conn) {
		ecplan_db_cancel_unregister(conn);
		PQfinish(conn);
	}
}

int ecplan_db_error_from_result(ecplan_error *err, PGconn *conn, const PGresult *res)
{
	const char *state, *primary, *detail, *hint, *context;

	if (!err || err->code)
		return ECPLAN_ERR;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	context = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;

	if (!conn || PQstatus(conn) == CONNECTION_BAD) {
		ecplan_error_set(err, ECPLAN_ERR, "connection to the database was lost");
		if (primary)
			set_trimmed(err->detail, sizeof(err->detail), primary);
		else if (res && *PQresultErrorMessage(res))
			set_trimmed(err->detail, sizeof(err->detail), PQresultErrorMessage(res));
		else if (conn)
			set_trimmed(err->detail, sizeof(err->detail), PQerrorMessage(conn));
		ecplan_error_hint(err, "check that the server is up and reachable, then run the command again");
	} else if (primary) {
		ecplan_error_set(err, ECPLAN_ERR, "%s", primary);
		if (detail && context)
			ecplan_error_detail(err, "%s\ncontext: %s", detail, context);
		else if (detail)
			ecplan_error_detail(err, "%s", detail);
		else if (context)
			ecplan_error_detail(err, "context: %s", context);
		if (hint)
			ecplan_error_hint(err, "%s", hint);
	} else {
		const char *msg = res ? PQresultErrorMessage(res) : "";
		if (!*msg)
			msg = PQerrorMessage(conn);
		if (*msg) {
			ecplan_error_set(err, ECPLAN_ERR, "database error");
			set_trimmed(err->message, sizeof(err->message), msg);
		} else if (res) {
			ecplan_error_set(err, ECPLAN_ERR, "unexpected result from the database: %s",
					 PQresStatus(PQresultStatus(res)));
		} else {
			ecplan_error_set(err, ECPLAN_ERR, "no result from the database");
		}
	}
	if (state)
		set_trimmed(err->sqlstate, sizeof(err->sqlstate), state);
	return ECPLAN_ERR;
}

static bool result_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);
	return res && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY);
}

int ecplan_db_exec(PGconn *conn, const char *sql, ecplan_error *err)
{
	PGresult *res = PQexec(conn, sql);
	int rc = 0;

	if (!result_ok(res))
		rc = ecplan_db_error_from_result(err, conn, res);
	PQclear(res);
	return rc;
}

int ecplan_db_query(PGresult **out, PGconn *conn, const char *sql, int nparams,
		    const char *const *params, ecplan_error *err)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (out)
		*out = NULL;
	if (!result_ok(res)) {
		ecplan_db_error_from_result(err, conn, res);
		PQclear(res);
		return ECPLAN_ERR;
	}
	if (out)
		*out = res;
	else
		PQclear(res);
	return 0;
}

int ecplan_db_query_value(char **out, PGconn *conn, const char *sql, int nparams,
			  const char *const *params, ecplan_error *err)
{
	PGresult *res = NULL;
	int rc;

	*out = NULL;
	if ((rc = ecplan_db_query(&res, conn, sql, nparams, params, err)) < 0)
		return rc;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 1) {
		rc = ecplan_error_set(err, ECPLAN_ERR,
				      "expected one value from the database, got %d rows of %d columns",
				      PQntuples(res), PQnfields(res));
	} else if (!PQgetisnull(res, 0, 0)) {
		*out = ecplan_xstrdup(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return rc;
}

int ecplan_db_server_version(PGconn *conn)
{
	return conn ? PQserverVersion(conn) : 0;
}

bool ecplan_db_error_is(const ecplan_error *err, const char *sqlstate)
{
	return err && err->code && sqlstate && strcmp(err->sqlstate, sqlstate) == 0;
}

bool ecplan_db_error_is_lock_timeout(const ecplan_error *err)
{
	return ecplan_db_error_is(err, ECPLAN_SQLSTATE_LOCK_NOT_AVAILABLE);
}

bool ecplan_db_error_is_retryable(const ecplan_error *err)
{
	return ecplan_db_error_is(err, ECPLAN_SQLSTATE_LOCK_NOT_AVAILABLE) ||
	       ecplan_db_error_is(err, ECPLAN_SQLSTATE_SERIALIZATION_FAILURE) ||
	       ecplan_db_error_is(err, ECPLAN_SQLSTATE_DEADLOCK_DETECTED);
}

int ecplan_db_begin(PGconn *conn, ecplan_error *err)
{
	return ecplan_db_exec(conn, "BEGIN", err);
}

int ecplan_db_commit(PGconn *conn, ecplan_error *err)
{
	PGresult *res = PQexec(conn, "COMMIT");
	int rc = 0;

	if (!result_ok(res)) {
		rc = ecplan_db_error_from_result(err, conn, res);
	} else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		/* COMMIT of a failed transaction block: the server rolled back. */
		if (err && !err->code) {
			ecplan_error_set(err, ECPLAN_ERR, "the transaction was rolled back instead of committed");
			ecplan_error_detail(err, "a statement in it had failed");
		}
		rc = ECPLAN_ERR;
	}
	PQclear(res);
	return rc;
}

int ecplan_db_rollback(PGconn *conn, ecplan_error *err)
{
	return ecplan_db_exec(conn, "ROLLBACK", err);
}

bool ecplan_db_in_transaction(PGconn *conn)
{
	PGTransactionStatusType st = PQtransactionStatus(conn);
	return st == PQTRANS_INTRANS || st == PQTRANS_INERROR || st == PQTRANS_ACTIVE;
}

static int set_timeouts(PGconn *conn, long lock_ms, long stmt_ms, bool local, ecplan_error *err)
{
	char lock_v[32], stmt_v[32];
	const char *params[3];

	snprintf(lock_v, sizeof(lock_v), "%ld", lock_ms);
	snprintf(stmt_v, sizeof(stmt_v), "%ld", stmt_ms);
	params[0] = lock_ms >= 0 ? lock_v : NULL;
	params[1] = stmt_ms >= 0 ? stmt_v : NULL;
	params[2] = local ? "true" : "false";
	/* set_config(name, NULL, ...) would fail: skip the NULL ones. */
	return ecplan_db_query(NULL, conn,
			       "SELECT CASE WHEN $1::text IS NOT NULL"
			       " THEN set_config('lock_timeout', $1, $3::boolean) END,"
			       " CASE WHEN $2::text IS NOT NULL"
			       " THEN set_config('statement_timeout', $2, $3::boolean) END",
			       3, params, err);
}

int ecplan_db_set_local_timeouts(PGconn *conn, long lock_timeout_ms, long statement_timeout_ms,
				 ecplan_error *err)
{
	return set_timeouts(conn, lock_timeout_ms, statement_timeout_ms, true, err);
}

int ecplan_db_set_session_timeouts(PGconn *conn, long lock_timeout_ms, long statement_timeout_ms,
				   ecplan_error *err)
{
	return set_timeouts(conn, lock_timeout_ms, statement_timeout_ms, false, err);
}

static int query_bool(bool *out, PGconn *conn, const char *sql, const char *param, ecplan_error *err)
{
	char *v = NULL;
	int rc = ecplan_db_query_value(&v, conn, sql, 1, &param, err);

	if (rc == 0)
		*out = v && strcmp(v, "t") == 0;
	free(v);
	return rc;
}

int ecplan_db_try_advisory_lock(PGconn *conn, const char *key, bool *got, ecplan_error *err)
{
	*got = false;
	return query_bool(got, conn, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key, err);
}

int ecplan_db_advisory_unlock(PGconn *conn, const char *key, bool *released, ecplan_error *err)
{
	bool r = false;
	int rc = query_bool(&r, conn, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key, err);

	if (released)
		*released = r;
	return rc;
}

/*
 * A bigint advisory key shows in pg_locks as classid = high 32 bits,
 * objid = low 32 bits, objsubid = 1 (the two-int4 form uses objsubid 2).
 */
static const char holder_sql[] =
	"WITH k AS (SELECT hashtextextended($1, 0) AS k)"
	" SELECT a.pid, coalesce(a.application_name, ''), a.usename, host(a.client_addr),"
	"        date_trunc('second', a.backend_start)::text, a.state"
	" FROM k, pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
	" WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
	"   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
	"   AND l.classid::bigint = ((k.k >> 32) & 4294967295)"
	"   AND l.objid::bigint = (k.k & 4294967295)"
	" ORDER BY a.pid";

int ecplan_db_advisory_lock_holder(char **out, PGconn *conn, const char *key, ecplan_error *err)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	PGresult *res = NULL;
	int rc, i;

	*out = NULL;
	if ((rc = ecplan_db_query(&res, conn, holder_sql, 1, &key, err)) < 0)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		if (sb.len)
			ecplan_strbuf_adds(&sb, "; ");
		ecplan_strbuf_addf(&sb, "pid %s (application_name \"%s\"", PQgetvalue(res, i, 0),
				   PQgetvalue(res, i, 1));
		if (!PQgetisnull(res, i, 2))
			ecplan_strbuf_addf(&sb, ", user \"%s\"", PQgetvalue(res, i, 2));
		if (!PQgetisnull(res, i, 3))
			ecplan_strbuf_addf(&sb, ", client %s", PQgetvalue(res, i, 3));
		if (!PQgetisnull(res, i, 4))
			ecplan_strbuf_addf(&sb, ", connected since %s", PQgetvalue(res, i, 4));
		if (!PQgetisnull(res, i, 5))
			ecplan_strbuf_addf(&sb, ", state %s", PQgetvalue(res, i, 5));
		ecplan_strbuf_addch(&sb, ')');
	}
	PQclear(res);
	if (sb.len)
		*out = ecplan_strbuf_detach(&sb);
	ecplan_strbuf_release(&sb);
	return 0;
}
