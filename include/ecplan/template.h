#ifndef ECPLAN_TEMPLATE_H
#define ECPLAN_TEMPLATE_H
/*
 * ${...} substitution in webhook urls, header values and bodies.
 * Pure apart from reading the environment, which the caller can replace.
 *
 * Variables:
 *   ${env.NAME}   the environment variable NAME ([A-Za-z_][A-Za-z0-9_]*);
 *                 unset is an error, never an empty string (a set but empty
 *                 variable expands to "")
 *   ${plan.name}  ${event}  ${phase}  ${table}  ${column}  ${new_column}
 *                 from ecplan_template_vars; a NULL value (e.g. no phase
 *                 for the "failed" event) expands to ""
 * Any other name, an empty ${}, and a "${" without its "}" are errors.
 * Names are exact: no blanks, no defaults, no nesting.
 *
 * Escaping: "$${" is a literal "${" (so a body can mention "${event}"
 * verbatim by writing "$${event}"). Every other "$" is literal, including
 * "$$" not followed by "{": "$5", "$$" and "a$b" stay as written.
 *
 * Where a value lands decides how it is encoded (flags below): in a body
 * (sent as application/json) values are JSON-string-escaped, so
 * "\"table\": \"${table}\"" stays valid JSON for a table called
 * `Weird "Table"`; in a url, values other than ${env.*} are
 * percent-encoded, while ${env.*} goes in verbatim so a whole secret url can
 * come from the environment; header values are inserted verbatim (the
 * webhook module rejects results containing CR or LF).
 *
 * Error messages name variables, never their values: environment values
 * are often secrets.
 */
#include <stdbool.h>
#include <stddef.h>

#include "ecplan/error.h"
#include "ecplan/plan.h"

/* Looks up an environment variable; returns NULL when it is unset. The
 * returned string must stay valid until the next call. */
typedef const char *(*ecplan_env_fn)(const char *name, void *ctx);

typedef struct ecplan_template_vars {
	const char *plan_name;   /* ${plan.name} */
	const char *event;       /* ${event}, e.g. "backfill.before" */
	const char *phase;       /* ${phase}, e.g. "backfill" */
	const char *table;       /* ${table} */
	const char *column;      /* ${column} */
	const char *new_column;  /* ${new_column} */
	ecplan_env_fn env;       /* NULL: getenv() */
	void *env_ctx;
} ecplan_template_vars;

/* Flags for ecplan_template_render. */
#define ECPLAN_TEMPLATE_RAW      0u      /* values inserted as they are */
#define ECPLAN_TEMPLATE_JSON     (1u << 0) /* values JSON-string-escaped */
#define ECPLAN_TEMPLATE_URL      (1u << 1) /* non-env values percent-encoded */
/* Copy ${env.NAME} through as written without looking it up (an unset
 * variable is then no error): for secret-free descriptions of a template. */
#define ECPLAN_TEMPLATE_KEEP_ENV (1u << 2)

/*
 * Expands tmpl. On success returns 0 and sets *out to a malloc'ed string
 * the caller owns (it may hold secrets from the environment: never log it).
 * On failure returns ECPLAN_EINVALID, sets *out to NULL and fills err (first
 * problem only; message and hint, no path) without revealing any value.
 * vars may be NULL (all non-env variables "", env from getenv()).
 */
int ecplan_template_render(char **out, const char *tmpl,
			   const ecplan_template_vars *vars, unsigned flags,
			   ecplan_error *err);

/*
 * True when tmpl contains at least one ${env.*} reference (escaped "$${"
 * does not count).
 */
bool ecplan_template_uses_env(const char *tmpl);

/*
 * Checks, before anything runs, that one webhook can be delivered for
 * every event: all ${...} references in its url, header values and body are
 * known names and every ${env.NAME} is set; the variable named by
 * secret_env (if any) is set and not empty; header names are valid tokens
 * and not among those ecplan sets itself (ecplan_webhook_header_reserved);
 * environment values used in header values contain no CR or LF; the url is
 * http:// or https:// after substitution.
 *
 * Appends one error per problem to diags (caller releases), each with
 * code ECPLAN_EINVALID, message `webhook "<name>": ...` naming the variable
 * (never its value), a hint, path `$.webhooks[<index>].<field>` (header
 * values: `$.webhooks[<index>].headers.<Header-Name>`) and source (may be
 * NULL). env NULL means getenv(). Returns 0 when there are no problems,
 * otherwise ECPLAN_EINVALID.
 */
int ecplan_template_check_webhook(const ecplan_webhook_spec *spec, size_t index,
				  const char *source, ecplan_env_fn env,
				  void *env_ctx, ecplan_diags *diags);

/* ecplan_template_check_webhook for every webhook of plan, with
 * source = plan->source. Returns 0 or ECPLAN_EINVALID. */
int ecplan_template_check_plan(const ecplan_plan *plan, ecplan_env_fn env,
			       void *env_ctx, ecplan_diags *diags);

#endif
