#ifndef ECPLAN_CLI_H
#define ECPLAN_CLI_H
/*
 * Shared pieces of the command-line tool: exit codes, the command table and
 * helpers that talk to the user. Only the CLI prints and chooses exit codes;
 * the library never does.
 */
#include <stdbool.h>

#include "ecplan/error.h"
#include "ecplan/plan.h"

struct json_t;

/* Exit codes: a public contract (README.md, `ecplan --help`). */
enum {
	EXIT_DONE = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_PRECONDITION = 3,
	EXIT_LOCKED = 4,
	EXIT_GATE = 5,
	EXIT_LOCK_RETRIES = 6,
	EXIT_WAIT_TIMEOUT = 7,
	EXIT_DRIFT = 8,
	EXIT_IMPOSSIBLE = 9,
	EXIT_WAIT_ROLLED_BACK = 10,   /* wait: the plan is rolled_back */
	EXIT_WAIT_ROLLED_BELOW = 11,  /* wait: rolled back below the awaited phase */
	EXIT_PAUSED = 12              /* advance: the plan is paused (ecplan resume NAME) */
};

/* True when the command line has --json: errors go to stderr as one JSON
 * object (README "Errors as JSON"), results to stdout as JSON. */
extern bool cli_json;

typedef struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;   /* one line: arguments */
	const char *summary; /* one line */
	const char *help;    /* the body of `ecplan help <cmd>` */
} cli_command;

extern const cli_command cli_commands[];
const cli_command *cli_find_command(const char *name);
/* Prints the help of cmd to stdout. */
void cli_print_help(const cli_command *cmd);
/* The exit-code table, shared by every help text. */
extern const char cli_exit_codes_text[];

/*
 * SIGINT/SIGTERM for long commands (advance, rollback, wait): the first
 * signal calls ecplan_db_interrupt() (cancels the statements in flight; the
 * runner then returns ECPLAN_EINTERRUPTED), a second one exits at once with
 * 128 + the signal number.
 */
void cli_install_signal_handlers(void);
/* 128 + the signal received (130 for SIGINT, 143 for SIGTERM). */
int cli_signal_exit_code(void);
/* After the cleanup: ends the process by the signal received (so that the
 * parent sees it, and a shell $? is 130 or 143); returns
 * cli_signal_exit_code() only if that did not end it. */
int cli_end_by_signal(void);

/* Maps an ecplan_code to an exit code. */
int cli_exit_code(int code);
/* The stable name of an ecplan_code in JSON errors ("precondition", ...). */
const char *cli_code_name(int code);
/* Reports n errors on stderr: as "ecplan: <formatted error>" lines, or with
 * --json as one object (the first error, exit_code, and all n in "errors").
 * code_name overrides the name derived from each error's code (NULL: keep). */
void cli_report(const ecplan_error *errs, size_t n, int exit_code, const char *code_name);
/* One error as the JSON object of README "Errors as JSON" (no exit_code);
 * caller owns it. */
struct json_t *cli_error_json(const ecplan_error *e);
/* Prints a JSON value on stdout, indented, keys in insertion order. */
void cli_print_json(struct json_t *o);
/* "schema.table: column -> new_column" of each change ("; "-separated, after
 * "N changes: " when more than one). Caller frees. */
char *cli_plan_summary(const ecplan_plan *plan);
/* [{table, column, new_column, type}] of every change, in plan order. */
struct json_t *cli_changes_json(const ecplan_plan *plan);
/* Prints one error (cli_report with its own exit code). */
void cli_print_error(const ecplan_error *err);
/* Builds an error of ecplan_code `code`, prints it and returns its exit
 * code. detail and hint may be NULL. */
int cli_fail(int code, const char *detail, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prints a usage error for cmd to stderr and returns EXIT_USAGE. */
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A usage error for an option getopt_long refused: names a missing value or
 * suggests the closest of opts ("did you mean"). Returns EXIT_USAGE. */
struct option;
/* "; did you mean \"X\"?" for the phase and/or state name closest to word,
 * or "" (a static buffer, valid until the next call). */
const char *cli_suggest_name(const char *word, bool phases, bool states);
int cli_option_error(const cli_command *cmd, const struct option *opts, const char *arg);
/* Loads and validates a plan file; on failure prints every error and
 * returns NULL. */
ecplan_plan *cli_load_plan(const char *path);
/* Handles -h/--help for cmd: returns true when it printed help. */
bool cli_wants_help(int argc, char **argv);

/* Connects (--db, ECPLAN_DB, DATABASE_URL, PG*); prints the error. */
struct pg_conn;
int cli_connect(struct pg_conn **out, const char *db);
/* cli_connect, then whether schema ecplan exists (read-only commands do not
 * create it). Returns 0, or -1 after printing the error. */
int cli_connect_state(struct pg_conn **out, const char *db, bool *exists);
/* A plan name from NAME or PLAN.json (loading the file); NULL after
 * printing why. Caller frees. */
char *cli_plan_name(const char *arg);

/* Parses --json and --db (status, history); returns optind or -1 after a
 * usage error. */
int cli_parse_json_db(const cli_command *self, int argc, char **argv, bool *as_json,
		      const char **db);
/* Parses [--db X] [--json] PLAN.json (check, verify; --json only when
 * as_json is not NULL); returns the plan, or NULL with *rc set after printing
 * why. */
ecplan_plan *cli_parse_plan_args(const cli_command *self, int argc, char **argv, const char **db,
				 bool *as_json, int *rc);
/* The `status --json` object of one plan (also used by wait). */
struct json_t;
struct pg_conn;
struct ecplan_plan_row;
struct json_t *cli_status_json(struct pg_conn *conn, const struct ecplan_plan_row *row);
/* advance and rollback: parse options, open a runner, run, report. */
int cli_run_phases(bool rollback, int argc, char **argv);

int cmd_validate(int argc, char **argv);
int cmd_advance(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_webhook(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_update(int argc, char **argv);

#endif
