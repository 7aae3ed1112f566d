/* SPDX-License-Identifier: MIT */
/*
 * One netif queue: its thread, its grant and event channel handles, both
 * rings. The thread runs a TX batch and an RX batch per round and sleeps
 * in one poll() on the event channel fd, the port queue's fd (unless the
 * guest has no buffers for what we already hold) and a stop eventfd.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "uback/clock.h"
#include "uback/spin.h"
#include "queue_priv.h"

#define NET_BUF_STRIDE ((size_t)NET_FRAME_MAX + 1)

void net_queue_fail(struct net_queue *q, const char *why)
{
	uint64_t one = 1;

	if (__atomic_load_n(&q->failed, __ATOMIC_ACQUIRE))
		return;
	q->fail_why = why;
	__atomic_store_n(&q->failed, 1, __ATOMIC_RELEASE);
	net_stat_add(&q->stats, NET_ST_RING_HALTED, 1);
	xb_err("dom%u queue %u: frontend broke the ring protocol (%s): "
	       "queue halted", q->cfg.domid, q->cfg.index, why);
	if (q->cfg.alert_fd >= 0 &&
	    write(q->cfg.alert_fd, &one, sizeof(one)) < 0) {
		/* The main thread also looks at the flag on every event. */
	}
}

bool net_queue_failed(const struct net_queue *q, const char **why)
{
	if (!__atomic_load_n(&q->failed, __ATOMIC_ACQUIRE))
		return false;
	if (why)
		*why = q->fail_why;
	return true;
}

void net_queue_push(struct net_queue *q, struct xb_back_ring *r,
		    evtchn_port_t port)
{
	bool *dirty = r == &q->tx ? &q->tx_dirty : &q->rx_dirty;

	if (!*dirty)
		return;
	*dirty = false;
	net_stat_add(&q->stats, NET_ST_BATCHES, 1);
	if (xb_ring_push_rsps(r)) {
		net_stat_add(&q->stats, NET_ST_NOTIFIES, 1);
		if (xb_evtchn_notify(q->evtchn, port))
			net_stat_add(&q->stats, NET_ST_NOTIFY_ERRORS, 1);
	}
}

static void drain_evtchn(struct net_queue *q)
{
	evtchn_port_t port;
	unsigned int i;

	/* Bounded: a broken provider cannot spin us. */
	for (i = 0; i < 64; i++) {
		if (xb_evtchn_pending(q->evtchn, &port))
			break;
		xb_evtchn_unmask(q->evtchn, port);
	}
	net_stat_add(&q->stats, NET_ST_EVENTS, 1);
}

static void port_stats(struct net_queue *q)
{
	struct net_port_stats ps = { 0 };

	q->cfg.port_ops->get_stats(q->cfg.port, q->cfg.index, &ps);
	net_stat_set(&q->stats, NET_ST_PORT_RX_OVERSIZE, ps.rx_oversize);
	net_stat_set(&q->stats, NET_ST_PORT_RX_ERRORS, ps.rx_errors);
	net_stat_set(&q->stats, NET_ST_PORT_TX_DROPPED, ps.tx_dropped);
	net_stat_set(&q->stats, NET_ST_PORT_TX_ERRORS, ps.tx_errors);
}

/* Last look before sleeping, with the frontend's event armed. true if
 * there is work after all. */
static bool final_check(struct net_queue *q)
{
	RING_IDX prod;

	if (!q->tx_pend_count && !q->tx_resume_ns &&
	    xb_ring_final_check(&q->tx))
		return true;
	if (q->rx_blocked) {
		/* Wake on any new buffer; the frame needs several. */
		prod = __atomic_load_n(&q->rx.sring->req_prod, __ATOMIC_RELAXED);
		q->rx.sring->req_event = prod + 1;
		xb_mb();
		if (__atomic_load_n(&q->rx.sring->req_prod, __ATOMIC_RELAXED) !=
		    prod)
			return true;
	}
	return false;
}

/*
 * Spin up to spin_us for new work before sleeping: a sleeping thread
 * woken by an event channel pays a cross-core wake-up (and, on a loaded
 * host, a wait for a CPU), while a busy frontend usually has more for us
 * within microseconds. Looks at the TX ring's producer and, while frames
 * wait for buffers, the RX ring's, on every round; at the port (a
 * non-blocking burst: one syscall for tap) every 16th round.
 */
static bool spin_for_work(struct net_queue *q)
{
	struct xb_spin sp;
	RING_IDX rx_prod = __atomic_load_n(&q->rx.sring->req_prod,
					   __ATOMIC_RELAXED);
	bool tx_open = !q->tx_pend_count && !q->tx_resume_ns;
	unsigned int i;

	xb_spin_start(&sp, (uint64_t)q->cfg.spin_us * 1000);
	for (i = 1;; i++) {
		if (__atomic_load_n(&q->stop_flag, __ATOMIC_RELAXED))
			return true;
		if (tx_open && __atomic_load_n(&q->tx.sring->req_prod,
					       __ATOMIC_ACQUIRE) !=
				       q->tx.req_cons)
			break;
		if (q->rx_count) {
			if (__atomic_load_n(&q->rx.sring->req_prod,
					    __ATOMIC_ACQUIRE) != rx_prod)
				break;
		} else if ((i & 15) == 0 && !q->port_broken &&
			   net_rx_ready(q)) {
			break;
		}
		/* A timeout or a lost CPU: a miss either way (spin_gated). */
		if (xb_spin_next(&sp) != XB_SPIN_GO)
			return false;
	}
	net_stat_add(&q->stats, NET_ST_SPIN_HITS, 1);
	return true;
}

/* Spin if the gate is open; true if work came. */
static bool spin_gated(struct net_queue *q)
{
	if (!q->cfg.spin_us || q->now_ns < q->spin_pause_until)
		return false;
	if (spin_for_work(q)) {
		q->spin_misses = 0;
		return true;
	}
	if (++q->spin_misses >= NET_SPIN_MISSES) {
		q->spin_misses = 0;
		q->spin_pause_until = xb_now_ns() +
				      NET_SPIN_PAUSE_MS * 1000000ull;
		net_stat_add(&q->stats, NET_ST_SPIN_PAUSES, 1);
	}
	return false;
}

/* How long the sleep may last (ns; UINT64_MAX: until an event). */
static uint64_t sleep_ns(struct net_queue *q)
{
	uint64_t t = UINT64_MAX, stall;

	if (q->tx_pend_count)
		t = 1000000;            /* port back-pressure: retry */
	if (q->tx_resume_ns) {
		uint64_t d = q->tx_resume_ns > q->now_ns
				     ? q->tx_resume_ns - q->now_ns : 0;

		if (d < t)
			t = d;
	}
	if (q->rx_blocked) {
		stall = (uint64_t)(q->cfg.rx_stall_ms ? q->cfg.rx_stall_ms
						      : NET_DEFAULT_RX_STALL_MS)
			* 1000000;
		stall = q->rx_blocked_ns + stall > q->now_ns
				? q->rx_blocked_ns + stall - q->now_ns : 0;
		if (stall < t)
			t = stall;
	} else if (q->port_fd < 0 && !q->port_broken) {
		uint64_t p = q->cfg.poll_us ? q->cfg.poll_us
					    : NET_DEFAULT_POLL_US;
		uint64_t max = q->cfg.poll_max_us ? q->cfg.poll_max_us
						  : NET_DEFAULT_POLL_MAX_US;

		/* doubled for each idle poll in a row (netback.h) */
		if (max < p)
			max = p;
		p <<= q->poll_shift;
		if (p > max)
			p = max;
		if (p * 1000 < t)
			t = p * 1000;
	}
	return t;
}

static void *queue_thread(void *arg)
{
	struct net_queue *q = arg;
	struct pollfd pfd[4];
	char name[16];
	unsigned int n, steer_i;
	int ready;

	/* Named by itself: naming another thread opens /proc, which the
	 * sandbox forbids. */
	snprintf(name, sizeof(name), "net%u.%u", q->cfg.domid, q->cfg.index);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		bool progress = false, failed;
		struct timespec ts, *tsp = NULL;
		uint64_t t;

		net_stat_add(&q->stats, NET_ST_LOOPS, 1);
		q->now_ns = xb_now_ns();
		if (__atomic_load_n(&q->stop_flag, __ATOMIC_RELAXED))
			break;
		failed = net_queue_failed(q, NULL);
		if (!failed) {
			progress |= net_tx_run(q) > 0;
			progress |= net_rx_run(q) > 0;
			failed = net_queue_failed(q, NULL);
		}
		if (progress)
			q->poll_shift = 0;
		else if (q->poll_timed_out &&
			 q->poll_shift < NET_POLL_SHIFT_MAX)
			q->poll_shift++;
		q->poll_timed_out = false;
		if (progress && !failed)
			continue;
		port_stats(q);
		if (!failed && spin_gated(q))
			continue;
		if (!failed && final_check(q))
			continue;

		n = 0;
		pfd[n++] = (struct pollfd){ .fd = q->stop_fd, .events = POLLIN };
		if (!failed)
			pfd[n++] = (struct pollfd){ .fd = q->evtchn_fd,
						    .events = POLLIN };
		if (!failed && !q->rx_blocked && !q->rx_count &&
		    q->port_fd >= 0 && !q->port_broken)
			pfd[n++] = (struct pollfd){ .fd = q->port_fd,
						    .events = POLLIN };
		/* Frames other queues steer to us: looked at with the port. */
		steer_i = n;
		if (!failed && !q->rx_blocked && !q->rx_count &&
		    q->steer_fd >= 0)
			pfd[n++] = (struct pollfd){ .fd = q->steer_fd,
						    .events = POLLIN };
		t = failed ? UINT64_MAX : sleep_ns(q);
		if (t != UINT64_MAX) {
			ts.tv_sec = (time_t)(t / 1000000000ull);
			ts.tv_nsec = (long)(t % 1000000000ull);
			tsp = &ts;
		}
		net_stat_add(&q->stats, NET_ST_SLEEPS, 1);
		ready = ppoll(pfd, n, tsp, NULL);
		if (ready < 0 && errno != EINTR) {
			/* Never spin on a failing poll. */
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
			continue;
		}
		q->poll_timed_out = ready == 0;
		if (n > 1 && (pfd[1].revents & POLLIN))
			drain_evtchn(q);
		else if (n > 1 && (pfd[1].revents & (POLLERR | POLLNVAL))) {
			net_queue_fail(q, "event channel fd failed");
		}
		/* Reset before the rings are looked at again: a push after
		 * that look makes the fd readable for the next poll. */
		if (steer_i < n && pfd[steer_i].revents)
			net_steer_ack(q->cfg.steer, q->cfg.index);
	}
	port_stats(q);
	return NULL;
}

static void queue_free(struct net_queue *q)
{
	if (q->rx_bufs)
		munmap(q->rx_bufs, q->bufs_bytes);
	free(q->tx_ents);
	free(q->tx_frames);
	free(q->rx_frames);
	free(q->rx_in_frames);
	free(q->rx_meta);
	free(q->rx_ents);
	free(q->rx_reqs);
	free(q->gcopy);
	free(q);
}

static int alloc_buffers(struct net_queue *q)
{
	uint32_t i;

	if (q->tx.nr_ents > NET_STATE_RING_MAX ||
	    q->rx.nr_ents > NET_STATE_RING_MAX)
		return -EINVAL;
	q->tx_win = q->cfg.state->tx_win;
	q->tx_ents = calloc(NET_TX_BATCH, sizeof(*q->tx_ents));
	q->tx_frames = calloc(NET_TX_BATCH, sizeof(*q->tx_frames));
	q->rx_frames = calloc(NET_RX_BATCH, sizeof(*q->rx_frames));
	q->rx_in_frames = calloc(NET_RX_BATCH, sizeof(*q->rx_in_frames));
	q->rx_meta = calloc(NET_RX_BATCH, sizeof(*q->rx_meta));
	q->rx_ents = calloc(NET_RX_BATCH, sizeof(*q->rx_ents));
	q->rx_reqs = calloc((size_t)NET_RX_BATCH * NET_RX_MAX_SLOTS,
			    sizeof(*q->rx_reqs));
	q->gcopy = calloc(NET_GCOPY_MAX, sizeof(*q->gcopy));
	if (!q->tx_win || !q->tx_ents || !q->tx_frames || !q->rx_frames ||
	    !q->rx_in_frames || !q->rx_meta || !q->rx_ents || !q->rx_reqs || !q->gcopy)
		return -ENOMEM;
	/* TX frames live in the state (a successor sends what was answered
	 * and not sent); RX frames die with the process. Reserved only:
	 * pages are touched as frames use them. */
	q->tx_bufs = q->cfg.tx_bufs;
	q->bufs_bytes = (size_t)NET_RX_BATCH * NET_BUF_STRIDE;
	q->rx_bufs = mmap(NULL, q->bufs_bytes, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (q->rx_bufs == MAP_FAILED) {
		q->rx_bufs = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < NET_RX_BATCH; i++)
		q->rx_frames[i].data = q->rx_bufs + (size_t)i * NET_BUF_STRIDE;
	q->rx_stash = q->rx_frames;
	return 0;
}

static int map_ring(struct net_queue *q, grant_ref_t ref, const char *what,
		    size_t slot_size, void **addr, struct xb_back_ring *r)
{
	int ret;

	ret = xb_gnt_map(q->gnt, q->cfg.domid, 1, &ref, false, addr);
	if (ret) {
		xb_err("dom%u queue %u: cannot map %s ring (ref %u): %s",
		       q->cfg.domid, q->cfg.index, what, ref, strerror(-ret));
		*addr = NULL;
		return ret;
	}
	return xb_back_ring_attach(r, *addr, XB_PAGE_SIZE, slot_size);
}

static bool indices_ok(const struct xb_back_ring *r, RING_IDX cons,
		       RING_IDX written)
{
	RING_IDX pub = __atomic_load_n(&r->sring->rsp_prod, __ATOMIC_RELAXED);

	/* Guest-written rsp_prod: this only ever refuses. A frontend that
	 * reconnected with new rings starts again far from what we wrote. */
	return (RING_IDX)(cons - written) <= r->nr_ents &&
	       (RING_IDX)(written - pub) <= r->nr_ents;
}

/* Record where fresh rings start, or take the predecessor's indices
 * (state.h "Recovery"); nothing is written to the rings on -EUCLEAN. */
static int queue_state_start(struct net_queue *q)
{
	struct net_state_queue *s = q->cfg.state;
	RING_IDX tc, tw, rc, rw;

	if (!q->cfg.adopt) {
		net_state_store(&s->tx_req_cons, q->tx.req_cons);
		net_state_store(&s->tx_rsp_written, q->tx.rsp_prod_pvt);
		net_state_store(&s->rx_req_cons, q->rx.req_cons);
		net_state_store(&s->rx_rsp_written, q->rx.rsp_prod_pvt);
		return 0;
	}
	tc = s->tx_req_cons;
	tw = s->tx_rsp_written;
	rc = s->rx_req_cons;
	rw = s->rx_rsp_written;
	if (!indices_ok(&q->tx, tc, tw) || !indices_ok(&q->rx, rc, rw)) {
		xb_err("dom%u queue %u: state indices do not match the rings",
		       q->cfg.domid, q->cfg.index);
		return -EUCLEAN;
	}
	q->tx.req_cons = tc;
	q->tx.rsp_prod_pvt = tw;
	q->tx_replay = tc - tw;
	if (!q->tx_replay && net_tx_adopt_frames(q)) {
		xb_err("dom%u queue %u: state TX frame journal does not fit "
		       "its buffers", q->cfg.domid, q->cfg.index);
		return -EUCLEAN;
	}
	q->rx.req_cons = rc;
	q->rx.rsp_prod_pvt = rw;
	q->rx_reuse_next = rw;
	q->rx_reuse_end = rc;
	/* Whole responses the predecessor did not publish. */
	xb_ring_push_rsps(&q->tx);
	xb_ring_push_rsps(&q->rx);
	return 0;
}

static int bind_port(struct net_queue *q, evtchn_port_t remote,
		     evtchn_port_t *local)
{
	int ret = xb_evtchn_bind(q->evtchn, q->cfg.domid, remote, local);

	if (ret)
		xb_err("dom%u queue %u: cannot bind event channel %u: %s",
		       q->cfg.domid, q->cfg.index, remote, strerror(-ret));
	return ret;
}

int net_queue_start(const struct net_queue_config *cfg,
		    struct net_queue **out)
{
	struct net_queue *q;
	int ret;

	if (!cfg->port_ops || !cfg->port || !cfg->mcast || !cfg->mcast_lock ||
	    (cfg->steer && (!cfg->hash || cfg->index >= cfg->nr_queues)) ||
	    !cfg->state || !cfg->tx_bufs ||
	    cfg->tx_limits.max_slots < 1 ||
	    cfg->tx_limits.fatal_slots < cfg->tx_limits.max_slots ||
	    cfg->tx_limits.fatal_slots > NET_TX_FATAL_SLOTS_MAX)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->cfg = *cfg;
	q->stop_fd = -1;
	q->split = cfg->tx_evtchn != cfg->rx_evtchn;
	if (cfg->credit_bytes)
		net_credit_init(&q->credit, cfg->credit_bytes, cfg->credit_usec);

	ret = xb_gnt_open(cfg->hv, &q->gnt);
	if (ret)
		goto err_free;
	ret = map_ring(q, cfg->tx_ref, "TX", sizeof(union netif_tx_sring_entry),
		       &q->tx_addr, &q->tx);
	if (ret)
		goto err_tx;
	ret = map_ring(q, cfg->rx_ref, "RX", sizeof(union netif_rx_sring_entry),
		       &q->rx_addr, &q->rx);
	if (ret)
		goto err_rx;
	ret = alloc_buffers(q);
	if (!ret)
		ret = queue_state_start(q);
	if (ret)
		goto err_rx;

	ret = xb_evtchn_open(cfg->hv, &q->evtchn);
	if (ret)
		goto err_rx;
	ret = bind_port(q, cfg->tx_evtchn, &q->tx_port);
	if (ret)
		goto err_evtchn;
	q->rx_port = q->tx_port;
	if (q->split) {
		ret = bind_port(q, cfg->rx_evtchn, &q->rx_port);
		if (ret)
			goto err_bind;
	}
	if (cfg->adopt) {
		/* Events the frontend raised while nobody was bound are
		 * lost: one kick makes it look at both rings again. */
		xb_evtchn_notify(q->evtchn, q->tx_port);
		if (q->split)
			xb_evtchn_notify(q->evtchn, q->rx_port);
	}
	q->evtchn_fd = xb_evtchn_fd(q->evtchn);
	q->port_fd = cfg->port_ops->queue_fd(cfg->port, cfg->index);
	q->steer_fd = cfg->steer ? net_steer_fd(cfg->steer, cfg->index) : -1;
	q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->stop_fd < 0) {
		ret = -errno;
		goto err_bind_rx;
	}
	ret = -pthread_create(&q->thread, NULL, queue_thread, q);
	if (ret) {
		xb_err("queue %u: cannot start thread: %s", cfg->index,
		       strerror(-ret));
		goto err_stopfd;
	}
	q->thread_started = true;
	*out = q;
	return 0;

err_stopfd:
	close(q->stop_fd);
err_bind_rx:
	if (q->split)
		xb_evtchn_unbind(q->evtchn, q->rx_port);
err_bind:
	xb_evtchn_unbind(q->evtchn, q->tx_port);
err_evtchn:
	xb_evtchn_close(q->evtchn);
err_rx:
	if (q->rx_addr)
		xb_gnt_unmap(q->gnt, q->rx_addr, 1);
err_tx:
	if (q->tx_addr)
		xb_gnt_unmap(q->gnt, q->tx_addr, 1);
	xb_gnt_close(q->gnt);
err_free:
	queue_free(q);
	return ret;
}

void net_queue_stop(struct net_queue *q, struct net_stats *totals)
{
	uint64_t one = 1;

	if (!q)
		return;
	if (q->thread_started) {
		__atomic_store_n(&q->stop_flag, 1, __ATOMIC_RELAXED);
		if (write(q->stop_fd, &one, sizeof(one)) < 0) {
			/* The flag alone is seen at the next wake-up. */
		}
		pthread_join(q->thread, NULL);
	}
	close(q->stop_fd);
	if (q->split)
		xb_evtchn_unbind(q->evtchn, q->rx_port);
	xb_evtchn_unbind(q->evtchn, q->tx_port);
	xb_evtchn_close(q->evtchn);
	xb_gnt_unmap(q->gnt, q->rx_addr, 1);
	xb_gnt_unmap(q->gnt, q->tx_addr, 1);
	xb_gnt_close(q->gnt);
	if (totals)
		net_stats_add_totals(totals, &q->stats);
	queue_free(q);
}

const struct net_stats *net_queue_stats(const struct net_queue *q)
{
	return &q->stats;
}
