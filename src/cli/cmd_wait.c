/* ecplan wait: poll a plan's state until it reaches a phase (for CI pipelines). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "ecplan/db.h"
#include "ecplan/state.h"

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	nanosleep(&ts, NULL);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_wait(int argc, char **argv)
{
	const cli_command *self = cli_find_command("wait");
	static const struct option opts[] = {
		{ "until", required_argument, NULL, 'u' },
		{ "timeout", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'i' },
		{ "db", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char *until = NULL, *db = NULL;
	double timeout = 0, interval = 2;
	char *end;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u': until = optarg; break;
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || timeout < 0)
				return cli_usage_error(self, "--timeout takes seconds, e.g. 600");
			break;
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || interval <= 0)
				return cli_usage_error(self, "--interval takes seconds greater than 0");
			break;
		case 'd': db = optarg; break;
		default: return cli_option_error(self, opts, argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(self, "give one plan name");
	if (!until)
		return cli_usage_error(self, "--until PHASE is required");
	ecplan_state target = ecplan_state_parse(until);
	if (ecplan_phase_parse(until) != ECPLAN_PHASE_NONE)
		target = ecplan_phase_result(ecplan_phase_parse(until));
	if (target == ECPLAN_STATE_INVALID)
		return cli_usage_error(self, "unknown phase or state \"%s\"", until);
	char *name = cli_plan_name(argv[optind]);
	if (!name)
		return EXIT_USAGE;
	PGconn *conn = NULL;
	int rc = EXIT_RUNTIME;
	double start = mono();
	if (cli_connect(&conn, db) < 0)
		goto done;
	for (;;) {
		ecplan_error err;
		ecplan_error_clear(&err);
		ecplan_plan_row *row = NULL;
		bool exists = false;
		if (ecplan_state_schema_exists(conn, &exists, &err) < 0 ||
		    (exists && ecplan_state_load(&row, conn, name, &err) < 0)) {
			cli_print_error(&err);
			goto done;
		}
		bool reached = row && row->state == target;
		if (row && target != ECPLAN_STATE_ROLLED_BACK && row->state != ECPLAN_STATE_ROLLED_BACK &&
		    ecplan_state_rank(row->state) >= ecplan_state_rank(target))
			reached = true;
		if (reached) {
			printf("plan \"%s\" is %s\n", name, ecplan_state_name(row->state));
			ecplan_plan_row_free(row);
			rc = EXIT_DONE;
			goto done;
		}
		ecplan_plan_row_free(row);
		if (timeout > 0 && mono() - start + interval > timeout) {
			if (timeout > mono() - start)
				sleep_s(timeout - (mono() - start));
			fprintf(stderr, "ecplan: timed out after %.0f s waiting for plan \"%s\" to reach %s\n",
				timeout, name, ecplan_state_name(target));
			rc = EXIT_WAIT_TIMEOUT;
			goto done;
		}
		sleep_s(interval);
	}
done:
	free(name);
	ecplan_db_close(conn);
	return rc;
}
