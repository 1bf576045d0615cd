#ifndef ECPLAN_STEPS_H
#define ECPLAN_STEPS_H
/*
 * Steps: the unit the state machine records, and the vocabulary every SQL
 * generator (render.c, the dependent-object units) builds phases with. A
 * step describes itself: its kind, whether it runs in a transaction, the lock
 * each statement takes, whether it reads the whole table. The runner acts on
 * these fields and never looks at SQL text.
 *
 * The statements of a transactional step run in one transaction together
 * with the state update, so a crash leaves the step either done and
 * recorded, or neither. A non-transactional step (CREATE INDEX CONCURRENTLY)
 * runs alone and is made idempotent by cleaning up an invalid leftover first.
 */
#include <stdbool.h>
#include <stddef.h>

typedef enum ecplan_step_kind {
	ECPLAN_STEP_DDL = 0,     /* run the statements */
	ECPLAN_STEP_BACKFILL,    /* the batch loop: statements[0] is the batch template */
	ECPLAN_STEP_VERIFY,      /* statements[0] counts divergent rows; must be 0 */
	ECPLAN_STEP_INDEX,       /* CREATE INDEX CONCURRENTLY of one index */
} ecplan_step_kind;

typedef struct ecplan_stmt {
	char *sql;
	const char *lock;   /* the lock it takes, e.g. "ACCESS EXCLUSIVE, metadata only" */
} ecplan_stmt;

typedef struct ecplan_step {
	char *name;          /* stable within the phase, e.g. "add column" */
	ecplan_step_kind kind;
	bool transactional;  /* may run inside a transaction block */
	ecplan_stmt *stmts;
	size_t nstmts;
	/* Statements run in their own transaction just before every try of the
	 * step's transaction (the contract's archive: taken again when the drop
	 * has to wait, so it holds the values of the moment before the drop). */
	ecplan_stmt *pre;
	size_t npre;
	char *note;          /* a comment for humans, or NULL */
	char *index_name;    /* INDEX steps: the index being built */
	/* Reads the whole table (VALIDATE CONSTRAINT, ANALYZE): runs with no
	 * statement_timeout; when its statements take only SHARE UPDATE
	 * EXCLUSIVE it waits for locks without lock_timeout, watched and bounded
	 * by safety.max_index_wait_s (runner.c), else lock_timeout per try. */
	bool scans_table;
	/* BACKFILL and VERIFY steps: which table of the plan (plan.h table_index). */
	int target;
} ecplan_step;

typedef struct ecplan_steps {
	ecplan_step *items;
	size_t count;
	char **unknowns;     /* what could not be known without a catalog */
	size_t nunknowns;
	char **blockers;     /* what stops this phase (e.g. an index ecplan cannot rebuild) */
	size_t nblockers;
} ecplan_steps;

/* Appends a step named by fmt; the returned pointer is valid until the next
 * step is added. */
ecplan_step *ecplan_steps_add(ecplan_steps *s, ecplan_step_kind kind, bool txn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Appends a statement (takes ownership of sql); lock is a static string. */
void ecplan_step_add_stmt(ecplan_step *st, char *sql, const char *lock);
/* Appends a statement run in its own transaction before every try. */
void ecplan_step_add_pre(ecplan_step *st, char *sql, const char *lock);
/* Appends a line to a list (unknowns, blockers) unless already there. */
void ecplan_steps_add_line(char ***list, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ecplan_steps_release(ecplan_steps *steps);

/* Lock descriptions shared by the generators. */
#define ECPLAN_LOCK_AE_META "ACCESS EXCLUSIVE, metadata only (brief)"
#define ECPLAN_LOCK_SRE "SHARE ROW EXCLUSIVE, brief (blocks writes while held)"
#define ECPLAN_LOCK_NONE "none on the table"
#define ECPLAN_LOCK_SUE "SHARE UPDATE EXCLUSIVE (reads and writes continue)"
#define ECPLAN_LOCK_ROWX "ROW EXCLUSIVE per batch (one short transaction each)"
#define ECPLAN_LOCK_AS "ACCESS SHARE (reads and writes continue)"
#define ECPLAN_LOCK_HELD "ACCESS EXCLUSIVE already held (same transaction)"

#endif
