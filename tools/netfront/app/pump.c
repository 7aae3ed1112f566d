/* SPDX-License-Identifier: MIT */
/*
 * The frame pump: tap -> netfront TX and netfront RX -> tap for every
 * queue on one epoll loop. Buffers are allocated once; per frame there is
 * one read or one writev and no allocation. A queue whose TX ring is full
 * keeps its frame and stops watching its tap until TX responses free
 * room, so the kernel's qdisc, not this loop, holds the backlog.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_net.h>

#include <uback/clock.h>
#include <uback/log.h>

#include "app.h"

#define PUMP_BUDGET 64
#define VNET_LEN sizeof(struct virtio_net_hdr)
#define RDBUF_LEN (VNET_LEN + 65536 + 512)
#define EV_STOP 0xffffffffu
#define EV_NF   0xfffffffeu

struct pump_q {
	int fd;
	bool readable;
	bool pending;             /* buf holds a frame netfront refused;
	                           * zero-copy: no room for a frame */
	bool watched;             /* tap fd in the epoll set with EPOLLIN */
	size_t pend_len;
	uint8_t *buf;
	struct nfa_tap_stats st;
};

#define MCAST_MAX 64u

struct pump {
	const struct nfa_pump_config *cfg;
	bool mcast;                /* multicast control negotiated */
	unsigned int nmc;
	uint8_t mc[MCAST_MAX][6];  /* what the backend was told */
	struct netfront *nf;
	unsigned int nq;
	bool zero_copy;
	int ep;
	struct pump_q *q;
};

static void write_stats(struct pump *p)
{
	struct netfront_info info;
	char tmp[4096];
	unsigned int i;
	FILE *f;

	if (!p->cfg->stats_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", p->cfg->stats_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	netfront_get_info(p->nf, &info);
	fprintf(f, "{\n  \"nr_queues\": %u,\n  \"sg\": %d, \"gso_tcpv4\": %d, "
		"\"gso_tcpv6\": %d, \"ipv6_csum\": %d, \"split_evtchn\": %d, "
		"\"ctrl_ring\": %d, \"hash\": %d, \"multicast_control\": %d,\n"
		"  \"grant_leaks\": %llu,\n  \"queues\": [\n",
		info.nr_queues, info.sg, info.gso_tcpv4, info.gso_tcpv6,
		info.ipv6_csum, info.split_evtchn, info.ctrl_ring, info.hash,
		info.multicast_control,
		(unsigned long long)netfront_grant_leaks(p->nf));
	for (i = 0; i < p->nq; i++) {
		struct netfront_stats s;
		const struct nfa_tap_stats *t = &p->q[i].st;

		netfront_get_stats(p->nf, i, &s);
		fprintf(f, "    {\"tx_frames\": %llu, \"tx_bytes\": %llu, "
			"\"tx_slots\": %llu, \"tx_gso\": %llu, "
			"\"tx_errors\": %llu, \"tx_busy\": %llu, "
			"\"tx_mcast\": %llu, \"rx_frames\": %llu, "
			"\"rx_bytes\": %llu, \"rx_slots\": %llu, "
			"\"rx_gso\": %llu, \"rx_hash\": %llu, "
			"\"rx_csum_blank\": %llu, \"rx_data_valid\": %llu, "
			"\"rx_errors\": %llu, \"rx_backend_errors\": %llu, "
			"\"bad_tx_responses\": %llu, \"notifies_sent\": %llu, "
			"\"events\": %llu, \"tap_rx_frames\": %llu, "
			"\"tap_rx_dropped\": %llu, \"tap_tx_frames\": %llu, "
			"\"tap_tx_errors\": %llu}%s\n",
			(unsigned long long)s.tx_frames,
			(unsigned long long)s.tx_bytes,
			(unsigned long long)s.tx_slots,
			(unsigned long long)s.tx_gso,
			(unsigned long long)s.tx_errors,
			(unsigned long long)s.tx_busy,
			(unsigned long long)s.tx_mcast,
			(unsigned long long)s.rx_frames,
			(unsigned long long)s.rx_bytes,
			(unsigned long long)s.rx_slots,
			(unsigned long long)s.rx_gso,
			(unsigned long long)s.rx_hash,
			(unsigned long long)s.rx_csum_blank,
			(unsigned long long)s.rx_data_valid,
			(unsigned long long)s.rx_errors,
			(unsigned long long)s.rx_backend_errors,
			(unsigned long long)s.bad_tx_responses,
			(unsigned long long)s.notifies_sent,
			(unsigned long long)s.events,
			(unsigned long long)t->tap_rx_frames,
			(unsigned long long)t->tap_rx_dropped,
			(unsigned long long)t->tap_tx_frames,
			(unsigned long long)t->tap_tx_errors,
			i + 1 < p->nq ? "," : "");
	}
	fprintf(f, "  ]\n}\n");
	if (fclose(f) == 0)
		rename(tmp, p->cfg->stats_path);
}

/* netfront RX -> tap. true if the budget ran out (more may wait). */
static bool pump_rx(struct pump *p, unsigned int qi)
{
	struct pump_q *q = &p->q[qi];
	struct netfront_rx_frame f;
	struct virtio_net_hdr vh;
	struct iovec iov[1 + NETFRONT_MAX_SLOTS];
	unsigned int k, i;

	for (k = 0; k < PUMP_BUDGET; k++) {
		int r = netfront_rx(p->nf, qi, &f);

		if (r == -EIO)
			XB_LOG_RATELIMITED(XB_LOG_WARN,
					   "queue %u: RX ring protocol error",
					   qi);
		if (r)
			return false;
		if (netfront_rx_vnet(&f, &vh)) {
			q->st.tap_tx_errors++;
			continue;
		}
		iov[0].iov_base = &vh;
		iov[0].iov_len = VNET_LEN;
		for (i = 0; i < f.iovcnt; i++)
			iov[1 + i] = f.iov[i];
		if (writev(q->fd, iov, (int)(1 + f.iovcnt)) < 0)
			q->st.tap_tx_errors++;
		else
			q->st.tap_tx_frames++;
	}
	return true;
}

/* tap -> netfront TX. true if the budget ran out. Frames are published
 * once the tap is drained, the budget spent or the ring full (the loop's
 * kick), as Linux netfront with xmit_more while its qdisc has a backlog:
 * publishing each frame at once woke the backend ~40% more often per
 * frame (bench/net counters) for no throughput. */
static bool pump_tx(struct pump *p, unsigned int qi)
{
	struct pump_q *q = &p->q[qi];
	struct virtio_net_hdr vh;
	struct iovec iov;
	unsigned int k;

	if (q->pending)
		netfront_queue_reap(p->nf, qi);
	for (k = 0; k < PUMP_BUDGET; k++) {
		int r;

		if (!q->pending) {
			ssize_t n;

			if (!q->readable)
				return false;
			n = read(q->fd, q->buf, RDBUF_LEN);
			if (n < 0) {
				q->readable = false;
				return false;
			}
			q->st.tap_rx_frames++;
			if ((size_t)n < VNET_LEN + 14) {
				q->st.tap_rx_dropped++;
				continue;
			}
			q->pend_len = (size_t)n;
			q->pending = true;
		}
		memcpy(&vh, q->buf, VNET_LEN);
		iov.iov_base = q->buf + VNET_LEN;
		iov.iov_len = q->pend_len - VNET_LEN;
		r = netfront_tx_vnet(p->nf, qi, &vh, &iov, 1);
		if (r == -EAGAIN)
			return false;
		q->pending = false;
		if (r)
			q->st.tap_rx_dropped++;
	}
	return true;
}

/*
 * tap -> netfront TX without a copy of ours: the frame is read straight
 * into the granted pool pages the ring will name (as Linux netfront
 * grants the skb's pages). Used when no checksum needs completing here
 * (the backend takes blank checksums, IPv6 too) and frames may span
 * pages (SG). A full ring stops the reading, as in pump_tx.
 */
static bool pump_tx_zc(struct pump *p, unsigned int qi)
{
	struct pump_q *q = &p->q[qi];
	struct iovec iov[2 + NETFRONT_MAX_SLOTS];
	struct virtio_net_hdr vh;
	struct netfront_meta m;
	unsigned int k, cnt;

	if (q->pending)
		netfront_queue_reap(p->nf, qi);
	for (k = 0; k < PUMP_BUDGET; k++) {
		ssize_t n;
		size_t len;

		if (!q->pending && !q->readable)
			return false;
		if (netfront_tx_buffers(p->nf, qi, NETFRONT_MAX_FRAME,
					iov + 1, &cnt)) {
			q->pending = true;
			return false;
		}
		q->pending = false;
		if (!q->readable)
			return false;
		iov[0].iov_base = &vh;
		iov[0].iov_len = VNET_LEN;
		/* Anything past the largest netif frame lands here. */
		iov[1 + cnt].iov_base = q->buf;
		iov[1 + cnt].iov_len = 512;
		n = readv(q->fd, iov, (int)(2 + cnt));
		if (n < 0) {
			q->readable = false;
			return false;
		}
		q->st.tap_rx_frames++;
		len = (size_t)n - VNET_LEN;
		if ((size_t)n < VNET_LEN + 14 || len > NETFRONT_MAX_FRAME ||
		    netfront_meta_from_vnet(&vh, &m) ||
		    netfront_tx_commit(p->nf, qi, &m, len)) {
			q->st.tap_rx_dropped++;
			continue;
		}
	}
	return true;
}

static void set_watch(struct pump *p, unsigned int qi)
{
	struct pump_q *q = &p->q[qi];
	struct epoll_event ev = { .data.u32 = qi };
	bool want = !q->pending;

	if (want == q->watched)
		return;
	ev.events = want ? EPOLLIN : 0;
	if (epoll_ctl(p->ep, EPOLL_CTL_MOD, q->fd, &ev) == 0)
		q->watched = want;
	if (want)
		q->readable = true;
}

/*
 * Before sleeping, poll for up to spin_us: a wake-up through an event
 * channel costs ~15 us across cores here (docs/environment.md), so a
 * short spin buys latency for CPU. Returns the epoll timeout to use: 0 if
 * work showed up while spinning, else the idle tick.
 */
static int spin_wait(struct pump *p)
{
	uint64_t end;
	struct epoll_event ev;
	unsigned int qi;

	if (!p->cfg->spin_us)
		return 200;
	end = xb_now_ns() + (uint64_t)p->cfg->spin_us * 1000u;
	do {
		for (qi = 0; qi < p->nq; qi++)
			if (netfront_queue_has_work(p->nf, qi))
				return 0;
		/* a tap frame or an event channel: peek without sleeping */
		if (epoll_wait(p->ep, &ev, 1, 0) > 0)
			return 0;
	} while (xb_now_ns() < end);
	return 200;
}

static bool mc_has(uint8_t (*list)[6], unsigned int n, const uint8_t *a)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!memcmp(list[i], a, 6))
			return true;
	return false;
}

/*
 * Multicast control: the guest kernel's subscriptions on the tap are in
 * /proc/self/net/dev_mcast (this thread lives in the guest namespace).
 * Mirror them to the backend as MCAST_ADD/DEL extras, once a second.
 * An extra refused for lack of ring space is retried at the next tick.
 */
static void mcast_sync(struct pump *p)
{
	uint8_t want[MCAST_MAX][6];
	unsigned int nw = 0, i;
	char line[256], name[64], hex[64];
	FILE *f;

	if (!p->mcast || !p->cfg->ifname)
		return;
	f = fopen("/proc/self/net/dev_mcast", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && nw < MCAST_MAX) {
		unsigned int idx, users, global, b[6];

		if (sscanf(line, "%u %63s %u %u %63s", &idx, name, &users,
			   &global, hex) != 5 || strcmp(name, p->cfg->ifname) ||
		    strlen(hex) != 12 ||
		    sscanf(hex, "%2x%2x%2x%2x%2x%2x", &b[0], &b[1], &b[2],
			   &b[3], &b[4], &b[5]) != 6)
			continue;
		for (i = 0; i < 6; i++)
			want[nw][i] = (uint8_t)b[i];
		if ((want[nw][0] & 1) && !mc_has(want, nw, want[nw]))
			nw++;
	}
	fclose(f);
	for (i = 0; i < p->nmc;) {
		if (!mc_has(want, nw, p->mc[i]) &&
		    netfront_mcast(p->nf, false, p->mc[i]) == 0) {
			memcpy(p->mc[i], p->mc[--p->nmc], 6);
			continue;
		}
		i++;
	}
	for (i = 0; i < nw && p->nmc < MCAST_MAX; i++)
		if (!mc_has(p->mc, p->nmc, want[i]) &&
		    netfront_mcast(p->nf, true, want[i]) == 0)
			memcpy(p->mc[p->nmc++], want[i], 6);
	netfront_queue_kick(p->nf, 0);
}

static int loop(struct pump *p)
{
	struct epoll_event evs[32];
	uint64_t next_stats = xb_now_ns() + 1000000000ull;
	bool busy = false;
	unsigned int qi;

	for (;;) {
		bool nfev = false;
		int n, i;

		n = epoll_wait(p->ep, evs, 32, busy ? 0 : spin_wait(p));
		if (n < 0 && errno != EINTR)
			return -errno;
		busy = false;
		for (i = 0; i < n; i++) {
			uint32_t d = evs[i].data.u32;

			if (d == EV_STOP)
				return 0;
			if (d == EV_NF)
				nfev = true;
			else if (d < p->nq)
				p->q[d].readable = true;
		}
		if (nfev && netfront_poll(p->nf) == -ENOTCONN) {
			xb_warn("backend left Connected: stopping");
			return -ENOTCONN;
		}
		for (qi = 0; qi < p->nq; qi++) {
			if (pump_rx(p, qi))
				busy = true;
			if (p->zero_copy ? pump_tx_zc(p, qi) : pump_tx(p, qi))
				busy = true;
			set_watch(p, qi);
			netfront_queue_kick(p->nf, qi);
		}
		if (xb_now_ns() >= next_stats) {
			mcast_sync(p);
			write_stats(p);
			next_stats = xb_now_ns() + 1000000000ull;
		}
	}
}

int nfa_pump_run(const struct nfa_pump_config *cfg)
{
	struct netfront_info info;
	struct epoll_event ev = { .events = EPOLLIN };
	struct pump p = { .cfg = cfg, .nf = cfg->nf, .ep = -1 };
	unsigned int i;
	int ret;

	netfront_get_info(cfg->nf, &info);
	p.nq = info.nr_queues;
	p.zero_copy = info.sg && info.tx_csum && info.ipv6_csum;
	p.mcast = info.multicast_control;
	p.q = calloc(p.nq, sizeof(*p.q));
	if (!p.q)
		return -ENOMEM;
	p.ep = epoll_create1(EPOLL_CLOEXEC);
	if (p.ep < 0) {
		ret = -errno;
		goto out;
	}
	ev.data.u32 = EV_STOP;
	if (epoll_ctl(p.ep, EPOLL_CTL_ADD, cfg->stop_fd, &ev) < 0)
		goto err_errno;
	ev.data.u32 = EV_NF;
	if (epoll_ctl(p.ep, EPOLL_CTL_ADD, netfront_fd(cfg->nf), &ev) < 0)
		goto err_errno;
	for (i = 0; i < p.nq; i++) {
		p.q[i].fd = cfg->tap_fds[i];
		p.q[i].buf = malloc(RDBUF_LEN);
		if (!p.q[i].buf) {
			ret = -ENOMEM;
			goto out;
		}
		ev.data.u32 = i;
		if (epoll_ctl(p.ep, EPOLL_CTL_ADD, p.q[i].fd, &ev) < 0)
			goto err_errno;
		p.q[i].watched = true;
		p.q[i].readable = true;
	}
	ret = loop(&p);
	write_stats(&p);
	goto out;

err_errno:
	ret = -errno;
	xb_err("pump: epoll: %s", strerror(-ret));
out:
	for (i = 0; i < p.nq; i++)
		free(p.q[i].buf);
	free(p.q);
	if (p.ep >= 0)
		close(p.ep);
	return ret;
}
