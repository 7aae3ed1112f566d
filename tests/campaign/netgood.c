/* SPDX-License-Identifier: MIT */
/*
 * campaign_net's guests (campnet.h): creating a guest with a vif served
 * by its own uback-net, and the well-behaved guest in its two forms.
 */
#include <errno.h>
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

/* The data mode's batches: 16 frames of 4000 bytes. */
#define FRAME 4000u
#define BATCH 16u
/* RX buffers the attacker's netfront posts itself: few, so that its raw
 * RX requests fit and a flood soon finds none. */
#define ATK_RX_FILL 8u

int cn_guest_create(struct guest *g, struct xg_sim *tool, const char *sim_dir,
		    const char *uback_net)
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
	ret = xg_sim_connect(sim_dir, &g->sim);
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

int cn_fe_connect(struct guest *g, bool hostile)
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

/* ---- the good guest: netfront data API over the loop port ---- */



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

/* ---- the good guest: both forms ---- */
int good_up(struct good *gd, struct xg_sim *tool, const char *sim_dir,
	    const char *uback_net, const char *script, const char *netfront)
{
	const char *argv[] = { "python3", script, "--sim-dir", sim_dir,
			       "--uback-net", uback_net, "--netfront",
			       netfront, NULL };
	char reply[600];
	int ret;

	if (!gd->iperf) {
		ret = cn_guest_create(&gd->g, tool, sim_dir, uback_net);
		if (!ret)
			ret = cn_fe_connect(&gd->g, false);
		gd->backend = gd->g.pid;
		return ret;
	}
	ret = camp_coproc_start(argv, &gd->helper);
	if (!ret)
		ret = camp_coproc_cmd(&gd->helper, "up", reply, sizeof(reply));
	if (ret)
		return ret;
	if (sscanf(reply, "ok %d", &gd->backend) != 1) {
		fprintf(stderr, "good guest: %s\n", reply);
		return -EIO;
	}
	printf("good guest: iperf3 through uback-netfront, uback-net pid %d "
	       "(tap on a bridge, namespaces)\n", (int)gd->backend);
	return 0;
}

/* One measured phase of @seconds; with @verify (iperf mode) a 64 MiB
 * sha256-checked transfer afterwards, counted as a mismatch if it fails. */
void good_phase(struct good *gd, unsigned int seconds, bool verify,
		       struct good_res *res)
{
	char cmd[64], reply[600];
	unsigned long long bps = 0;
	unsigned long retr = 0;

	if (!gd->iperf) {
		good_run(&gd->g, seconds, res, &gd->gen);
		return;
	}
	memset(res, 0, sizeof(*res));
	snprintf(cmd, sizeof(cmd), "iperf %u", seconds);
	res->err = camp_coproc_cmd(&gd->helper, cmd, reply, sizeof(reply));
	if (!res->err && sscanf(reply, "iperf %llu %lu", &bps, &retr) != 2) {
		printf("good guest: %s\n", reply);
		res->err = -EIO;
	}
	res->bytes = bps / 8 * seconds;
	res->us = seconds * 1000000ull;
	res->batches = retr;            /* iperf mode: TCP retransmits */
	if (res->err || !verify)
		return;
	if (camp_coproc_cmd(&gd->helper, "verify 64", reply, sizeof(reply)) ||
	    strncmp(reply, "verify ok", 9)) {
		printf("good guest: %s\n", reply);
		res->mismatches++;
	} else {
		printf("good guest: 64 MiB guest -> peer under attack, sha256 "
		       "equal on both ends\n");
	}
}

/* Stop the good guest; its backend's exit status. */
int good_down(struct good *gd, struct xg_sim *tool,
		     unsigned long *leaks)
{
	char reply[600];
	int nf_st = -1, be_st = -1;

	if (!gd->iperf) {
		*leaks += netfront_raw_close(gd->g.nf);
		xg_device_remove(tool, gd->g.domid, "vif", "vif", DEVID);
		return camp_wait(gd->g.pid, TIMEOUT_MS);
	}
	if (camp_coproc_cmd(&gd->helper, "down", reply, sizeof(reply)) ||
	    sscanf(reply, "down %d %d", &nf_st, &be_st) != 2)
		printf("good guest: %s\n", reply);
	camp_coproc_end(&gd->helper, TIMEOUT_MS);
	printf("good guest: uback-netfront exit %d, uback-net exit %d\n",
	       nf_st, be_st);
	return nf_st ? (nf_st > 0 ? nf_st : 1) : be_st;
}

void good_fini(struct good *gd)
{
	if (gd->iperf)
		return;
	xs_close(gd->g.xs);
	xg_dom_destroy(gd->g.dom);
	xg_sim_disconnect(gd->g.sim);
}
