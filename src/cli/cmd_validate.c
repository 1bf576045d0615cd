/* ecplan validate: check plan files, no database. */
#include <stdio.h>

#include "cli.h"

int cmd_validate(int argc, char **argv)
{
	const cli_command *self = cli_find_command("validate");
	if (argc < 2)
		return cli_usage_error(self, "no plan file given");
	int rc = EXIT_DONE;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1])
			return cli_option_error(self, NULL, argv[i]);
	}
	for (int i = 1; i < argc; i++) {
		ecplan_plan *plan = cli_load_plan(argv[i]);
		if (!plan) {
			rc = EXIT_USAGE;
			continue;
		}
		printf("%s: valid plan \"%s\" (%s.%s: %s -> %s)\n", argv[i], plan->name, plan->schema,
		       plan->table, plan->column, plan->new_column);
		ecplan_plan_free(plan);
	}
	return rc;
}
