/*
 * Interrupting ecplan's own statements from a signal handler.
 *
 * Every connection ecplan_db_connect() opens registers a PGcancel here and
 * ecplan_db_close() removes it. ecplan_db_interrupt() is meant to be called
 * from a SIGINT/SIGTERM handler: it records the signal and sends a cancel
 * request for every registered connection with PQcancel(), which libpq
 * documents as safe to call from a signal handler. The library then sees the
 * cancelled statement (SQLSTATE 57014) together with ecplan_db_interrupted()
 * and winds down; it never exits by itself.
 *
 * The slots are changed only with SIGINT and SIGTERM blocked, so the handler
 * never sees a half-written slot.
 */
#include "ecplan/db.h"

#include <signal.h>
#include <stddef.h>

#define SLOTS 32

static struct {
	PGconn *conn;
	PGcancel *cancel;
} slots[SLOTS];

static volatile sig_atomic_t interrupted_by;

static void block(sigset_t *old)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigprocmask(SIG_BLOCK, &s, old);
}

static void unblock(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

void ecplan_db_cancel_register(PGconn *conn)
{
	if (!conn)
		return;
	PGcancel *c = PQgetCancel(conn);
	if (!c)
		return;
	sigset_t old;
	block(&old);
	for (size_t i = 0; i < SLOTS; i++) {
		if (!slots[i].conn) {
			slots[i].cancel = c;
			slots[i].conn = conn;
			c = NULL;
			break;
		}
	}
	unblock(&old);
	if (c) /* more than SLOTS connections: this one cannot be interrupted */
		PQfreeCancel(c);
}

void ecplan_db_cancel_unregister(PGconn *conn)
{
	if (!conn)
		return;
	PGcancel *c = NULL;
	sigset_t old;
	block(&old);
	for (size_t i = 0; i < SLOTS; i++) {
		if (slots[i].conn == conn) {
			c = slots[i].cancel;
			slots[i].cancel = NULL;
			slots[i].conn = NULL;
			break;
		}
	}
	unblock(&old);
	if (c)
		PQfreeCancel(c);
}

void ecplan_db_interrupt(int signo)
{
	char errbuf[256];
	if (interrupted_by)
		return;
	interrupted_by = signo > 0 ? signo : 1;
	for (size_t i = 0; i < SLOTS; i++)
		if (slots[i].cancel)
			(void)PQcancel(slots[i].cancel, errbuf, (int)sizeof(errbuf));
}

int ecplan_db_interrupted(void)
{
	return (int)interrupted_by;
}

void ecplan_db_interrupt_reset(void)
{
	interrupted_by = 0;
}
