/*
 * libFuzzer target for the plan parser and validator: every input is handed
 * to ecplan_plan_parse() as plan JSON text, and whatever it returns (a plan
 * or a list of errors) is released. A plan that parses is also rendered
 * (every phase and every undo, without a catalog: pure string building), so
 * that names and expressions no test thought of go through the SQL quoting.
 *
 * The input is copied into a buffer of exactly its size, without a
 * terminating NUL, so AddressSanitizer reports any read past the length the
 * parser was given. Build and run: tests/fuzz/README.md.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ecplan/error.h"
#include "ecplan/phase.h"
#include "ecplan/plan.h"
#include "ecplan/render.h"
#include "ecplan/render_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void render_all(const ecplan_plan *plan)
{
	for (int p = ECPLAN_PHASE_EXPAND; p <= ECPLAN_PHASE_CONTRACT; p++) {
		for (int undo = 0; undo <= 1; undo++) {
			ecplan_steps steps;
			if (undo)
				ecplan_render_undo(&steps, plan, NULL, (ecplan_phase)p);
			else
				ecplan_render_phase(&steps, plan, NULL, (ecplan_phase)p);
			char *text = ecplan_render_steps_text(&steps, plan, NULL, (ecplan_phase)p, undo != 0);
			free(text);
			ecplan_steps_release(&steps);
		}
	}
	for (int new_wins = 0; new_wins <= 1; new_wins++)
		free(ecplan_render_trigger_function(plan, NULL, new_wins != 0));
	free(ecplan_render_verify(plan, NULL));
	free(ecplan_render_batch_bound(plan, NULL, true));
	free(ecplan_render_batch_update(plan, NULL, true, true));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* malloc(0) may return NULL; the parser must still get a valid pointer. */
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	if (size)
		memcpy(text, data, size);
	ecplan_diags diags = ECPLAN_DIAGS_INIT;
	ecplan_plan *plan = NULL;
	int rc = ecplan_plan_parse(&plan, text, size, "fuzz.json", &diags);
	/* The contract of ecplan_plan_parse: a plan and no errors, or errors and no plan. */
	if ((rc == 0) != (plan != NULL) || (rc == 0) != (diags.count == 0))
		abort();
	if (plan)
		render_all(plan);
	ecplan_plan_free(plan);
	ecplan_diags_release(&diags);
	free(text);
	return 0;
}
