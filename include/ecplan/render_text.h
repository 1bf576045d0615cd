#ifndef ECPLAN_RENDER_TEXT_H
#define ECPLAN_RENDER_TEXT_H
/*
 * The text `ecplan render` prints for the steps of a phase (render.h).
 * Pure: a function of the steps.
 */
#include <stdbool.h>

#include "ecplan/phase.h"
#include "ecplan/render.h"

/* Readable SQL of a list of steps, with lock and transaction notes as
 * comments. Caller frees. */
char *ecplan_render_steps_text(const ecplan_steps *steps, ecplan_phase phase, bool undo);

#endif
