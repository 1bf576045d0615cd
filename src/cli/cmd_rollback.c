/* ecplan rollback: undo phases, newest first; shares its runner with advance. */
#include "cli.h"

int cmd_rollback(int argc, char **argv)
{
	return cli_run_phases(true, argc, argv);
}
