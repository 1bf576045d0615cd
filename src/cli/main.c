/* ecplan command-line entry point: dispatches to cmd_<name>(). */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("ecplan %s\n", ECPLAN_VERSION);
		return 0;
	}
	fprintf(stderr, "ecplan: not yet implemented\n");
	return 2;
}
