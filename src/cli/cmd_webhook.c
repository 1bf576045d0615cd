/* ecplan webhook test: send a test delivery so users can check their receiver. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ecplan/strbuf.h"
#include "ecplan/suggest.h"
#include "ecplan/template.h"
#include "ecplan/webhook.h"

static int print_attempt(const ecplan_webhook_attempt *a, void *ctx)
{
	(void)ctx;
	printf("webhook %s (%s) attempt %d/%d: %s %s -> %s (%ld ms)%s\n", a->webhook, a->event, a->attempt,
	       a->max_attempts, a->method, a->url,
	       a->ok ? "delivered" : (a->error ? a->error : "failed"), a->duration_ms,
	       a->will_retry ? ", retrying" : "");
	if (a->response_body)
		printf("  the receiver answered: %s\n", a->response_body);
	return 0;
}

int cmd_webhook(int argc, char **argv)
{
	const cli_command *self = cli_find_command("webhook");
	static const struct option opts[] = {
		{ "event", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 }
	};
	const char *event = NULL;
	int c;
	if (argc < 2 || strcmp(argv[1], "test"))
		return cli_usage_error(self, "the only subcommand is \"test\"");
	optind = 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'e')
			return cli_option_error(self, opts, argv[optind - 1]);
		event = optarg;
	}
	if (optind != argc - 1)
		return cli_usage_error(self, "give one plan file");
	if (!event)
		return cli_usage_error(self, "--event EVENT is required (e.g. switch.after)");
	if (!ecplan_event_valid(event)) {
		const char *events[2 * ECPLAN_PHASE_COUNT + 4];
		char names[2 * ECPLAN_PHASE_COUNT][24];
		ecplan_strbuf list = ECPLAN_STRBUF_INIT;
		size_t n = 0;
		for (int p = 0; p < ECPLAN_PHASE_COUNT; p++)
			for (int w = 0; w < 2; w++) {
				ecplan_event_name(names[n], sizeof(names[n]), (ecplan_phase)p, w ? "after" : "before");
				events[n] = names[n];
				n++;
			}
		events[n++] = "rollback.before";
		events[n++] = "rollback.after";
		events[n++] = "failed";
		events[n] = NULL;
		for (size_t i = 0; i < n; i++)
			ecplan_strbuf_addf(&list, "%s%s", i ? ", " : "", events[i]);
		const char *s = ecplan_suggest(event, events);
		char *hint = ecplan_xstrfmt("valid events: %s", list.buf);
		int rc = s ? cli_fail(ECPLAN_EINVALID, NULL, hint, "unknown event \"%s\"; did you mean \"%s\"?",
				      event, s)
			   : cli_fail(ECPLAN_EINVALID, NULL, hint, "unknown event \"%s\"", event);
		free(hint);
		ecplan_strbuf_release(&list);
		return rc;
	}
	ecplan_plan *plan = cli_load_plan(argv[optind]);
	if (!plan)
		return EXIT_USAGE;
	int rc = EXIT_DONE;
	const ecplan_webhook_spec **hooks = NULL;
	ecplan_diags diags = ECPLAN_DIAGS_INIT;
	if (ecplan_template_check_plan(plan, NULL, NULL, &diags) < 0) {
		for (size_t i = 0; i < diags.count; i++)
			cli_print_error(&diags.items[i]);
		rc = EXIT_USAGE;
		goto done;
	}
	size_t n = ecplan_plan_webhooks_for(plan, event, &hooks);
	if (n == 0) {
		rc = cli_fail(ECPLAN_EINVALID, NULL, "add the event to a webhook's \"events\", or pick one it lists",
			      "no webhook of plan \"%s\" subscribes to %s", plan->name, event);
		goto done;
	}
	ecplan_error err;
	ecplan_error_clear(&err);
	if (ecplan_webhook_global_init(&err) < 0) {
		cli_print_error(&err);
		rc = EXIT_RUNTIME;
		goto done;
	}
	/* As the runner sends them: several changes are listed, comma-separated. */
	char *table = ecplan_plan_changes_text(plan, ECPLAN_FIELD_TABLE),
	     *column = ecplan_plan_changes_text(plan, ECPLAN_FIELD_COLUMN),
	     *new_column = ecplan_plan_changes_text(plan, ECPLAN_FIELD_NEW_COLUMN);
	char phase[16] = "";
	const char *dot = strchr(event, '.');
	if (dot && strncmp(event, "rollback", 8))
		snprintf(phase, sizeof(phase), "%.*s", (int)(dot - event), event);
	for (size_t i = 0; i < n; i++) {
		char id[ECPLAN_WEBHOOK_DELIVERY_ID_SIZE];
		ecplan_error_clear(&err);
		if (ecplan_webhook_new_delivery_id(id, sizeof(id), &err) < 0) {
			cli_print_error(&err);
			rc = EXIT_RUNTIME;
			break;
		}
		ecplan_webhook_request req = {
			.plan_name = plan->name, .table = table, .column = column,
			.new_column = new_column, .event = event, .phase = phase[0] ? phase : NULL,
			.state = NULL, .delivery_id = id, .phase_attempt = 1, .test = true,
			.error = !strcmp(event, "failed") ? "test delivery: no error happened" : NULL,
		};
		if (ecplan_webhook_deliver(hooks[i], &req, print_attempt, NULL, &err) < 0) {
			cli_print_error(&err);
			rc = EXIT_GATE;
		}
	}
	free(table);
	free(column);
	free(new_column);
	ecplan_webhook_global_cleanup();
done:
	free(hooks);
	ecplan_diags_release(&diags);
	ecplan_plan_free(plan);
	return rc;
}
