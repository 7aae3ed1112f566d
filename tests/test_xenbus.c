/* SPDX-License-Identifier: MIT */
/*
 * xenbus.c against a real xensim daemon: the test is the toolstack (dom0
 * xenstore handle, xg_device_create) and the frontend (a guest domain's own
 * xenstore handle), and the kind is a recorder whose connect() reads the
 * frontend's ring-ref strictly. Every case checks the recorded op calls and
 * the backend state node.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xenstore.h>

#include "uback/hv.h"
#include "uback/log.h"
#include "uback/xenbus.h"
#include "uback/xs.h"
#include "xensim/guest.h"
#include "sim_harness.h"

#define BE_KIND "vbd"
#define FE_KIND "vbd"
/* Generous: a noisy 2-core machine under ASan. */
#define WAIT_MS 10000

/* ---- the recording kind ------------------------------------------------ */

struct rec {
	char calls[64];        /* P probe, C connect ok, c connect failed,
	                        * D disconnect, R remove */
	unsigned int n;
	int violations;        /* an op called when it must not be */
	bool connected;
	uint64_t ring_ref;
};

static void rec_add(struct rec *r, char c)
{
	if (r->n + 1 < sizeof(r->calls))
		r->calls[r->n++] = c;
	r->calls[r->n] = '\0';
}

static unsigned int rec_count(const struct rec *r, char c)
{
	unsigned int i, n = 0;

	for (i = 0; i < r->n; i++)
		n += r->calls[i] == c;
	return n;
}

static int rec_probe(struct xb_dev *dev)
{
	struct rec *r = dev->priv;

	rec_add(r, 'P');
	return xb_dev_printf_be(dev, "feature-test", "1");
}

static int rec_connect(struct xb_dev *dev)
{
	struct rec *r = dev->priv;
	int ret;

	if (r->connected || dev->connected)
		r->violations++;
	ret = xb_dev_read_fe_u64(dev, "ring-ref", UINT32_MAX, &r->ring_ref);
	if (ret) {
		rec_add(r, 'c');
		return ret;
	}
	ret = xb_dev_printf_be(dev, "sectors", "%u", 2048u);
	if (ret) {
		rec_add(r, 'c');
		return ret;
	}
	r->connected = true;
	rec_add(r, 'C');
	return 0;
}

static void rec_disconnect(struct xb_dev *dev)
{
	struct rec *r = dev->priv;

	if (!r->connected || !dev->connected)
		r->violations++;
	r->connected = false;
	rec_add(r, 'D');
}

static void rec_remove(struct xb_dev *dev)
{
	struct rec *r = dev->priv;

	if (r->connected || dev->removed)
		r->violations++;
	rec_add(r, 'R');
}

static const struct xb_dev_ops rec_ops = {
	.kind = BE_KIND,
	.probe = rec_probe,
	.connect = rec_connect,
	.disconnect = rec_disconnect,
	.remove = rec_remove,
};

/* ---- fixture ------------------------------------------------------------ */

struct fx {
	struct sim_harness h;
	struct xg_sim *sim;
	struct xs_handle *ts;     /* toolstack (dom0) */
	struct xb_hv *hv;         /* the backend's provider */
	struct xg_dom *dom;       /* the guest */
	struct xs_handle *fe;     /* the guest's xenstore */
	struct xb_dev *dev;
	struct rec rec;
	unsigned int devid;
	char be[128], fe_dir[128];
	int last_ret;             /* last xb_dev_process result */
	bool daemon_killed;       /* by the test: stop reports it */
};

static int setup(void **state)
{
	struct xb_hv_config cfg = { .provider = "sim" };
	struct xg_dom_config dc = { .name = "guest" };
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(sim_harness_start(&f->h), 0);
	assert_int_equal(xg_sim_connect(f->h.dir, &f->sim), 0);
	assert_int_equal(xg_sim_xs_open(f->sim, &f->ts), 0);
	cfg.sim_dir = f->h.dir;
	assert_int_equal(xb_hv_open(&cfg, &f->hv), 0);
	assert_int_equal(xg_dom_create(f->sim, &dc, &f->dom), 0);
	assert_int_equal(xg_dom_xs_open(f->dom, &f->fe), 0);
	f->devid = 51712;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int ret;

	xb_dev_close(f->dev);
	if (f->fe)
		xs_close(f->fe);
	if (f->dom && f->daemon_killed)
		xg_dom_release(f->dom);
	else if (f->dom)
		xg_dom_destroy(f->dom);
	xb_hv_close(f->hv);
	xs_close(f->ts);
	xg_sim_disconnect(f->sim);
	/* Fails if the daemon crashed or a sanitizer failed it at exit. */
	ret = sim_harness_stop(&f->h);
	if (f->daemon_killed)
		ret = 0;
	free(f);
	return ret;
}

static domid_t fx_domid(struct fx *f)
{
	return xg_dom_id(f->dom);
}

/* Create the device as libxl does (both trees, state 1). */
static void fx_device_create(struct fx *f, const char *const *fe_kv)
{
	snprintf(f->be, sizeof(f->be), "/local/domain/0/backend/%s/%u/%u",
		 BE_KIND, (unsigned int)fx_domid(f), f->devid);
	snprintf(f->fe_dir, sizeof(f->fe_dir), "/local/domain/%u/device/%s/%u",
		 (unsigned int)fx_domid(f), FE_KIND, f->devid);
	assert_int_equal(xg_device_create(f->sim, fx_domid(f), BE_KIND,
					  FE_KIND, f->devid, NULL, fe_kv), 0);
}

/* Create the device and open the backend on it. */
static void fx_create(struct fx *f, const char *const *fe_kv)
{
	fx_device_create(f, fe_kv);
	memset(&f->rec, 0, sizeof(f->rec));
	assert_int_equal(xb_dev_open(f->hv, f->be, &rec_ops, &f->rec,
				     &f->dev), 0);
	assert_int_equal(f->dev->frontend_id, fx_domid(f));
	assert_int_equal(f->dev->devid, f->devid);
	assert_string_equal(f->dev->frontend_path, f->fe_dir);
}

/* The backend state node as the toolstack reads it; -1 if absent. */
static int be_state(struct fx *f)
{
	char path[192];
	uint64_t v;

	snprintf(path, sizeof(path), "%s/state", f->be);
	if (xb_xs_read_u64(f->ts, XBT_NULL, path, 8, &v))
		return -1;
	return (int)v;
}

static int be_read(struct fx *f, const char *key, char *buf, size_t size)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", f->be, key);
	return xb_xs_read_buf(f->ts, XBT_NULL, path, buf, size);
}

static void fe_write(struct fx *f, const char *key, const char *value)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", f->fe_dir, key);
	assert_int_equal(xb_xs_write(f->fe, XBT_NULL, path, value), 0);
}

static void fe_switch(struct fx *f, enum xenbus_state s)
{
	assert_int_equal(xg_xenbus_switch(f->fe, f->fe_dir, s), 0);
}

/*
 * Run the backend until its state node reads @want (or, with @want -2,
 * until xb_dev_process returns 1), polling its fd. Bounded by WAIT_MS of
 * poll time; fails the test on timeout or a process error.
 */
static void pump_until(struct fx *f, int want)
{
	int waited = 0;

	for (;;) {
		struct pollfd p = { .fd = xb_dev_fd(f->dev), .events = POLLIN };
		int ret;

		ret = xb_dev_process(f->dev);
		assert_true(ret == 0 || ret == 1);
		f->last_ret = ret;
		if (want == -2 ? ret == 1 : be_state(f) == want)
			return;
		if (ret == 1)
			fail_msg("device removed while waiting for state %d",
				 want);
		if (waited >= WAIT_MS)
			fail_msg("timed out waiting for backend state %d "
				 "(now %d, calls %s)", want, be_state(f),
				 f->rec.calls);
		if (poll(&p, 1, 100) == 0)
			waited += 100;
	}
}

/* Run the backend until the counter at @off of its stats reaches @min. */
static void pump_stat(struct fx *f, size_t off, uint64_t min)
{
	int waited = 0;

	for (;;) {
		struct pollfd p = { .fd = xb_dev_fd(f->dev), .events = POLLIN };
		struct xb_dev_stats st;
		uint64_t v;

		f->last_ret = xb_dev_process(f->dev);
		assert_true(f->last_ret == 0 || f->last_ret == 1);
		xb_dev_get_stats(f->dev, &st);
		memcpy(&v, (const char *)&st + off, sizeof(v));
		if (v >= min)
			return;
		if (waited >= WAIT_MS)
			fail_msg("timed out waiting for a counter to reach %"
				 PRIu64 " (now %" PRIu64 ")", min, v);
		if (poll(&p, 1, 100) == 0)
			waited += 100;
	}
}
#define PUMP_STAT(f, field, min) \
	pump_stat((f), offsetof(struct xb_dev_stats, field), (min))

/* No event storm: once settled, processing produces no new events. */
static void assert_quiescent(struct fx *f)
{
	int i;

	for (i = 0; i < 20; i++) {
		struct pollfd p = { .fd = xb_dev_fd(f->dev), .events = POLLIN };

		if (poll(&p, 1, 200) == 0)
			return;
		f->last_ret = xb_dev_process(f->dev);
		assert_true(f->last_ret == 0 || f->last_ret == 1);
	}
	fail_msg("backend keeps receiving events (calls %s)", f->rec.calls);
}

static void fx_connect(struct fx *f)
{
	char buf[32];

	fe_write(f, "ring-ref", "8");
	fe_write(f, "event-channel", "5");
	fe_switch(f, XenbusStateInitialised);
	pump_until(f, XenbusStateConnected);
	assert_true(f->dev->connected);
	assert_int_equal(f->rec.ring_ref, 8);
	assert_int_equal(be_read(f, "sectors", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2048");
}

/* libxl's device remove: online=0 and state=Closing in one transaction. */
static int ts_remove_fn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct fx *f = arg;
	char path[192];
	int ret;

	snprintf(path, sizeof(path), "%s/online", f->be);
	ret = xb_xs_write(xs, t, path, "0");
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/state", f->be);
	return xb_xs_write(xs, t, path, "5");
}

static void ts_offline(struct fx *f, bool with_closing)
{
	char path[192];

	if (with_closing) {
		assert_int_equal(xb_xs_transact(f->ts, ts_remove_fn, f, 0), 0);
		return;
	}
	snprintf(path, sizeof(path), "%s/online", f->be);
	assert_int_equal(xb_xs_write(f->ts, XBT_NULL, path, "0"), 0);
}

static void ts_rm_backend(struct fx *f)
{
	assert_int_equal(xb_xs_rm(f->ts, XBT_NULL, f->be), 0);
}

/* ---- cases -------------------------------------------------------------- */

static void test_open_initwait(void **state)
{
	struct fx *f = *state;
	char buf[16];

	fx_create(f, NULL);
	assert_string_equal(f->rec.calls, "P");
	assert_int_equal(be_state(f), XenbusStateInitWait);
	assert_int_equal(be_read(f, "feature-test", buf, sizeof(buf)), 0);
	/* Frontend still Initialising: nothing more happens. */
	pump_until(f, XenbusStateInitWait);
	assert_quiescent(f);
	assert_string_equal(f->rec.calls, "P");
	assert_int_equal(f->rec.violations, 0);
}

static void test_normal_connect_and_close(void **state)
{
	struct fx *f = *state;
	struct xb_dev_stats st;

	fx_create(f, NULL);
	fx_connect(f);
	assert_quiescent(f);
	assert_string_equal(f->rec.calls, "PC");

	/* Frontend closes: Closing -> Closing (+disconnect) ... */
	fe_switch(f, XenbusStateClosing);
	pump_until(f, XenbusStateClosing);
	assert_string_equal(f->rec.calls, "PCD");
	assert_false(f->dev->connected);
	/* ... Closed -> Closed; online is still 1: the device stays. */
	fe_switch(f, XenbusStateClosed);
	pump_until(f, XenbusStateClosed);
	assert_quiescent(f);
	assert_int_equal(f->last_ret, 0);
	assert_string_equal(f->rec.calls, "PCD");

	/* The toolstack takes it offline: removal. */
	ts_offline(f, false);
	pump_until(f, -2);
	assert_string_equal(f->rec.calls, "PCDR");
	assert_true(f->dev->removed);
	assert_int_equal(xb_dev_process(f->dev), 1);
	xb_dev_get_stats(f->dev, &st);
	assert_int_equal(st.connects, 1);
	assert_int_equal(st.disconnects, 1);
	assert_int_equal(st.fe_bad_states, 0);
	assert_int_equal(f->rec.violations, 0);
}

/* Frontend already Initialised when the backend starts: connects at once. */
static void test_frontend_initialised_before_open(void **state)
{
	struct fx *f = *state;
	static const char *const fe_kv[] = { "ring-ref", "9", NULL };
	char path[192];

	fx_device_create(f, fe_kv);
	snprintf(path, sizeof(path), "%s/state", f->fe_dir);
	assert_int_equal(xb_xs_write(f->fe, XBT_NULL, path, "3"), 0);
	assert_int_equal(xb_dev_open(f->hv, f->be, &rec_ops, &f->rec,
				     &f->dev), 0);
	pump_until(f, XenbusStateConnected);
	assert_string_equal(f->rec.calls, "PC");
	assert_int_equal(f->rec.ring_ref, 9);
}

static void test_connect_fails_on_malformed_ring_ref(void **state)
{
	struct fx *f = *state;
	struct xb_dev_stats st;
	char buf[128];

	fx_create(f, NULL);
	fe_write(f, "ring-ref", "12abc");
	fe_switch(f, XenbusStateInitialised);
	pump_until(f, XenbusStateClosing);
	assert_int_equal(be_read(f, "error", buf, sizeof(buf)), 0);
	assert_int_equal(strncmp(buf, "22 ", 3), 0);
	assert_string_equal(f->rec.calls, "Pc");
	assert_false(f->dev->connected);
	/* No retry loop on a frontend that stays Initialised. */
	assert_quiescent(f);
	assert_string_equal(f->rec.calls, "Pc");
	xb_dev_get_stats(f->dev, &st);
	assert_int_equal(st.connect_failures, 1);
	assert_int_equal(st.disconnects, 0);

	/* The frontend answers the Closing; no disconnect without connect. */
	fe_switch(f, XenbusStateClosed);
	pump_until(f, XenbusStateClosed);
	assert_string_equal(f->rec.calls, "Pc");

	/* A fixed frontend restarts and connects. */
	fe_write(f, "ring-ref", "12");
	fe_switch(f, XenbusStateInitialising);
	pump_until(f, XenbusStateInitWait);
	fe_switch(f, XenbusStateInitialised);
	pump_until(f, XenbusStateConnected);
	assert_string_equal(f->rec.calls, "PcC");
	assert_int_equal(f->rec.violations, 0);
}

static void test_connect_fails_on_missing_ring_ref(void **state)
{
	struct fx *f = *state;
	char buf[128];

	fx_create(f, NULL);
	fe_switch(f, XenbusStateConnected);   /* straight to Connected */
	pump_until(f, XenbusStateClosing);
	assert_int_equal(be_read(f, "error", buf, sizeof(buf)), 0);
	assert_int_equal(strncmp(buf, "2 ", 2), 0);   /* ENOENT */
	assert_string_equal(f->rec.calls, "Pc");
}

static void test_reconnect_cycle(void **state)
{
	struct fx *f = *state;
	int i;

	fx_create(f, NULL);
	for (i = 0; i < 3; i++) {
		if (i) {
			fe_switch(f, XenbusStateInitialising);
			pump_until(f, XenbusStateInitWait);
		}
		fx_connect(f);
		fe_switch(f, XenbusStateClosing);
		pump_until(f, XenbusStateClosing);
		fe_switch(f, XenbusStateClosed);
		pump_until(f, XenbusStateClosed);
		assert_int_equal(f->last_ret, 0);
	}
	assert_string_equal(f->rec.calls, "PCDCDCD");
	assert_int_equal(rec_count(&f->rec, 'P'), 1);
	assert_int_equal(f->rec.violations, 0);
}

/* A frontend that closes and restarts between two of our reads. */
static void test_reconnect_skipped_states(void **state)
{
	struct fx *f = *state;

	fx_create(f, NULL);
	fx_connect(f);
	fe_switch(f, XenbusStateClosing);
	fe_switch(f, XenbusStateClosed);
	fe_switch(f, XenbusStateInitialising);
	pump_until(f, XenbusStateInitWait);
	assert_string_equal(f->rec.calls, "PCD");
	fe_switch(f, XenbusStateInitialised);
	pump_until(f, XenbusStateConnected);
	assert_string_equal(f->rec.calls, "PCDC");
	assert_int_equal(f->rec.violations, 0);
}

static void test_frontend_crash(void **state)
{
	struct fx *f = *state;
	struct xb_dev_stats st;

	fx_create(f, NULL);
	fx_connect(f);
	xs_close(f->fe);
	f->fe = NULL;
	assert_int_equal(xg_dom_destroy(f->dom), 0);
	f->dom = NULL;
	pump_until(f, XenbusStateClosed);
	assert_quiescent(f);
	assert_int_equal(f->last_ret, 0);
	assert_string_equal(f->rec.calls, "PCD");
	/* Both signs of a dead frontend were seen. */
	PUMP_STAT(f, fe_domain_gone, 1);
	PUMP_STAT(f, fe_vanished, 1);
	assert_quiescent(f);
	xb_dev_get_stats(f->dev, &st);
	assert_int_equal(st.fe_domain_gone, 1);
	assert_int_equal(st.fe_vanished, 1);

	/* The toolstack cleans up: removal, no second disconnect. */
	ts_rm_backend(f);
	pump_until(f, -2);
	assert_string_equal(f->rec.calls, "PCDR");
	assert_int_equal(f->rec.violations, 0);
}

static void test_online0_removal(void **state)
{
	struct fx *f = *state;

	fx_create(f, NULL);
	fx_connect(f);
	/* libxl: online=0, state=Closing. We keep serving until the
	 * frontend closes. */
	ts_offline(f, true);
	pump_until(f, XenbusStateClosing);
	assert_quiescent(f);
	assert_int_equal(f->last_ret, 0);
	assert_string_equal(f->rec.calls, "PC");
	assert_true(f->dev->connected);
	assert_int_equal(f->dev->state, XenbusStateClosing);

	fe_switch(f, XenbusStateClosing);
	pump_until(f, XenbusStateClosing);
	fe_switch(f, XenbusStateClosed);
	pump_until(f, -2);
	assert_int_equal(be_state(f), XenbusStateClosed);
	assert_string_equal(f->rec.calls, "PCDR");
	assert_int_equal(f->rec.violations, 0);
}

/* online=0 on a device whose frontend never started: removed at once. */
static void test_online0_never_connected(void **state)
{
	struct fx *f = *state;

	fx_create(f, NULL);
	pump_until(f, XenbusStateInitWait);
	ts_offline(f, true);
	pump_until(f, -2);
	assert_int_equal(be_state(f), XenbusStateClosed);
	assert_string_equal(f->rec.calls, "PR");
}

/* online=0 before a frontend finished connecting: no connect; the
 * backend asks it to close, and its Closed removes the device. */
static void test_online0_frontend_connecting(void **state)
{
	struct fx *f = *state;

	fx_create(f, NULL);
	pump_until(f, XenbusStateInitWait);
	/* Both before the backend runs again. */
	fe_write(f, "ring-ref", "8");
	fe_switch(f, XenbusStateInitialised);
	ts_offline(f, false);
	pump_until(f, XenbusStateClosing);
	assert_string_equal(f->rec.calls, "P");
	fe_switch(f, XenbusStateClosed);
	pump_until(f, -2);
	assert_int_equal(be_state(f), XenbusStateClosed);
	assert_string_equal(f->rec.calls, "PR");
}

static void test_backend_dir_removed_while_connected(void **state)
{
	struct fx *f = *state;
	char path[192];
	char *v;

	fx_create(f, NULL);
	fx_connect(f);
	ts_rm_backend(f);
	pump_until(f, -2);
	assert_string_equal(f->rec.calls, "PCDR");
	/* Nothing recreated the removed dir. */
	snprintf(path, sizeof(path), "%s", f->be);
	assert_int_equal(xb_xs_read(f->ts, XBT_NULL, path, &v), -ENOENT);
	assert_int_equal(f->rec.violations, 0);
}

static void test_frontend_dir_removed(void **state)
{
	struct fx *f = *state;
	struct xb_dev_stats st;

	fx_create(f, NULL);
	fx_connect(f);
	assert_int_equal(xb_xs_rm(f->ts, XBT_NULL, f->fe_dir), 0);
	pump_until(f, XenbusStateClosed);
	assert_quiescent(f);
	assert_int_equal(f->last_ret, 0);
	assert_string_equal(f->rec.calls, "PCD");
	xb_dev_get_stats(f->dev, &st);
	assert_int_equal(st.fe_vanished, 1);
	assert_int_equal(st.fe_domain_gone, 0);   /* the domain lives on */
	ts_offline(f, false);
	pump_until(f, -2);
	assert_string_equal(f->rec.calls, "PCDR");
	assert_int_equal(f->rec.violations, 0);
}

/* The state write re-reads in its transaction: a foreign Closing is not
 * overwritten, a removed dir is not recreated (nor by the other writes). */
static void test_switch_state_rereads(void **state)
{
	struct fx *f = *state;
	char path[192];
	char *v;

	fx_create(f, NULL);
	pump_until(f, XenbusStateInitWait);
	snprintf(path, sizeof(path), "%s/state", f->be);
	assert_int_equal(xb_xs_write(f->ts, XBT_NULL, path, "5"), 0);
	assert_int_equal(xb_dev_switch_state(f->dev, XenbusStateConnected),
			 -ECANCELED);
	assert_int_equal(be_state(f), XenbusStateClosing);
	assert_int_equal(xb_dev_switch_state(f->dev, XenbusStateClosed), 0);
	assert_int_equal(be_state(f), XenbusStateClosed);
	assert_int_equal(f->dev->state, XenbusStateClosed);

	ts_rm_backend(f);
	assert_int_equal(xb_dev_switch_state(f->dev, XenbusStateInitWait),
			 -ENOENT);
	assert_int_equal(xb_dev_printf_be(f->dev, "sectors", "%d", 1),
			 -ENOENT);
	xb_dev_fatal(f->dev, -EIO, "late error");
	assert_int_equal(xb_xs_read(f->ts, XBT_NULL, f->be, &v), -ENOENT);
	pump_until(f, -2);
	assert_string_equal(f->rec.calls, "PR");
}

/* xenstored (the simulator) dies under a connected device: process
 * reports the failure at once instead of spinning on a readable fd. */
static void test_xenstore_dies(void **state)
{
	struct fx *f = *state;
	int i, ret = 0;

	fx_create(f, NULL);
	fx_connect(f);
	assert_int_equal(kill(f->h.pid, SIGKILL), 0);
	f->daemon_killed = true;
	for (i = 0; i < WAIT_MS / 100; i++) {
		struct pollfd p = { .fd = xb_dev_fd(f->dev), .events = POLLIN };

		poll(&p, 1, 100);
		ret = xb_dev_process(f->dev);
		if (ret < 0)
			break;
		assert_int_equal(ret, 0);
	}
	assert_true(ret < 0);
	/* Closing still releases everything, once. */
	xb_dev_close(f->dev);
	f->dev = NULL;
	assert_string_equal(f->rec.calls, "PCDR");
	assert_int_equal(f->rec.violations, 0);
}

/* Hostile state values, before and after connecting. */
static void run_malformed_state(struct fx *f, const char *value,
				bool connect_first)
{
	struct xb_dev_stats st;
	char path[192], buf[128];

	fx_create(f, NULL);
	if (connect_first)
		fx_connect(f);
	snprintf(path, sizeof(path), "%s/state", f->fe_dir);
	assert_int_equal(xb_xs_write(f->fe, XBT_NULL, path, value), 0);
	pump_until(f, XenbusStateClosing);
	assert_quiescent(f);
	xb_dev_get_stats(f->dev, &st);
	assert_true(st.fe_bad_states >= 1);
	assert_int_equal(be_read(f, "error", buf, sizeof(buf)), 0);
	assert_int_equal(strncmp(buf, "22 ", 3), 0);
	assert_false(f->dev->connected);
	assert_string_equal(f->rec.calls, connect_first ? "PCD" : "P");

	/* A second bad value is counted but changes nothing. */
	assert_int_equal(xb_xs_write(f->fe, XBT_NULL, path, "77"), 0);
	PUMP_STAT(f, fe_bad_states, st.fe_bad_states + 1);
	assert_quiescent(f);
	assert_int_equal(be_state(f), XenbusStateClosing);

	/* A valid Closed then closes it normally; online=0 removes. */
	fe_switch(f, XenbusStateClosed);
	pump_until(f, XenbusStateClosed);
	ts_offline(f, false);
	pump_until(f, -2);
	assert_string_equal(f->rec.calls, connect_first ? "PCDR" : "PR");
	assert_int_equal(f->rec.violations, 0);

	xb_dev_close(f->dev);
	f->dev = NULL;
	f->devid++;
}

static void test_malformed_frontend_state(void **state)
{
	static const char *const bad[] = {
		"", "9", "abc", "4x", "0", "04", " 4", "-1", "4\n",
		"99999999999999999999999999",
	};
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_malformed_state(f, bad[i], false);
		run_malformed_state(f, bad[i], true);
	}
}

/* A frontend hammering its state node: every event is consumed, the
 * backend settles in Closing, nothing loops once the guest stops. */
static void test_frontend_state_flood(void **state)
{
	struct fx *f = *state;
	struct xb_dev_stats st;
	char path[192], v[16];
	int i;

	fx_create(f, NULL);
	fx_connect(f);
	snprintf(path, sizeof(path), "%s/state", f->fe_dir);
	for (i = 0; i < 2000; i++) {
		snprintf(v, sizeof(v), "x%d", i);
		assert_int_equal(xb_xs_write(f->fe, XBT_NULL, path, v), 0);
		if (i % 100 == 0)
			assert_int_equal(xb_dev_process(f->dev), 0);
	}
	pump_until(f, XenbusStateClosing);
	assert_quiescent(f);
	xb_dev_get_stats(f->dev, &st);
	assert_true(st.fe_bad_states >= 1);
	assert_true(st.watch_events <= 2100);
	assert_string_equal(f->rec.calls, "PCD");
	assert_int_equal(f->rec.violations, 0);
}

static void test_malformed_frontend_state_huge(void **state)
{
	struct fx *f = *state;
	char *huge = malloc(2001);

	assert_non_null(huge);
	memset(huge, '4', 2000);
	huge[2000] = '\0';
	run_malformed_state(f, huge, true);
	free(huge);
}

/* Open refuses bad toolstack keys, writes nothing, calls no op. */
static void test_open_validation(void **state)
{
	static const struct {
		const char *key, *value;
		int err;
	} cases[] = {
		{ "frontend-id", "0", -EINVAL },          /* self */
		{ "frontend-id", "07", -EINVAL },
		{ "frontend-id", "99", -EINVAL },         /* != path domid */
		{ "frontend-id", "65535", -EINVAL },
		{ "frontend", "/local/domain/0/device/vbd/1", -EINVAL },
		{ "frontend", "/local/domain/1/devicex/vbd/1", -EINVAL },
		{ "frontend", "/local/domain/1/device/vbd/../x", -EINVAL },
		{ "frontend", "/local/domain/1/device/vbd", -EINVAL },
		{ "frontend", "", -EINVAL },
	};
	struct fx *f = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[192], value[128];
		struct rec r = { 0 };
		struct xb_dev *dev = NULL;

		fx_create(f, NULL);
		xb_dev_close(f->dev);
		f->dev = NULL;
		snprintf(path, sizeof(path), "%s/%s", f->be, cases[i].key);
		/* "frontend" cases name domain 1; use the real id. */
		snprintf(value, sizeof(value), "%s", cases[i].value);
		if (!strcmp(cases[i].key, "frontend") &&
		    !strncmp(value, "/local/domain/1/", 16))
			snprintf(value, sizeof(value), "/local/domain/%u/%s",
				 (unsigned int)fx_domid(f),
				 cases[i].value + 16);
		assert_int_equal(xb_xs_write(f->ts, XBT_NULL, path, value), 0);
		assert_int_equal(xb_dev_open(f->hv, f->be, &rec_ops, &r, &dev),
				 cases[i].err);
		assert_null(dev);
		assert_int_equal(r.n, 0);
		f->devid++;
	}
	assert_int_equal(xb_dev_open(f->hv, "/local/domain/0/backend/vbd/1/999",
				     &rec_ops, &f->rec, &f->dev), -ENOENT);
	assert_int_equal(xb_dev_open(f->hv, "/local/domain/0/backend/vif/1/0",
				     &rec_ops, &f->rec, &f->dev), -EINVAL);
	f->dev = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_initwait, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_normal_connect_and_close,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_frontend_initialised_before_open, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_connect_fails_on_malformed_ring_ref, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_connect_fails_on_missing_ring_ref, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_cycle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_skipped_states,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_frontend_crash, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_online0_removal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_online0_never_connected,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_online0_frontend_connecting, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_backend_dir_removed_while_connected, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_frontend_dir_removed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_xenstore_dies, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_switch_state_rereads,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_frontend_state,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_frontend_state_flood,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_malformed_frontend_state_huge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_validation, setup,
						teardown),
	};

	xb_log_set_level(XB_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
