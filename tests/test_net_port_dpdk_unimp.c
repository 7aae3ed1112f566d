/* SPDX-License-Identifier: MIT */
/*
 * netback/port_dpdk_unimp.c (built without libdpdk): open refuses with
 * -ENOTSUP and leaves the out-parameter alone; the table is complete.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "port.h"

static void test_unimp_open(void **state)
{
	const struct net_port_ops *ops = &net_port_dpdk_ops;
	struct net_port_config cfg = {
		.ifname = "vif0.0",
		.args = "net_null0",
		.nr_queues = 1,
	};
	struct net_port *p = (struct net_port *)0x1;

	assert_string_equal(ops->name, "dpdk");
	assert_int_equal(ops->open(&cfg, &p), -ENOTSUP);
	assert_ptr_equal(p, (struct net_port *)0x1);
	assert_non_null(ops->close);
	assert_non_null(ops->enable);
	assert_non_null(ops->disable);
	assert_non_null(ops->queue_fd);
	assert_non_null(ops->rx_burst);
	assert_non_null(ops->tx_burst);
	assert_non_null(ops->get_stats);
	ops->close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unimp_open),
	};

	return cmocka_run_group_tests_name("net_port_dpdk_unimp", tests,
					   NULL, NULL);
}
