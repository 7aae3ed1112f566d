/* SPDX-License-Identifier: MIT */
/*
 * Port lookup by name, and the reference port `loop`: each queue is a
 * ring of frame buffers; tx_burst copies the guest's frames in, rx_burst
 * hands them back. Queue q's bursts run on queue q's thread only
 * (port.h), so a queue needs no lock; an eventfd per queue is readable
 * while frames wait.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "uback/log.h"
#include "netback.h"

#define LOOP_DEPTH 256u
#define LOOP_STRIDE ((size_t)NET_FRAME_MAX + 1)

struct loop_frame {
	struct virtio_net_hdr vnet;
	uint32_t len;
};

struct loop_queue {
	int efd;
	uint32_t head, count;
	struct loop_frame meta[LOOP_DEPTH];
	uint8_t *bufs;                 /* LOOP_DEPTH x LOOP_STRIDE */
	struct net_port_stats st;      /* written by the queue's thread */
};

struct net_port {
	unsigned int nr_queues;
	bool enabled;
	struct loop_queue q[NET_PORT_MAX_QUEUES];
};

static void loop_close(struct net_port *p)
{
	unsigned int i;

	if (!p)
		return;
	for (i = 0; i < p->nr_queues; i++) {
		if (p->q[i].efd >= 0)
			close(p->q[i].efd);
		if (p->q[i].bufs)
			munmap(p->q[i].bufs, LOOP_DEPTH * LOOP_STRIDE);
	}
	free(p);
}

static int loop_open(const struct net_port_config *cfg, struct net_port **out)
{
	struct net_port *p;
	unsigned int i;

	if (!cfg->nr_queues || cfg->nr_queues > NET_PORT_MAX_QUEUES ||
	    (cfg->args && *cfg->args))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->nr_queues = cfg->nr_queues;
	for (i = 0; i < p->nr_queues; i++)
		p->q[i].efd = -1;
	for (i = 0; i < p->nr_queues; i++) {
		struct loop_queue *lq = &p->q[i];

		lq->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		/* Reserved only: pages are touched as frames use them. */
		lq->bufs = mmap(NULL, LOOP_DEPTH * LOOP_STRIDE,
				PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
		if (lq->bufs == MAP_FAILED)
			lq->bufs = NULL;
		if (lq->efd < 0 || !lq->bufs) {
			xb_err("loop port: cannot allocate queue %u", i);
			loop_close(p);
			return -ENOMEM;
		}
	}
	*out = p;
	return 0;
}

static void loop_reset(struct loop_queue *lq)
{
	uint64_t v;

	lq->head = lq->count = 0;
	if (read(lq->efd, &v, sizeof(v)) < 0) {
		/* Already clear. */
	}
}

static int loop_enable(struct net_port *p, unsigned int nr_queues,
		       unsigned int offloads)
{
	if (!nr_queues || nr_queues > p->nr_queues)
		return -EINVAL;
	p->enabled = true;
	return 0;
}

static void loop_disable(struct net_port *p)
{
	unsigned int i;

	/* No queue thread runs now (port.h): frames of the old connection
	 * are not replayed to the next one. */
	p->enabled = false;
	for (i = 0; i < p->nr_queues; i++)
		loop_reset(&p->q[i]);
}

static int loop_set_carrier(struct net_port *p, bool up)
{
	return 0;
}

static int loop_queue_fd(struct net_port *p, unsigned int q)
{
	return q < p->nr_queues ? p->q[q].efd : -1;
}

static int loop_rx_burst(struct net_port *p, unsigned int q,
			 struct net_frame *f, unsigned int n)
{
	struct loop_queue *lq;
	unsigned int i;

	if (q >= p->nr_queues)
		return -EINVAL;
	lq = &p->q[q];
	for (i = 0; i < n && lq->count; i++) {
		uint32_t at = lq->head % LOOP_DEPTH;

		f[i].vnet = lq->meta[at].vnet;
		f[i].len = lq->meta[at].len;
		memcpy(f[i].data, lq->bufs + at * LOOP_STRIDE, f[i].len);
		lq->head++;
		lq->count--;
	}
	if (!lq->count)
		loop_reset(lq);
	return (int)i;
}

static int loop_tx_burst(struct net_port *p, unsigned int q,
			 struct net_frame *f, unsigned int n)
{
	uint64_t one = 1;
	struct loop_queue *lq;
	unsigned int i;

	if (q >= p->nr_queues)
		return -EINVAL;
	lq = &p->q[q];
	for (i = 0; i < n; i++) {
		uint32_t at = (lq->head + lq->count) % LOOP_DEPTH;

		if (!p->enabled || f[i].len > NET_FRAME_MAX ||
		    lq->count == LOOP_DEPTH) {
			__atomic_store_n(&lq->st.tx_dropped,
					 lq->st.tx_dropped + 1,
					 __ATOMIC_RELAXED);
			continue;
		}
		lq->meta[at].vnet = f[i].vnet;
		lq->meta[at].len = f[i].len;
		memcpy(lq->bufs + at * LOOP_STRIDE, f[i].data, f[i].len);
		lq->count++;
	}
	if (lq->count && write(lq->efd, &one, sizeof(one)) < 0) {
		/* The counter is already non-zero. */
	}
	return (int)n;
}

static void loop_get_stats(struct net_port *p, unsigned int q,
			   struct net_port_stats *out)
{
	if (q >= p->nr_queues) {
		memset(out, 0, sizeof(*out));
		return;
	}
	out->rx_oversize = 0;
	out->rx_errors = 0;
	out->tx_dropped = __atomic_load_n(&p->q[q].st.tx_dropped,
					  __ATOMIC_RELAXED);
	out->tx_errors = 0;
}

const struct net_port_ops net_port_loop_ops = {
	.name = "loop",
	.open = loop_open,
	.close = loop_close,
	.enable = loop_enable,
	.disable = loop_disable,
	.set_carrier = loop_set_carrier,
	.queue_fd = loop_queue_fd,
	.rx_burst = loop_rx_burst,
	.tx_burst = loop_tx_burst,
	.get_stats = loop_get_stats,
};

/* Ports by name; tap and dpdk are _unimp tables (open() -ENOTSUP) when
 * their dependency is missing. NET_HAVE_PORT_DPDK: meson, while the dpdk
 * port's sources (or its _unimp) are part of the tree at all. */
static const struct net_port_ops *const port_table[] = {
	&net_port_loop_ops,
	&net_port_tap_ops,
#ifdef NET_HAVE_PORT_DPDK
	&net_port_dpdk_ops,
#endif
};

int net_port_lookup(const char *spec, const struct net_port_ops **ops,
		    const char **args)
{
	const char *colon = strchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
	size_t i;

	for (i = 0; i < sizeof(port_table) / sizeof(port_table[0]); i++) {
		const char *name = port_table[i]->name;

		if (strlen(name) == len && !strncmp(spec, name, len)) {
			*ops = port_table[i];
			*args = colon ? colon + 1 : NULL;
			return 0;
		}
	}
	return -ENOENT;
}
