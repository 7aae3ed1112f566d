/* SPDX-License-Identifier: MIT */
/* RX steering hand-off between queue threads: see steer.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "steer.h"

#define STEER_STRIDE ((size_t)NET_FRAME_MAX + 1)
#define STEER_MASK (NET_STEER_SLOTS - 1)

_Static_assert((NET_STEER_SLOTS & STEER_MASK) == 0,
	       "NET_STEER_SLOTS must be a power of two");

struct steer_slot {
	struct virtio_net_hdr vnet;
	uint32_t len;
	struct net_steer_meta meta;
};

/* The producer's and the consumer's indices sit on separate cache lines:
 * each side writes only its own, and reads the other's once per batch. */
struct steer_ring {
	/* producer's line */
	uint32_t head __attribute__((aligned(64)));  /* published */
	uint32_t head_pvt;                           /* pushed */
	uint32_t tail_seen;                          /* last tail read */
	/* consumer's line */
	uint32_t tail __attribute__((aligned(64)));
	struct steer_slot slot[NET_STEER_SLOTS];
	uint8_t *bufs;                               /* [NET_STEER_SLOTS] */
};

struct steer_src {
	uint32_t kick __attribute__((aligned(64)));  /* targets to wake */
};

struct net_steer {
	unsigned int nr;
	struct steer_ring *ring;      /* [nr * nr], (src, dst) at src*nr+dst */
	struct steer_src *src;        /* [nr] */
	int fd[NET_PORT_MAX_QUEUES];
	uint8_t *bufs;
	size_t bufs_bytes;
};

static struct steer_ring *ring_of(const struct net_steer *s, unsigned int src,
				  unsigned int dst)
{
	return &s->ring[src * s->nr + dst];
}

int net_steer_create(unsigned int nr_queues, struct net_steer **out)
{
	struct net_steer *s;
	unsigned int i;
	int ret;

	if (nr_queues < 2 || nr_queues > NET_PORT_MAX_QUEUES)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->nr = nr_queues;
	for (i = 0; i < NET_PORT_MAX_QUEUES; i++)
		s->fd[i] = -1;
	ret = -ENOMEM;
	if (posix_memalign((void **)&s->ring, 64,
			   sizeof(*s->ring) * nr_queues * nr_queues))
		goto err_free;
	memset(s->ring, 0, sizeof(*s->ring) * nr_queues * nr_queues);
	if (posix_memalign((void **)&s->src, 64, sizeof(*s->src) * nr_queues))
		goto err_ring;
	memset(s->src, 0, sizeof(*s->src) * nr_queues);
	/* Reserved only (the diagonal is never touched): pages are
	 * committed as frames cross. */
	s->bufs_bytes = (size_t)nr_queues * nr_queues * NET_STEER_SLOTS *
			STEER_STRIDE;
	s->bufs = mmap(NULL, s->bufs_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->bufs == MAP_FAILED) {
		s->bufs = NULL;
		goto err_src;
	}
	for (i = 0; i < nr_queues * nr_queues; i++)
		s->ring[i].bufs = s->bufs + (size_t)i * NET_STEER_SLOTS *
					    STEER_STRIDE;
	for (i = 0; i < nr_queues; i++) {
		s->fd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->fd[i] < 0) {
			ret = -errno;
			goto err_fds;
		}
	}
	*out = s;
	return 0;

err_fds:
	for (i = 0; i < nr_queues; i++)
		if (s->fd[i] >= 0)
			close(s->fd[i]);
	munmap(s->bufs, s->bufs_bytes);
err_src:
	free(s->src);
err_ring:
	free(s->ring);
err_free:
	free(s);
	return ret;
}

void net_steer_destroy(struct net_steer *s)
{
	unsigned int i;

	if (!s)
		return;
	for (i = 0; i < s->nr; i++)
		close(s->fd[i]);
	munmap(s->bufs, s->bufs_bytes);
	free(s->src);
	free(s->ring);
	free(s);
}

int net_steer_fd(const struct net_steer *s, unsigned int q)
{
	return q < s->nr ? s->fd[q] : -1;
}

bool net_steer_push(struct net_steer *s, unsigned int src, unsigned int dst,
		    const struct net_frame *f, const struct net_steer_meta *meta)
{
	struct steer_ring *r = ring_of(s, src, dst);
	struct steer_slot *slot;
	uint32_t len = f->len > NET_FRAME_MAX ? NET_FRAME_MAX : f->len;

	/* Read the consumer's index only when the cached one says full. */
	if (r->head_pvt - r->tail_seen >= NET_STEER_SLOTS) {
		r->tail_seen = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		if (r->head_pvt - r->tail_seen >= NET_STEER_SLOTS)
			return false;
	}
	slot = &r->slot[r->head_pvt & STEER_MASK];
	slot->vnet = f->vnet;
	slot->len = len;
	slot->meta = *meta;
	memcpy(r->bufs + (size_t)(r->head_pvt & STEER_MASK) * STEER_STRIDE,
	       f->data, len);
	r->head_pvt++;
	s->src[src].kick |= 1u << dst;
	return true;
}

void net_steer_publish(struct net_steer *s, unsigned int src)
{
	uint32_t kick = s->src[src].kick;
	uint64_t one = 1;
	unsigned int dst;

	s->src[src].kick = 0;
	while (kick) {
		dst = (unsigned int)__builtin_ctz(kick);
		kick &= kick - 1;
		__atomic_store_n(&ring_of(s, src, dst)->head,
				 ring_of(s, src, dst)->head_pvt,
				 __ATOMIC_RELEASE);
		if (write(s->fd[dst], &one, sizeof(one)) < 0) {
			/* Counter saturated (never in practice): the
			 * consumer is readable anyway. */
		}
	}
}

unsigned int net_steer_peek(struct net_steer *s, unsigned int src,
			    unsigned int dst, struct net_frame *f,
			    struct net_steer_meta *meta, unsigned int max)
{
	struct steer_ring *r = ring_of(s, src, dst);
	uint32_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
	uint32_t tail = r->tail, n = head - tail, i;

	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		const struct steer_slot *slot = &r->slot[(tail + i) & STEER_MASK];

		f[i].vnet = slot->vnet;
		f[i].len = slot->len;
		f[i].data = r->bufs + (size_t)((tail + i) & STEER_MASK) *
					      STEER_STRIDE;
		meta[i] = slot->meta;
	}
	return n;
}

void net_steer_release(struct net_steer *s, unsigned int src,
		       unsigned int dst, unsigned int n)
{
	struct steer_ring *r = ring_of(s, src, dst);

	__atomic_store_n(&r->tail, r->tail + n, __ATOMIC_RELEASE);
}

bool net_steer_pending(const struct net_steer *s, unsigned int dst)
{
	unsigned int src;

	for (src = 0; src < s->nr; src++) {
		const struct steer_ring *r = ring_of(s, src, dst);

		if (src != dst &&
		    __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) != r->tail)
			return true;
	}
	return false;
}

void net_steer_ack(struct net_steer *s, unsigned int dst)
{
	uint64_t v;

	if (read(s->fd[dst], &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing was written since the last ack. */
	}
}
