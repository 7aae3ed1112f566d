/* SPDX-License-Identifier: MIT */
/*
 * netfront against the real backend, uback-net with its `loop` port
 * (every guest TX frame comes back on the guest's RX ring), under a
 * private xensim: each feature combination negotiates, frames of 14 to
 * 65535 bytes round-trip intact with their metadata (GSO, checksum state,
 * Toeplitz hash over the ctrl ring), the multicast filter follows the
 * guest's add/del extras, and closing leaves no grant held.
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
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/virtio_net.h>

#include <uback/ring.h>
#include <xensim/guest.h>

#include "netfront_raw.h"
#include "sim_harness.h"

#define DEVID 0u
#define WAIT_MS 5000
#define BE_QUEUES "4"

static struct sim_harness h;
static struct xg_sim *sim;

static int group_setup(void **state)
{
	(void)state;
	if (sim_harness_start(&h) || xg_sim_connect(h.dir, &sim))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	xg_sim_disconnect(sim);
	return sim_harness_stop(&h) ? -1 : 0;
}

struct guest {
	struct xg_dom *dom;
	pid_t backend;
	struct netfront *nf;
	struct netfront_info info;
};

static const uint8_t guest_mac[6] = { 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56 };

static void guest_up(struct guest *g, struct netfront_config *c)
{
	struct xg_dom_config dc = { .mem_pages = 16384, .nr_grants = 16384 };
	const char *be_kv[] = { "mac", "00:16:3e:12:34:56", "bridge", "none",
				"handle", "0", "type", "vif", "script", "",
				NULL };
	const char *fe_kv[] = { "mac", "00:16:3e:12:34:56", "handle", "0",
				NULL };
	char domid[16];
	pid_t pid;
	int ret;

	assert_int_equal(xg_dom_create(sim, &dc, &g->dom), 0);
	assert_int_equal(xg_device_create(sim, xg_dom_id(g->dom), "vif", "vif",
					  DEVID, be_kv, fe_kv), 0);
	snprintf(domid, sizeof(domid), "%u", xg_dom_id(g->dom));
	pid = fork();
	if (pid == 0) {
		const char *argv[] = {
			UBACK_NET_BIN, "--hv", "sim", "--sim-dir", h.dir,
			"--log", "warn", "--port", "loop", "--queues",
			BE_QUEUES, "--domid", domid, "--devid", "0", NULL,
		};

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_true(pid > 0);
	g->backend = pid;
	c->dom = g->dom;
	c->devid = DEVID;
	c->timeout_ms = 20000;
	ret = netfront_connect(c, &g->nf);
	if (ret)
		fail_msg("netfront_connect: %s", strerror(-ret));
	netfront_get_info(g->nf, &g->info);
	assert_memory_equal(g->info.mac, guest_mac, 6);
}

static void guest_down(struct guest *g)
{
	int st;

	netfront_close(g->nf);
	/* netfront_close frees; leaks are checked before, by the caller */
	g->nf = NULL;
	assert_int_equal(xg_device_remove(sim, xg_dom_id(g->dom), "vif", "vif",
					  DEVID), 0);
	kill(g->backend, SIGTERM);
	assert_int_equal(waitpid(g->backend, &st, 0), g->backend);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("uback-net exit status 0x%x", st);
	assert_int_equal(xg_dom_destroy(g->dom), 0);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait up to @ms for one frame on any queue; copy it out. -ETIMEDOUT. */
static int recv_any(struct guest *g, uint8_t *buf, size_t cap,
		    struct netfront_meta *meta, uint32_t *len, int ms)
{
	int64_t deadline = now_ms() + ms;
	struct netfront_rx_frame f;
	unsigned int q;

	for (;;) {
		netfront_poll(g->nf);
		for (q = 0; q < g->info.nr_queues; q++) {
			if (netfront_rx(g->nf, q, &f) == 0) {
				*len = f.len;
				*meta = f.meta;
				netfront_rx_copy(&f, buf, cap);
				netfront_kick(g->nf);
				return 0;
			}
		}
		netfront_kick(g->nf);
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		netfront_wait(g->nf, 10);
	}
}

static int send_frame(struct guest *g, unsigned int q,
		      const struct netfront_meta *m, const uint8_t *p,
		      size_t len)
{
	struct iovec iov = { (void *)p, len };
	int64_t deadline = now_ms() + WAIT_MS;
	int ret;

	for (;;) {
		ret = netfront_tx(g->nf, q, m, &iov, 1);
		if (ret != -EAGAIN || now_ms() >= deadline)
			break;
		netfront_poll(g->nf);
		netfront_wait(g->nf, 10);
	}
	if (!ret)
		ret = netfront_kick(g->nf);
	return ret;
}

/* A plain Ethernet frame (local experimental ethertype) to the guest. */
static void build_plain(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	memcpy(p, guest_mac, 6);
	memcpy(p + 6, (uint8_t[]){ 0x02, 0, 0, 0, 0, 1 }, 6);
	if (len > 12)
		p[12] = 0x88;
	if (len > 13)
		p[13] = 0xb5;
	for (i = 14; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

/* An IPv4 TCP frame 198.18.0.1:40000 -> 198.18.0.2:5201 with payload. */
static void build_tcp4(uint8_t *p, size_t len, uint32_t seed)
{
	size_t ip_len = len - 14;

	build_plain(p, len, seed);
	p[12] = 0x08;
	p[13] = 0x00;
	memset(p + 14, 0, 40);
	p[14] = 0x45;
	p[16] = (uint8_t)(ip_len >> 8);
	p[17] = (uint8_t)ip_len;
	p[22] = 64;
	p[23] = 6;
	memcpy(p + 26, (uint8_t[]){ 198, 18, 0, 1 }, 4);
	memcpy(p + 30, (uint8_t[]){ 198, 18, 0, 2 }, 4);
	p[34] = 40000 >> 8;
	p[35] = 40000 & 0xff;
	p[36] = 5201 >> 8;
	p[37] = 5201 & 0xff;
	p[46] = 5 << 4;
	p[47] = 0x18;
}

/* An IPv6 TCP frame ::ffff:198.18.0.1 -> ::ffff:198.18.0.2 (TCP at 54). */
static void build_tcp6(uint8_t *p, size_t len, uint32_t seed)
{
	size_t plen = len - 54;

	build_plain(p, len, seed);
	p[12] = 0x86;
	p[13] = 0xdd;
	memset(p + 14, 0, 60);
	p[14] = 0x60;
	p[18] = (uint8_t)(plen >> 8);
	p[19] = (uint8_t)plen;
	p[20] = 6;
	p[21] = 64;
	p[32] = 0xff; p[33] = 0xff; p[34] = 198; p[35] = 18; p[37] = 1;
	p[48] = 0xff; p[49] = 0xff; p[50] = 198; p[51] = 18; p[53] = 2;
	p[54] = 40000 >> 8;
	p[55] = 40000 & 0xff;
	p[56] = 5201 >> 8;
	p[57] = 5201 & 0xff;
	p[66] = 5 << 4;
	p[67] = 0x18;
}

/* Frames of @sizes round-trip byte for byte on queue @q. */
static void roundtrip_sizes(struct guest *g, const size_t *sizes,
			    unsigned int n, unsigned int q)
{
	uint8_t *tx = malloc(NETFRONT_MAX_FRAME), *rx = malloc(65536);
	struct netfront_meta m;
	unsigned int i;
	uint32_t len;
	int ret;

	assert_non_null(tx);
	assert_non_null(rx);
	for (i = 0; i < n; i++) {
		build_plain(tx, sizes[i], i + 1);
		ret = send_frame(g, q % g->info.nr_queues, NULL, tx, sizes[i]);
		if (ret)
			fail_msg("tx %zu bytes: %s", sizes[i], strerror(-ret));
		ret = recv_any(g, rx, 65536, &m, &len, WAIT_MS);
		if (ret)
			fail_msg("no frame back for %zu bytes", sizes[i]);
		if (len != sizes[i] || memcmp(tx, rx, len))
			fail_msg("frame of %zu bytes came back as %u bytes%s",
				 sizes[i], len,
				 len == sizes[i] ? " (data differs)" : "");
		assert_int_equal(m.gso_type, NETFRONT_GSO_NONE);
	}
	free(tx);
	free(rx);
}

static const size_t small_sizes[] = { 14, 15, 59, 60, 61, 64, 128, 1500,
				      1514, 1518, 2048, 4095, 4096 };
static const size_t big_sizes[] = { 4097, 8191, 8192, 9018, 16384, 32768,
				    40000, 65534, 65535 };

static void check_stats_clean(struct guest *g)
{
	struct netfront_stats s;
	unsigned int q;

	for (q = 0; q < g->info.nr_queues; q++) {
		netfront_get_stats(g->nf, q, &s);
		assert_int_equal(s.rx_errors, 0);
		assert_int_equal(s.rx_backend_errors, 0);
		assert_int_equal(s.tx_errors, 0);
		assert_int_equal(s.bad_tx_responses, 0);
	}
	assert_int_equal(netfront_grant_leaks(g->nf), 0);
}

/* ---- the feature matrix ---- */

struct combo {
	const char *name;
	struct netfront_config cfg;
	bool big;                 /* frames over one page (needs SG) */
};

static const struct combo combos[] = {
	{ "legacy", { 0 }, false },
	{ "sg", { .sg = true }, true },
	{ "sg+gso", { .sg = true, .gso_tcpv4 = true, .gso_tcpv6 = true,
		      .ipv6_csum = true }, true },
	{ "split", { .split_evtchn = true, .sg = true }, true },
	{ "mq1", { .nr_queues = 1, .sg = true }, true },
	{ "mq4", { .nr_queues = 4, .sg = true, .gso_tcpv4 = true }, true },
	{ "mq4+split", { .nr_queues = 4, .split_evtchn = true }, false },
	{ "no-csum", { .sg = true, .no_csum_offload = true }, true },
	{ "ctrl", { .ctrl_ring = true, .sg = true }, true },
	{ "mcast", { .multicast_control = true }, false },
	{ "rx-fill-32", { .sg = true, .rx_fill = 32 }, true },
	{ "everything", { .nr_queues = 4, .split_evtchn = true, .sg = true,
			  .gso_tcpv4 = true, .gso_tcpv6 = true,
			  .ipv6_csum = true, .multicast_control = true,
			  .ctrl_ring = true }, true },
};

static void test_matrix(void **state)
{
	unsigned int i, q;

	(void)state;
	for (i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		struct netfront_config c = combos[i].cfg;
		struct guest g = { 0 };
		const struct netfront_info *in = &g.info;

		print_message("combo %s\n", combos[i].name);
		guest_up(&g, &c);
		/* negotiated = asked AND offered (uback-net offers all) */
		assert_int_equal(in->nr_queues,
				 c.nr_queues ? c.nr_queues : 1);
		assert_int_equal(in->sg, c.sg);
		assert_int_equal(in->split_evtchn, c.split_evtchn);
		assert_int_equal(in->gso_tcpv4,
				 c.gso_tcpv4 && c.sg && !c.no_csum_offload);
		assert_int_equal(in->ctrl_ring, c.ctrl_ring);
		assert_int_equal(in->multicast_control, c.multicast_control);
		for (q = 0; q < in->nr_queues; q++)
			roundtrip_sizes(&g, small_sizes,
					sizeof(small_sizes) /
					sizeof(small_sizes[0]), q);
		if (combos[i].big)
			roundtrip_sizes(&g, big_sizes, sizeof(big_sizes) /
					sizeof(big_sizes[0]), 0);
		check_stats_clean(&g);
		guest_down(&g);
	}
}

/* Without SG a frame over one page cannot be sent. */
static void test_no_sg_refuses_big(void **state)
{
	struct netfront_config c = { 0 };
	struct guest g = { 0 };
	uint8_t *tx = calloc(1, 5000);
	struct iovec iov = { tx, 5000 };

	(void)state;
	guest_up(&g, &c);
	assert_int_equal(netfront_tx(g.nf, 0, NULL, &iov, 1), -EMSGSIZE);
	iov.iov_len = 13;
	assert_int_equal(netfront_tx(g.nf, 0, NULL, &iov, 1), -EINVAL);
	check_stats_clean(&g);
	guest_down(&g);
	free(tx);
}

/* TCPv4 and TCPv6 GSO super-frames with a blank checksum come back
 * whole, with their GSO metadata and a blank (partial) checksum. */
static void test_gso_roundtrip(void **state)
{
	struct netfront_config c = { .sg = true, .gso_tcpv4 = true,
				     .gso_tcpv6 = true, .ipv6_csum = true };
	struct netfront_meta m = { .gso_type = NETFRONT_GSO_TCPV4,
				   .gso_size = 1448,
				   .csum = NETFRONT_CSUM_PARTIAL }, got;
	static const size_t sizes[] = { 1600, 3000, 30000, 65535 };
	uint8_t *tx = malloc(65536), *rx = malloc(65536);
	struct guest g = { 0 };
	struct netfront_stats s;
	unsigned int i;
	uint32_t len;

	(void)state;
	guest_up(&g, &c);
	assert_true(g.info.gso_tcpv4);
	assert_true(g.info.gso_tcpv6);
	for (i = 0; i < 8; i++) {
		bool v6 = i >= 4;
		/* the TCP checksum field: 16 bytes into TCP at 34 / 54 */
		size_t ck = v6 ? 70 : 50;

		if (v6)
			build_tcp6(tx, sizes[i % 4], i);
		else
			build_tcp4(tx, sizes[i % 4], i);
		m.gso_type = v6 ? NETFRONT_GSO_TCPV6 : NETFRONT_GSO_TCPV4;
		assert_int_equal(send_frame(&g, 0, &m, tx, sizes[i % 4]), 0);
		assert_int_equal(recv_any(&g, rx, 65536, &got, &len, WAIT_MS),
				 0);
		assert_int_equal(len, sizes[i % 4]);
		/* all but the TCP checksum field (the backend may fold the
		 * pseudo-header sum differently) */
		assert_memory_equal(tx, rx, ck);
		assert_memory_equal(tx + ck + 2, rx + ck + 2, len - ck - 2);
		assert_int_equal(got.gso_type, m.gso_type);
		assert_int_equal(got.gso_size, 1448);
		assert_int_equal(got.csum, NETFRONT_CSUM_PARTIAL);
	}
	netfront_get_stats(g.nf, 0, &s);
	assert_int_equal(s.tx_gso, 8);
	check_stats_clean(&g);
	guest_down(&g);
	free(tx);
	free(rx);
}

/*
 * Zero-copy TX (netfront_tx_buffers + netfront_tx_commit): frames written
 * straight into the offered pool pages come back byte for byte, a GSO one
 * with its metadata; an abandoned reservation leaves nothing behind; a
 * reservation larger than the ring can take is -EAGAIN, and without SG
 * one over a page is -EMSGSIZE.
 */
static void fill_iov(const struct iovec *iov, unsigned int n,
		     const uint8_t *src, size_t len)
{
	unsigned int i;
	size_t off = 0;

	for (i = 0; i < n && off < len; i++) {
		size_t c = iov[i].iov_len < len - off ? iov[i].iov_len
						      : len - off;

		memcpy(iov[i].iov_base, src + off, c);
		off += c;
	}
	assert_int_equal(off, len);
}

static void test_tx_zero_copy(void **state)
{
	struct netfront_config c = { .sg = true, .gso_tcpv4 = true,
				     .gso_tcpv6 = true, .ipv6_csum = true };
	static const size_t sizes[] = { 14, 60, 4096, 4097, 9018, 65535 };
	struct netfront_meta gm = { .gso_type = NETFRONT_GSO_TCPV4,
				    .gso_size = 1448,
				    .csum = NETFRONT_CSUM_PARTIAL }, got;
	uint8_t *tx = malloc(65536), *rx = malloc(65536);
	struct iovec iov[NETFRONT_MAX_SLOTS];
	struct guest g = { 0 };
	struct netfront_stats s;
	unsigned int i, n;
	uint32_t len;

	(void)state;
	guest_up(&g, &c);
	for (i = 0; i < 6; i++) {
		assert_int_equal(netfront_tx_buffers(g.nf, 0, NETFRONT_MAX_FRAME,
						     iov, &n), 0);
		assert_int_equal(n, 16);   /* 65535 bytes from offset 0 */
		build_plain(tx, sizes[i], 100 + i);
		fill_iov(iov, n, tx, sizes[i]);
		assert_int_equal(netfront_tx_commit(g.nf, 0, NULL, sizes[i]),
				 0);
		assert_int_equal(netfront_kick(g.nf), 0);
		assert_int_equal(recv_any(&g, rx, 65536, &got, &len, WAIT_MS),
				 0);
		assert_int_equal(len, sizes[i]);
		assert_memory_equal(tx, rx, len);
	}
	/* An abandoned reservation: the next frame uses the same pages. */
	assert_int_equal(netfront_tx_buffers(g.nf, 0, 1500, iov, &n), 0);
	assert_int_equal(n, 1);
	build_tcp4(tx, 30000, 7);
	assert_int_equal(netfront_tx_buffers(g.nf, 0, 30000, iov, &n), 0);
	assert_int_equal(n, 8);
	fill_iov(iov, n, tx, 30000);
	assert_int_equal(netfront_tx_commit(g.nf, 0, &gm, 30000), 0);
	assert_int_equal(netfront_kick(g.nf), 0);
	assert_int_equal(recv_any(&g, rx, 65536, &got, &len, WAIT_MS), 0);
	assert_int_equal(len, 30000);
	assert_memory_equal(tx, rx, 50);
	assert_memory_equal(tx + 52, rx + 52, len - 52);
	assert_int_equal(got.gso_type, NETFRONT_GSO_TCPV4);
	assert_int_equal(got.gso_size, 1448);
	/* Bad lengths. */
	assert_int_equal(netfront_tx_buffers(g.nf, 0, 13, iov, &n), -EINVAL);
	assert_int_equal(netfront_tx_buffers(g.nf, 0, NETFRONT_MAX_FRAME + 1,
					     iov, &n), -EINVAL);
	assert_int_equal(netfront_tx_commit(g.nf, 0, NULL, 13), -EINVAL);
	netfront_get_stats(g.nf, 0, &s);
	assert_int_equal(s.tx_frames, 7);
	check_stats_clean(&g);
	guest_down(&g);
	free(tx);
	free(rx);
}

static void test_tx_zero_copy_limits(void **state)
{
	struct netfront_config c = { 0 };
	struct iovec iov[NETFRONT_MAX_SLOTS];
	struct guest g = { 0 };
	unsigned int n, i;

	(void)state;
	/* legacy: no SG, one page per frame */
	guest_up(&g, &c);
	assert_int_equal(netfront_tx_buffers(g.nf, 0, 4097, iov, &n),
			 -EMSGSIZE);
	assert_int_equal(netfront_tx_buffers(g.nf, 0, 1514, iov, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(iov[0].iov_len, 1514);
	/* Fill the ring without publishing: then no room is -EAGAIN. */
	for (i = 0; i < 256; i++) {
		if (netfront_tx_buffers(g.nf, 0, 60, iov, &n))
			break;
		memset(iov[0].iov_base, 0xff, 60);
		assert_int_equal(netfront_tx_commit(g.nf, 0, NULL, 60), 0);
	}
	assert_true(i < 256);
	assert_int_equal(netfront_tx_buffers(g.nf, 0, 60, iov, &n), -EAGAIN);
	guest_down(&g);
}

/* A GSO type not negotiated is refused before touching the ring. */
static void test_gso_not_negotiated(void **state)
{
	struct netfront_config c = { .sg = true };
	struct netfront_meta m = { .gso_type = NETFRONT_GSO_TCPV4,
				   .gso_size = 1448,
				   .csum = NETFRONT_CSUM_PARTIAL };
	uint8_t *tx = malloc(3000);
	struct iovec iov = { tx, 3000 };
	struct guest g = { 0 };

	(void)state;
	guest_up(&g, &c);
	build_tcp4(tx, 3000, 1);
	assert_int_equal(netfront_tx(g.nf, 0, &m, &iov, 1), -EOPNOTSUPP);
	guest_down(&g);
	free(tx);
}

/* Toeplitz, written from the RSS specification for this test. */
static uint32_t toeplitz(const uint8_t *key, size_t klen, const uint8_t *d,
			 size_t n)
{
	uint32_t r = 0, v = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 |
			    (uint32_t)key[2] << 8 | key[3];
	size_t i, b, k = 4;

	for (i = 0; i < n; i++) {
		for (b = 0; b < 8; b++) {
			if (d[i] & (0x80 >> b))
				r ^= v;
			v <<= 1;
			if (k < klen && (key[k] & (0x80 >> b)))
				v |= 1;
		}
		k++;
	}
	return r;
}

static void test_hash(void **state)
{
	struct netfront_hash_config hc = {
		.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
			 XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP,
		.key_len = 40,
	};
	struct netfront_config c = { .sg = true, .ctrl_ring = true,
				     .hash = &hc, .nr_queues = 2 };
	uint8_t tx[200], rx[256], tuple[12];
	struct netfront_meta got;
	struct guest g = { 0 };
	uint32_t len, st, data, i;

	(void)state;
	for (i = 0; i < 40; i++)
		hc.key[i] = (uint8_t)(i * 29 + 5);
	hc.mapping_size = 8;
	for (i = 0; i < 8; i++)
		hc.mapping[i] = i & 1;
	guest_up(&g, &c);
	assert_true(g.info.hash);
	build_tcp4(tx, sizeof(tx), 3);
	assert_int_equal(send_frame(&g, 0, NULL, tx, sizeof(tx)), 0);
	assert_int_equal(recv_any(&g, rx, sizeof(rx), &got, &len, WAIT_MS), 0);
	assert_int_equal(len, sizeof(tx));
	assert_true(got.hash_valid);
	assert_int_equal(got.hash_alg, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);
	assert_int_equal(got.hash_type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
	memcpy(tuple, tx + 26, 8);           /* saddr, daddr */
	memcpy(tuple + 8, tx + 34, 4);       /* sport, dport */
	assert_int_equal(got.hash, toeplitz(hc.key, 40, tuple, 12));
	/* a non-IP frame carries no hash */
	build_plain(tx, 100, 9);
	assert_int_equal(send_frame(&g, 0, NULL, tx, 100), 0);
	assert_int_equal(recv_any(&g, rx, sizeof(rx), &got, &len, WAIT_MS), 0);
	assert_false(got.hash_valid);
	/* the raw control call: an unknown type is refused, not fatal */
	assert_int_equal(netfront_ctrl(g.nf, 0x7777, 0, 0, 0, &st, &data), 0);
	assert_int_not_equal(st, XEN_NETIF_CTRL_STATUS_SUCCESS);
	/* flags the backend does not support are refused */
	hc.flags = 0x80000000u;
	assert_int_equal(netfront_set_hash(g.nf, &hc, NULL), -EPROTO);
	check_stats_clean(&g);
	guest_down(&g);
}

static void test_mcast(void **state)
{
	struct netfront_config c = { .multicast_control = true };
	static const uint8_t grp[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x42 };
	uint8_t tx[100], rx[128];
	struct netfront_meta got;
	struct netfront_stats s;
	struct guest g = { 0 };
	uint32_t len;

	(void)state;
	guest_up(&g, &c);
	assert_true(g.info.multicast_control);
	build_plain(tx, sizeof(tx), 1);
	memcpy(tx, grp, 6);
	/* not subscribed: filtered */
	assert_int_equal(send_frame(&g, 0, NULL, tx, sizeof(tx)), 0);
	assert_int_equal(recv_any(&g, rx, sizeof(rx), &got, &len, 300),
			 -ETIMEDOUT);
	assert_int_equal(netfront_mcast(g.nf, true, grp), 0);
	assert_int_equal(netfront_kick(g.nf), 0);
	assert_int_equal(send_frame(&g, 0, NULL, tx, sizeof(tx)), 0);
	assert_int_equal(recv_any(&g, rx, sizeof(rx), &got, &len, WAIT_MS), 0);
	assert_memory_equal(tx, rx, sizeof(tx));
	assert_int_equal(netfront_mcast(g.nf, false, grp), 0);
	assert_int_equal(send_frame(&g, 0, NULL, tx, sizeof(tx)), 0);
	assert_int_equal(recv_any(&g, rx, sizeof(rx), &got, &len, 300),
			 -ETIMEDOUT);
	/* a unicast address is not a group */
	assert_int_equal(netfront_mcast(g.nf, true, guest_mac), -EINVAL);
	netfront_poll(g.nf);
	netfront_get_stats(g.nf, 0, &s);
	assert_int_equal(s.tx_mcast, 2);
	check_stats_clean(&g);
	guest_down(&g);
}

/* Many frames in flight: the TX ring fills, the pool recycles, and every
 * frame comes back in order on its queue. */
static void test_burst(void **state)
{
	struct netfront_config c = { .sg = true };
	uint8_t *tx = malloc(2000), *rx = malloc(2048);
	struct netfront_rx_frame f;
	struct iovec iov = { tx, 0 };
	struct guest g = { 0 };
	unsigned int sent = 0, got = 0, total = 3000;
	int64_t deadline;

	(void)state;
	guest_up(&g, &c);
	deadline = now_ms() + 20000;
	while (got < total && now_ms() < deadline) {
		while (sent < total && sent - got < 200) {
			iov.iov_len = 60 + sent % 1400;
			build_plain(tx, iov.iov_len, sent);
			if (netfront_tx(g.nf, 0, NULL, &iov, 1))
				break;
			sent++;
		}
		netfront_kick(g.nf);
		netfront_poll(g.nf);
		while (netfront_rx(g.nf, 0, &f) == 0) {
			size_t want = 60 + got % 1400;

			assert_int_equal(f.len, want);
			build_plain(tx, want, got);
			netfront_rx_copy(&f, rx, 2048);
			assert_memory_equal(tx, rx, want);
			got++;
		}
		netfront_kick(g.nf);
		if (got < sent)
			netfront_wait(g.nf, 5);
	}
	assert_int_equal(got, total);
	check_stats_clean(&g);
	guest_down(&g);
	free(tx);
	free(rx);
}

/*
 * Send @total frames in batches of 100 and take every TX response and
 * every echoed frame; return the events seen on the split TX channel.
 */
static uint64_t tx_traffic(struct guest *g, unsigned int total)
{
	uint8_t tx[128];
	struct netfront_rx_frame f;
	struct netfront_stats s;
	struct iovec iov = { tx, sizeof(tx) };
	unsigned int sent = 0, got = 0, k;
	int64_t deadline = now_ms() + 20000;

	build_plain(tx, sizeof(tx), 0);
	while (got < total && now_ms() < deadline) {
		for (k = 0; k < 100 && sent < total; k++, sent++)
			if (netfront_tx(g->nf, 0, NULL, &iov, 1))
				break;
		netfront_kick(g->nf);
		netfront_wait(g->nf, 2);
		netfront_poll(g->nf);
		while (netfront_rx(g->nf, 0, &f) == 0)
			got++;
		netfront_kick(g->nf);
	}
	assert_int_equal(got, total);
	netfront_get_stats(g->nf, 0, &s);
	assert_int_equal(s.tx_frames, total);
	return s.tx_events;
}

/* tx_poll: the backend is not asked to notify TX completions; one
 * netfront_queue_tx_arm asks for one. Without tx_poll the same traffic
 * brings TX events (the control: the count can fail). */
static void test_tx_poll(void **state)
{
	struct netfront_config c = { .split_evtchn = true, .sg = true };
	struct netfront_stats s;
	struct guest g = { 0 };
	uint8_t tx[128];
	struct iovec iov = { tx, sizeof(tx) };
	unsigned int k;
	int64_t deadline;

	(void)state;
	guest_up(&g, &c);
	assert_true(g.info.split_evtchn);
	assert_true(tx_traffic(&g, 1000) > 0);
	guest_down(&g);

	c = (struct netfront_config){ .split_evtchn = true, .sg = true,
				      .tx_poll = true };
	guest_up(&g, &c);
	assert_int_equal(tx_traffic(&g, 1000), 0);
	/* Armed before the requests are even published: their responses
	 * cross rsp_event, and exactly that brings the event. 40 frames,
	 * fewer than one backend batch: answered (and notified) together,
	 * before their echoes; a reap between two batches would withdraw
	 * the request. */
	build_plain(tx, sizeof(tx), 0);
	for (k = 0; k < 40; k++)
		assert_int_equal(netfront_tx(g.nf, 0, NULL, &iov, 1), 0);
	assert_false(netfront_queue_tx_arm(g.nf, 0));
	netfront_kick(g.nf);
	/* The backend notifies TX before it echoes the frames to RX: the
	 * first wake-up has the TX event (a reap before it would withdraw
	 * the request). */
	deadline = now_ms() + WAIT_MS;
	do {
		netfront_wait(g.nf, 10);
		netfront_poll(g.nf);
		netfront_get_stats(g.nf, 0, &s);
	} while (!s.tx_events && now_ms() < deadline);
	assert_int_equal(s.tx_events, 1);
	check_stats_clean(&g);
	guest_down(&g);
}


/* ---- hostile guest, through the raw API ---- */

/* Wait until @k's rsp_prod reaches @want. */
static bool wait_rsp_prod(struct guest *g, enum netfront_raw_ring_kind k,
			  RING_IDX want)
{
	int64_t deadline = now_ms() + WAIT_MS;

	while (now_ms() < deadline) {
		if ((RING_IDX)(netfront_raw_get_rsp_prod(g->nf, 0, k) - want)
		    < 0x80000000u)
			return true;
		netfront_wait(g->nf, 10);
		netfront_poll(g->nf);
	}
	return false;
}

/* A TX request naming a revoked grant gets an error response with its
 * id; the device keeps working. */
static void test_hostile_revoked_tx_grant(void **state)
{
	struct netfront_config c = { .sg = true };
	struct netfront_raw_ring rr;
	struct netif_tx_request r = { 0 };
	struct netif_tx_response rsp;
	uint8_t slot[NETFRONT_TX_SLOT_SIZE], *page;
	struct guest g = { 0 };
	grant_ref_t ref;
	RING_IDX idx;

	(void)state;
	guest_up(&g, &c);
	/* id 255 sits at the bottom of the free stack: never used here */
	assert_int_equal(netfront_raw_pool_ref(g.nf, 0, NETFRONT_RAW_TX, 255,
					       &ref, (void **)&page), 0);
	build_plain(page, 60, 1);
	assert_int_equal(netfront_raw_revoke(g.nf, 0, NETFRONT_RAW_TX, 255), 0);
	assert_int_equal(netfront_raw_ring(g.nf, 0, NETFRONT_RAW_TX, &rr), 0);
	idx = rr.req_prod_pvt;
	r.gref = ref;
	r.id = 255;
	r.size = 60;
	netfront_wire_put_tx(slot, &r);
	assert_int_equal(netfront_raw_put_slot(g.nf, 0, NETFRONT_RAW_TX, idx,
					       slot, sizeof(slot)), 0);
	netfront_raw_set_private(g.nf, 0, NETFRONT_RAW_TX, idx + 1,
				 rr.rsp_cons);
	netfront_raw_set_req_prod(g.nf, 0, NETFRONT_RAW_TX, idx + 1);
	assert_int_equal(netfront_raw_notify(g.nf, 0, NETFRONT_RAW_TX), 0);
	assert_true(wait_rsp_prod(&g, NETFRONT_RAW_TX, idx + 1));
	assert_int_equal(netfront_raw_get_slot(g.nf, 0, NETFRONT_RAW_TX, idx,
					       slot, sizeof(slot)), 0);
	netfront_wire_get_tx_rsp(slot, &rsp);
	assert_int_equal(rsp.id, 255);
	assert_int_equal(rsp.status, NETIF_RSP_ERROR);
	/* the library's reaper saw an id it did not send */
	netfront_poll(g.nf);
	/* still alive */
	roundtrip_sizes(&g, small_sizes, 4, 0);
	guest_down(&g);
}

/* An RX slot whose grant was revoked: the frame copied there is lost
 * with an error response, later frames arrive. */
static void test_hostile_revoked_rx_grant(void **state)
{
	struct netfront_config c = { 0 };
	struct netfront_raw_ring rr;
	struct netfront_stats s;
	struct netfront_meta m;
	uint8_t tx[100], rx[128];
	struct guest g = { 0 };
	uint32_t len;

	(void)state;
	guest_up(&g, &c);
	assert_int_equal(netfront_raw_ring(g.nf, 0, NETFRONT_RAW_RX, &rr), 0);
	assert_int_equal(netfront_raw_revoke(g.nf, 0, NETFRONT_RAW_RX,
					     rr.rsp_cons & (rr.nr_ents - 1)),
			 0);
	build_plain(tx, sizeof(tx), 5);
	assert_int_equal(send_frame(&g, 0, NULL, tx, sizeof(tx)), 0);
	assert_int_equal(recv_any(&g, rx, sizeof(rx), &m, &len, 500),
			 -ETIMEDOUT);
	netfront_get_stats(g.nf, 0, &s);
	assert_int_equal(s.rx_backend_errors, 1);
	build_plain(tx, sizeof(tx), 6);
	assert_int_equal(send_frame(&g, 0, NULL, tx, sizeof(tx)), 0);
	assert_int_equal(recv_any(&g, rx, sizeof(rx), &m, &len, WAIT_MS), 0);
	assert_memory_equal(tx, rx, sizeof(tx));
	guest_down(&g);
}

/* An impossible TX producer: the backend fails the device, netfront sees
 * the backend leave Connected, and closing still ends every grant. */
static void test_hostile_req_prod(void **state)
{
	struct netfront_config c = { .sg = true };
	struct netfront_raw_ring rr;
	struct guest g = { 0 };
	int64_t deadline;
	int ret = 0;

	(void)state;
	guest_up(&g, &c);
	assert_int_equal(netfront_raw_ring(g.nf, 0, NETFRONT_RAW_TX, &rr), 0);
	netfront_raw_set_req_prod(g.nf, 0, NETFRONT_RAW_TX,
				  rr.rsp_cons + 5000);
	assert_int_equal(netfront_raw_notify(g.nf, 0, NETFRONT_RAW_TX), 0);
	deadline = now_ms() + WAIT_MS;
	while (now_ms() < deadline) {
		ret = netfront_poll(g.nf);
		if (ret == -ENOTCONN)
			break;
		netfront_wait(g.nf, 20);
	}
	assert_int_equal(ret, -ENOTCONN);
	netfront_raw_set_req_prod(g.nf, 0, NETFRONT_RAW_TX, rr.req_prod_pvt);
	guest_down(&g);
}

/* A frontend that does not request rx-copy (page flipping is gone) is
 * refused: connect fails instead of hanging, with everything undone. */
static void test_refused_without_rx_copy(void **state)
{
	struct netfront_config c = { .no_rx_copy = true };
	struct guest g = { 0 };
	struct xg_dom_config dc = { .mem_pages = 16384, .nr_grants = 16384 };
	const char *be_kv[] = { "mac", "00:16:3e:12:34:56", "handle", "0",
				"type", "vif", NULL };
	const char *fe_kv[] = { "mac", "00:16:3e:12:34:56", "handle", "0",
				NULL };
	char domid[16];
	int ret, st;

	(void)state;
	assert_int_equal(xg_dom_create(sim, &dc, &g.dom), 0);
	assert_int_equal(xg_device_create(sim, xg_dom_id(g.dom), "vif", "vif",
					  DEVID, be_kv, fe_kv), 0);
	snprintf(domid, sizeof(domid), "%u", xg_dom_id(g.dom));
	g.backend = fork();
	if (g.backend == 0) {
		const char *argv[] = {
			UBACK_NET_BIN, "--hv", "sim", "--sim-dir", h.dir,
			"--log", "err", "--port", "loop", "--domid", domid,
			"--devid", "0", NULL,
		};

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_true(g.backend > 0);
	c.dom = g.dom;
	c.devid = DEVID;
	c.timeout_ms = 3000;
	ret = netfront_connect(&c, &g.nf);
	assert_true(ret == -ECONNREFUSED || ret == -ETIMEDOUT);
	assert_int_equal(xg_device_remove(sim, xg_dom_id(g.dom), "vif", "vif",
					  DEVID), 0);
	kill(g.backend, SIGTERM);
	assert_int_equal(waitpid(g.backend, &st, 0), g.backend);
	assert_int_equal(xg_dom_destroy(g.dom), 0);
}

static uint32_t csum_add(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* An IPv6 UDP frame (addresses ::ffff:198.18.0.1 -> ::ffff:198.18.0.2)
 * in the partial-checksum form a tap hands over: the checksum field
 * holds the folded pseudo-header sum. Returns the UDP offset. */
static size_t build_udp6_partial(uint8_t *p, size_t len)
{
	static const uint8_t a[16] = { [10] = 0xff, [11] = 0xff, [12] = 198,
				       [13] = 18, [14] = 0, [15] = 1 };
	size_t l4 = 14 + 40, plen = len - l4;
	uint8_t ph[40];
	uint16_t ps;

	build_plain(p, len, 77);
	p[12] = 0x86;
	p[13] = 0xdd;
	memset(p + 14, 0, 40);
	p[14] = 0x60;
	p[18] = (uint8_t)(plen >> 8);
	p[19] = (uint8_t)plen;
	p[20] = 17;
	p[21] = 64;
	memcpy(p + 22, a, 16);
	memcpy(p + 38, a, 16);
	p[53] = 2;
	p[l4] = 0x13;
	p[l4 + 1] = 0x88;
	p[l4 + 2] = 0x13;
	p[l4 + 3] = 0x89;
	p[l4 + 4] = (uint8_t)(plen >> 8);
	p[l4 + 5] = (uint8_t)plen;
	memcpy(ph, p + 22, 32);
	memset(ph + 32, 0, 8);
	ph[34] = (uint8_t)(plen >> 8);
	ph[35] = (uint8_t)plen;
	ph[39] = 17;
	ps = csum_fold(csum_add(ph, 40, 0));
	p[l4 + 6] = (uint8_t)(ps >> 8);
	p[l4 + 7] = (uint8_t)ps;
	return l4;
}

/* The UDP checksum of a complete IPv6 frame verifies. */
static bool udp6_csum_ok(const uint8_t *p, size_t len)
{
	size_t l4 = 14 + 40, plen = len - l4;
	uint8_t ph[40];

	memcpy(ph, p + 22, 32);
	memset(ph + 32, 0, 8);
	ph[34] = (uint8_t)(plen >> 8);
	ph[35] = (uint8_t)plen;
	ph[39] = 17;
	return csum_fold(csum_add(p + l4, plen, csum_add(ph, 40, 0))) ==
	       0xffff;
}

/* netfront_tx_vnet completes in software a blank checksum the backend
 * may not take (IPv6 without feature-ipv6-csum-offload; anything with
 * no_csum_offload): the frame comes back with a checksum that verifies,
 * not marked blank. */
static void test_tx_vnet_sw_csum(void **state)
{
	static const struct netfront_config cfgs[] = {
		{ .sg = true },                          /* no ipv6_csum */
		{ .sg = true, .no_csum_offload = true },
	};
	uint8_t tx[700], rx[800];
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct netfront_config c = cfgs[i];
		struct virtio_net_hdr vh = { 0 };
		struct netfront_meta got;
		struct guest g = { 0 };
		struct iovec iov = { tx, sizeof(tx) };
		uint32_t len;

		guest_up(&g, &c);
		assert_false(g.info.ipv6_csum);
		vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh.csum_start = (uint16_t)build_udp6_partial(tx, sizeof(tx));
		vh.csum_offset = 6;
		assert_false(udp6_csum_ok(tx, sizeof(tx)));
		assert_int_equal(netfront_tx_vnet(g.nf, 0, &vh, &iov, 1), 0);
		assert_int_equal(netfront_kick(g.nf), 0);
		assert_int_equal(recv_any(&g, rx, sizeof(rx), &got, &len,
					  WAIT_MS), 0);
		assert_int_equal(len, sizeof(tx));
		assert_true(udp6_csum_ok(rx, len));
		assert_int_not_equal(got.csum, NETFRONT_CSUM_PARTIAL);
		check_stats_clean(&g);
		guest_down(&g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_no_sg_refuses_big),
		cmocka_unit_test(test_gso_roundtrip),
		cmocka_unit_test(test_gso_not_negotiated),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_mcast),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_tx_poll),
		cmocka_unit_test(test_hostile_revoked_tx_grant),
		cmocka_unit_test(test_hostile_revoked_rx_grant),
		cmocka_unit_test(test_hostile_req_prod),
		cmocka_unit_test(test_refused_without_rx_copy),
		cmocka_unit_test(test_tx_vnet_sw_csum),
		cmocka_unit_test(test_tx_zero_copy),
		cmocka_unit_test(test_tx_zero_copy_limits),
	};

	if (access(UBACK_NET_BIN, X_OK)) {
		printf("SKIP: %s not built\n", UBACK_NET_BIN);
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
