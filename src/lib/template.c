/*
 * ${...} substitution for webhooks. One scanner serves both rendering (first
 * problem wins) and the up-front check (every problem is reported), so the
 * two can never disagree about what is valid. Values are never quoted in
 * messages: ${env.*} values are usually secrets.
 */
#include "ecplan/template.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecplan/sign.h"
#include "ecplan/strbuf.h"
#include "ecplan/webhook.h"

#define KNOWN_VARS "${env.NAME}, ${plan.name}, ${event}, ${phase}, ${table}, ${column} and ${new_column}"

/* One problem found while scanning; message and hint are complete. */
typedef void (*problem_fn)(void *ctx, const char *message, const char *hint);

typedef struct problem_first {
	ecplan_error *err;
} problem_first;

static void first_problem(void *ctx, const char *message, const char *hint)
{
	problem_first *pf = ctx;
	if (pf->err && !pf->err->code) {
		ecplan_error_set(pf->err, ECPLAN_EINVALID, "%s", message);
		ecplan_error_hint(pf->err, "%s", hint);
	}
}

static const char *default_env(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

static bool env_name_valid(const char *s, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static void add_json_escaped(ecplan_strbuf *sb, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		switch (*p) {
		case '"': ecplan_strbuf_adds(sb, "\\\""); break;
		case '\\': ecplan_strbuf_adds(sb, "\\\\"); break;
		case '\n': ecplan_strbuf_adds(sb, "\\n"); break;
		case '\r': ecplan_strbuf_adds(sb, "\\r"); break;
		case '\t': ecplan_strbuf_adds(sb, "\\t"); break;
		case '\b': ecplan_strbuf_adds(sb, "\\b"); break;
		case '\f': ecplan_strbuf_adds(sb, "\\f"); break;
		default:
			if (*p < 0x20)
				ecplan_strbuf_addf(sb, "\\u%04x", *p);
			else
				ecplan_strbuf_addch(sb, (char)*p);
		}
	}
}

static void add_percent_encoded(ecplan_strbuf *sb, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			ecplan_strbuf_addch(sb, (char)*p);
		else
			ecplan_strbuf_addf(sb, "%%%02X", *p);
	}
}

static void add_value(ecplan_strbuf *sb, const char *v, unsigned flags, bool from_env)
{
	if (!v)
		return;
	if (flags & ECPLAN_TEMPLATE_JSON)
		add_json_escaped(sb, v);
	else if ((flags & ECPLAN_TEMPLATE_URL) && !from_env)
		add_percent_encoded(sb, v);
	else
		ecplan_strbuf_adds(sb, v);
}

/*
 * Expands tmpl into sb, calling report for every problem (and carrying on,
 * so a check sees them all). Returns the number of problems.
 */
static int expand(ecplan_strbuf *sb, const char *tmpl, const ecplan_template_vars *vars,
		  unsigned flags, problem_fn report, void *report_ctx)
{
	static const ecplan_template_vars novars;
	ecplan_env_fn env;
	void *env_ctx;
	int problems = 0;
	char msg[256];
	const char *p = tmpl;

	if (!vars)
		vars = &novars;
	env = vars->env ? vars->env : default_env;
	env_ctx = vars->env ? vars->env_ctx : NULL;
	if (!p)
		return 0;
	while (*p) {
		const char *name, *end;
		size_t len;

		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			ecplan_strbuf_adds(sb, "${");
			p += 3;
			continue;
		}
		if (p[0] != '$' || p[1] != '{') {
			ecplan_strbuf_addch(sb, *p++);
			continue;
		}
		name = p + 2;
		end = strchr(name, '}');
		if (!end) {
			snprintf(msg, sizeof(msg), "unterminated \"${\" at offset %zu",
				 (size_t)(p - tmpl));
			report(report_ctx, msg, "close the reference with \"}\", or write \"$${\" for a literal \"${\"");
			problems++;
			ecplan_strbuf_adds(sb, p);
			break;
		}
		len = (size_t)(end - name);
		p = end + 1;
		if (len > 4 && !strncmp(name, "env.", 4)) {
			const char *var = name + 4;
			size_t vlen = len - 4;
			char vname[128];
			const char *value;

			if (!env_name_valid(var, vlen) || vlen >= sizeof(vname)) {
				snprintf(msg, sizeof(msg),
					 "invalid environment variable name in \"${%.*s}\"",
					 (int)(len > 80 ? 80 : len), name);
				report(report_ctx, msg, "names are letters, digits and \"_\", not starting with a digit");
				problems++;
				continue;
			}
			if (flags & ECPLAN_TEMPLATE_KEEP_ENV) {
				ecplan_strbuf_add(sb, name - 2, len + 3);
				continue;
			}
			memcpy(vname, var, vlen);
			vname[vlen] = '\0';
			value = env(vname, env_ctx);
			if (!value) {
				snprintf(msg, sizeof(msg),
					 "environment variable \"%s\" is not set", vname);
				report(report_ctx, msg, "export it before running ecplan; ecplan never substitutes an empty string for an unset variable");
				problems++;
				continue;
			}
			add_value(sb, value, flags, true);
			continue;
		}
#define VAR(n, field) \
		if (len == sizeof(n) - 1 && !strncmp(name, n, len)) { \
			add_value(sb, vars->field, flags, false); \
			continue; \
		}
		VAR("plan.name", plan_name)
		VAR("event", event)
		VAR("phase", phase)
		VAR("table", table)
		VAR("column", column)
		VAR("new_column", new_column)
#undef VAR
		snprintf(msg, sizeof(msg), "unknown variable \"${%.*s}\"",
			 (int)(len > 80 ? 80 : len), name);
		report(report_ctx, msg, "known variables are " KNOWN_VARS "; write \"$${\" for a literal \"${\"");
		problems++;
	}
	return problems;
}

int ecplan_template_render(char **out, const char *tmpl,
			   const ecplan_template_vars *vars, unsigned flags,
			   ecplan_error *err)
{
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	problem_first pf = { err };

	*out = NULL;
	if (expand(&sb, tmpl, vars, flags, first_problem, &pf)) {
		ecplan_strbuf_release(&sb);
		/* err may be NULL or hold an earlier error: still fail. */
		return ECPLAN_EINVALID;
	}
	*out = ecplan_strbuf_detach(&sb);
	return 0;
}

static void ignore_problem(void *ctx, const char *message, const char *hint)
{
	(void)ctx;
	(void)message;
	(void)hint;
}

static const char *never_set(const char *name, void *ctx)
{
	(void)name;
	(void)ctx;
	return NULL;
}

bool ecplan_template_uses_env(const char *tmpl)
{
	/* Expanding with an empty environment fails exactly on ${env.*}
	 * references; unknown names are counted too, so compare with a run that
	 * keeps env references. */
	ecplan_strbuf a = ECPLAN_STRBUF_INIT;
	ecplan_template_vars vars = { .env = never_set };
	int with_lookup = expand(&a, tmpl, &vars, 0, ignore_problem, NULL);
	ecplan_strbuf_reset(&a);
	int keeping = expand(&a, tmpl, &vars, ECPLAN_TEMPLATE_KEEP_ENV, ignore_problem, NULL);
	ecplan_strbuf_release(&a);
	return with_lookup > keeping;
}

/* --- checking whole webhooks -------------------------------------------- */

typedef struct check_ctx {
	const ecplan_webhook_spec *spec;
	const char *source;
	ecplan_diags *diags;
	char path[256];
	int problems;
} check_ctx;

static void check_add(check_ctx *c, const char *path, const char *hint,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void check_add(check_ctx *c, const char *path, const char *hint,
		      const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	ecplan_error *e;

	c->problems++;
	if (!c->diags)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = ecplan_diags_add(c->diags);
	ecplan_error_set(e, ECPLAN_EINVALID, "webhook \"%s\": %s",
			 c->spec->name ? c->spec->name : "", msg);
	if (hint)
		ecplan_error_hint(e, "%s", hint);
	snprintf(e->path, sizeof(e->path), "%s", path);
	if (c->source)
		snprintf(e->source, sizeof(e->source), "%s", c->source);
}

static void check_problem(void *ctx, const char *message, const char *hint)
{
	check_ctx *c = ctx;
	check_add(c, c->path, hint, "%s", message);
}

static bool url_scheme_ok(const char *url)
{
	return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

int ecplan_template_check_webhook(const ecplan_webhook_spec *spec, size_t index,
				  const char *source, ecplan_env_fn env,
				  void *env_ctx, ecplan_diags *diags)
{
	/* Non-env variables are known for every event; placeholders stand in. */
	ecplan_template_vars vars = {
		.plan_name = "p", .event = "expand.before", .phase = "expand",
		.table = "t", .column = "c", .new_column = "n",
		.env = env, .env_ctx = env_ctx,
	};
	check_ctx c = { .spec = spec, .source = source, .diags = diags };
	ecplan_strbuf sb = ECPLAN_STRBUF_INIT;
	char base[64];

	snprintf(base, sizeof(base), "$.webhooks[%zu]", index);

	if (spec->url) {
		snprintf(c.path, sizeof(c.path), "%s.url", base);
		if (!expand(&sb, spec->url, &vars, ECPLAN_TEMPLATE_URL, check_problem, &c) &&
		    !url_scheme_ok(sb.buf))
			check_add(&c, c.path, "webhook urls are http:// or https://",
				  "url must start with http:// or https:// after substitution");
		ecplan_strbuf_reset(&sb);
	}
	for (size_t i = 0; i < spec->nheaders; i++) {
		const ecplan_header *h = &spec->headers[i];
		snprintf(c.path, sizeof(c.path), "%s.headers.%s", base,
			 h->name ? h->name : "");
		if (!ecplan_webhook_is_token(h->name)) {
			check_add(&c, c.path, "header names are letters, digits and !#$%&'*+-.^_`|~",
				  "invalid header name \"%.80s\"", h->name ? h->name : "");
			continue;
		}
		if (ecplan_webhook_header_reserved(h->name))
			check_add(&c, c.path,
				  "remove it: ecplan sends Content-Type, User-Agent, Idempotency-Key and X-Ecplan-* itself",
				  "header \"%s\" is set by ecplan", h->name);
		if (!expand(&sb, h->value, &vars, ECPLAN_TEMPLATE_RAW, check_problem, &c) &&
		    strpbrk(sb.buf, "\r\n"))
			check_add(&c, c.path, "header values are one line; check the environment variables it uses",
				  "value of header \"%s\" contains a line break after substitution",
				  h->name);
		ecplan_strbuf_reset(&sb);
	}
	if (spec->body) {
		snprintf(c.path, sizeof(c.path), "%s.body", base);
		expand(&sb, spec->body, &vars, ECPLAN_TEMPLATE_JSON, check_problem, &c);
		ecplan_strbuf_reset(&sb);
	}
	if (spec->secret_env) {
		const char *secret = env ? env(spec->secret_env, env_ctx) : getenv(spec->secret_env);
		snprintf(c.path, sizeof(c.path), "%s.secret_env", base);
		if (!secret)
			check_add(&c, c.path, "export it before running ecplan, or remove secret_env to send unsigned requests",
				  "environment variable \"%s\" named by secret_env is not set",
				  spec->secret_env);
		else if (!*secret)
			check_add(&c, c.path, "an empty secret signs nothing: set it to the receiver's signing secret",
				  "environment variable \"%s\" named by secret_env is empty",
				  spec->secret_env);
		else if ((spec->signature & ECPLAN_SIGNATURE_STANDARD) &&
			 !ecplan_sign_standard_secret_ok(secret))
			check_add(&c, c.path, "a Standard Webhooks secret is \"whsec_\" followed by base64",
				  "environment variable \"%s\" named by secret_env starts with \"whsec_\" "
				  "but the rest is not base64", spec->secret_env);
	}
	ecplan_strbuf_release(&sb);
	return c.problems ? ECPLAN_EINVALID : 0;
}

int ecplan_template_check_plan(const ecplan_plan *plan, ecplan_env_fn env,
			       void *env_ctx, ecplan_diags *diags)
{
	int rc = 0;
	for (size_t i = 0; i < plan->nwebhooks; i++)
		if (ecplan_template_check_webhook(&plan->webhooks[i], i, plan->source,
						  env, env_ctx, diags))
			rc = ECPLAN_EINVALID;
	return rc;
}
