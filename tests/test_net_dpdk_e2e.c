/* SPDX-License-Identifier: MIT */
/*
 * uback-net's DPDK port end to end (suite dpdk): a simulated guest (the
 * netfront library, tools/netfront) under a private xensim transmits on
 * two queues; uback-net, its own process with --port dpdk:<devargs>,
 * sends the frames out of its DPDK device into a dpdk-testpmd peer in io
 * forwarding mode, which sends them straight back; uback-net puts them on
 * the guest's RX rings. Every frame carries a unique sequence number, its
 * length and a checksum of its payload: the guest counts what came back
 * intact, corrupt, duplicated, on the wrong queue, or never.
 *
 *   memif    testpmd net_memif server, uback-net net_memif client with
 *            bsize=9216: one memif buffer per frame. With the default
 *            2048-byte buffers, frames over 2048 B span descriptors, and
 *            DPDK 22.11's memif copy-mode TX sets MEMIF_DESC_FLAG_NEXT on
 *            a chain's first descriptors without clearing it on the
 *            first descriptor of a later frame: a later one-descriptor
 *            frame then arrives glued to the one after it (seen here:
 *            1514 + 2048 B received as one 3562 B frame, and the
 *            receiver running away on stale chains). Not uback-net's to
 *            fix; docs/netback.md says to give memif a bsize.
 *   memif_peer_restart  memif, testpmd killed and restarted: the
 *            client reconnects (sandboxed) and frames flow again
 *   vhost    testpmd net_vhost (vhost-user server), uback-net
 *            net_virtio_user
 *   memif_uback_server, vhost_uback_server  the roles swapped: uback-net
 *            the server, testpmd connecting to its socket
 * uback-net runs sandboxed (its default for these devices): each test
 * checks Seccomp 2 and uid != 0 during traffic and exit 0 at removal.
 *   memif_steer  memif again, IPv4/TCP frames of 61 flows, the guest
 *            having set Toeplitz hashing and a mapping table over the
 *            control ring: each frame must come back on the queue the
 *            table names for its hash (uback-net hands it between its
 *            queue threads), hash extra equal to a reference Toeplitz
 *
 * Sizes 60..1514 and 2048..9000 (several RX/TX slots per frame: the guest
 * negotiates sg; E2E_MAX_LEN=N limits them, for debugging). Frames in flight are bounded (WINDOW per queue, well
 * under every ring on the way), so the link is never congested and no
 * loss is tolerated. No hugepages: uback-net's EAL runs with --no-huge
 * --no-pci (its defaults), testpmd likewise. Skips (77) without
 * dpdk-testpmd.
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
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <xen/io/netif.h>
#include <xensim/guest.h>

#include "dpdk_peer.h"
#include "netfront.h"
#include "sim_harness.h"

#define DEVID 0u
#define NQ 2u
#define WINDOW 32u              /* frames in flight per queue */
#define FRAMES_PER_QUEUE 1500u
#define MAX_FRAMES (NQ * FRAMES_PER_QUEUE)
/* Our header: after Ethernet, or (steering case) after Ethernet, IPv4
 * and TCP, so that uback-net hashes the frame. */
#define HDR_OFF g_hdr
#define PAYLOAD_OFF (g_hdr + 20u)
static uint32_t g_hdr = 14;
/* Steering case: the mapping table the guest set (NULL: none). */
static const uint32_t *g_map;
#define MAP_SIZE 8u

static struct sim_harness harness;
static struct xg_sim *sim;
static struct dpdk_peer peer;

static const uint32_t sizes[] = {
	60, 61, 64, 100, 128, 255, 256, 511, 512, 1000, 1499, 1500, 1514,
	2048, 4095, 4096, 4097, 8000, 9000,
};
#define NR_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* FNV-1a over the payload. */
static uint32_t fnv(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/*
 * A frame: Ethernet (local experimental ethertype 0x88b5), then magic,
 * sequence number, length, queue, payload checksum, then a payload that
 * depends on the sequence number.
 */
static void build(uint8_t *f, uint32_t len, uint32_t magic, uint32_t seq,
		  unsigned int q)
{
	uint32_t i;

	memcpy(f, "\x02\x00\x00\x00\x00\x02\x00\x16\x3e\x00\x00\x01", 12);
	f[12] = 0x88;
	f[13] = 0xb5;
	if (g_hdr > 14) {
		/* IPv4 198.18.0.1 -> 198.18.0.2, TCP from a port that
		 * changes with the frame (many flows) to 5201 */
		uint16_t sport = (uint16_t)(10000 + seq % 61);

		f[12] = 0x08;
		f[13] = 0x00;
		memset(f + 14, 0, 40);
		f[14] = 0x45;
		f[16] = (uint8_t)((len - 14) >> 8);
		f[17] = (uint8_t)(len - 14);
		f[22] = 64;
		f[23] = 6;
		memcpy(f + 26, "\xc6\x12\x00\x01\xc6\x12\x00\x02", 8);
		f[34] = (uint8_t)(sport >> 8);
		f[35] = (uint8_t)sport;
		f[36] = 5201 >> 8;
		f[37] = 5201 & 0xff;
		f[46] = 5 << 4;
	}
	for (i = PAYLOAD_OFF; i < len; i++)
		f[i] = (uint8_t)(seq * 2654435761u >> (i & 15)) ^ (uint8_t)i;
	put32(f + HDR_OFF, magic);
	put32(f + HDR_OFF + 4, seq);
	put32(f + HDR_OFF + 8, len);
	put32(f + HDR_OFF + 12, q);
	put32(f + HDR_OFF + 16, fnv(f + PAYLOAD_OFF, len - PAYLOAD_OFF));
}

/* The Microsoft RSS specification's key. */
static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* Toeplitz, bit by bit as the specification states it. */
static uint32_t ref_toeplitz(const uint8_t *in, size_t len)
{
	uint32_t h = 0, w;
	size_t bit, k;

	for (bit = 0; bit < len * 8; bit++) {
		if (!(in[bit / 8] & (0x80u >> (bit % 8))))
			continue;
		for (w = 0, k = 0; k < 32; k++) {
			size_t kb = bit + k;

			w = (w << 1) | (kb / 8 < sizeof(ms_key)
				? (ms_key[kb / 8] >> (7 - kb % 8)) & 1u : 0);
		}
		h ^= w;
	}
	return h;
}

/* The hash of an IPv4/TCP frame: addresses and ports. */
static uint32_t frame_hash(const uint8_t *f)
{
	return ref_toeplitz(f + 26, 12);
}

#define MAGIC_DATA 0x55424532u    /* "UBE2" */
#define MAGIC_PROBE 0x50524f42u   /* "PROB" */

struct run {
	uint32_t sent[NQ], inflight[NQ];
	uint8_t seen[MAX_FRAMES];
	uint32_t back, corrupt, dup, wrong_queue, probes, strays;
	uint32_t rx_frames;       /* every frame the guest took */
	uint32_t bad_hash;        /* steering: hash extra missing or wrong */
	uint32_t per_queue[NQ];   /* data frames received per queue */
};

struct guest {
	struct xg_dom *dom;
	pid_t backend;
	struct netfront *nf;
	char stats[96];
};

static int group_setup(void **state)
{
	if (sim_harness_start(&harness) || xg_sim_connect(harness.dir, &sim))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	xg_sim_disconnect(sim);
	return sim_harness_stop(&harness) ? -1 : 0;
}

static void peer_atexit(void)
{
	char path[160];

	/* a failed case leaves uback-net's counters file behind */
	snprintf(path, sizeof(path), "%s/uback-net.stats", peer.dir);
	unlink(path);
	dpdk_peer_fini(&peer);
}

/* The guest, its vif and uback-net with --port dpdk:@devargs. */
static void guest_up(struct guest *g, const char *devargs,
		     const struct netfront_hash_config *hash)
{
	struct xg_dom_config dc = { .mem_pages = 16384, .nr_grants = 16384 };
	const char *be_kv[] = { "mac", "00:16:3e:00:00:01", "handle", "0",
				"type", "vif", "script", "", NULL };
	const char *fe_kv[] = { "mac", "00:16:3e:00:00:01", "handle", "0",
				NULL };
	struct netfront_config c = { .nr_queues = NQ, .sg = true,
				     .timeout_ms = 30000 };
	char domid[16], port[320];
	struct netfront_info info;
	int ret;

	memset(g, 0, sizeof(*g));
	assert_int_equal(xg_dom_create(sim, &dc, &g->dom), 0);
	assert_int_equal(xg_device_create(sim, xg_dom_id(g->dom), "vif", "vif",
					  DEVID, be_kv, fe_kv), 0);
	snprintf(domid, sizeof(domid), "%u", xg_dom_id(g->dom));
	snprintf(port, sizeof(port), "dpdk:%s", devargs);
	snprintf(g->stats, sizeof(g->stats), "%s/uback-net.stats", peer.dir);
	g->backend = fork();
	assert_true(g->backend >= 0);
	if (g->backend == 0) {
		const char *argv[] = {
			UBACK_NET_BIN, "--hv", "sim", "--sim-dir", harness.dir,
			"--log", "warn", "--port", port, "--queues", "2",
			"--stats", g->stats, "--stats-interval", "200",
			"--domid", domid, "--devid", "0", NULL,
		};

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	c.dom = g->dom;
	c.devid = DEVID;
	c.ctrl_ring = hash != NULL;
	c.hash = hash;
	ret = netfront_connect(&c, &g->nf);
	if (ret)
		fail_msg("netfront_connect: %s", strerror(-ret));
	netfront_get_info(g->nf, &info);
	assert_int_equal(info.nr_queues, NQ);
	assert_true(info.sg);
	assert_int_equal(info.hash, hash != NULL);
}

static void dump_stats(struct guest *g)
{
	static const char *const keys[] = {
		"total.tx_packets", "total.rx_packets", "total.tx_port_drops",
		"total.tx_port_busy", "total.port_tx_dropped",
		"total.port_rx_errors", "total.port_rx_oversize",
		"total.rx_drop_too_big", "total.rx_drop_stalled",
		"total.tx_error_responses", "total.rx_steered_out",
		"total.rx_drop_steer_full", NULL,
	};
	char line[160];
	unsigned int i;
	FILE *f = fopen(g->stats, "r");

	fprintf(stderr, "uback-net:");
	while (f && fgets(line, sizeof(line), f))
		for (i = 0; keys[i]; i++)
			if (!strncmp(line, keys[i], strlen(keys[i])) &&
			    line[strlen(keys[i])] == '=') {
				line[strcspn(line, "\n")] = '\0';
				fprintf(stderr, " %s", line + 6);
			}
	fprintf(stderr, "\n");
	if (f)
		fclose(f);
}

/* One counter from uback-net's --stats file; -1 if absent. */
static long long stat_value(struct guest *g, const char *key)
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

/* uback-net runs every device kind here sandboxed by default: seccomp
 * filter on, no longer root (docs/security.md, "DPDK"). */
static void assert_sandboxed(const struct guest *g)
{
	char path[64], line[160];
	int seccomp = -1;
	long uid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)g->backend);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Seccomp:", 8))
			seccomp = atoi(line + 8);
		else if (!strncmp(line, "Uid:", 4))
			uid = strtol(line + 4, NULL, 10);
	}
	fclose(f);
	assert_int_equal(seccomp, 2);
	assert_true(uid > 0);
}

static void guest_down(struct guest *g)
{
	uint64_t leaks = netfront_grant_leaks(g->nf);
	int st;

	netfront_close(g->nf);
	g->nf = NULL;
	assert_int_equal(leaks, 0);
	assert_int_equal(xg_device_remove(sim, xg_dom_id(g->dom), "vif", "vif",
					  DEVID), 0);
	kill(g->backend, SIGTERM);
	assert_int_equal(waitpid(g->backend, &st, 0), g->backend);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("uback-net exit status 0x%x", st);
	assert_int_equal(xg_dom_destroy(g->dom), 0);
	unlink(g->stats);
}

static int send_one(struct guest *g, unsigned int q, const uint8_t *f,
		    uint32_t len)
{
	struct iovec iov = { (void *)f, len };
	int ret = netfront_tx(g->nf, q, NULL, &iov, 1);

	if (ret == -EAGAIN) {
		netfront_poll(g->nf);
		ret = netfront_tx(g->nf, q, NULL, &iov, 1);
	}
	return ret;
}

/* Check one received frame against what was sent. */
static void account(struct run *r, unsigned int q, const uint8_t *f,
		    uint32_t len, const struct netfront_meta *meta)
{
	unsigned int want_q;

	uint32_t seq, want_len;
	unsigned int sq;

	if (len < PAYLOAD_OFF) {
		r->strays++;
		return;
	}
	if (get32(f + HDR_OFF) == MAGIC_PROBE) {
		r->probes++;
		return;
	}
	if (get32(f + HDR_OFF) != MAGIC_DATA) {
		r->strays++;
		return;
	}
	seq = get32(f + HDR_OFF + 4);
	want_len = get32(f + HDR_OFF + 8);
	sq = get32(f + HDR_OFF + 12);
	if (seq >= MAX_FRAMES || sq >= NQ || want_len != len ||
	    fnv(f + PAYLOAD_OFF, len - PAYLOAD_OFF) != get32(f + HDR_OFF + 16)) {
		if (r->corrupt++ < 8)
			fprintf(stderr, "corrupt frame on queue %u: %u bytes, "
				"header says seq %u, %u bytes, queue %u\n", q,
				len, seq, want_len, sq);
		return;
	}
	if (r->seen[seq]) {
		r->dup++;
		return;
	}
	r->seen[seq] = 1;
	r->back++;
	r->per_queue[q]++;
	if (r->inflight[sq])
		r->inflight[sq]--;
	/* Without a table a frame comes back on the queue it left (io
	 * forwarding keeps the queue, uback-net maps port queue q to ring
	 * queue q); with one, on the queue the table names. */
	want_q = sq;
	if (g_map) {
		if (!meta->hash_valid || meta->hash != frame_hash(f))
			r->bad_hash++;
		want_q = g_map[frame_hash(f) % MAP_SIZE];
	}
	if (want_q != q)
		r->wrong_queue++;
}

/* Take every complete RX frame. Returns how many. */
static unsigned int rx_all(struct guest *g, struct run *r, uint8_t *buf)
{
	struct netfront_rx_frame f;
	unsigned int q, n = 0;

	netfront_poll(g->nf);
	for (q = 0; q < NQ; q++) {
		while (n < 4096 && netfront_rx(g->nf, q, &f) == 0) {
			size_t len = netfront_rx_copy(&f, buf, 65536);

			account(r, q, buf, (uint32_t)len, &f.meta);
			r->rx_frames++;
			n++;
		}
	}
	netfront_kick(g->nf);
	return n;
}

/*
 * Until a probe frame comes back: the DPDK link (uback-net's side and
 * testpmd's) is up and forwarding. Probes sent before that are dropped by
 * the port (counted); stragglers are drained for a moment after.
 */
static void wait_path(struct guest *g, struct run *r, uint8_t *buf)
{
	uint64_t end = now_ms() + 30000, drain;
	uint8_t f[128];
	unsigned int q;

	while (!r->probes && now_ms() < end) {
		for (q = 0; q < NQ; q++) {
			build(f, 100, MAGIC_PROBE, 0, q);
			(void)send_one(g, q, f, 100);
		}
		netfront_kick(g->nf);
		drain = now_ms() + 100;
		while (!r->probes && now_ms() < drain) {
			rx_all(g, r, buf);
			netfront_wait(g->nf, 5);
		}
	}
	if (!r->probes) {
		dump_stats(g);
		dpdk_peer_dump_log(&peer);
		fail_msg("no probe frame came back through testpmd");
	}
	drain = now_ms() + 300;
	while (now_ms() < drain) {
		rx_all(g, r, buf);
		netfront_wait(g->nf, 5);
	}
}

/* Send FRAMES_PER_QUEUE frames on each queue, at most WINDOW in flight
 * per queue, and collect them; then check the books. */
static void stream(struct guest *g, const char *what)
{
	static uint8_t buf[65536], f[65536];
	static struct run r;
	long long tx0, rx0, drop0, tx1 = 0, rx1 = 0;
	uint64_t t0, last = now_ms(), end;
	uint32_t seq, lost = 0, bytes = 0;
	unsigned int q, nr_sizes = NR_SIZES;

	memset(&r, 0, sizeof(r));
	if (getenv("E2E_MAX_LEN"))
		while (nr_sizes > 1 && sizes[nr_sizes - 1] >
		       strtoul(getenv("E2E_MAX_LEN"), NULL, 0))
			nr_sizes--;
	wait_path(g, &r, buf);
	/* uback-net's counters before the data phase (the file is
	 * rewritten every 200 ms); then count every frame the guest gets */
	usleep(500000);
	rx_all(g, &r, buf);
	tx0 = stat_value(g, "total.tx_packets");
	rx0 = stat_value(g, "total.rx_packets");
	drop0 = stat_value(g, "total.port_tx_dropped");
	r.rx_frames = 0;
	t0 = now_ms();
	for (;;) {
		bool all_sent = true, progress = false;

		for (q = 0; q < NQ; q++) {
			while (r.sent[q] < FRAMES_PER_QUEUE &&
			       r.inflight[q] < WINDOW) {
				uint32_t len;

				seq = q * FRAMES_PER_QUEUE + r.sent[q];
				len = sizes[seq % nr_sizes];
				if (len < PAYLOAD_OFF)
					len += PAYLOAD_OFF;
				build(f, len, MAGIC_DATA, seq, q);
				if (send_one(g, q, f, len))
					break;
				r.sent[q]++;
				r.inflight[q]++;
				bytes += len;
				progress = true;
			}
			if (r.sent[q] < FRAMES_PER_QUEUE)
				all_sent = false;
		}
		netfront_kick(g->nf);
		if (rx_all(g, &r, buf))
			progress = true;
		if (progress)
			last = now_ms();
		if (all_sent && !r.inflight[0] && !r.inflight[1])
			break;
		/* Nothing moved for 5 s: what is in flight is lost. */
		if (now_ms() - last > 5000)
			break;
		if (!progress)
			netfront_wait(g->nf, 1);
	}
	for (seq = 0; seq < MAX_FRAMES; seq++)
		if (!r.seen[seq])
			lost++;
	/* the counters file is rewritten every 200 ms */
	usleep(500000);
	fprintf(stderr, "%s: %u frames (%u bytes) sent, %u back intact, "
		"%u lost, %u corrupt, %u duplicated, %u on another queue, "
		"%u strays, %u bad hashes (queue 0: %u, queue 1: %u), "
		"in %llu ms\n", what, r.sent[0] + r.sent[1], bytes,
		r.back, lost, r.corrupt, r.dup, r.wrong_queue, r.strays,
		r.bad_hash, r.per_queue[0], r.per_queue[1],
		(unsigned long long)(now_ms() - t0));
	dump_stats(g);
	assert_int_equal(r.sent[0] + r.sent[1], MAX_FRAMES);
	assert_int_equal(lost, 0);
	assert_int_equal(r.corrupt, 0);
	assert_int_equal(r.dup, 0);
	assert_int_equal(r.strays, 0);
	assert_int_equal(r.wrong_queue, 0);
	assert_int_equal(r.bad_hash, 0);
	assert_int_equal(r.back, MAX_FRAMES);
	/* uback-net's books agree over the data phase: it took every data
	 * frame from the guest, its port dropped none, and it delivered
	 * exactly what the guest received (late probes included). */
	end = now_ms() + 5000;
	while (now_ms() < end) {
		tx1 = stat_value(g, "total.tx_packets");
		rx1 = stat_value(g, "total.rx_packets");
		if (tx1 - tx0 >= MAX_FRAMES && rx1 - rx0 >= r.rx_frames)
			break;
		usleep(50000);
	}
	assert_int_equal(tx1 - tx0, MAX_FRAMES);
	assert_int_equal(rx1 - rx0, r.rx_frames);
	assert_int_equal(stat_value(g, "total.port_tx_dropped"), drop0);
	assert_int_equal(stat_value(g, "total.tx_error_responses"), 0);
	assert_int_equal(stat_value(g, "total.port_rx_errors"), 0);
	assert_int_equal(stat_value(g, "total.rx_error_responses"), 0);
}

/* testpmd forwarding as the memif server, uback-net its client. */
static const struct dpdk_peer_args memif_server = {
	.vdev = "net_memif0,role=server,socket=%s,socket-abstract=no",
	.fwd = "io",
	.nr_queues = NQ,
	.publish = true,
};

/* Forwarding starts only once the peer sees the link (a memif server
 * crashed when a client connected while it forwarded). */
static void peer_link_go(void)
{
	assert_int_equal(dpdk_peer_wait_link(&peer, 30000), 0);
	assert_int_equal(dpdk_peer_go(&peer), 0);
}

/* Let the sandbox user (not root) reach testpmd's socket: connect()
 * needs search on the directory and write on the socket. An operator
 * does the same for a deployed memif server (docs/security.md). */
static void open_peer_socket(void)
{
	assert_int_equal(chmod(peer.dir, 0755), 0);
	assert_int_equal(chmod(peer.sock, 0666), 0);
}

/* The memif server started, the guest up with uback-net as its client
 * (port "net_memif_<tag><pid>"; @hc: the guest's hash config or NULL;
 * @open: the socket reachable by the sandbox user, for reconnects after
 * the sandbox is entered), forwarding. */
static void memif_client_up(struct guest *g, const char *tag,
			    const struct netfront_hash_config *hc, bool open)
{
	char devargs[256];

	assert_int_equal(dpdk_peer_start(&peer, &memif_server), 0);
	if (open)
		open_peer_socket();
	snprintf(devargs, sizeof(devargs),
		 "net_memif_%s%d,role=client,socket=%s,socket-abstract=no,"
		 "bsize=9216", tag, (int)getpid(), peer.sock);
	guest_up(g, devargs, hc);
	peer_link_go();
}

static void test_memif(void **state)
{
	struct guest g;

	memif_client_up(&g, "e2e", NULL, false);
	stream(&g, "memif");
	assert_sandboxed(&g);
	/* The server leaves before its client (it can crash otherwise). */
	dpdk_peer_kill(&peer, SIGTERM);
	guest_down(&g);
}

/*
 * The memif server leaves and comes back while uback-net runs sandboxed:
 * its client reconnects (a new unix socket and connect() on DPDK's
 * interrupt thread, under the filter) and traffic resumes.
 */
static void test_memif_peer_restart(void **state)
{
	struct guest g;

	memif_client_up(&g, "rs", NULL, true);
	stream(&g, "memif, before the server restarts");
	assert_sandboxed(&g);
	dpdk_peer_kill(&peer, SIGKILL);
	usleep(500000);
	assert_int_equal(dpdk_peer_start(&peer, &memif_server), 0);
	open_peer_socket();
	peer_link_go();
	stream(&g, "memif, after the server came back");
	assert_sandboxed(&g);
	dpdk_peer_kill(&peer, SIGTERM);
	guest_down(&g);
}

static void test_vhost(void **state)
{
	static const struct dpdk_peer_args server = {
		.vdev = "net_vhost0,iface=%s,queues=2",
		.fwd = "io",
		.nr_queues = NQ,
		.publish = true,
	};
	char devargs[256];
	struct guest g;

	assert_int_equal(dpdk_peer_start(&peer, &server), 0);
	snprintf(devargs, sizeof(devargs),
		 "net_virtio_user_e2e%d,path=%s,queues=2", (int)getpid(),
		 peer.sock);
	guest_up(&g, devargs, NULL);
	peer_link_go();
	stream(&g, "vhost/virtio_user");
	assert_sandboxed(&g);
	guest_down(&g);
	dpdk_peer_kill(&peer, SIGTERM);
}

/*
 * uback-net as the server (memif, vhost-user), sandboxed: it creates the
 * socket at probe,
 * testpmd connects to it afterwards (accept, the peer's memory and
 * eventfds received under the filter), frames cross; removal closes the
 * port, which unlinks the socket file (allowed: exit 0, no SIGSYS; the
 * directory is made writable for the sandbox user, as an operator would
 * give it one of its own).
 */
static void uback_serves(const char *what, const char *uback_fmt,
			 const char *peer_fmt)
{
	struct dpdk_peer_args client = {
		.fwd = "io",
		.nr_queues = NQ,
		.publish = false,
	};
	char sock[160], devargs[256], vdev[256];
	struct stat sb;
	struct guest g;

	snprintf(sock, sizeof(sock), "%s/uback.sock", peer.dir);
	snprintf(devargs, sizeof(devargs), uback_fmt, (int)getpid(), sock);
	/* no conversion left: testpmd's path is fixed here */
	snprintf(vdev, sizeof(vdev), peer_fmt, sock);
	client.vdev = vdev;
	assert_int_equal(chmod(peer.dir, 0777), 0);
	guest_up(&g, devargs, NULL);
	assert_sandboxed(&g);
	assert_int_equal(stat(sock, &sb), 0);
	assert_int_equal(dpdk_peer_start(&peer, &client), 0);
	peer_link_go();
	stream(&g, what);
	assert_sandboxed(&g);
	dpdk_peer_kill(&peer, SIGTERM);
	guest_down(&g);
	assert_int_equal(stat(sock, &sb), -1);
}

static void test_memif_uback_server(void **state)
{
	uback_serves("memif, uback-net the server",
		     "net_memif_sv%d,role=server,socket=%s,"
		     "socket-abstract=no,bsize=9216",
		     "net_memif0,role=client,socket=%s,socket-abstract=no,"
		     "bsize=9216");
}

static void test_vhost_uback_server(void **state)
{
	uback_serves("vhost, uback-net the vhost-user server",
		     "net_vhost_sv%d,iface=%s,queues=2",
		     "net_virtio_user0,path=%s,queues=2");
}

/*
 * RX steering over a polled port: the guest sets Toeplitz hashing (the
 * Microsoft key, IPv4+TCP) and a mapping table; frames of 61 TCP flows
 * leave on both queues, come back on the port queue they left, and
 * uback-net must put each on the ring of the queue the table names for
 * its hash (a hand-off between its queue threads), with the hash extra
 * equal to the test's own Toeplitz.
 */
static void test_memif_steer(void **state)
{
	static const uint32_t map[MAP_SIZE] = { 0, 1, 1, 0, 1, 0, 0, 1 };
	struct netfront_hash_config hc = {
		.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
			 XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP,
		.key_len = sizeof(ms_key),
		.mapping_size = MAP_SIZE,
	};
	struct guest g;

	memcpy(hc.key, ms_key, sizeof(ms_key));
	memcpy(hc.mapping, map, sizeof(map));
	memif_client_up(&g, "st", &hc, false);
	g_hdr = 54;
	g_map = map;
	stream(&g, "memif, steered by the hash mapping");
	assert_sandboxed(&g);
	assert_true(stat_value(&g, "total.rx_steered_out") > 0);
	assert_int_equal(stat_value(&g, "total.rx_steered_out"),
			 stat_value(&g, "total.rx_steered_in"));
	assert_int_equal(stat_value(&g, "total.rx_drop_steer_full"), 0);
	g_hdr = 14;
	g_map = NULL;
	dpdk_peer_kill(&peer, SIGTERM);
	guest_down(&g);
}

/*
 * A port without a fd, idle: its poll period backs off from 50 us to
 * 1 ms (netback.h), so the two idle queues sleep about 1,800 times a
 * second together, not 16,500 as without the back-off. Traffic still passes at once: net_ring hands each
 * queue's TX back to its RX, and every frame returns within the second.
 */
static void test_idle_backoff(void **state)
{
	uint8_t f[128], buf[2048];
	struct netfront_rx_frame rf;
	struct guest g;
	long long s0, s1;
	unsigned int i, q, back = 0;
	uint64_t end;

	(void)state;
	guest_up(&g, "net_ring_idle0", NULL);
	usleep(1500000);
	s0 = stat_value(&g, "total.sleeps");
	usleep(2000000);
	s1 = stat_value(&g, "total.sleeps");
	assert_true(s0 >= 0 && s1 > s0);
	fprintf(stderr, "idle: %lld sleeps in 2 s\n", s1 - s0);
	if (s1 - s0 > 10000)
		fail_msg("idle: %lld sleeps in 2 s", s1 - s0);
	memset(f, 0, sizeof(f));
	memset(f, 0xff, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (i = 0; i < 8; i++)
		assert_int_equal(send_one(&g, i % NQ, f, sizeof(f)), 0);
	netfront_kick(g.nf);
	end = now_ms() + 1000;
	while (back < 8 && now_ms() < end) {
		netfront_wait(g.nf, 10);
		netfront_poll(g.nf);
		for (q = 0; q < NQ; q++)
			while (netfront_rx(g.nf, q, &rf) == 0) {
				assert_int_equal(netfront_rx_copy(&rf, buf,
						 sizeof(buf)), sizeof(f));
				back++;
			}
		netfront_kick(g.nf);
	}
	if (back != 8)
		dump_stats(&g);
	assert_int_equal(back, 8);
	guest_down(&g);
}

/* A failed case leaves testpmd behind: the next one starts its own. */
static int peer_teardown(void **state)
{
	g_hdr = 14;
	g_map = NULL;
	dpdk_peer_kill(&peer, SIGTERM);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_memif, peer_teardown),
		cmocka_unit_test_teardown(test_memif_peer_restart,
					  peer_teardown),
		cmocka_unit_test_teardown(test_vhost, peer_teardown),
		cmocka_unit_test_teardown(test_memif_uback_server,
					  peer_teardown),
		cmocka_unit_test_teardown(test_vhost_uback_server,
					  peer_teardown),
		cmocka_unit_test_teardown(test_memif_steer, peer_teardown),
		cmocka_unit_test(test_idle_backoff),
	};

	if (!dpdk_peer_have_testpmd()) {
		fprintf(stderr, DPDK_PEER_TESTPMD " not installed (package "
			"dpdk-dev): skip\n");
		return 77;
	}
	if (dpdk_peer_init(&peer)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(peer_atexit);
	return cmocka_run_group_tests_name("net_dpdk_e2e", tests, group_setup,
					   group_teardown);
}
