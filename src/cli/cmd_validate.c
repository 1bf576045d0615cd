/* ecplan validate: check plan files, no database. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

int cmd_validate(int argc, char **argv)
{
	const cli_command *self = cli_find_command("validate");
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, { NULL, 0, NULL, 0 } };
	int nfiles = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			continue;
		if (argv[i][0] == '-' && argv[i][1])
			return cli_option_error(self, opts, argv[i]);
		nfiles++;
	}
	if (nfiles == 0)
		return cli_usage_error(self, "no plan file given");
	int rc = EXIT_DONE;
	ecplan_diags all = ECPLAN_DIAGS_INIT;
	json_t *files = json_array();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			continue;
		ecplan_diags diags = ECPLAN_DIAGS_INIT;
		ecplan_plan *plan = NULL;
		json_t *f = json_pack("{s:s}", "file", argv[i]);
		json_t *errs = json_array();
		if (ecplan_plan_load_file(&plan, argv[i], &diags) < 0) {
			rc = EXIT_USAGE;
			if (!cli_json) {
				cli_report(diags.items, diags.count, EXIT_USAGE, NULL);
				if (diags.count > 1)
					fprintf(stderr, "ecplan: %s: %zu errors\n", argv[i], diags.count);
			}
			for (size_t k = 0; k < diags.count; k++) {
				json_array_append_new(errs, cli_error_json(&diags.items[k]));
				*ecplan_diags_add(&all) = diags.items[k];
			}
			json_object_set_new(f, "valid", json_false());
		} else {
			char *summary = cli_plan_summary(plan);
			const ecplan_plan *c0 = ecplan_plan_change(plan, 0);
			bool one = plan->nchanges <= 1;
			if (!cli_json)
				printf("%s: valid plan \"%s\" (%s)\n", argv[i], plan->name, summary);
			free(summary);
			json_object_set_new(f, "valid", json_true());
			json_object_set_new(f, "name", json_string(plan->name));
			/* With several changes the single-change fields are null: see "changes". */
			json_object_set_new(f, "schema", one ? json_string(c0->schema) : json_null());
			json_object_set_new(f, "table", one ? json_string(c0->table) : json_null());
			json_object_set_new(f, "column", one ? json_string(c0->column) : json_null());
			json_object_set_new(f, "new_column", one ? json_string(c0->new_column) : json_null());
			json_object_set_new(f, "changes", cli_changes_json(plan));
		}
		json_object_set_new(f, "errors", errs);
		json_array_append_new(files, f);
		ecplan_plan_free(plan);
		ecplan_diags_release(&diags);
	}
	if (cli_json) {
		json_t *o = json_pack("{s:b, s:o}", "valid", rc == EXIT_DONE, "plans", files);
		cli_print_json(o);
		json_decref(o);
		cli_report(all.items, all.count, EXIT_USAGE, NULL);
	} else {
		json_decref(files);
	}
	ecplan_diags_release(&all);
	return rc;
}
