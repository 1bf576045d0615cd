#ifndef ECPLAN_ERROR_H
#define ECPLAN_ERROR_H
/*
 * Errors. Library functions return 0 on success or a negative ecplan_code;
 * "expected" failures have their own codes so the CLI can map them to exit
 * codes (see src/cli/exitcodes.h). Functions that can fail take an optional,
 * caller-owned ecplan_error which they fill; the first error wins, like
 * jansson's json_error_t.
 *
 * Messages follow PostgreSQL's style: `message` is a short lowercase primary
 * line without a full stop, `detail` adds facts, `hint` says what to do.
 */
#include <stddef.h>

typedef enum ecplan_code {
	ECPLAN_OK = 0,
	ECPLAN_ERR = -1,          /* runtime or database error */
	ECPLAN_EINVALID = -2,     /* usage error or invalid plan */
	ECPLAN_EPRECONDITION = -3,/* a precondition of the phase failed */
	ECPLAN_ELOCKED = -4,      /* another runner holds this plan */
	ECPLAN_EGATE = -5,        /* a gate webhook failed */
	ECPLAN_ELOCKTIMEOUT = -6, /* lock retries exhausted */
	ECPLAN_ETIMEOUT = -7,     /* wait timed out */
	ECPLAN_EDRIFT = -8,       /* plan file differs from the registered plan */
	ECPLAN_EIMPOSSIBLE = -9,  /* the requested move is not possible */
	ECPLAN_ENOTFOUND = -10,   /* no such plan registered */
	ECPLAN_EINTERRUPTED = -11, /* stopped by a signal (ecplan_db_interrupt) */
	ECPLAN_EPAUSED = -12      /* the plan is paused (ecplan pause) */
} ecplan_code;

typedef struct ecplan_error {
	int code;             /* an ecplan_code; 0 while unset */
	char message[512];
	char detail[4096];
	char hint[512];
	char path[256];       /* JSON path such as $.change.new_column, or "" */
	char source[256];     /* file name, or "" */
	int line;             /* 1-based; 0 when unknown */
	int column;           /* 1-based; 0 when unknown */
	char sqlstate[6];     /* SQLSTATE of a database error, or "" */
	long http_status;     /* HTTP status of a webhook error, or 0 */
} ecplan_error;

/* Resets err to "no error". NULL is allowed. */
void ecplan_error_clear(ecplan_error *err);

/*
 * Sets code and message unless err already holds an error (first wins).
 * Returns code, so callers can write `return ecplan_error_set(err, ...)`.
 * NULL err is allowed and only returns code.
 */
int ecplan_error_set(ecplan_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Set detail/hint of an error that was just set (overwrites). */
void ecplan_error_detail(ecplan_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ecplan_error_hint(ecplan_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A growable list of errors, for validation that reports every problem. */
typedef struct ecplan_diags {
	ecplan_error *items;
	size_t count;
	size_t alloc;
} ecplan_diags;

#define ECPLAN_DIAGS_INIT { NULL, 0, 0 }
/* Appends a zeroed error and returns it; the pointer is valid until the next add. */
ecplan_error *ecplan_diags_add(ecplan_diags *d);
void ecplan_diags_release(ecplan_diags *d);

/*
 * Formats one error the way the CLI prints it:
 *   <source>:<line>:<column>: <path>: <message>
 *   detail: ...
 *   hint: ...
 * Returns a malloc'ed string the caller frees.
 */
char *ecplan_error_format(const ecplan_error *err);

#endif
