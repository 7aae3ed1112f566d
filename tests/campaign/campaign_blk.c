/* SPDX-License-Identifier: MIT */
/*
 * Hostile-guest campaign against uback-blk (docs/security.md).
 *
 * Under a private xensim, two guests, each with one vbd served by its own
 * uback-blk process (sandboxed, the default):
 *   - the good guest writes 64 KiB blocks with a per-block pattern at
 *     queue depth 8 and reads every batch back, verifying each byte;
 *     first alone (its throughput alone is measured in the same run),
 *     then while
 *   - the attacker, through the raw blkfront API, loops over every attack
 *     class with random parameters (impossible producers, slot garbage,
 *     bad grants, segment bounds, indirect page garbage, grants revoked
 *     mid-request, slots rewritten while the backend reads them (double
 *     fetch), floods of full rings, duplicate ids). After each attack it
 *     waits (bounded) for the responses: answered (with error statuses
 *     where the request was bad), or the queue halted / the device
 *     disconnected, after which it reconnects and goes on.
 * Checked: the good guest's data verifies and its throughput under attack
 * stays above half of alone; the attacked backend never dies; once the
 * attacker stops it goes idle (no spin: CPU under 5% of a core over 1 s);
 * every response's padding bytes are zero (the slot held the attacker's
 * garbage before: anything else would be the backend's memory);
 * both backends' RSS (sampled every 100 ms) stays within a bound; both
 * exit 0 on device removal. Prints a report (per attack class counts,
 * throughput, RSS, CPU).
 *
 *   campaign_blk UBACK_BLK [--seconds N] [--seed S]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/grant_table.h>
#include <xensim/guest.h>

#include "blkfront.h"
#include "blkfront_raw.h"
#include "camp.h"
#include "sim_harness.h"

#define DEVID 51712u
#define IMG_BYTES (64u << 20)
#define BLOCK (64u * 1024)
#define DEPTH 8u
#define TIMEOUT_MS 20000
#define NPAGES 6u

enum atk {
	ATK_PRODUCER, ATK_GARBAGE, ATK_BAD_GRANT, ATK_SEG_BOUNDS,
	ATK_INDIRECT, ATK_REVOKE, ATK_DOUBLE_FETCH, ATK_FLOOD, ATK_DUP_IDS,
	ATK_COUNT
};

static const char *const atk_name[ATK_COUNT] = {
	"impossible_producer", "slot_garbage", "bad_grants",
	"segment_bounds", "indirect_garbage", "revoke_mid_request",
	"double_fetch_flip", "ring_flood", "duplicate_ids",
};

struct guest {
	struct xg_sim *sim;
	struct xg_dom *dom;
	domid_t domid;
	char img[64], be_path[128], fe_path[128];
	pid_t pid;
	struct blkfront *bf;
};

struct atk_stats {
	unsigned long runs, rsp_ok, rsp_err, halted, reconnects,
		      reconnect_fail;
};

static const char *uback_blk;
static struct sim_harness harness;
static volatile bool attack_stop;
static struct atk_stats astats[ATK_COUNT];
static unsigned long attacks_total;
static unsigned long pad_leaks;     /* response padding not zero */

static int guest_create(struct guest *g, struct xg_sim *tool)
{
	struct xg_dom_config dc = { .mem_pages = 65536, .nr_grants = 16384 };
	const char *be_kv[] = { "params", NULL, "type", "phy", "mode", "w",
				"device-type", "disk", NULL };
	const char *argv[] = { uback_blk, "--hv", "sim", "--log", "err",
			       NULL, NULL };
	int fd, ret;

	memset(g, 0, sizeof(*g));
	snprintf(g->img, sizeof(g->img), "/dev/shm/campaign_blk.XXXXXX");
	fd = mkstemp(g->img);
	if (fd < 0)
		return -errno;
	ret = ftruncate(fd, IMG_BYTES) ? -errno : 0;
	fchmod(fd, 0600);
	close(fd);
	if (ret)
		return ret;
	be_kv[1] = g->img;
	ret = xg_sim_connect(harness.dir, &g->sim);
	if (!ret)
		ret = xg_dom_create(g->sim, &dc, &g->dom);
	if (ret)
		return ret;
	g->domid = xg_dom_id(g->dom);
	ret = xg_device_create(tool, g->domid, "vbd", "vbd", DEVID, be_kv,
			       NULL);
	if (ret)
		return ret;
	snprintf(g->be_path, sizeof(g->be_path),
		 "/local/domain/0/backend/vbd/%u/%u", g->domid, DEVID);
	snprintf(g->fe_path, sizeof(g->fe_path),
		 "/local/domain/%u/device/vbd/%u", g->domid, DEVID);
	argv[5] = g->be_path;
	return camp_spawn(argv, &g->pid);
}

static int fe_connect(struct guest *g, unsigned int order)
{
	struct blkfront_config c = {
		.dom = g->dom, .devid = DEVID, .ring_page_order = order,
		.nr_queues = 1, .max_indirect_segs = 256,
		.timeout_ms = TIMEOUT_MS,
	};
	struct xs_handle *xs;

	/* A frontend (re)starting writes Initialising first. */
	if (!xg_dom_xs_open(g->dom, &xs)) {
		xg_xenbus_switch(xs, g->fe_path, XenbusStateInitialising);
		xs_close(xs);
	}
	return blkfront_connect(&c, &g->bf);
}

/* ---- the good guest ---- */

struct good_res {
	uint64_t bytes, us;
	unsigned long batches, mismatches, io_errors;
	int err;
};

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t v = camp_rand(&s);

		memcpy(p + i, &v, 8);
	}
}

/* Submit DEPTH requests of @op on @bufs, wait for all. */
static int batch(struct blkfront *bf, enum blkfront_op op, uint8_t **bufs,
		 uint64_t first_blk, unsigned long *io_errors)
{
	struct blkfront_completion comps[DEPTH];
	struct iovec iov[DEPTH];
	unsigned int i, done = 0;
	uint64_t deadline = camp_now_us() + TIMEOUT_MS * 1000ull;
	int ret;

	for (i = 0; i < DEPTH; i++) {
		struct blkfront_req r = {
			.op = op, .queue = 0,
			.sector = ((first_blk + i) % (IMG_BYTES / BLOCK)) *
				  (BLOCK / 512),
			.iov = &iov[i], .iovcnt = 1, .tag = i,
		};

		iov[i] = (struct iovec){ bufs[i], BLOCK };
		ret = blkfront_submit(bf, &r);
		if (ret)
			return ret;
	}
	blkfront_kick(bf);
	while (done < DEPTH) {
		if (camp_now_us() > deadline)
			return -ETIMEDOUT;
		ret = blkfront_poll(bf, comps, DEPTH);
		if (ret < 0)
			return ret;
		for (i = 0; i < (unsigned int)ret; i++)
			if (comps[i].status)
				(*io_errors)++;
		done += (unsigned int)ret;
		if (!ret)
			blkfront_wait(bf, 100);
	}
	return 0;
}

static void good_run(struct guest *g, unsigned int seconds,
		     struct good_res *res)
{
	uint8_t *w[DEPTH], *r[DEPTH];
	uint64_t start = camp_now_us(), blk = 0, gen = res->batches;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < DEPTH; i++) {
		if (blkfront_mem_alloc(g->bf, BLOCK, (void **)&w[i]) ||
		    blkfront_mem_alloc(g->bf, BLOCK, (void **)&r[i])) {
			res->err = -ENOMEM;
			return;
		}
	}
	memset(res, 0, sizeof(*res));
	while (camp_now_us() - start < seconds * 1000000ull) {
		blk = (gen * DEPTH) % (IMG_BYTES / BLOCK);
		for (i = 0; i < DEPTH; i++)
			fill(w[i], BLOCK, (blk + i) ^ (gen << 20));
		ret = batch(g->bf, BLKFRONT_OP_WRITE, w, blk, &res->io_errors);
		if (!ret)
			ret = batch(g->bf, BLKFRONT_OP_READ, r, blk,
				    &res->io_errors);
		if (ret)
			break;
		for (i = 0; i < DEPTH; i++)
			if (memcmp(w[i], r[i], BLOCK))
				res->mismatches++;
		res->bytes += 2ull * DEPTH * BLOCK;
		res->batches++;
		gen++;
	}
	res->us = camp_now_us() - start;
	res->err = ret;
	for (i = 0; i < DEPTH; i++) {
		blkfront_mem_free(g->bf, w[i], BLOCK);
		blkfront_mem_free(g->bf, r[i], BLOCK);
	}
}

/* ---- the attacker ---- */

struct attacker {
	struct guest *g;
	uint64_t rng;
	xen_pfn_t gfn[NPAGES];
	grant_ref_t ref[NPAGES];     /* granted to the backend, writable */
	uint64_t sectors;
};

static void put_req(struct attacker *a, RING_IDX idx,
		    const struct blkfront_wire_req *req)
{
	uint8_t slot[BLKFRONT_SLOT_SIZE_MAX];

	blkfront_wire_encode(BLKFRONT_ABI_X86_64, req, slot);
	blkfront_raw_put_slot(a->g->bf, 0, idx, slot,
			      BLKFRONT_SLOT_SIZE_X86_64);
}

static grant_ref_t rand_ref(struct attacker *a)
{
	switch (camp_rand_below(&a->rng, 4)) {
	case 0: return a->ref[camp_rand_below(&a->rng, NPAGES)];
	case 1: return camp_rand_below(&a->rng, 16);
	case 2: return 100000 + camp_rand_below(&a->rng, 1u << 20);
	default: return (grant_ref_t)camp_rand(&a->rng);
	}
}

static void rand_segs(struct attacker *a, struct blkfront_wire_req *r,
		      unsigned int n, bool good_bounds)
{
	unsigned int i;

	for (i = 0; i < n && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		r->seg[i].gref = rand_ref(a);
		r->seg[i].first_sect = good_bounds ? 0
				: (uint8_t)camp_rand_below(&a->rng, 256);
		r->seg[i].last_sect = good_bounds ? 7
				: (uint8_t)camp_rand_below(&a->rng, 256);
	}
}

/* Publish @n requests written at req_prod_pvt.., notify. Returns the
 * new producer. */
static RING_IDX publish(struct attacker *a, RING_IDX prod)
{
	blkfront_raw_set_req_prod(a->g->bf, 0, prod);
	blkfront_raw_notify(a->g->bf, 0);
	return prod;
}

/*
 * Wait (bounded) until the backend answered everything up to @prod;
 * count the statuses, then skip the responses in the library. false if
 * the responses stopped coming (queue halted or device gone).
 */
static bool settle(struct attacker *a, RING_IDX start, RING_IDX prod,
		   struct atk_stats *st, unsigned int ms)
{
	struct blkfront_wire_rsp rsp;
	uint8_t slot[BLKFRONT_SLOT_SIZE_MAX];
	uint64_t deadline = camp_now_us() + ms * 1000ull;
	RING_IDX rp, i;

	for (;;) {
		rp = blkfront_raw_get_rsp_prod(a->g->bf, 0);
		if ((int32_t)(rp - prod) >= 0)
			break;
		if (camp_now_us() > deadline)
			return false;
		camp_msleep(1);
	}
	for (i = start; i != prod; i++) {
		blkfront_raw_get_slot(a->g->bf, 0, i, slot,
				      BLKFRONT_SLOT_SIZE_X86_64);
		blkfront_wire_decode_rsp(BLKFRONT_ABI_X86_64, slot, &rsp);
		/* x86_64 response: id 0-7, operation 8, pad 9, status 10-11,
		 * pad 12-15. The slot held the guest's garbage before: a
		 * non-zero pad byte is the backend's memory (XSA-216). */
		if (slot[9] || slot[12] || slot[13] || slot[14] || slot[15])
			pad_leaks++;
		if (rsp.status == BLKIF_RSP_OKAY)
			st->rsp_ok++;
		else
			st->rsp_err++;
	}
	blkfront_raw_set_private(a->g->bf, 0, prod, prod);
	return true;
}

static void one_attack(struct attacker *a, enum atk k, struct atk_stats *st)
{
	struct blkfront_raw_ring rr;
	struct blkfront_wire_req r;
	RING_IDX p0, p;
	unsigned int n, i, j;
	bool answered = true;

	blkfront_raw_ring(a->g->bf, 0, &rr);
	p0 = p = rr.req_prod_pvt;
	n = 1 + camp_rand_below(&a->rng, rr.nr_ents);
	switch (k) {
	case ATK_PRODUCER:
		publish(a, p + rr.nr_ents + 1 +
			   camp_rand_below(&a->rng, 1u << 20));
		answered = false;
		break;
	case ATK_GARBAGE:
		for (i = 0; i < n; i++, p++) {
			uint8_t slot[BLKFRONT_SLOT_SIZE_MAX];

			for (j = 0; j < sizeof(slot); j++)
				slot[j] = (uint8_t)camp_rand(&a->rng);
			blkfront_raw_put_slot(a->g->bf, 0, p, slot,
					      BLKFRONT_SLOT_SIZE_X86_64);
		}
		publish(a, p);
		answered = settle(a, p0, p, st, 500);
		break;
	case ATK_BAD_GRANT:
	case ATK_SEG_BOUNDS:
	case ATK_DUP_IDS:
		for (i = 0; i < n; i++, p++) {
			memset(&r, 0, sizeof(r));
			r.operation = camp_rand_below(&a->rng, 2)
				      ? BLKIF_OP_READ : BLKIF_OP_WRITE;
			r.id = k == ATK_DUP_IDS ? 7 : i;
			r.nr_segments = k == ATK_SEG_BOUNDS
				? camp_rand_below(&a->rng, 14)
				: 1 + camp_rand_below(&a->rng, 11);
			r.sector_number = k == ATK_SEG_BOUNDS &&
					  camp_rand_below(&a->rng, 2)
				? a->sectors - camp_rand_below(&a->rng, 64) +
				  (camp_rand_below(&a->rng, 2) ? 0
						: camp_rand(&a->rng))
				: camp_rand_below(&a->rng, (uint32_t)a->sectors);
			rand_segs(a, &r, r.nr_segments, k != ATK_SEG_BOUNDS);
			if (k == ATK_DUP_IDS)
				for (j = 0; j < r.nr_segments && j < 11; j++)
					r.seg[j].gref = a->ref[j % NPAGES];
			put_req(a, p, &r);
		}
		publish(a, p);
		answered = settle(a, p0, p, st, 2000);
		break;
	case ATK_INDIRECT: {
		uint8_t *pg = xg_page_ptr(a->g->dom, a->gfn[NPAGES - 1]);
		struct blkif_request_segment *seg = (void *)pg;

		for (j = 0; j < 4096; j++)
			pg[j] = (uint8_t)camp_rand(&a->rng);
		/* Some entries plausible: our pages, good bounds. */
		for (j = 0; j < 512; j += 1 + camp_rand_below(&a->rng, 4)) {
			seg[j].gref = a->ref[camp_rand_below(&a->rng,
							     NPAGES - 1)];
			seg[j].first_sect = 0;
			seg[j].last_sect = 7;
		}
		for (i = 0; i < n && i < 8; i++, p++) {
			memset(&r, 0, sizeof(r));
			r.operation = BLKIF_OP_INDIRECT;
			r.indirect_op = camp_rand_below(&a->rng, 4)
				? (uint8_t)camp_rand_below(&a->rng, 2)
				: (uint8_t)camp_rand(&a->rng);
			r.nr_segments = (uint16_t)camp_rand_below(&a->rng, 5000);
			r.id = i;
			r.sector_number = camp_rand_below(&a->rng,
							  (uint32_t)a->sectors);
			for (j = 0; j < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; j++)
				r.indirect_grefs[j] = camp_rand_below(&a->rng, 3)
					? a->ref[NPAGES - 1] : rand_ref(a);
			put_req(a, p, &r);
		}
		publish(a, p);
		answered = settle(a, p0, p, st, 2000);
		break;
	}
	case ATK_REVOKE: {
		unsigned int pg = camp_rand_below(&a->rng, NPAGES - 1);

		memset(&r, 0, sizeof(r));
		r.operation = camp_rand_below(&a->rng, 2) ? BLKIF_OP_READ
							  : BLKIF_OP_WRITE;
		r.nr_segments = 1;
		r.sector_number = camp_rand_below(&a->rng, (uint32_t)a->sectors);
		r.seg[0].gref = a->ref[pg];
		r.seg[0].last_sect = 7;
		put_req(a, p++, &r);
		publish(a, p);
		/* Revoke behind the backend's back, even while mapped. */
		if (camp_rand_below(&a->rng, 2))
			camp_msleep(0);
		xg_grant_set_raw(a->g->dom, a->ref[pg], 0, 0, 0);
		answered = settle(a, p0, p, st, 2000);
		xg_grant_set_raw(a->g->dom, a->ref[pg], GTF_permit_access,
				 a->g->bf ? blkfront_raw_backend_id(a->g->bf)
					  : 0, (uint32_t)a->gfn[pg]);
		break;
	}
	case ATK_DOUBLE_FETCH: {
		struct blkfront_wire_req evil;

		memset(&r, 0, sizeof(r));
		r.operation = BLKIF_OP_READ;
		r.nr_segments = 1;
		r.seg[0].gref = a->ref[0];
		r.seg[0].last_sect = 7;
		evil = r;
		evil.nr_segments = (uint16_t)(12 + camp_rand_below(&a->rng, 244));
		evil.operation = camp_rand_below(&a->rng, 2) ? BLKIF_OP_INDIRECT
							     : BLKIF_OP_WRITE;
		evil.sector_number = a->sectors + camp_rand(&a->rng) % 1000;
		rand_segs(a, &evil, 11, false);
		put_req(a, p++, &r);
		publish(a, p);
		/* Flip the slot between good and evil while it is read. */
		for (i = 0; i < 2000; i++)
			put_req(a, p0, i & 1 ? &r : &evil);
		answered = settle(a, p0, p, st, 2000);
		break;
	}
	case ATK_FLOOD: {
		uint64_t end = camp_now_us() + 50000;

		/* Full rings, back to back, for 50 ms. */
		while (camp_now_us() < end) {
			RING_IDX s = p;

			for (i = 0; i < rr.nr_ents; i++, p++) {
				memset(&r, 0, sizeof(r));
				r.operation = BLKIF_OP_READ;
				r.nr_segments = 1;
				r.id = i;
				r.sector_number = i * 8;
				r.seg[0].gref = a->ref[i % (NPAGES - 1)];
				r.seg[0].last_sect = 7;
				put_req(a, p, &r);
			}
			publish(a, p);
			if (!settle(a, s, p, st, 2000)) {
				answered = false;
				break;
			}
		}
		break;
	}
	default:
		break;
	}
	st->runs++;
	if (!answered)
		st->halted++;
}

static bool backend_connected(struct guest *g)
{
	struct xs_handle *xs;
	enum xenbus_state s = XenbusStateUnknown;

	if (xg_dom_xs_open(g->dom, &xs))
		return false;
	xg_xenbus_read_state(xs, g->be_path, &s);
	xs_close(xs);
	return s == XenbusStateConnected;
}

static int attacker_setup(struct attacker *a)
{
	struct blkfront_info info;
	unsigned int i;
	int ret;

	ret = fe_connect(a->g, camp_rand_below(&a->rng, 3));
	if (ret)
		return ret;
	blkfront_get_info(a->g->bf, &info);
	a->sectors = info.sectors;
	for (i = 0; i < NPAGES; i++) {
		ret = xg_grant_access(a->g->dom, info.backend_id, a->gfn[i],
				      false, &a->ref[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static void attacker_teardown(struct attacker *a)
{
	unsigned int i;

	for (i = 0; i < NPAGES; i++)
		if (a->ref[i])
			xg_grant_set_raw(a->g->dom, a->ref[i], 0, 0, 0);
	memset(a->ref, 0, sizeof(a->ref));
	if (a->g->bf)
		blkfront_close(a->g->bf);
	a->g->bf = NULL;
}

static void *attacker_thread(void *arg)
{
	struct attacker *a = arg;

	while (!attack_stop) {
		enum atk k = (enum atk)camp_rand_below(&a->rng, ATK_COUNT);
		bool before = astats[k].halted;

		one_attack(a, k, &astats[k]);
		attacks_total++;
		if (astats[k].halted != before || !backend_connected(a->g)) {
			/* Errored or disconnected: a new frontend. */
			attacker_teardown(a);
			astats[k].reconnects++;
			if (attacker_setup(a)) {
				astats[k].reconnect_fail++;
				attacker_teardown(a);
				camp_msleep(50);
			}
		}
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
	uint64_t seed = (uint64_t)camp_now_us();
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
		fprintf(stderr, "usage: campaign_blk UBACK_BLK [--seconds N] "
			"[--seed S]\n");
		return 2;
	}
	uback_blk = argv[1];
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
	printf("campaign_blk: %u s, seed %#llx\n", seconds,
	       (unsigned long long)seed);
	if (sim_harness_start(&harness) || xg_sim_connect(harness.dir, &tool)) {
		fprintf(stderr, "cannot start xensim\n");
		return 1;
	}
	if (guest_create(&good, tool) || guest_create(&bad, tool)) {
		fprintf(stderr, "cannot create the guests\n");
		return 1;
	}
	if (fe_connect(&good, 2)) {
		fprintf(stderr, "good guest: cannot connect\n");
		return 1;
	}
	memset(&a, 0, sizeof(a));
	a.g = &bad;
	a.rng = seed | 1;
	if (xg_pages_alloc(bad.dom, NPAGES, a.gfn) || attacker_setup(&a)) {
		fprintf(stderr, "attacker: cannot connect\n");
		return 1;
	}
	mon[0] = (struct camp_mon){ .pid = good.pid, .name = "good" };
	mon[1] = (struct camp_mon){ .pid = bad.pid, .name = "attacked" };
	camp_mon_start(mon, 2, 100);

	/* Alone first (the attacker is connected but idle). */
	good_run(&good, seconds / 4, &alone);
	attack_stop = false;
	pthread_create(&at, NULL, attacker_thread, &a);
	good_run(&good, seconds - seconds / 4 - 2, &attacked);
	attack_stop = true;
	pthread_join(at, NULL);

	/* Idle: no spin once the attacker is quiet. */
	camp_msleep(200);
	c0 = camp_cpu_us(bad.pid);
	camp_msleep(1000);
	c1 = camp_cpu_us(bad.pid);
	camp_mon_stop();

	mbs_alone = alone.us ? alone.bytes / (double)alone.us : 0;
	mbs_att = attacked.us ? attacked.bytes / (double)attacked.us : 0;
	printf("good guest alone:        %.1f MB/s (%lu batches, %lu "
	       "mismatches, %lu I/O errors, err %d)\n", mbs_alone,
	       alone.batches, alone.mismatches, alone.io_errors, alone.err);
	printf("good guest under attack: %.1f MB/s (%lu batches, %lu "
	       "mismatches, %lu I/O errors, err %d): %.0f%% of alone\n",
	       mbs_att, attacked.batches, attacked.mismatches,
	       attacked.io_errors, attacked.err,
	       mbs_alone ? 100 * mbs_att / mbs_alone : 0);
	printf("attacks: %lu\n", attacks_total);
	for (i = 0; i < ATK_COUNT; i++)
		printf("  %-20s runs %5lu  rsp ok %6lu err %6lu  "
		       "halted/unanswered %4lu  reconnects %4lu (failed %lu)\n",
		       atk_name[i], astats[i].runs, astats[i].rsp_ok,
		       astats[i].rsp_err, astats[i].halted,
		       astats[i].reconnects, astats[i].reconnect_fail);
	printf("responses with non-zero padding: %lu\n", pad_leaks);
	printf("attacked backend CPU over 1 s after the attack: %lld us\n",
	       c1 - c0);
	printf("backends:\n");
	report_mon(&mon[0]);
	report_mon(&mon[1]);

	if (alone.err || attacked.err || alone.mismatches ||
	    attacked.mismatches || alone.io_errors || attacked.io_errors) {
		printf("FAIL: the good guest's I/O failed or did not verify\n");
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
	if (pad_leaks) {
		printf("FAIL: response padding carried backend memory\n");
		failures++;
	}
	if (!attacks_total) {
		printf("FAIL: no attack ran\n");
		failures++;
	}

	attacker_teardown(&a);
	blkfront_close(good.bf);
	xg_device_remove(tool, good.domid, "vbd", "vbd", DEVID);
	xg_device_remove(tool, bad.domid, "vbd", "vbd", DEVID);
	st_good = camp_wait(good.pid, TIMEOUT_MS);
	st_bad = camp_wait(bad.pid, TIMEOUT_MS);
	printf("exit status: good %d, attacked %d\n", st_good, st_bad);
	if (st_good || st_bad) {
		printf("FAIL: a backend did not exit cleanly\n");
		failures++;
	}
	xg_dom_destroy(good.dom);
	xg_dom_destroy(bad.dom);
	unlink(good.img);
	unlink(bad.img);
	xg_sim_disconnect(good.sim);
	xg_sim_disconnect(bad.sim);
	xg_sim_disconnect(tool);
	sim_harness_stop(&harness);
	printf("%s\n", failures ? "campaign_blk: FAILED" : "campaign_blk: OK");
	return failures ? 1 : 0;
}
