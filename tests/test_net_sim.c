/* SPDX-License-Identifier: MIT */
/*
 * uback-net end to end under a private xensim, driven by the raw test
 * frontend (net_testfe.h); the backend runs as its own process with the
 * `loop` port, so what the guest transmits comes back on its RX ring:
 *   - the handshake and the feature keys;
 *   - frames of 60..65535 bytes round-trip intact (sg), checksum flags
 *     and GSO metadata preserved; two queues with split event channels;
 *   - a frontend without request-rx-copy is refused with an error key;
 *   - bad, revoked, foreign and read-only grants on TX and RX: error
 *     responses and counters, the backend keeps serving;
 *   - a guest that never posts RX buffers: drops counted, the backend
 *     sleeps (its CPU time stays low), serving resumes with buffers;
 *   - an impossible producer and a chain past the producer: the device
 *     fails with an error key, the backend survives;
 *   - the guest destroyed mid-traffic: the backend disconnects and exits
 *     0 when the toolstack removes the device (sanitizer builds: leaks
 *     fail it).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uback/xs.h>
#include <xensim/guest.h>

#include "ctrl.h"
#include "net_testfe.h"
#include "sim_harness.h"

#define DEVID 0u
#define TIMEOUT_MS 20000

struct gfx {
	struct xg_dom *dom;
	domid_t domid;
	char be_path[128];
	char stats[80];
	pid_t pid;
	struct nfe fe;
};

static struct sim_harness harness;
static struct xg_sim *sim;
static struct xs_handle *xs0;
static uint8_t txbuf[65536], rxbuf[65536];

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int group_setup(void **state)
{
	if (sim_harness_start(&harness))
		return -1;
	if (xg_sim_connect(harness.dir, &sim))
		return -1;
	return xg_sim_xs_open(sim, &xs0) ? -1 : 0;
}

static int group_teardown(void **state)
{
	xs_close(xs0);
	xg_sim_disconnect(sim);
	return sim_harness_stop(&harness) ? -1 : 0;
}

/* A guest, its vif (keys as libxl writes them, plus @be_extra) and a
 * uback-net serving it with the loop port and @args. */
static void guest_up_kv(struct gfx *g, const char *const *be_extra,
			const char *const *args)
{
	static const char *const be_std[] = {
		"mac", "00:16:3e:00:00:01", "handle", "0", "type", "vif",
		"script", "/etc/xen/scripts/vif-bridge", "hotplug-status", "",
		NULL,
	};
	const char *be_kv[32];
	static const char *const fe_kv[] = {
		"mac", "00:16:3e:00:00:01", "handle", "0", NULL,
	};
	struct xg_dom_config dc = { .mem_pages = 8192, .nr_grants = 4096 };
	const char *argv[40];
	unsigned int n = 0, i;

	memset(g, 0, sizeof(*g));
	for (i = 0; be_std[i]; i++)
		be_kv[n++] = be_std[i];
	for (i = 0; be_extra && be_extra[i] && n < 30; i++)
		be_kv[n++] = be_extra[i];
	be_kv[n] = NULL;
	n = 0;
	assert_int_equal(xg_dom_create(sim, &dc, &g->dom), 0);
	g->domid = xg_dom_id(g->dom);
	assert_int_equal(xg_device_create(sim, g->domid, "vif", "vif", DEVID,
					  be_kv, fe_kv), 0);
	snprintf(g->be_path, sizeof(g->be_path),
		 "/local/domain/0/backend/vif/%u/%u", g->domid, DEVID);
	snprintf(g->stats, sizeof(g->stats), "/tmp/test_net_sim.%d.%u.stats",
		 (int)getpid(), g->domid);

	argv[n++] = UBACK_NET_BIN;
	argv[n++] = "--hv";
	argv[n++] = "sim";
	argv[n++] = "--port";
	argv[n++] = "loop";
	argv[n++] = "--stats";
	argv[n++] = g->stats;
	argv[n++] = "--stats-interval";
	argv[n++] = "20";
	argv[n++] = "--log";
	argv[n++] = "err";
	for (i = 0; args && args[i] && n < 36; i++)
		argv[n++] = args[i];
	argv[n++] = g->be_path;
	argv[n] = NULL;
	g->pid = fork();
	assert_true(g->pid >= 0);
	if (g->pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(nfe_init(&g->fe, g->dom, DEVID), 0);
}

static void guest_up(struct gfx *g, const char *const *args)
{
	guest_up_kv(g, NULL, args);
}

static int backend_wait(struct gfx *g, unsigned int timeout_ms)
{
	unsigned int waited;
	int status;

	for (waited = 0; waited < timeout_ms; waited += 5) {
		pid_t r = waitpid(g->pid, &status, WNOHANG);

		if (r == g->pid) {
			g->pid = 0;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
		msleep(5);
	}
	kill(g->pid, SIGKILL);
	waitpid(g->pid, &status, 0);
	g->pid = 0;
	return -ETIMEDOUT;
}

static bool backend_alive(struct gfx *g)
{
	int status;

	return waitpid(g->pid, &status, WNOHANG) == 0;
}

static void guest_down(struct gfx *g, bool dom_gone)
{
	assert_true(backend_alive(g));
	nfe_fini(&g->fe);
	assert_int_equal(xg_device_remove(sim, g->domid, "vif", "vif", DEVID),
			 0);
	assert_int_equal(backend_wait(g, TIMEOUT_MS), 0);
	if (!dom_gone)   /* (destroying it freed our handle) */
		assert_int_equal(xg_dom_destroy(g->dom), 0);
	unlink(g->stats);
}

/* One counter from the backend's --stats file; -1 if absent. */
static long long stat_value(struct gfx *g, const char *key)
{
	char line[160];
	size_t n = strlen(key);
	long long v = -1;
	FILE *f = fopen(g->stats, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == '=')
			v = strtoll(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* Wait (bounded) until counter @key >= @want; returns its value. */
static long long wait_stat(struct gfx *g, const char *key, long long want)
{
	long long v = -1;
	unsigned int i;

	for (i = 0; i < 1000; i++) {
		v = stat_value(g, key);
		if (v >= want)
			break;
		msleep(10);
	}
	return v;
}

static void be_read(struct gfx *g, const char *key, char *buf, size_t size)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", g->be_path, key);
	if (xb_xs_read_buf(xs0, XBT_NULL, path, buf, size))
		snprintf(buf, size, "<absent>");
}

static void connect_ok(struct gfx *g, const struct nfe_config *c)
{
	int ret = nfe_connect(&g->fe, c, TIMEOUT_MS);

	if (ret) {
		char err[256];

		be_read(g, "error", err, sizeof(err));
		fail_msg("connect: %s (backend error: %s)", strerror(-ret), err);
	}
}

static void post_all(struct gfx *g, unsigned int q)
{
	uint16_t ids[NFE_RX_PAGES];
	unsigned int i;

	for (i = 0; i < NFE_RX_PAGES; i++)
		ids[i] = (uint16_t)i;
	nfe_rx_post_pages(&g->fe, q, NFE_RX_PAGES, ids);
}

/* A unicast Ethernet frame with a recognisable payload. */
static void make_frame(uint8_t *f, uint32_t len, uint32_t seed)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		f[i] = (uint8_t)((i * 131u) ^ seed ^ (i >> 8));
	memcpy(f, "\x00\x16\x3e\x00\x00\x01\x00\x16\x3e\x00\x00\x02", 12);
	f[12] = 0x88;    /* not IP: nothing parses it */
	f[13] = 0xb5;
}

/* Ethernet/IPv4/TCP, total @len bytes. */
static void make_tcp4(uint8_t *f, uint32_t len, uint32_t seed)
{
	make_frame(f, len, seed);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(f + 14, 0, 40);
	f[14] = 0x45;
	f[16] = (uint8_t)((len - 14) >> 8);
	f[17] = (uint8_t)(len - 14);
	f[22] = 64;
	f[23] = 6;
	memcpy(f + 26, "\xc6\x12\x00\x01\xc6\x12\x00\x02", 8);
	f[46] = 5 << 4;
}

/* Transmit one frame on @q, check every TX response, receive it back,
 * repost its buffers; returns what arrived. */
static struct nfe_rx_frame roundtrip(struct gfx *g, unsigned int q,
				     uint32_t len, uint16_t flags,
				     uint8_t gso_type, uint16_t gso_size)
{
	struct netif_tx_response rsp[24];
	struct nfe_rx_frame rf;
	unsigned int n, i;
	int ret;

	n = nfe_send(&g->fe, q, txbuf, len, flags, gso_type, gso_size, 0);
	nfe_tx_push(&g->fe, q, false);
	assert_int_equal(nfe_tx_wait(&g->fe, q, n, rsp, TIMEOUT_MS), 0);
	for (i = 0; i < n; i++) {
		if (gso_type && i == 1)
			assert_int_equal(rsp[i].status, NETIF_RSP_NULL);
		else
			assert_int_equal(rsp[i].status, NETIF_RSP_OKAY);
	}
	ret = nfe_recv(&g->fe, q, rxbuf, &rf, TIMEOUT_MS);
	if (ret)
		fail_msg("receive %u bytes on queue %u: %s", len, q,
			 strerror(-ret));
	nfe_rx_post_pages(&g->fe, q, rf.nids, rf.ids);
	assert_int_equal(rf.status, 0);
	assert_int_equal(rf.len, len);
	assert_memory_equal(rxbuf, txbuf, len);
	return rf;
}

static void test_features(void **state)
{
	static const char *const keys[][2] = {
		{ "feature-sg", "1" }, { "feature-gso-tcpv4", "1" },
		{ "feature-gso-tcpv6", "1" }, { "feature-rx-copy", "1" },
		{ "feature-rx-flip", "0" },
		{ "feature-ipv6-csum-offload", "1" },
		{ "feature-split-event-channels", "1" },
		{ "multi-queue-max-queues", "2" },
		{ "feature-ctrl-ring", "1" },
		{ "feature-multicast-control", "1" },
		{ "feature-dynamic-multicast-control", "1" },
		{ "hotplug-status", "" },      /* the script's: untouched */
	};
	const char *const args[] = { "--queues", "2", NULL };
	struct nfe_config c = { .sg = true, .rx_notify = true };
	enum xenbus_state seen;
	char v[64];
	unsigned int i;
	struct gfx g;

	guest_up(&g, args);
	assert_int_equal(xg_xenbus_wait_state(xs0, g.be_path,
					      1u << XenbusStateInitWait,
					      TIMEOUT_MS, &seen), 0);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		be_read(&g, keys[i][0], v, sizeof(v));
		if (strcmp(v, keys[i][1]))
			fail_msg("%s = '%s', want '%s'", keys[i][0], v,
				 keys[i][1]);
	}
	connect_ok(&g, &c);
	post_all(&g, 0);
	make_frame(txbuf, 60, 1);
	roundtrip(&g, 0, 60, 0, 0, 0);
	assert_true(wait_stat(&g, "queues", 1) == 1);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

/* A port without TSO on the host side (DPDK net_null): no GSO offered. */
static void test_features_no_tso(void **state)
{
	const char *const args[] = { "--port", "dpdk:net_null0", NULL };
	enum xenbus_state seen;
	char v[64];
	struct gfx g;

	(void)state;
	if (!NET_SIM_HAVE_DPDK)
		skip();
	guest_up(&g, args);
	assert_int_equal(xg_xenbus_wait_state(xs0, g.be_path,
					      1u << XenbusStateInitWait,
					      TIMEOUT_MS, &seen), 0);
	be_read(&g, "feature-sg", v, sizeof(v));
	assert_string_equal(v, "1");
	be_read(&g, "feature-gso-tcpv4", v, sizeof(v));
	assert_string_equal(v, "<absent>");
	be_read(&g, "feature-gso-tcpv6", v, sizeof(v));
	assert_string_equal(v, "<absent>");
	guest_down(&g, false);
}

static void test_roundtrip(void **state)
{
	static const uint32_t lens[] = { 60, 61, 1514, 4095, 4096, 4097, 9000,
					 32768, 65535 };
	struct nfe_config c = { .sg = true, .gso4 = true, .gso6 = true,
				.csum6 = true, .rx_notify = true };
	struct nfe_rx_frame rf;
	unsigned int i;
	struct gfx g;

	guest_up(&g, NULL);
	connect_ok(&g, &c);
	post_all(&g, 0);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		make_frame(txbuf, lens[i], i);
		rf = roundtrip(&g, 0, lens[i], NETTXF_data_validated, 0, 0);
		assert_int_equal(rf.flags & ~NETRXF_more_data,
				 NETRXF_data_validated);
		assert_false(rf.gso);
		assert_int_equal(rf.slots, (lens[i] + 4095) / 4096);
	}
	/* Partial checksum and a GSO super-frame, metadata preserved. */
	make_tcp4(txbuf, 1514, 7);
	rf = roundtrip(&g, 0, 1514, NETTXF_csum_blank | NETTXF_data_validated,
		       0, 0);
	assert_true(rf.flags & NETRXF_csum_blank);
	assert_false(rf.gso);
	make_tcp4(txbuf, 60000, 8);
	rf = roundtrip(&g, 0, 60000, NETTXF_csum_blank | NETTXF_data_validated,
		       XEN_NETIF_GSO_TYPE_TCPV4, 1448);
	assert_true(rf.flags & NETRXF_csum_blank);
	assert_true(rf.flags & NETRXF_extra_info);
	assert_true(rf.gso);
	assert_int_equal(rf.gso_type, XEN_NETIF_GSO_TYPE_TCPV4);
	assert_int_equal(rf.gso_size, 1448);
	assert_int_equal(rf.slots, 15 /* pages of 60000 B */ + 1);
	assert_true(wait_stat(&g, "total.rx_gso", 1) >= 1);
	assert_true(wait_stat(&g, "total.tx_packets", 11) >= 11);
	assert_true(wait_stat(&g, "total.rx_packets", 11) >= 11);
	assert_int_equal(stat_value(&g, "total.tx_error_responses"), 0);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

static void test_multiqueue(void **state)
{
	const char *const args[] = { "--queues", "2", NULL };
	struct nfe_config c = { .nr_queues = 2, .split = true, .sg = true,
				.rx_notify = true };
	struct nfe_config one = { .sg = true };
	unsigned int q, k;
	struct gfx g;

	guest_up(&g, args);
	/* One queue first; then the same backend, a new connection. */
	connect_ok(&g, &one);
	post_all(&g, 0);
	make_frame(txbuf, 5000, 1);
	roundtrip(&g, 0, 5000, 0, 0, 0);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	assert_int_equal(xg_xenbus_switch(g.fe.xs, g.fe.fe_path,
					  XenbusStateInitialising), 0);
	connect_ok(&g, &c);
	for (q = 0; q < 2; q++)
		post_all(&g, q);
	for (k = 0; k < 20; k++) {
		for (q = 0; q < 2; q++) {
			make_frame(txbuf, 100 + 997 * k, k * 2 + q);
			roundtrip(&g, q, 100 + 997 * k, 0, 0, 0);
		}
	}
	assert_true(wait_stat(&g, "q1.rx_packets", 20) == 20);
	assert_true(wait_stat(&g, "q0.rx_packets", 20) == 20);
	assert_true(wait_stat(&g, "split_evtchn", 1) == 1);
	/* Device totals include the first connection's frame. */
	assert_true(wait_stat(&g, "total.rx_packets", 41) == 41);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

static void test_no_rx_copy(void **state)
{
	struct nfe_config c = { .sg = true, .no_rx_copy = true };
	struct nfe_config good = { .sg = true };
	struct nfe fe2;
	char err[256];
	struct gfx g;

	guest_up(&g, NULL);
	assert_int_equal(nfe_connect(&g.fe, &c, TIMEOUT_MS), -ECONNREFUSED);
	be_read(&g, "error", err, sizeof(err));
	if (!strstr(err, "request-rx-copy"))
		fail_msg("error key: '%s'", err);
	assert_true(backend_alive(&g));
	/* The same backend serves a correct frontend after. */
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	assert_int_equal(xg_xenbus_switch(g.fe.xs, g.fe.fe_path,
					  XenbusStateInitialising), 0);
	assert_int_equal(nfe_init(&fe2, g.dom, DEVID), 0);
	nfe_fini(&g.fe);
	g.fe = fe2;
	connect_ok(&g, &good);
	post_all(&g, 0);
	make_frame(txbuf, 1000, 3);
	roundtrip(&g, 0, 1000, 0, 0, 0);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

static void tx_one_ref(struct gfx *g, grant_ref_t ref, int16_t want)
{
	union netif_tx_sring_entry s;
	struct netif_tx_response rsp;

	memset(&s, 0, sizeof(s));
	s.req.gref = ref;
	s.req.size = 60;
	s.req.id = 77;
	nfe_tx_put(&g->fe, 0, &s, 1);
	nfe_tx_push(&g->fe, 0, true);
	assert_int_equal(nfe_tx_wait(&g->fe, 0, 1, &rsp, TIMEOUT_MS), 0);
	assert_int_equal(rsp.id, 77);
	assert_int_equal(rsp.status, want);
}

static void rx_one_ref(struct gfx *g, grant_ref_t ref, int16_t want)
{
	union netif_rx_sring_entry e;
	struct netif_tx_response rsp[2];
	uint16_t id = 300;
	unsigned int n;

	nfe_rx_post(&g->fe, 0, 1, &id, &ref);
	make_frame(txbuf, 60, 9);
	n = nfe_send(&g->fe, 0, txbuf, 60, 0, 0, 0, 0);
	nfe_tx_push(&g->fe, 0, true);
	assert_int_equal(nfe_tx_wait(&g->fe, 0, n, rsp, TIMEOUT_MS), 0);
	assert_int_equal(nfe_rx_wait(&g->fe, 0, 1, &e, TIMEOUT_MS), 0);
	assert_int_equal(e.rsp.id, 300);
	if (want < 0)
		assert_int_equal(e.rsp.status, want);
	else
		assert_int_equal(e.rsp.status, 60);
}

static void test_bad_grants(void **state)
{
	struct nfe_config c = { .sg = true };
	xen_pfn_t gfn[3];
	grant_ref_t revoked, foreign, ro;
	struct gfx g;

	guest_up(&g, NULL);
	connect_ok(&g, &c);
	assert_int_equal(xg_pages_alloc(g.dom, 3, gfn), 0);
	memset(xg_page_ptr(g.dom, gfn[2]), 0, 4096);
	make_frame(xg_page_ptr(g.dom, gfn[2]), 60, 5);
	assert_int_equal(xg_grant_access(g.dom, 0, gfn[0], false, &revoked), 0);
	assert_int_equal(xg_grant_end(g.dom, revoked), 0);
	assert_int_equal(xg_grant_access(g.dom, 7, gfn[1], false, &foreign), 0);
	assert_int_equal(xg_grant_access(g.dom, 0, gfn[2], true, &ro), 0);

	/* TX: the backend only reads, so a read-only grant is fine. */
	tx_one_ref(&g, 4000, NETIF_RSP_ERROR);        /* never granted */
	tx_one_ref(&g, 0xfffffff0u, NETIF_RSP_ERROR); /* out of the table */
	tx_one_ref(&g, revoked, NETIF_RSP_ERROR);
	tx_one_ref(&g, foreign, NETIF_RSP_ERROR);
	tx_one_ref(&g, ro, NETIF_RSP_OKAY);
	assert_true(wait_stat(&g, "total.tx_err_grant", 4) == 4);

	/* RX: the backend writes; a read-only grant fails too. The looped
	 * frame of the read-only TX above went into the stash: take it. */
	rx_one_ref(&g, g.fe.q[0].rx_ref[0], 60);
	rx_one_ref(&g, g.fe.q[0].rx_ref[1], 60);
	rx_one_ref(&g, 4000, NETIF_RSP_ERROR);
	rx_one_ref(&g, revoked, NETIF_RSP_ERROR);
	rx_one_ref(&g, foreign, NETIF_RSP_ERROR);
	rx_one_ref(&g, ro, NETIF_RSP_ERROR);
	assert_true(wait_stat(&g, "total.rx_drop_grant", 4) == 4);
	assert_true(wait_stat(&g, "total.rx_error_responses", 4) == 4);
	/* Still serving (after the frame the last call left waiting). */
	post_all(&g, 0);
	msleep(100);
	while (nfe_rx_ready(&g.fe, 0)) {
		struct nfe_rx_frame rf;

		assert_int_equal(nfe_recv(&g.fe, 0, rxbuf, &rf, TIMEOUT_MS), 0);
		nfe_rx_post_pages(&g.fe, 0, rf.nids, rf.ids);
	}
	make_frame(txbuf, 3000, 11);
	roundtrip(&g, 0, 3000, 0, 0, 0);
	assert_int_equal(xg_grant_end(g.dom, foreign), 0);
	assert_int_equal(xg_grant_end(g.dom, ro), 0);
	xg_pages_free(g.dom, 3, gfn);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

static long long cpu_us(struct gfx *g)
{
	return stat_value(g, "cpu_user_us") + stat_value(g, "cpu_sys_us");
}

static void test_never_replenished(void **state)
{
	const char *const args[] = { "--rx-stall-ms", "100", NULL };
	struct nfe_config c = { .sg = true };
	long long cpu0, cpu1, dropped;
	unsigned int round, k, n;
	struct gfx g;

	guest_up(&g, args);
	connect_ok(&g, &c);
	/* 600 frames, no RX buffer ever posted. */
	for (round = 0; round < 6; round++) {
		for (k = 0; k < 100; k++) {
			make_frame(txbuf, 1000, k);
			n = nfe_send(&g.fe, 0, txbuf, 1000, 0, 0, 0,
				     (uint16_t)k);
			assert_int_equal(n, 1);
		}
		nfe_tx_push(&g.fe, 0, true);
		assert_int_equal(nfe_tx_wait(&g.fe, 0, 100, NULL, TIMEOUT_MS),
				 0);
	}
	/* Everything is dropped and counted: by the backend after the
	 * stall time, or by the port whose queue was full. */
	for (k = 0; k < 500; k++) {
		dropped = stat_value(&g, "total.rx_drop_stalled") +
			  stat_value(&g, "total.port_tx_dropped");
		if (dropped >= 600)
			break;
		msleep(10);
	}
	assert_int_equal(dropped, 600);
	assert_int_equal(stat_value(&g, "total.rx_packets"), 0);

	/* More while the guest still posts nothing: the backend holds a
	 * stash it cannot deliver, and must sleep, not spin. */
	for (k = 0; k < 100; k++)
		nfe_send(&g.fe, 0, txbuf, 1000, 0, 0, 0, (uint16_t)k);
	nfe_tx_push(&g.fe, 0, true);
	assert_int_equal(nfe_tx_wait(&g.fe, 0, 100, NULL, TIMEOUT_MS), 0);
	msleep(50);
	cpu0 = cpu_us(&g);
	msleep(1000);
	cpu1 = cpu_us(&g);
	print_message("backend CPU over 1 s with a stalled guest: %lld us\n",
		      cpu1 - cpu0);
	assert_true(cpu0 >= 0);
	assert_true(cpu1 - cpu0 < 100000);

	/* Buffers at last: traffic flows again. */
	post_all(&g, 0);
	msleep(300);
	while (nfe_rx_ready(&g.fe, 0)) {
		struct nfe_rx_frame rf;

		assert_int_equal(nfe_recv(&g.fe, 0, rxbuf, &rf, TIMEOUT_MS), 0);
		nfe_rx_post_pages(&g.fe, 0, rf.nids, rf.ids);
	}
	make_frame(txbuf, 2000, 99);
	roundtrip(&g, 0, 2000, 0, 0, 0);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

/* Spinning after work (--spin-us 50) is gated: a guest that sends a
 * frame every 2 ms (no spin can find the next one) soon pauses it
 * (spin_pauses), and a vif with no traffic costs no CPU. */
static void test_spin_gate(void **state)
{
	static const char *const args[] = { "--spin-us", "50", NULL };
	struct nfe_config c = { .sg = true, .rx_notify = true };
	long long cpu0, cpu1;
	unsigned int i;
	struct gfx g;

	(void)state;
	guest_up(&g, args);
	connect_ok(&g, &c);
	post_all(&g, 0);
	for (i = 0; i < 100; i++) {
		make_frame(txbuf, 60, i);
		roundtrip(&g, 0, 60, 0, 0, 0);
		msleep(2);
	}
	assert_true(wait_stat(&g, "total.spin_pauses", 2) >= 2);
	print_message("100 frames 2 ms apart: spin_hits %lld spin_pauses %lld\n",
		      stat_value(&g, "total.spin_hits"),
		      stat_value(&g, "total.spin_pauses"));
	msleep(200);
	cpu0 = cpu_us(&g);
	msleep(1000);
	cpu1 = cpu_us(&g);
	print_message("backend CPU over 1 s idle: %lld us\n", cpu1 - cpu0);
	assert_true(cpu0 >= 0);
	assert_true(cpu1 - cpu0 < 50000);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

static void expect_failed(struct gfx *g, const char *what)
{
	enum xenbus_state seen;
	char err[256];

	assert_int_equal(xg_xenbus_wait_state(xs0, g->be_path,
					      1u << XenbusStateClosing |
					      1u << XenbusStateClosed,
					      TIMEOUT_MS, &seen), 0);
	be_read(g, "error", err, sizeof(err));
	if (!strstr(err, what))
		fail_msg("error key '%s', want '%s'", err, what);
	assert_true(backend_alive(g));
}

static void test_hostile_ring(void **state)
{
	struct nfe_config c = { .sg = true };
	union netif_tx_sring_entry s;
	struct gfx g;

	/* An impossible producer. */
	guest_up(&g, NULL);
	connect_ok(&g, &c);
	nfe_tx_set_prod(&g.fe, 0, g.fe.q[0].tx.req_prod_pvt + 257);
	expect_failed(&g, "impossible TX request producer");
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);

	/* ... by 2^31. */
	guest_up(&g, NULL);
	connect_ok(&g, &c);
	nfe_tx_set_prod(&g.fe, 0, 0x80000000u);
	expect_failed(&g, "impossible TX request producer");
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);

	/* A chain that runs past the producer. */
	guest_up(&g, NULL);
	connect_ok(&g, &c);
	memset(&s, 0, sizeof(s));
	s.req.gref = g.fe.q[0].tx_ref[0];
	s.req.size = 2000;
	s.req.flags = NETTXF_more_data;
	nfe_tx_put(&g.fe, 0, &s, 1);
	nfe_tx_push(&g.fe, 0, true);
	expect_failed(&g, "fatal_chain_past_producer");
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

static void test_guest_destroyed(void **state)
{
	struct nfe_config c = { .sg = true, .gso4 = true };
	enum xenbus_state seen;
	unsigned int k;
	struct gfx g;

	guest_up(&g, NULL);
	connect_ok(&g, &c);
	post_all(&g, 0);
	/* Traffic in flight both ways, then the guest dies. */
	for (k = 0; k < 200; k++) {
		make_frame(txbuf, 5000, k);
		nfe_send(&g.fe, 0, txbuf, 5000, 0, 0, 0, (uint16_t)(k * 2));
		if (k % 50 == 49)
			nfe_tx_push(&g.fe, 0, true);
		if (k == 120)
			break;
	}
	nfe_tx_push(&g.fe, 0, true);
	nfe_fini(&g.fe);
	assert_int_equal(xg_dom_destroy(g.dom), 0);
	/* The backend notices, disconnects (Closing/Closed) and keeps
	 * running until the toolstack removes the device. */
	assert_int_equal(xg_xenbus_wait_state(xs0, g.be_path,
					      1u << XenbusStateClosing |
					      1u << XenbusStateClosed,
					      TIMEOUT_MS, &seen), 0);
	for (k = 0; k < 500 && stat_value(&g, "queues") != 0; k++)
		msleep(10);
	assert_int_equal(stat_value(&g, "queues"), 0);
	assert_true(backend_alive(&g));
	guest_down(&g, true);
}

/* Send one frame on queue 0 and check its TX responses are OKAY. */
static void send_ok(struct gfx *g, uint32_t len)
{
	struct netif_tx_response rsp[24];
	unsigned int n, i;

	n = nfe_send(&g->fe, 0, txbuf, len, 0, 0, 0, 0);
	nfe_tx_push(&g->fe, 0, true);
	assert_int_equal(nfe_tx_wait(&g->fe, 0, n, rsp, TIMEOUT_MS), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(rsp[i].status, NETIF_RSP_OKAY);
}

static void mcast_op(struct gfx *g, uint8_t type, const uint8_t *addr,
		     int16_t want)
{
	union netif_tx_sring_entry s[2];
	struct netif_tx_response rsp[2];
	netif_extra_info_t *x = (netif_extra_info_t *)&s[1];

	memset(s, 0, sizeof(s));
	s[0].req.gref = g->fe.q[0].tx_ref[0];
	s[0].req.flags = NETTXF_extra_info;
	s[0].req.id = 5;
	x->type = type;
	memcpy(x->u.mcast.addr, addr, 6);
	nfe_tx_put(&g->fe, 0, s, 2);
	nfe_tx_push(&g->fe, 0, true);
	assert_int_equal(nfe_tx_wait(&g->fe, 0, 2, rsp, TIMEOUT_MS), 0);
	assert_int_equal(rsp[0].id, 5);
	assert_int_equal(rsp[0].status, want);
	assert_int_equal(rsp[1].status, NETIF_RSP_NULL);
}

static void test_ctrl_hash_mcast(void **state)
{
	static const uint8_t group[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
	struct nfe_config c = { .sg = true, .ctrl = true, .mcast_ctrl = true };
	struct xen_netif_ctrl_response rsp;
	struct nfe_rx_frame rf;
	uint8_t key[40], in[12];
	xen_pfn_t kgfn;
	grant_ref_t kref;
	unsigned int i;
	struct gfx g;

	guest_up(&g, NULL);
	connect_ok(&g, &c);
	post_all(&g, 0);
	assert_true(wait_stat(&g, "ctrl_ring", 1) == 1);

	/* Toeplitz over IPv4 + TCP with a 40-byte key. */
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 37 + 11);
	assert_int_equal(xg_pages_alloc(g.dom, 1, &kgfn), 0);
	memcpy(xg_page_ptr(g.dom, kgfn), key, sizeof(key));
	assert_int_equal(xg_grant_access(g.dom, 0, kgfn, true, &kref), 0);
	assert_int_equal(nfe_ctrl(&g.fe, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
				  XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0,
				  &rsp, TIMEOUT_MS), 0);
	assert_int_equal(rsp.status, XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(nfe_ctrl(&g.fe, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
				  kref, sizeof(key), 0, &rsp, TIMEOUT_MS), 0);
	assert_int_equal(rsp.status, XEN_NETIF_CTRL_STATUS_SUCCESS);
	assert_int_equal(nfe_ctrl(&g.fe, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
				  XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
				  XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, 0, 0,
				  &rsp, TIMEOUT_MS), 0);
	assert_int_equal(rsp.status, XEN_NETIF_CTRL_STATUS_SUCCESS);

	make_tcp4(txbuf, 1000, 3);
	memcpy(txbuf + 34, "\x30\x39\x00\x50", 4);    /* ports 12345, 80 */
	rf = roundtrip(&g, 0, 1000, 0, 0, 0);
	assert_true(rf.hash);
	assert_true(rf.flags & NETRXF_extra_info);
	assert_int_equal(rf.hash_type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
	memcpy(in, txbuf + 26, 8);
	memcpy(in + 8, txbuf + 34, 4);
	assert_int_equal(rf.hash_value, net_toeplitz(key, sizeof(key), in, 12));
	/* Not IP: no hash. */
	make_frame(txbuf, 500, 4);
	rf = roundtrip(&g, 0, 500, 0, 0, 0);
	assert_false(rf.hash);
	assert_true(wait_stat(&g, "total.rx_hash", 1) == 1);

	/* Multicast control: a group the guest did not join is filtered. */
	make_frame(txbuf, 200, 5);
	memcpy(txbuf, group, 6);
	send_ok(&g, 200);
	assert_true(wait_stat(&g, "total.rx_drop_mcast_filtered", 1) == 1);
	assert_int_equal(nfe_rx_ready(&g.fe, 0), 0);
	mcast_op(&g, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, group, NETIF_RSP_OKAY);
	roundtrip(&g, 0, 200, 0, 0, 0);
	/* A unicast address cannot be joined. */
	mcast_op(&g, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, txbuf + 6,
		 NETIF_RSP_ERROR);
	mcast_op(&g, XEN_NETIF_EXTRA_TYPE_MCAST_DEL, group, NETIF_RSP_OKAY);
	send_ok(&g, 200);
	assert_true(wait_stat(&g, "total.rx_drop_mcast_filtered", 2) == 2);
	/* Broadcast always passes. */
	memset(txbuf, 0xff, 6);
	roundtrip(&g, 0, 200, 0, 0, 0);
	assert_int_equal(stat_value(&g, "total.tx_mcast_ops"), 3);

	assert_int_equal(xg_grant_end(g.dom, kref), 0);
	xg_pages_free(g.dom, 1, &kgfn);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

/* ---- RX steering by the control ring's hash mapping ---- */

/* The Microsoft RSS specification's key and IPv4 verification vectors
 * ("Verifying the RSS Hash Calculation"): (src, dst, sport, dport) and
 * the hash over the addresses with the TCP ports. */
static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

struct flow4 {
	uint8_t src[4], dst[4];
	uint16_t sport, dport;
	uint32_t ms_hash;        /* the specification's value; 0: none */
};

static const struct flow4 steer_flows[] = {
	{ { 66, 9, 149, 187 }, { 161, 142, 100, 80 }, 2794, 1766, 0x51ccc178 },
	{ { 199, 92, 111, 2 }, { 65, 69, 140, 83 }, 14230, 4739, 0xc626b0ea },
	{ { 24, 19, 198, 95 }, { 12, 22, 207, 184 }, 12898, 38024, 0x5c2b394a },
	{ { 38, 27, 205, 30 }, { 209, 142, 163, 6 }, 48228, 2217, 0xafc7327f },
	{ { 153, 39, 163, 191 }, { 202, 188, 127, 2 }, 44251, 1303,
	  0x10e828a2 },
	{ { 198, 18, 0, 1 }, { 198, 18, 0, 2 }, 40000, 80, 0 },
	{ { 198, 18, 0, 1 }, { 198, 18, 0, 2 }, 40001, 80, 0 },
	{ { 198, 18, 0, 3 }, { 198, 18, 0, 2 }, 40002, 443, 0 },
	{ { 198, 18, 1, 7 }, { 198, 18, 0, 9 }, 5001, 5201, 0 },
};
#define NR_STEER_FLOWS (sizeof(steer_flows) / sizeof(steer_flows[0]))

/* The test's own Toeplitz (bit by bit, as the specification states it:
 * for each set input bit, XOR in the key's 32 bits starting at that bit
 * position), independent of netback's net_toeplitz. */
static uint32_t ref_toeplitz(const uint8_t *key, size_t key_len,
			     const uint8_t *in, size_t len)
{
	uint32_t h = 0, w;
	size_t bit, k;

	for (bit = 0; bit < len * 8; bit++) {
		if (!(in[bit / 8] & (0x80u >> (bit % 8))))
			continue;
		for (w = 0, k = 0; k < 32; k++) {
			size_t kb = bit + k;
			uint32_t v = kb / 8 < key_len
				? (key[kb / 8] >> (7 - kb % 8)) & 1u : 0;

			w = (w << 1) | v;
		}
		h ^= w;
	}
	return h;
}

static uint32_t flow_hash(const struct flow4 *fl)
{
	uint8_t in[12];

	memcpy(in, fl->src, 4);
	memcpy(in + 4, fl->dst, 4);
	in[8] = (uint8_t)(fl->sport >> 8);
	in[9] = (uint8_t)fl->sport;
	in[10] = (uint8_t)(fl->dport >> 8);
	in[11] = (uint8_t)fl->dport;
	return ref_toeplitz(ms_key, sizeof(ms_key), in, sizeof(in));
}

static void make_flow_frame(uint8_t *f, uint32_t len, const struct flow4 *fl,
			    uint32_t seed)
{
	make_tcp4(f, len, seed);
	memcpy(f + 26, fl->src, 4);
	memcpy(f + 30, fl->dst, 4);
	f[34] = (uint8_t)(fl->sport >> 8);
	f[35] = (uint8_t)fl->sport;
	f[36] = (uint8_t)(fl->dport >> 8);
	f[37] = (uint8_t)fl->dport;
}

static void ctrl_ok(struct gfx *g, uint16_t type, uint32_t d0, uint32_t d1,
		    uint32_t d2)
{
	struct xen_netif_ctrl_response rsp;

	assert_int_equal(nfe_ctrl(&g->fe, type, d0, d1, d2, &rsp, TIMEOUT_MS),
			 0);
	assert_int_equal(rsp.status, XEN_NETIF_CTRL_STATUS_SUCCESS);
}

/* The guest's mapping table: @n entries. */
static void set_mapping(struct gfx *g, const uint32_t *map, uint32_t n)
{
	xen_pfn_t gfn;
	grant_ref_t ref;

	assert_int_equal(xg_pages_alloc(g->dom, 1, &gfn), 0);
	memcpy(xg_page_ptr(g->dom, gfn), map, n * sizeof(*map));
	assert_int_equal(xg_grant_access(g->dom, 0, gfn, false, &ref), 0);
	ctrl_ok(g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, n, 0, 0);
	if (n)
		ctrl_ok(g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, ref, n, 0);
	assert_int_equal(xg_grant_end(g->dom, ref), 0);
	xg_pages_free(g->dom, 1, &gfn);
}

/*
 * Send every flow's frame from queue @txq (the loop port hands it back to
 * port queue @txq), then receive each on the queue @map names for its
 * hash (@map NULL: on @txq, as without steering), intact, with the hash
 * extra equal to the reference. Nothing may arrive anywhere else.
 * Returns how many frames went to another queue than @txq.
 */
static unsigned int steer_round(struct gfx *g, unsigned int nq,
				unsigned int txq, const uint32_t *map,
				uint32_t map_size, uint32_t seed)
{
	static uint8_t sent[NR_STEER_FLOWS][2048];
	struct netif_tx_response rsp[4];
	unsigned int i, q, n, moved = 0, want[NFE_MAX_QUEUES] = { 0 };
	unsigned int got[NFE_MAX_QUEUES] = { 0 };
	unsigned int dest[NR_STEER_FLOWS];
	struct nfe_rx_frame rf;
	int ret;

	for (i = 0; i < NR_STEER_FLOWS; i++) {
		uint32_t len = 100 + 150 * i + (seed % 7);
		uint32_t h = flow_hash(&steer_flows[i]);

		make_flow_frame(sent[i], len, &steer_flows[i], seed + i);
		dest[i] = map ? map[h % map_size] : txq;
		want[dest[i]]++;
		if (dest[i] != txq)
			moved++;
		n = nfe_send(&g->fe, txq, sent[i], len, 0, 0, 0, (uint16_t)i);
		nfe_tx_push(&g->fe, txq, false);
		assert_int_equal(nfe_tx_wait(&g->fe, txq, n, rsp, TIMEOUT_MS),
				 0);
		assert_int_equal(rsp[0].status, NETIF_RSP_OKAY);
	}
	/* Per queue, frames arrive in the order sent (one source each). */
	for (q = 0; q < nq; q++) {
		for (i = 0; i < NR_STEER_FLOWS; i++) {
			uint32_t len = 100 + 150 * i + (seed % 7);

			if (dest[i] != q)
				continue;
			ret = nfe_recv(&g->fe, q, rxbuf, &rf, TIMEOUT_MS);
			if (ret)
				fail_msg("flow %u (sent on queue %u) not "
					 "received on queue %u: %s", i, txq, q,
					 strerror(-ret));
			nfe_rx_post_pages(&g->fe, q, rf.nids, rf.ids);
			assert_int_equal(rf.status, 0);
			assert_int_equal(rf.len, len);
			assert_memory_equal(rxbuf, sent[i], len);
			assert_true(rf.hash);
			assert_int_equal(rf.hash_type,
					 _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
			assert_int_equal(rf.hash_value,
					 flow_hash(&steer_flows[i]));
			got[q]++;
		}
	}
	/* Nothing left anywhere (the loop port is synchronous enough: give
	 * a stray frame time to show up). */
	msleep(50);
	for (q = 0; q < nq; q++) {
		assert_int_equal(got[q], want[q]);
		assert_int_equal(nfe_rx_ready(&g->fe, q), 0);
	}
	return moved;
}

static void test_ctrl_steer(void **state)
{
	const char *const args[] = { "--queues", "3", NULL };
	struct nfe_config c = { .nr_queues = 3, .sg = true, .ctrl = true };
	uint32_t map[8];
	xen_pfn_t kgfn;
	grant_ref_t kref;
	unsigned int i, q, moved;
	char key[32];
	struct gfx g;

	/* The reference function first, on the specification's vectors. */
	for (i = 0; i < NR_STEER_FLOWS; i++)
		if (steer_flows[i].ms_hash)
			assert_int_equal(flow_hash(&steer_flows[i]),
					 steer_flows[i].ms_hash);

	guest_up(&g, args);
	connect_ok(&g, &c);
	for (q = 0; q < 3; q++)
		post_all(&g, q);
	assert_true(wait_stat(&g, "ctrl_ring", 1) == 1);
	assert_int_equal(xg_pages_alloc(g.dom, 1, &kgfn), 0);
	memcpy(xg_page_ptr(g.dom, kgfn), ms_key, sizeof(ms_key));
	assert_int_equal(xg_grant_access(g.dom, 0, kgfn, false, &kref), 0);
	ctrl_ok(&g, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
	ctrl_ok(&g, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, kref, sizeof(ms_key), 0);
	ctrl_ok(&g, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
		XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
		XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, 0, 0);
	assert_int_equal(xg_grant_end(g.dom, kref), 0);
	xg_pages_free(g.dom, 1, &kgfn);

	/* Hashing on, no table: every frame stays on its own queue. */
	for (q = 0; q < 3; q++)
		assert_int_equal(steer_round(&g, 3, q, NULL, 0, q), 0);

	/* Everything to queue 1, sent from 0 and from 2. */
	for (i = 0; i < 8; i++)
		map[i] = 1;
	set_mapping(&g, map, 8);
	assert_int_equal(steer_round(&g, 3, 0, map, 8, 10), NR_STEER_FLOWS);
	assert_int_equal(steer_round(&g, 3, 2, map, 8, 11), NR_STEER_FLOWS);
	assert_int_equal(steer_round(&g, 3, 1, map, 8, 12), 0);
	/* Then everything to queue 0. */
	for (i = 0; i < 8; i++)
		map[i] = 0;
	set_mapping(&g, map, 8);
	assert_int_equal(steer_round(&g, 3, 1, map, 8, 20), NR_STEER_FLOWS);
	assert_int_equal(steer_round(&g, 3, 2, map, 8, 21), NR_STEER_FLOWS);
	/* Then a split over the three queues, from each queue. */
	for (i = 0; i < 8; i++)
		map[i] = i % 3;
	set_mapping(&g, map, 8);
	for (q = 0; q < 3; q++) {
		moved = steer_round(&g, 3, q, map, 8, 30 + q);
		assert_true(moved > 0 && moved < NR_STEER_FLOWS);
	}
	/* A frame that is not IP has no hash: it stays where it came. */
	make_frame(txbuf, 300, 40);
	roundtrip(&g, 2, 300, 0, 0, 0);
	/* The table removed: back to no steering. */
	set_mapping(&g, map, 0);
	assert_int_equal(steer_round(&g, 3, 1, NULL, 0, 50), 0);

	snprintf(key, sizeof(key), "total.rx_steered_out");
	assert_true(wait_stat(&g, key, 1) > 0);
	assert_int_equal(stat_value(&g, "total.rx_steered_out"),
			 stat_value(&g, "total.rx_steered_in"));
	assert_int_equal(stat_value(&g, "total.rx_drop_steer_full"), 0);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The toolstack's `rate`: 20000 bytes per 50 ms. */
static void test_rate(void **state)
{
	const char *const be_extra[] = { "rate", "20000,50000", NULL };
	struct nfe_config c = { .sg = true };
	uint64_t t0, dt;
	unsigned int k;
	struct gfx g;

	guest_up_kv(&g, be_extra, NULL);
	connect_ok(&g, &c);
	post_all(&g, 0);
	make_frame(txbuf, 1000, 1);
	t0 = mono_ms();
	for (k = 0; k < 60; k++)
		nfe_send(&g.fe, 0, txbuf, 1000, 0, 0, 0, (uint16_t)k);
	nfe_tx_push(&g.fe, 0, true);
	assert_int_equal(nfe_tx_wait(&g.fe, 0, 60, NULL, TIMEOUT_MS), 0);
	dt = mono_ms() - t0;
	print_message("60 x 1000 B at 20000 B / 50 ms: %llu ms\n",
		      (unsigned long long)dt);
	/* Three intervals' worth: at least two refills. */
	assert_true(dt >= 90);
	assert_true(wait_stat(&g, "total.tx_credit_waits", 1) >= 1);
	assert_true(wait_stat(&g, "total.tx_packets", 60) == 60);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	guest_down(&g, false);
}

/* Malformed or unusable frontend keys: connect refused with an error
 * key, the backend survives and serves a correct frontend after. */
static void test_bad_frontend_keys(void **state)
{
	static const struct {
		const char *what;      /* expected in the error key */
		bool split;
		const char *kv[5];
	} cases[] = {
		{ "key tx-ring-ref", false, { "tx-ring-ref", "12abc" } },
		{ "key rx-ring-ref", false, { "rx-ring-ref", "-1" } },
		{ "cannot map", false, { "tx-ring-ref", "3999" } },
		{ "multi-queue-num-queues", false,
		  { "multi-queue-num-queues", "99" } },
		{ "multi-queue-num-queues", false,
		  { "multi-queue-num-queues", "0" } },
		{ "missing frontend key queue-0/tx-ring-ref", false,
		  { "multi-queue-num-queues", "2" } },
		{ "missing frontend key event-channel-rx", false,
		  { "event-channel-tx", "5" } },
		{ "event-channel-tx equals -rx", true,
		  { "event-channel-rx", "1" , "event-channel-tx", "1" } },
		{ "bind the event channels", false,
		  { "event-channel", "4000" } },
		{ "key feature-sg", false, { "feature-sg", "2" } },
		{ "key request-rx-copy", false, { "request-rx-copy", "yes" } },
		{ "event-channel-ctrl", false, { "ctrl-ring-ref", "7" } },
		{ "key event-channel", false,
		  { "event-channel", "99999999999999999999" } },
	};
	struct nfe_config good = { .sg = true };
	unsigned int i;
	char err[256];
	struct gfx g;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nfe_config c = { .sg = true, .split = cases[i].split,
					.extra_kv = cases[i].kv };
		int ret;

		guest_up(&g, NULL);
		ret = nfe_connect(&g.fe, &c, TIMEOUT_MS);
		be_read(&g, "error", err, sizeof(err));
		print_message("%s: %s; error '%s'\n", cases[i].what,
			      strerror(-ret), err);
		if (ret != -ECONNREFUSED)
			fail_msg("%s: connect %s", cases[i].what,
				 strerror(-ret));
		if (!strstr(err, cases[i].what))
			fail_msg("error key '%s', want '%s'", err,
				 cases[i].what);
		assert_true(backend_alive(&g));
		assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
		if (i + 1 == sizeof(cases) / sizeof(cases[0])) {
			char path[192];

			/* Clean keys, a correct frontend: served. */
			snprintf(path, sizeof(path), "%s/event-channel",
				 g.fe.fe_path);
			assert_int_equal(xb_xs_rm(g.fe.xs, XBT_NULL, path), 0);
			assert_int_equal(xg_xenbus_switch(g.fe.xs, g.fe.fe_path,
						XenbusStateInitialising), 0);
			connect_ok(&g, &good);
			post_all(&g, 0);
			make_frame(txbuf, 1500, 1);
			roundtrip(&g, 0, 1500, 0, 0, 0);
			assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
		}
		guest_down(&g, false);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_features_no_tso),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_multiqueue),
		cmocka_unit_test(test_no_rx_copy),
		cmocka_unit_test(test_bad_grants),
		cmocka_unit_test(test_never_replenished),
		cmocka_unit_test(test_spin_gate),
		cmocka_unit_test(test_hostile_ring),
		cmocka_unit_test(test_guest_destroyed),
		cmocka_unit_test(test_ctrl_hash_mcast),
		cmocka_unit_test(test_ctrl_steer),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_bad_frontend_keys),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
