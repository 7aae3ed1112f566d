/* SPDX-License-Identifier: MIT */
/* uback/spin.h: the window ends a spin (XB_SPIN_TIMEOUT), a gap between
 * two clock reads longer than XB_SPIN_PREEMPTED_NS ends it as a lost CPU
 * (XB_SPIN_PREEMPTED), and the clock is read once per
 * XB_SPIN_CLOCK_EVERY looks only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "uback/spin.h"

static void sleep_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	while (nanosleep(&ts, &ts))
		;
}

/* The looks before the first clock read: all go on, whatever the clock. */
static void looks_before_clock_read(struct xb_spin *sp)
{
	unsigned int i;

	for (i = 1; i < XB_SPIN_CLOCK_EVERY; i++)
		assert_int_equal(xb_spin_next(sp), XB_SPIN_GO);
}

/* An empty window: looks go on until the first clock read, which ends
 * the spin. */
static void test_timeout(void **state)
{
	struct xb_spin sp;

	(void)state;
	xb_spin_start(&sp, 0);
	looks_before_clock_read(&sp);
	assert_int_equal(xb_spin_next(&sp), XB_SPIN_TIMEOUT);
}

/* Off the CPU between two reads (a sleep stands in for a preemption):
 * the spin ends as preempted even with its window far from over. */
static void test_preempted(void **state)
{
	struct xb_spin sp;

	(void)state;
	xb_spin_start(&sp, 10ull * 1000000000ull);
	looks_before_clock_read(&sp);
	sleep_us(2 * XB_SPIN_PREEMPTED_NS / 1000);
	assert_int_equal(xb_spin_next(&sp), XB_SPIN_PREEMPTED);
}

/* A long window is not cut short by the clock reads themselves. */
static void test_window_open(void **state)
{
	struct xb_spin sp;
	unsigned int i;

	(void)state;
	xb_spin_start(&sp, 10ull * 1000000000ull);
	for (i = 0; i < 4 * XB_SPIN_CLOCK_EVERY; i++)
		/* a preemption by the host is possible; a timeout is not */
		assert_int_not_equal(xb_spin_next(&sp), XB_SPIN_TIMEOUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_preempted),
		cmocka_unit_test(test_window_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
