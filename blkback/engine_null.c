/* SPDX-License-Identifier: MIT */
/*
 * The null engine (as Linux's null_blk or SPDK's null bdev): reads,
 * writes, flushes and discards complete at once, successfully, without
 * touching the backing store or the data pages. It measures the protocol
 * path alone (ring, grants, event channels, the queue thread) and is the
 * fixture for uback-blk's CPU cost per request.
 *
 * Completions are queued locally and returned by the next reap. The fd
 * polls the queue thread needs (event channel, stop eventfd) are kept in
 * a small table and waited for with poll(2) when reap is asked to wait
 * and nothing is queued.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

#define NULL_MAX_POLLS 8u

struct null_engine {
	struct blk_engine base;
	struct blk_cqe *cq;        /* ring of completions */
	uint32_t cap, head, n;
	struct pollfd pfd[NULL_MAX_POLLS];
	uint64_t ptag[NULL_MAX_POLLS];
	uint32_t npoll;
};

static struct null_engine *to_ne(struct blk_engine *e)
{
	return (struct null_engine *)e;
}

static int null_create(const struct blk_engine_config *cfg,
		       struct blk_engine **out)
{
	struct null_engine *ne;

	if (!cfg->depth)
		return -EINVAL;
	ne = calloc(1, sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	ne->base.ops = &blk_engine_null_ops;
	/* As the io_uring engine: up to two completions per request (a
	 * write and its linked flush), plus room for the fd polls. */
	ne->cap = 2 * cfg->depth + NULL_MAX_POLLS;
	ne->cq = calloc(ne->cap, sizeof(*ne->cq));
	if (!ne->cq) {
		free(ne);
		return -ENOMEM;
	}
	*out = &ne->base;
	return 0;
}

static void null_destroy(struct blk_engine *e)
{
	struct null_engine *ne = to_ne(e);

	if (!e)
		return;
	free(ne->cq);
	free(ne);
}

static int post(struct null_engine *ne, uint64_t tag, int32_t res)
{
	uint32_t tail;

	if (ne->n == ne->cap)
		return -EBUSY;
	tail = ne->head + ne->n;
	if (tail >= ne->cap)
		tail -= ne->cap;
	ne->cq[tail].tag = tag;
	ne->cq[tail].res = res;
	ne->n++;
	return 0;
}

static int null_prep_rw(struct blk_engine *e, bool write,
			const struct iovec *iov, unsigned int iovcnt,
			uint64_t offset, uint64_t tag, unsigned int flags)
{
	uint64_t bytes = 0;
	unsigned int i;

	(void)write;
	(void)offset;
	(void)flags;
	for (i = 0; i < iovcnt; i++)
		bytes += iov[i].iov_len;
	if (bytes > INT32_MAX)
		return -EINVAL;
	return post(to_ne(e), tag, (int32_t)bytes);
}

static int null_prep_flush(struct blk_engine *e, uint64_t tag,
			   unsigned int flags)
{
	(void)flags;
	return post(to_ne(e), tag, 0);
}

static int null_prep_discard(struct blk_engine *e, uint64_t offset,
			     uint64_t len, bool secure, uint64_t tag)
{
	(void)offset;
	(void)len;
	(void)secure;
	return post(to_ne(e), tag, 0);
}

static int null_prep_poll(struct blk_engine *e, int fd, uint64_t tag)
{
	struct null_engine *ne = to_ne(e);

	if (ne->npoll == NULL_MAX_POLLS)
		return -EBUSY;
	ne->pfd[ne->npoll] = (struct pollfd){ .fd = fd, .events = POLLIN };
	ne->ptag[ne->npoll] = tag;
	ne->npoll++;
	return 0;
}

static int null_submit(struct blk_engine *e)
{
	(void)e;
	return 0;
}

static unsigned int take(struct null_engine *ne, struct blk_cqe *cqes,
			 unsigned int max)
{
	unsigned int i, n = ne->n < max ? ne->n : max;

	for (i = 0; i < n; i++) {
		cqes[i] = ne->cq[ne->head];
		if (++ne->head == ne->cap)
			ne->head = 0;
	}
	ne->n -= n;
	return n;
}

/* Fired polls become completions; one-shot, so they leave the table. */
static void collect_polls(struct null_engine *ne)
{
	uint32_t i = 0;

	while (i < ne->npoll) {
		if (!ne->pfd[i].revents || ne->n == ne->cap) {
			i++;
			continue;
		}
		post(ne, ne->ptag[i], ne->pfd[i].revents);
		ne->npoll--;
		ne->pfd[i] = ne->pfd[ne->npoll];
		ne->ptag[i] = ne->ptag[ne->npoll];
	}
}

static int null_reap(struct blk_engine *e, struct blk_cqe *cqes,
		     unsigned int max, bool wait, int64_t timeout_us)
{
	struct null_engine *ne = to_ne(e);
	struct timespec ts = {
		.tv_sec = timeout_us / 1000000,
		.tv_nsec = (long)(timeout_us % 1000000) * 1000,
	};
	int ret;

	if (ne->n || !wait)
		return (int)take(ne, cqes, max);
	ret = ppoll(ne->pfd, ne->npoll, timeout_us < 0 ? NULL : &ts, NULL);
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;
	if (ret > 0)
		collect_polls(ne);
	return (int)take(ne, cqes, max);
}

static bool null_ready(struct blk_engine *e)
{
	return to_ne(e)->n != 0;
}

const struct blk_engine_ops blk_engine_null_ops = {
	.name = "null",
	.create = null_create,
	.destroy = null_destroy,
	.prep_rw = null_prep_rw,
	.prep_flush = null_prep_flush,
	.prep_discard = null_prep_discard,
	.prep_poll = null_prep_poll,
	.submit = null_submit,
	.reap = null_reap,
	.ready = null_ready,
};
