/* SPDX-License-Identifier: MIT */
/*
 * Hostile-guest campaign against uback-net (docs/security.md).
 *
 * Under a private xensim, an attacker guest and a well-behaved one, each
 * vif served by its own uback-net process (sandboxed: the default):
 *   - the good guest is real traffic by default (--netfront/--goodnet,
 *     as meson runs it): tests/campaign/goodnet.py joins this xensim with
 *     scripts/netlab.py's topology (namespaces, uback-netfront giving a
 *     guest kernel its eth0, uback-net --port tap on a bridge, a veth to
 *     a peer) and runs iperf3 guest -> peer, alone first (the baseline,
 *     measured in the same run), then under attack, followed by a 64 MiB
 *     TCP transfer whose sha256 must match on both ends. Without those
 *     options: netfront's data path (netfront_tx / netfront_rx) over the
 *     loop port, batches of 16 frames of 4000 bytes with a per-frame
 *     pattern, every byte compared (netgood.c);
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
 *                [--netfront UBACK_NETFRONT --goodnet GOODNET_PY]
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>
#include <xensim/guest.h>

#include "camp.h"
#include "campnet.h"
#include "netfront.h"
#include "netfront_raw.h"
#include "sim_harness.h"

enum atk {
	ATK_PRODUCER, ATK_SLOTS, ATK_SIZES, ATK_CHAIN, ATK_EXTRAS,
	ATK_BAD_GRANT, ATK_RX_IDS, ATK_FLOOD, ATK_CTRL, ATK_MCAST, ATK_COUNT
};

static const char *const atk_name[ATK_COUNT] = {
	"impossible_producer", "slots_over_limit", "bad_sizes",
	"unterminated_chain", "bad_extras", "bad_grants", "rx_dup_ids",
	"flood_no_rx_bufs", "ctrl_ring_garbage", "mcast_garbage",
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
	if (cn_fe_connect(g, true)) {
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
	unsigned int seconds = 60, i, t_alone, t_att;
	uint64_t seed = (uint64_t)camp_now_us();
	const char *netfront = NULL, *script = NULL;
	unsigned long leaks = 0;
	struct good gd;
	struct guest bad;
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
			"[--seed S] [--netfront UBACK_NETFRONT --goodnet "
			"GOODNET_PY]\n");
		return 2;
	}
	uback_net = argv[1];
	for (i = 2; i + 1 < (unsigned int)argc; i += 2) {
		if (!strcmp(argv[i], "--seconds"))
			seconds = (unsigned int)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--netfront"))
			netfront = argv[i + 1];
		else if (!strcmp(argv[i], "--goodnet"))
			script = argv[i + 1];
	}
	if (seconds < 12)
		seconds = 12;
	if (getuid() != 0) {
		fprintf(stderr, "SKIP: needs root (the backends drop to the "
			"uback user)\n");
		return 77;
	}
	/* A helper that died must be an error (EPIPE), not our death. */
	signal(SIGPIPE, SIG_IGN);
	memset(&gd, 0, sizeof(gd));
	gd.iperf = netfront && script;
	if (gd.iperf && (system("command -v iperf3 >/dev/null && command -v "
				"ip >/dev/null && test -c /dev/net/tun") ||
			 access(netfront, X_OK))) {
		fprintf(stderr, "SKIP: the iperf3 good guest needs iperf3, ip, "
			"/dev/net/tun and %s\n", netfront);
		return 77;
	}
	/* Alone a quarter, then under attack; the verify transfer and the
	 * helper's set-up come on top (a few seconds). */
	t_alone = seconds / 4;
	t_att = seconds - t_alone - 2 - (gd.iperf ? 4 : 0);
	printf("campaign_net: %u s, seed %#llx, good guest: %s\n", seconds,
	       (unsigned long long)seed, gd.iperf
	       ? "iperf3 (real TCP through tap)" : "netfront data API (loop)");
	if (sim_harness_start(&harness) || xg_sim_connect(harness.dir, &tool)) {
		fprintf(stderr, "cannot start xensim\n");
		return 1;
	}
	if (cn_guest_create(&bad, tool, harness.dir, uback_net) ||
	    cn_fe_connect(&bad, true)) {
		fprintf(stderr, "cannot create the attacker\n");
		return 1;
	}
	if (good_up(&gd, tool, harness.dir, uback_net, script, netfront)) {
		fprintf(stderr, "cannot set up the good guest\n");
		good_down(&gd, tool, &leaks);
		netfront_raw_close(bad.nf);
		kill(bad.pid, SIGKILL);
		camp_wait(bad.pid, TIMEOUT_MS);
		sim_harness_stop(&harness);
		return 1;
	}
	memset(&a, 0, sizeof(a));
	a.g = &bad;
	a.rng = seed | 1;
	raw_start(&a);
	mon[0] = (struct camp_mon){ .pid = gd.backend, .name = "good" };
	mon[1] = (struct camp_mon){ .pid = bad.pid, .name = "attacked" };
	camp_mon_start(mon, 2, 100);

	good_phase(&gd, t_alone, false, &alone);
	attack_stop = false;
	pthread_create(&at, NULL, attacker_thread, &a);
	good_phase(&gd, t_att, true, &attacked);
	attack_stop = true;
	pthread_join(at, NULL);

	camp_msleep(700);   /* past the RX stall time (500 ms) */
	c0 = camp_cpu_us(bad.pid);
	camp_msleep(1000);
	c1 = camp_cpu_us(bad.pid);
	camp_mon_stop();

	mbs_alone = alone.us ? alone.bytes / (double)alone.us : 0;
	mbs_att = attacked.us ? attacked.bytes / (double)attacked.us : 0;
	printf("good guest alone:        %.1f MB/s (%lu %s, %lu "
	       "mismatches, %lu TX errors, %lu RX errors, err %d)\n",
	       mbs_alone, alone.batches, gd.iperf ? "retransmits" : "batches",
	       alone.mismatches, alone.tx_errors, alone.rx_errors, alone.err);
	printf("good guest under attack: %.1f MB/s (%lu %s, %lu "
	       "mismatches, %lu TX errors, %lu RX errors, err %d): %.0f%% "
	       "of alone\n", mbs_att, attacked.batches,
	       gd.iperf ? "retransmits" : "batches", attacked.mismatches,
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
	    alone.rx_errors || attacked.rx_errors || !alone.bytes ||
	    !attacked.bytes) {
		printf("FAIL: the good guest's traffic failed or did not "
		       "verify\n");
		failures++;
	}
	if (mbs_att < mbs_alone / 2) {
		printf("FAIL: throughput under attack below half of alone\n");
		failures++;
	}
	if (mon[0].died || mon[1].died || !camp_alive(bad.pid) ||
	    !camp_alive(gd.backend)) {
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

	leaks = netfront_raw_close(bad.nf);
	st_good = good_down(&gd, tool, &leaks);
	if (leaks) {
		printf("FAIL: %lu grants held at the final disconnect\n", leaks);
		failures++;
	}
	xg_device_remove(tool, bad.domid, "vif", "vif", DEVID);
	st_bad = camp_wait(bad.pid, TIMEOUT_MS);
	printf("exit status: good %d, attacked %d\n", st_good, st_bad);
	if (st_good || st_bad) {
		printf("FAIL: a backend did not exit cleanly\n");
		failures++;
	}
	good_fini(&gd);
	xs_close(bad.xs);
	xg_dom_destroy(bad.dom);
	xg_sim_disconnect(bad.sim);
	xg_sim_disconnect(tool);
	sim_harness_stop(&harness);
	printf("%s\n", failures ? "campaign_net: FAILED" : "campaign_net: OK");
	return failures ? 1 : 0;
}
