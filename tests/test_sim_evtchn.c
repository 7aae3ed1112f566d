/* SPDX-License-Identifier: MIT */
/*
 * Event channels under xensim: a guest (guest library) and a backend (the
 * "sim" provider), delivery checked with poll() on both pollable fds.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "uback/hv.h"
#include "xensim/guest.h"
#include "sim_harness.h"

/* Generous: only ever waited on when an event is expected. */
#define WAIT_MS 10000

struct fx {
	struct sim_harness h;
	struct xg_sim *sim;
	struct xb_hv *hv;
	struct xb_evtchn *e;
	struct xg_dom *dom;
};

static int group_setup(void **state)
{
	static struct fx fx;
	struct xb_hv_config cfg = { .provider = "sim" };

	if (sim_harness_start(&fx.h))
		return -1;
	if (xg_sim_connect(fx.h.dir, &fx.sim))
		return -1;
	if (xb_hv_open(&cfg, &fx.hv))  /* sim_dir NULL: $XENSIM_DIR */
		return -1;
	*state = &fx;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *fx = *state;

	xb_hv_close(fx->hv);
	xg_sim_disconnect(fx->sim);
	return sim_harness_stop(&fx->h) ? -1 : 0;
}

static int setup(void **state)
{
	struct fx *fx = *state;
	struct xg_dom_config cfg = { .mem_pages = 16, .nr_grants = 32 };

	if (xg_dom_create(fx->sim, &cfg, &fx->dom))
		return -1;
	return xb_evtchn_open(fx->hv, &fx->e) ? -1 : 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	xb_evtchn_close(fx->e);
	if (fx->dom)
		xg_dom_destroy(fx->dom);
	fx->dom = NULL;
	return 0;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Guest port for dom0, bound by the backend; the bind-time pending event
 * (Xen sets one) is consumed and the port unmasked. */
static void connect_pair(struct fx *fx, evtchn_port_t *gport,
			 evtchn_port_t *bport)
{
	evtchn_port_t p;

	assert_int_equal(xg_evtchn_alloc_unbound(fx->dom, 0, gport), 0);
	assert_int_equal(xb_evtchn_bind(fx->e, xg_dom_id(fx->dom), *gport,
					bport), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	assert_int_equal(p, *bport);
	assert_int_equal(xb_evtchn_unmask(fx->e, *bport), 0);
	assert_int_equal(xb_evtchn_pending(fx->e, &p), -EAGAIN);
}

static void test_bind_marks_pending(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b;

	connect_pair(fx, &g, &b);
	assert_false(readable(xg_evtchn_fd(fx->dom), 0));
}

static void test_guest_to_backend(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b, p;

	connect_pair(fx, &g, &b);
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	assert_int_equal(p, b);
	assert_int_equal(xb_evtchn_pending(fx->e, &p), -EAGAIN);
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
	assert_int_equal(xb_evtchn_unmask(fx->e, b), 0);
	/* Nothing was sent while masked: still nothing. */
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
}

static void test_backend_to_guest(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b, p;

	connect_pair(fx, &g, &b);
	assert_int_equal(xb_evtchn_notify(fx->e, b), 0);
	assert_true(readable(xg_evtchn_fd(fx->dom), WAIT_MS));
	assert_int_equal(xg_evtchn_pending(fx->dom, &p), 0);
	assert_int_equal(p, g);
	assert_int_equal(xg_evtchn_pending(fx->dom, &p), -EAGAIN);
	assert_int_equal(xg_evtchn_unmask(fx->dom, g), 0);
	assert_false(readable(xg_evtchn_fd(fx->dom), 0));
}

static void test_one_pending_bit(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b, p;

	connect_pair(fx, &g, &b);
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	assert_int_equal(xb_evtchn_unmask(fx->e, b), 0);
	/* Three sends before the read were one event. */
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), -EAGAIN);
}

static void test_masked_delivered_on_unmask(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b, p;

	connect_pair(fx, &g, &b);
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	/* Masked now: a notify is held back... */
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), -EAGAIN);
	/* ...and delivered on unmask. */
	assert_int_equal(xb_evtchn_unmask(fx->e, b), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	assert_int_equal(p, b);
	assert_int_equal(xb_evtchn_unmask(fx->e, b), 0);
}

/* ack takes the events sent so far in one step and leaves the port
 * unmasked: the next notification fires. The sim provider has its own
 * (one read where pending + unmask cost three system calls). */
static void test_ack_consumes(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b, p;

	assert_non_null(xb_hv_sim_ops.evtchn_ack);
	connect_pair(fx, &g, &b);
	assert_int_equal(xb_evtchn_ack(fx->e, b), 0);   /* nothing: fine */
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_ack(fx->e, b), 0);
	/* Both sends were one event, taken. */
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), -EAGAIN);
	/* Unmasked: a later send fires. */
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	assert_int_equal(p, b);
	assert_int_equal(xb_evtchn_unmask(fx->e, b), 0);
}

/* A port masked by pending: ack takes what was held back and unmasks. */
static void test_ack_unmasks(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b, p;

	connect_pair(fx, &g, &b);
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);   /* held back */
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
	assert_int_equal(xb_evtchn_ack(fx->e, b), 0);
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_ack(fx->e, b), 0);
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
}

static void test_bind_rules(void **state)
{
	struct fx *fx = *state;
	domid_t id = xg_dom_id(fx->dom);
	evtchn_port_t g, b, b2;

	/* Allocated for domain 5: dom0 may not bind it. */
	assert_int_equal(xg_evtchn_alloc_unbound(fx->dom, 5, &g), 0);
	assert_int_equal(xb_evtchn_bind(fx->e, id, g, &b), -EINVAL);
	/* Bound once: a second bind fails. */
	assert_int_equal(xg_evtchn_alloc_unbound(fx->dom, 0, &g), 0);
	assert_int_equal(xb_evtchn_bind(fx->e, id, g, &b), 0);
	assert_int_equal(xb_evtchn_bind(fx->e, id, g, &b2), -EINVAL);
	/* Bad ports and domains. */
	assert_int_equal(xb_evtchn_bind(fx->e, id, 0, &b2), -EINVAL);
	assert_int_equal(xb_evtchn_bind(fx->e, id, 4000, &b2), -EINVAL);
	assert_int_equal(xb_evtchn_bind(fx->e, id, 100000, &b2), -EINVAL);
	assert_int_equal(xb_evtchn_bind(fx->e, 4321, g, &b2), -ESRCH);
	/* Ports not bound through this handle. */
	assert_int_equal(xb_evtchn_notify(fx->e, b + 1), -EINVAL);
	assert_int_equal(xb_evtchn_unmask(fx->e, b + 1), -EINVAL);
	assert_int_equal(xb_evtchn_ack(fx->e, b + 1), -EINVAL);
	assert_int_equal(xb_evtchn_unbind(fx->e, b + 1), -EINVAL);
	assert_int_equal(xg_evtchn_notify(fx->dom, g + 100), -EINVAL);
}

static void test_guest_closes(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b, p;

	connect_pair(fx, &g, &b);
	assert_int_equal(xg_evtchn_close(fx->dom, g), 0);
	assert_int_equal(xg_evtchn_close(fx->dom, g), -EINVAL);
	/* Our port is now unbound: sending on it is harmless. */
	assert_int_equal(xb_evtchn_notify(fx->e, b), 0);
	assert_false(readable(xg_evtchn_fd(fx->dom), 0));
	assert_int_equal(xg_evtchn_pending(fx->dom, &p), -EAGAIN);
	assert_int_equal(xb_evtchn_unbind(fx->e, b), 0);
	assert_int_equal(xb_evtchn_notify(fx->e, b), -EINVAL);
}

static void test_backend_closes_then_rebind(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b, b2, p;

	connect_pair(fx, &g, &b);
	assert_int_equal(xb_evtchn_unbind(fx->e, b), 0);
	/* The guest's port is unbound again: its sends are dropped... */
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
	/* ...and dom0 may bind it again; the guest follows the new peer. */
	assert_int_equal(xb_evtchn_bind(fx->e, xg_dom_id(fx->dom), g, &b2), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	assert_int_equal(p, b2);
	assert_int_equal(xb_evtchn_unmask(fx->e, b2), 0);
	assert_int_equal(xg_evtchn_notify(fx->dom, g), 0);
	assert_true(readable(xb_evtchn_fd(fx->e), WAIT_MS));
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	assert_int_equal(p, b2);
}

static void test_handle_close_unbinds(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b, p;

	connect_pair(fx, &g, &b);
	xb_evtchn_close(fx->e);
	assert_int_equal(xb_evtchn_open(fx->hv, &fx->e), 0);
	/* Closing the handle unbound b: g may be bound anew. */
	assert_int_equal(xb_evtchn_bind(fx->e, xg_dom_id(fx->dom), g, &b), 0);
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	assert_int_equal(p, b);
}

static void test_two_handles(void **state)
{
	struct fx *fx = *state;
	struct xb_evtchn *e2;
	evtchn_port_t g1, b1, g2, b2, p;

	connect_pair(fx, &g1, &b1);
	assert_int_equal(xb_evtchn_open(fx->hv, &e2), 0);
	assert_int_equal(xg_evtchn_alloc_unbound(fx->dom, 0, &g2), 0);
	assert_int_equal(xb_evtchn_bind(e2, xg_dom_id(fx->dom), g2, &b2), 0);
	assert_int_not_equal(b1, b2);
	assert_int_equal(xb_evtchn_pending(e2, &p), 0);
	assert_int_equal(xb_evtchn_unmask(e2, b2), 0);
	/* Each port fires on its own handle only. */
	assert_int_equal(xg_evtchn_notify(fx->dom, g2), 0);
	assert_true(readable(xb_evtchn_fd(e2), WAIT_MS));
	assert_false(readable(xb_evtchn_fd(fx->e), 0));
	assert_int_equal(xb_evtchn_pending(e2, &p), 0);
	assert_int_equal(p, b2);
	/* The other handle cannot use e2's port. */
	assert_int_equal(xb_evtchn_notify(fx->e, b2), -EINVAL);
	xb_evtchn_close(e2);
}

static void test_domain_destroyed(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g, b, p;

	connect_pair(fx, &g, &b);
	assert_int_equal(xg_dom_destroy(fx->dom), 0);
	fx->dom = NULL;
	assert_int_equal(xb_evtchn_notify(fx->e, b), 0);
	assert_int_equal(xb_evtchn_pending(fx->e, &p), -EAGAIN);
	assert_int_equal(xb_evtchn_unbind(fx->e, b), 0);
}

static void test_many_ports(void **state)
{
	struct fx *fx = *state;
	evtchn_port_t g[40], b[40], p;
	bool seen[40] = { false };
	unsigned int i, j, n = 0;

	for (i = 0; i < 40; i++) {
		assert_int_equal(xg_evtchn_alloc_unbound(fx->dom, 0, &g[i]), 0);
		assert_int_equal(xb_evtchn_bind(fx->e, xg_dom_id(fx->dom), g[i],
						&b[i]), 0);
	}
	/* Drain the bind-time events. */
	for (i = 0; i < 40; i++) {
		assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
		assert_int_equal(xb_evtchn_unmask(fx->e, p), 0);
		/* unmasked ports with no event are not returned again */
	}
	assert_int_equal(xb_evtchn_pending(fx->e, &p), -EAGAIN);
	for (i = 0; i < 40; i += 3)
		assert_int_equal(xg_evtchn_notify(fx->dom, g[i]), 0);
	while (xb_evtchn_pending(fx->e, &p) == 0 && n < 100) {
		for (j = 0; j < 40; j++)
			if (b[j] == p)
				break;
		assert_true(j < 40);
		assert_false(seen[j]);
		assert_int_equal(j % 3, 0);
		seen[j] = true;
		n++;
	}
	assert_int_equal(n, 14);
}

/* A backend process that dies without unbinding: its ports are closed
 * with its connection, so the guest's port can be bound again. */
static void test_backend_crash_frees_ports(void **state)
{
	struct fx *fx = *state;
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	evtchn_port_t g, b, p;
	int status, i, err = -EINVAL;
	pid_t pid;

	assert_int_equal(xg_evtchn_alloc_unbound(fx->dom, 0, &g), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct xb_hv_config cfg = { .provider = "sim" };
		struct xb_hv *hv;
		struct xb_evtchn *e;

		if (xb_hv_open(&cfg, &hv) || xb_evtchn_open(hv, &e) ||
		    xb_evtchn_bind(e, xg_dom_id(fx->dom), g, &b))
			_exit(1);
		_exit(0);               /* no unbind, no close */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The daemon notices the hang-up asynchronously: retry, bounded. */
	for (i = 0; i < 1000 && err == -EINVAL; i++) {
		err = xb_evtchn_bind(fx->e, xg_dom_id(fx->dom), g, &b);
		if (err == -EINVAL)
			nanosleep(&tick, NULL);
	}
	assert_int_equal(err, 0);
	assert_int_equal(xb_evtchn_pending(fx->e, &p), 0);
	assert_int_equal(p, b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_bind_marks_pending),
		T(test_guest_to_backend),
		T(test_backend_to_guest),
		T(test_one_pending_bit),
		T(test_masked_delivered_on_unmask),
		T(test_ack_consumes),
		T(test_ack_unmasks),
		T(test_bind_rules),
		T(test_guest_closes),
		T(test_backend_closes_then_rebind),
		T(test_handle_close_unbinds),
		T(test_two_handles),
		T(test_domain_destroyed),
		T(test_many_ports),
		T(test_backend_crash_frees_ports),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
