/* SPDX-License-Identifier: MIT */
/*
 * Hostile-guest campaign against uback-net (docs/security.md).
 *
 * Under a private xensim, two guests, each with one vif served by its own
 * uback-net process (loop port, sandboxed: the default), both frontends
 * being tools/netfront:
 *   - the good guest runs netfront's data path (netfront_tx / netfront_rx,
 *     scatter-gather, kicks and event channels as Linux netfront uses
 *     them): batches of 16 frames of 4000 bytes with a per-frame pattern,
 *     every TX response checked (netfront's tx_errors), every frame
 *     received back through the loop port and compared byte for byte;
 *     first alone (throughput measured in the same run), then while
 *   - the attacker, a netfront whose rings it drives through the raw API
 *     (netfront_raw.h), loops over every attack class with random
 *     parameters: impossible TX producers, packets over the slot limits,
 *     bad sizes and offsets, chains that run past the producer, bad and
 *     too many extra-info segments, bad grants, RX requests with
 *     duplicate ids and bad grants, floods without RX buffers, control
 *     ring garbage (requests and producers), multicast add/del garbage.
 *     After each attack it waits (bounded) for the responses, or for the
 *     device to fail (error node, Closing), then closes the frontend
 *     (netfront_raw_close counts grants the backend still held: a grant
 *     leak fails the run) and connects a new one.
 * Checked as in campaign_blk: data verified, throughput under attack
 * >= half of alone, the attacked backend never dies and goes idle when
 * the attacker stops, RSS bounded, clean exits on removal.
 *
 *   campaign_net UBACK_NET [--seconds N] [--seed S]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>
#include <xensim/guest.h>

#include "camp.h"
#include "netfront.h"
#include "netfront_raw.h"
#include "sim_harness.h"

#define DEVID 0u
#define TIMEOUT_MS 20000
#define FRAME 4000u
#define BATCH 16u
/* RX buffers the attacker's netfront posts itself: few, so that its raw
 * RX requests fit and a flood soon finds none. */
#define ATK_RX_FILL 8u

enum atk {
	ATK_PRODUCER, ATK_SLOTS, ATK_SIZES, ATK_CHAIN, ATK_EXTRAS,
	ATK_BAD_GRANT, ATK_RX_IDS, ATK_FLOOD, ATK_CTRL, ATK_MCAST, ATK_COUNT
};

static const char *const atk_name[ATK_COUNT] = {
	"impossible_producer", "slots_over_limit", "bad_sizes",
	"unterminated_chain", "bad_extras", "bad_grants", "rx_dup_ids",
	"flood_no_rx_bufs", "ctrl_ring_garbage", "mcast_garbage",
};

struct guest {
	struct xg_sim *sim;
	struct xg_dom *dom;
	struct xs_handle *xs;
	domid_t domid;
	char be_path[128], fe_path[128];
	pid_t pid;
	struct netfront *nf;
};

struct atk_stats {
	unsigned long runs, rsp_ok, rsp_err, failed, reconnects,
		      reconnect_fail, grant_leaks;
};

static const char *uback_net;
static struct sim_harness harness;
static volatile bool attack_stop;
static struct atk_stats astats[ATK_COUNT];
static unsigned long attacks_total;

static int guest_create(struct guest *g, struct xg_sim *tool)
{
	static const char *const be_kv[] = {
		"mac", "00:16:3e:00:00:01", "handle", "0", "type", "vif", NULL,
	};
	static const char *const fe_kv[] = {
		"mac", "00:16:3e:00:00:01", "handle", "0", NULL,
	};
	struct xg_dom_config dc = { .mem_pages = 8192, .nr_grants = 4096 };
	const char *argv[] = { uback_net, "--hv", "sim", "--port", "loop",
			       "--queues", "1", "--log", "err", NULL, NULL };
	int ret;

	memset(g, 0, sizeof(*g));
	ret = xg_sim_connect(harness.dir, &g->sim);
	if (!ret)
		ret = xg_dom_create(g->sim, &dc, &g->dom);
	if (ret)
		return ret;
	g->domid = xg_dom_id(g->dom);
	ret = xg_device_create(tool, g->domid, "vif", "vif", DEVID, be_kv,
			       fe_kv);
	if (ret)
		return ret;
	snprintf(g->be_path, sizeof(g->be_path),
		 "/local/domain/0/backend/vif/%u/%u", g->domid, DEVID);
	snprintf(g->fe_path, sizeof(g->fe_path),
		 "/local/domain/%u/device/vif/%u", g->domid, DEVID);
	argv[9] = g->be_path;
	ret = camp_spawn(argv, &g->pid);
	return ret ? ret : xg_dom_xs_open(g->dom, &g->xs);
}

static int fe_connect(struct guest *g, bool hostile)
{
	struct netfront_config c = {
		.dom = g->dom, .devid = DEVID, .sg = true,
		.timeout_ms = hostile ? 5000 : TIMEOUT_MS,
	};

	if (hostile) {
		c.ctrl_ring = true;
		c.multicast_control = true;
		c.split_evtchn = true;
		c.rx_fill = ATK_RX_FILL;
	}
	return netfront_connect(&c, &g->nf);
}

/* ---- the good guest ---- */

struct good_res {
	uint64_t bytes, us;
	unsigned long batches, mismatches, tx_errors, rx_errors;
	int err;
};

static void make_frame(uint8_t *f, uint32_t len, uint64_t seed)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
	uint32_t i;

	for (i = 0; i < len; i++)
		f[i] = (uint8_t)camp_rand(&s);
	memcpy(f, "\x00\x16\x3e\x00\x00\x01\x00\x16\x3e\x00\x00\x02", 12);
	f[12] = 0x88;    /* not IP: nothing parses it */
	f[13] = 0xb5;
}

/* Queue one frame, reaping TX completions while the ring is full. */
static int good_tx(struct netfront *nf, const uint8_t *frame)
{
	struct iovec iov = { (void *)frame, FRAME };
	uint64_t end = camp_now_us() + TIMEOUT_MS * 1000ull;
	int ret;

	while ((ret = netfront_tx(nf, 0, NULL, &iov, 1)) == -EAGAIN) {
		if (camp_now_us() > end)
			return -ETIMEDOUT;
		netfront_kick(nf);
		netfront_wait(nf, 10);
		ret = netfront_poll(nf);
		if (ret)
			return ret;
	}
	return ret;
}

/* The next received frame, copied into @buf; its length. */
static int good_rx(struct netfront *nf, uint8_t *buf, size_t cap,
		   size_t *len)
{
	uint64_t end = camp_now_us() + TIMEOUT_MS * 1000ull;
	struct netfront_rx_frame f;
	int ret;

	while ((ret = netfront_rx(nf, 0, &f)) == -EAGAIN) {
		if (camp_now_us() > end)
			return -ETIMEDOUT;
		netfront_kick(nf);    /* repost the RX slots we released */
		netfront_wait(nf, 10);
		ret = netfront_poll(nf);
		if (ret)
			return ret;
	}
	if (!ret)
		*len = netfront_rx_copy(&f, buf, cap);
	return ret;
}

static void good_run(struct guest *g, unsigned int seconds,
		     struct good_res *res, uint64_t *gen)
{
	static uint8_t tx[BATCH][FRAME], rx[65536];
	struct netfront_stats st0, st1;
	uint64_t start = camp_now_us();
	unsigned int i;
	size_t len;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	netfront_get_stats(g->nf, 0, &st0);
	while (camp_now_us() - start < seconds * 1000000ull) {
		for (i = 0; i < BATCH && !ret; i++) {
			make_frame(tx[i], FRAME, *gen + i);
			ret = good_tx(g->nf, tx[i]);
		}
		if (!ret)
			ret = netfront_kick(g->nf);
		for (i = 0; i < BATCH && !ret; i++) {
			ret = good_rx(g->nf, rx, sizeof(rx), &len);
			if (!ret && (len != FRAME || memcmp(rx, tx[i], FRAME)))
				res->mismatches++;
		}
		if (ret)
			break;
		*gen += BATCH;
		res->bytes += 2ull * BATCH * FRAME;
		res->batches++;
	}
	res->us = camp_now_us() - start;
	res->err = ret;
	netfront_poll(g->nf);
	netfront_get_stats(g->nf, 0, &st1);
	res->tx_errors = st1.tx_errors - st0.tx_errors +
			 st1.bad_tx_responses - st0.bad_tx_responses;
	res->rx_errors = st1.rx_errors - st0.rx_errors +
			 st1.rx_backend_errors - st0.rx_backend_errors;
}

/* ---- the attacker ---- */

struct attacker {
	struct guest *g;
	uint64_t rng;
	RING_IDX tx_prod, tx_cons;     /* our TX indices (raw) */
	RING_IDX rx_prod;              /* our RX producer (raw) */
};

static grant_ref_t rand_ref(struct attacker *a)
{
	switch (camp_rand_below(&a->rng, 3)) {
	case 0: return camp_rand_below(&a->rng, 64);
	case 1: return 5000 + camp_rand_below(&a->rng, 1u << 20);
	default: return (grant_ref_t)camp_rand(&a->rng);
	}
}

/* Take over the rings of a fresh netfront: start from its indices. */
static void raw_start(struct attacker *a)
{
	struct netfront_raw_ring r;

	a->tx_prod = a->tx_cons = a->rx_prod = 0;
	if (!netfront_raw_ring(a->g->nf, 0, NETFRONT_RAW_TX, &r)) {
		a->tx_prod = r.req_prod_pvt;
		a->tx_cons = r.rsp_cons;
	}
	if (!netfront_raw_ring(a->g->nf, 0, NETFRONT_RAW_RX, &r))
		a->rx_prod = r.req_prod_pvt;
}

static void put_req(struct attacker *a, grant_ref_t ref, uint16_t off,
		    uint16_t flags, uint16_t id, uint16_t size)
{
	struct netif_tx_request r = { .gref = ref, .offset = off,
				      .flags = flags, .id = id, .size = size };
	uint8_t slot[NETFRONT_TX_SLOT_SIZE];

	netfront_wire_put_tx(slot, &r);
	netfront_raw_put_slot(a->g->nf, 0, NETFRONT_RAW_TX, a->tx_prod++,
			      slot, sizeof(slot));
}

static void put_extra(struct attacker *a, uint8_t type, bool more,
		      const uint8_t body[10])
{
	uint8_t slot[NETFRONT_TX_SLOT_SIZE];
	struct netif_extra_info x;

	memset(&x, 0, sizeof(x));
	x.type = type;
	x.flags = more ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
	memcpy(&x.u, body, sizeof(x.u));
	netfront_wire_put_tx_extra(slot, &x);
	netfront_raw_put_slot(a->g->nf, 0, NETFRONT_RAW_TX, a->tx_prod++,
			      slot, sizeof(slot));
}

/* Publish our TX producer and notify. */
static void tx_push(struct attacker *a)
{
	netfront_raw_set_req_prod(a->g->nf, 0, NETFRONT_RAW_TX, a->tx_prod);
	netfront_raw_set_private(a->g->nf, 0, NETFRONT_RAW_TX, a->tx_prod,
				 a->tx_cons);
	netfront_raw_notify(a->g->nf, 0, NETFRONT_RAW_TX);
}

/* Push the queued slots, wait (bounded) for @n responses and count
 * them. false if they did not all come (the queue failed). */
static bool push_wait(struct attacker *a, unsigned int n, struct atk_stats *st,
		      unsigned int ms)
{
	uint64_t end = camp_now_us() + ms * 1000ull;
	uint8_t slot[NETFRONT_TX_SLOT_SIZE];
	struct netif_tx_response rsp;
	RING_IDX want = a->tx_cons + n;

	tx_push(a);
	for (;;) {
		RING_IDX prod = netfront_raw_get_rsp_prod(a->g->nf, 0,
							   NETFRONT_RAW_TX);

		/* Only as far as we asked: a producer beyond is the
		 * backend's bug, not a reason to read further. */
		while (a->tx_cons != want && prod - a->tx_cons <= 256 &&
		       a->tx_cons != prod) {
			netfront_raw_get_slot(a->g->nf, 0, NETFRONT_RAW_TX,
					      a->tx_cons++, slot, sizeof(slot));
			netfront_wire_get_tx_rsp(slot, &rsp);
			if (rsp.status == NETIF_RSP_OKAY)
				st->rsp_ok++;
			else if (rsp.status != NETIF_RSP_NULL)
				st->rsp_err++;
		}
		netfront_raw_set_private(a->g->nf, 0, NETFRONT_RAW_TX,
					 a->tx_prod, a->tx_cons);
		if (a->tx_cons == want)
			return true;
		if (camp_now_us() > end)
			return false;
		camp_msleep(1);
	}
}

static grant_ref_t tx_ref(struct attacker *a, unsigned int id)
{
	grant_ref_t ref = 0;

	netfront_raw_pool_ref(a->g->nf, 0, NETFRONT_RAW_TX, id % 256, &ref,
			      NULL);
	return ref;
}

static grant_ref_t any_tx_ref(struct attacker *a)
{
	return tx_ref(a, camp_rand_below(&a->rng, 256));
}

/* A well-formed one-slot frame of @len bytes (<= a page) from TX pool
 * page @id, filled with @fill. */
static void put_frame(struct attacker *a, uint16_t id, uint16_t len,
		      uint8_t fill)
{
	grant_ref_t ref = 0;
	void *page = NULL;

	if (netfront_raw_pool_ref(a->g->nf, 0, NETFRONT_RAW_TX, id % 256,
				  &ref, &page) || !page)
		return;
	memset(page, fill, len);
	memcpy(page, "\x00\x16\x3e\x00\x00\x01\x00\x16\x3e\x00\x00\x03", 12);
	put_req(a, ref, 0, 0, id, len);
}

/* Returns false when the attack was answered by failing the queue. */
static bool one_attack(struct attacker *a, enum atk k, struct atk_stats *st)
{
	uint8_t body[10];
	unsigned int n, i;

	for (i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)camp_rand(&a->rng);
	switch (k) {
	case ATK_PRODUCER:
		/* Publish a producer past the ring, without the slots. */
		netfront_raw_set_req_prod(a->g->nf, 0, NETFRONT_RAW_TX,
					  a->tx_prod + 257 +
					  camp_rand_below(&a->rng, 1u << 20));
		netfront_raw_notify(a->g->nf, 0, NETFRONT_RAW_TX);
		return false;
	case ATK_SLOTS:
		/* 19..70 data slots: dropped up to the fatal limit (20),
		 * the device failed beyond. */
		n = 19 + camp_rand_below(&a->rng, 52);
		put_req(a, any_tx_ref(a), 0, NETTXF_more_data, 0,
			(uint16_t)(n * 60));
		for (i = 1; i < n; i++)
			put_req(a, any_tx_ref(a), 0,
				i + 1 < n ? NETTXF_more_data : 0,
				(uint16_t)i, 60);
		return push_wait(a, n, st, 500);
	case ATK_SIZES:
		n = 1 + camp_rand_below(&a->rng, 4);
		put_req(a, any_tx_ref(a),
			(uint16_t)camp_rand_below(&a->rng, 8192),
			n > 1 ? NETTXF_more_data : 0, 0,
			(uint16_t)camp_rand(&a->rng));
		for (i = 1; i < n; i++)
			put_req(a, any_tx_ref(a),
				(uint16_t)camp_rand_below(&a->rng, 4096),
				i + 1 < n ? NETTXF_more_data : 0, (uint16_t)i,
				(uint16_t)camp_rand(&a->rng));
		return push_wait(a, n, st, 500);
	case ATK_CHAIN:
		/* The last slot still says more_data (or extra_info). */
		n = 1 + camp_rand_below(&a->rng, 8);
		for (i = 0; i < n; i++)
			put_req(a, any_tx_ref(a), 0, i == 0 && camp_rand_below(
					&a->rng, 2) ? NETTXF_extra_info
						    : NETTXF_more_data,
				(uint16_t)i, 100);
		tx_push(a);
		return false;
	case ATK_EXTRAS:
		n = 1 + camp_rand_below(&a->rng, 7);
		put_req(a, any_tx_ref(a), 0, NETTXF_extra_info, 0, 100);
		for (i = 0; i < n; i++)
			put_extra(a, (uint8_t)camp_rand_below(&a->rng, 8),
				  i + 1 < n, body);
		return push_wait(a, n + 1, st, 500);
	case ATK_BAD_GRANT:
		n = 1 + camp_rand_below(&a->rng, 18);
		put_req(a, rand_ref(a), 0, n > 1 ? NETTXF_more_data : 0, 0,
			(uint16_t)(n * 100));
		for (i = 1; i < n; i++)
			put_req(a, rand_ref(a), 0,
				i + 1 < n ? NETTXF_more_data : 0,
				(uint16_t)i, 100);
		return push_wait(a, n, st, 500);
	case ATK_RX_IDS: {
		uint8_t slot[NETFRONT_RX_SLOT_SIZE];

		/* RX requests: one id many times, refs partly bogus; then
		 * a frame that the loop port sends into them. */
		n = 1 + camp_rand_below(&a->rng, 64);
		for (i = 0; i < n; i++) {
			struct netif_rx_request r = {
				.id = (uint16_t)camp_rand_below(&a->rng, 3),
			};

			if (camp_rand_below(&a->rng, 2))
				netfront_raw_pool_ref(a->g->nf, 0,
						      NETFRONT_RAW_RX, i % 256,
						      &r.gref, NULL);
			else
				r.gref = rand_ref(a);
			netfront_wire_put_rx(slot, &r);
			netfront_raw_put_slot(a->g->nf, 0, NETFRONT_RAW_RX,
					      a->rx_prod++, slot,
					      sizeof(slot));
		}
		netfront_raw_set_req_prod(a->g->nf, 0, NETFRONT_RAW_RX,
					  a->rx_prod);
		netfront_raw_notify(a->g->nf, 0, NETFRONT_RAW_RX);
		put_frame(a, 0, (uint16_t)(1000 + camp_rand_below(&a->rng,
								  3000)), 0xab);
		return push_wait(a, 1, st, 500);
	}
	case ATK_FLOOD:
		/* Frames back to back, the RX ring without buffers (the
		 * few netfront posted are soon used: we never repost). */
		for (i = 0; i < 200; i++) {
			put_frame(a, (uint16_t)(i % 32), 1500, 0xcd);
			if (!push_wait(a, 1, st, 1000))
				return false;
		}
		return true;
	case ATK_CTRL: {
		uint32_t status = 0, data = 0;
		int ret;

		if (camp_rand_below(&a->rng, 8) == 0) {
			/* An impossible control producer. */
			if (netfront_raw_ctrl_producer(a->g->nf, 65 +
					camp_rand_below(&a->rng, 1000)))
				return true;
			camp_msleep(20);
			return false;
		}
		ret = netfront_ctrl(a->g->nf,
				    (uint16_t)camp_rand_below(&a->rng, 12),
				    camp_rand_below(&a->rng, 2)
					    ? rand_ref(a)
					    : (uint32_t)camp_rand(&a->rng),
				    (uint32_t)camp_rand_below(&a->rng, 300),
				    (uint32_t)camp_rand(&a->rng), &status,
				    &data);
		if (ret == -EOPNOTSUPP)
			return true;
		if (ret)
			return false;
		if (status == XEN_NETIF_CTRL_STATUS_SUCCESS)
			st->rsp_ok++;
		else
			st->rsp_err++;
		return true;
	}
	case ATK_MCAST:
		n = 1 + camp_rand_below(&a->rng, 80);
		for (i = 0; i < n; i++) {
			body[0] = camp_rand_below(&a->rng, 2) ? 0x01 : 0x02;
			put_req(a, any_tx_ref(a), 0, NETTXF_extra_info,
				(uint16_t)i, (uint16_t)camp_rand_below(
					&a->rng, 100));
			put_extra(a, camp_rand_below(&a->rng, 2)
					 ? XEN_NETIF_EXTRA_TYPE_MCAST_ADD
					 : XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
				  false, body);
		}
		return push_wait(a, 2 * n, st, 1000);
	default:
		return true;
	}
}

static bool backend_connected(struct guest *g)
{
	enum xenbus_state s = XenbusStateUnknown;

	xg_xenbus_read_state(g->xs, g->be_path, &s);
	return s == XenbusStateConnected;
}

/* Close the attacker's netfront (counting grants the backend kept) and
 * connect a new one. */
static void reconnect(struct attacker *a, struct atk_stats *st)
{
	struct guest *g = a->g;

	st->grant_leaks += netfront_raw_close(g->nf);
	g->nf = NULL;
	xg_xenbus_switch(g->xs, g->fe_path, XenbusStateInitialising);
	st->reconnects++;
	if (fe_connect(g, true)) {
		g->nf = NULL;
		st->reconnect_fail++;
		camp_msleep(50);
		return;
	}
	raw_start(a);
}

static void *attacker_thread(void *arg)
{
	struct attacker *a = arg;

	while (!attack_stop) {
		enum atk k = (enum atk)camp_rand_below(&a->rng, ATK_COUNT);
		bool answered;

		if (k >= ATK_COUNT)    /* cannot happen; tells the compiler */
			continue;

		if (!a->g->nf) {
			reconnect(a, &astats[k]);
			continue;
		}
		answered = one_attack(a, k, &astats[k]);
		astats[k].runs++;
		attacks_total++;
		if (!answered) {
			/* The device must fail: wait (bounded). */
			enum xenbus_state seen;

			if (!xg_xenbus_wait_state(a->g->xs, a->g->be_path,
						  1u << XenbusStateClosing |
						  1u << XenbusStateClosed,
						  2000, &seen))
				astats[k].failed++;
		}
		/* Every few attacks (and after a failure) a new frontend:
		 * the close checks that no grant stayed held. */
		if (!answered || !backend_connected(a->g) ||
		    camp_rand_below(&a->rng, 8) == 0)
			reconnect(a, &astats[k]);
	}
	return NULL;
}

/* ---- main ---- */

static void report_mon(const struct camp_mon *m)
{
	printf("  %-9s rss first %ld KiB, min %ld, max %ld, last %ld; "
	       "anon (private) first %ld, max %ld, last %ld; "
	       "max cpu %.0f%% of a core; %u samples%s\n", m->name,
	       m->rss_first, m->rss_min, m->rss_max, m->rss_last,
	       m->anon_first, m->anon_max, m->anon_last,
	       m->cpu_max * 100, m->samples, m->died ? "; DIED" : "");
}

int main(int argc, char **argv)
{
	unsigned int seconds = 60, i;
	uint64_t seed = (uint64_t)camp_now_us(), gen = 0;
	unsigned long leaks = 0;
	struct guest good, bad;
	struct attacker a;
	struct good_res alone, attacked;
	struct camp_mon mon[2];
	struct xg_sim *tool;
	pthread_t at;
	long long c0, c1;
	double mbs_alone, mbs_att;
	int failures = 0, st_good, st_bad;

	if (argc < 2) {
		fprintf(stderr, "usage: campaign_net UBACK_NET [--seconds N] "
			"[--seed S]\n");
		return 2;
	}
	uback_net = argv[1];
	for (i = 2; i + 1 < (unsigned int)argc; i += 2) {
		if (!strcmp(argv[i], "--seconds"))
			seconds = (unsigned int)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
	}
	if (seconds < 8)
		seconds = 8;
	if (getuid() != 0) {
		fprintf(stderr, "SKIP: needs root (the backends drop to the "
			"uback user)\n");
		return 77;
	}
	printf("campaign_net: %u s, seed %#llx\n", seconds,
	       (unsigned long long)seed);
	if (sim_harness_start(&harness) || xg_sim_connect(harness.dir, &tool)) {
		fprintf(stderr, "cannot start xensim\n");
		return 1;
	}
	if (guest_create(&good, tool) || guest_create(&bad, tool)) {
		fprintf(stderr, "cannot create the guests\n");
		return 1;
	}
	if (fe_connect(&good, false) || fe_connect(&bad, true)) {
		fprintf(stderr, "cannot connect the frontends\n");
		return 1;
	}
	memset(&a, 0, sizeof(a));
	a.g = &bad;
	a.rng = seed | 1;
	raw_start(&a);
	mon[0] = (struct camp_mon){ .pid = good.pid, .name = "good" };
	mon[1] = (struct camp_mon){ .pid = bad.pid, .name = "attacked" };
	camp_mon_start(mon, 2, 100);

	good_run(&good, seconds / 4, &alone, &gen);
	attack_stop = false;
	pthread_create(&at, NULL, attacker_thread, &a);
	good_run(&good, seconds - seconds / 4 - 2, &attacked, &gen);
	attack_stop = true;
	pthread_join(at, NULL);

	camp_msleep(700);   /* past the RX stall time (500 ms) */
	c0 = camp_cpu_us(bad.pid);
	camp_msleep(1000);
	c1 = camp_cpu_us(bad.pid);
	camp_mon_stop();

	mbs_alone = alone.us ? alone.bytes / (double)alone.us : 0;
	mbs_att = attacked.us ? attacked.bytes / (double)attacked.us : 0;
	printf("good guest alone:        %.1f MB/s (%lu batches, %lu "
	       "mismatches, %lu TX errors, %lu RX errors, err %d)\n",
	       mbs_alone, alone.batches, alone.mismatches, alone.tx_errors,
	       alone.rx_errors, alone.err);
	printf("good guest under attack: %.1f MB/s (%lu batches, %lu "
	       "mismatches, %lu TX errors, %lu RX errors, err %d): %.0f%% "
	       "of alone\n", mbs_att, attacked.batches, attacked.mismatches,
	       attacked.tx_errors, attacked.rx_errors, attacked.err,
	       mbs_alone ? 100 * mbs_att / mbs_alone : 0);
	printf("attacks: %lu\n", attacks_total);
	for (i = 0; i < ATK_COUNT; i++) {
		printf("  %-20s runs %5lu  rsp ok %6lu err %6lu  device "
		       "failed %4lu  reconnects %4lu (failed %lu)  grant "
		       "leaks %lu\n", atk_name[i], astats[i].runs,
		       astats[i].rsp_ok, astats[i].rsp_err, astats[i].failed,
		       astats[i].reconnects, astats[i].reconnect_fail,
		       astats[i].grant_leaks);
		leaks += astats[i].grant_leaks;
	}
	printf("attacked backend CPU over 1 s after the attack: %lld us\n",
	       c1 - c0);
	printf("backends:\n");
	report_mon(&mon[0]);
	report_mon(&mon[1]);

	if (alone.err || attacked.err || alone.mismatches ||
	    attacked.mismatches || alone.tx_errors || attacked.tx_errors ||
	    alone.rx_errors || attacked.rx_errors || !alone.batches ||
	    !attacked.batches) {
		printf("FAIL: the good guest's traffic failed or did not "
		       "verify\n");
		failures++;
	}
	if (mbs_att < mbs_alone / 2) {
		printf("FAIL: throughput under attack below half of alone\n");
		failures++;
	}
	if (mon[0].died || mon[1].died || !camp_alive(bad.pid) ||
	    !camp_alive(good.pid)) {
		printf("FAIL: a backend died\n");
		failures++;
	}
	if (c0 < 0 || c1 - c0 > 50000) {
		printf("FAIL: the attacked backend spins when idle\n");
		failures++;
	}
	for (i = 0; i < 2; i++)
		if (mon[i].rss_max > mon[i].rss_first + 64 * 1024 +
				     (long)CAMP_ANON_GROWTH_KIB ||
		    mon[i].anon_max > mon[i].anon_first +
				       (long)CAMP_ANON_GROWTH_KIB) {
			printf("FAIL: %s backend RSS grew by more than 64 MiB (plus "
			       "the allowance below), "
			       "or its private memory by more than %u MiB\n",
			       mon[i].name, CAMP_ANON_GROWTH_KIB / 1024);
			failures++;
		}
	if (leaks) {
		printf("FAIL: the backend held grants after a disconnect\n");
		failures++;
	}
	if (!attacks_total) {
		printf("FAIL: no attack ran\n");
		failures++;
	}

	leaks = netfront_raw_close(bad.nf) + netfront_raw_close(good.nf);
	if (leaks) {
		printf("FAIL: %lu grants held at the final disconnect\n", leaks);
		failures++;
	}
	xg_device_remove(tool, good.domid, "vif", "vif", DEVID);
	xg_device_remove(tool, bad.domid, "vif", "vif", DEVID);
	st_good = camp_wait(good.pid, TIMEOUT_MS);
	st_bad = camp_wait(bad.pid, TIMEOUT_MS);
	printf("exit status: good %d, attacked %d\n", st_good, st_bad);
	if (st_good || st_bad) {
		printf("FAIL: a backend did not exit cleanly\n");
		failures++;
	}
	xs_close(good.xs);
	xs_close(bad.xs);
	xg_dom_destroy(good.dom);
	xg_dom_destroy(bad.dom);
	xg_sim_disconnect(good.sim);
	xg_sim_disconnect(bad.sim);
	xg_sim_disconnect(tool);
	sim_harness_stop(&harness);
	printf("%s\n", failures ? "campaign_net: FAILED" : "campaign_net: OK");
	return failures ? 1 : 0;
}
