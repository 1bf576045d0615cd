/* Unit tests for watch.h's pure parts: how a runner is described to people
 * and how they can tell whether it is alive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ecplan/watch.h"

static void test_describe_published(void **state)
{
	(void)state;
	ecplan_runner_info w = { .held = true, .backend_pid = 4242, .client_pid = 777,
				 .host = "ci-7", .started_at = "2026-11-30T16:00:00Z",
				 .application_name = "ecplan", .client_addr = "10.0.0.5" };
	char *d = ecplan_runner_info_describe(&w);
	assert_string_equal(d, "ecplan pid 777 on host \"ci-7\" since 2026-11-30T16:00:00Z (server backend pid "
			       "4242, application_name \"ecplan\", client address 10.0.0.5)");
	free(d);
	char *h = ecplan_runner_info_alive_hint(&w, "users-email");
	assert_non_null(strstr(h, "kill -0 777"));
	assert_non_null(strstr(h, "ps -p 777"));
	assert_non_null(strstr(h, "on host \"ci-7\""));
	assert_non_null(strstr(h, "ecplan status users-email"));
	free(h);
}

static void test_describe_unpublished(void **state)
{
	(void)state;
	/* Between taking the lock and publishing: only the backend is known. */
	ecplan_runner_info w = { .held = true, .backend_pid = 99, .client_pid = -1,
				 .application_name = "ecplan" };
	char *d = ecplan_runner_info_describe(&w);
	assert_string_equal(d, "a runner that has not published its pid and host yet (server backend pid 99, "
			       "application_name \"ecplan\")");
	free(d);
	char *h = ecplan_runner_info_alive_hint(&w, "p");
	assert_non_null(strstr(h, "server backend pid 99"));
	assert_non_null(strstr(h, "pg_terminate_backend(99)"));
	assert_null(strstr(h, "kill -0"));
	free(h);
	ecplan_runner_info none = { .held = false, .client_pid = -1 };
	d = ecplan_runner_info_describe(&none);
	assert_string_equal(d, "no runner");
	free(d);
}

static void test_release(void **state)
{
	(void)state;
	ecplan_runner_info w = { .held = true, .backend_pid = 1, .client_pid = 2 };
	w.host = strdup("h");
	w.started_at = strdup("t");
	w.application_name = strdup("ecplan");
	w.client_addr = NULL;
	ecplan_runner_info_release(&w);
	assert_false(w.held);
	assert_null(w.host);
	assert_int_equal(w.client_pid, -1);
	ecplan_runner_info_release(&w); /* twice is harmless */
	ecplan_runner_info_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe_published),
		cmocka_unit_test(test_describe_unpublished),
		cmocka_unit_test(test_release),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
