/* SPDX-License-Identifier: MIT */
/* Runs xensim-demo (what scripts/demo shows) against a private daemon, so
 * the demonstration cannot rot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sim_harness.h"

#ifndef XENSIM_DEMO_BIN
#error "XENSIM_DEMO_BIN must name the xensim-demo binary"
#endif

static void test_demo(void **state)
{
	struct sim_harness h;
	int status;
	pid_t pid;

	assert_int_equal(sim_harness_start(&h), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* XENSIM_DIR was set by the harness. */
		execl(XENSIM_DEMO_BIN, XENSIM_DEMO_BIN, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(sim_harness_stop(&h), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
