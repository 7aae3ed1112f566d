/* SPDX-License-Identifier: MIT */
/*
 * io_uring engine. The backing fd is registered (IOSQE_FIXED_FILE), reads
 * and writes go straight between the backing store and the mapped guest
 * pages (no bounce buffer). Block-device discard has no io_uring opcode in
 * the kernels we target with liburing 2.3, so it runs as a synchronous
 * ioctl whose result is queued as a local completion.
 *
 * With cfg.inline_rw, reads and writes are synchronous preadv/pwritev on
 * the calling thread, completed locally as well; a failed linked one
 * cancels what is linked to it, as in the kernel ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <liburing.h>

#include "engine.h"
#include "uback/log.h"

struct uring_engine {
	struct blk_engine base;
	struct io_uring ring;
	int fd;
	bool blockdev;
	bool fixed;              /* fd registered as file index 0 */
	bool disabled;           /* created disabled: start() enables */
	bool fixed_buf;          /* cfg.fixed_buf registered as buffer 0 */
	bool inline_rw;          /* reads/writes as synchronous calls */
	bool cancel_next;        /* an inline link member failed */
	int cpu;                 /* io-wq affinity, or -1 */
	/* Completions made without the kernel ring (device discard). */
	struct blk_cqe *local;
	uint32_t local_n, local_cap;
};

static struct uring_engine *to_ue(struct blk_engine *e)
{
	return (struct uring_engine *)e;
}

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;

	while (p < v && p < (1u << 15))
		p <<= 1;
	return p;
}

static int uring_create(const struct blk_engine_config *cfg,
			struct blk_engine **out)
{
	struct io_uring_params p;
	struct uring_engine *ue;
	uint32_t entries;
	int ret;

	if (!cfg->depth)
		return -EINVAL;
	ue = calloc(1, sizeof(*ue));
	if (!ue)
		return -ENOMEM;
	ue->base.ops = &blk_engine_uring_ops;
	ue->fd = cfg->fd;
	ue->blockdev = cfg->blockdev;
	ue->cpu = cfg->pin_cpu ? (int)cfg->cpu : -1;
	ue->inline_rw = cfg->inline_rw;
	/* Each request may take two entries (write + linked fdatasync),
	 * plus the fd polls. */
	entries = pow2_at_least(2 * cfg->depth + 8);
	/* Local completions: device discards, inline reads and writes (at
	 * most one of each per request in flight), cancelled link members. */
	ue->local_cap = 2 * cfg->depth + 8;
	ue->local = calloc(ue->local_cap, sizeof(*ue->local));
	if (!ue->local) {
		ret = -ENOMEM;
		goto err_free;
	}

	memset(&p, 0, sizeof(p));
	/* Single issuer: the queue thread, which enables the ring in
	 * uring_start (creation happens on the control thread). */
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_R_DISABLED;
	p.cq_entries = entries * 2;
	ret = io_uring_queue_init_params(entries, &ue->ring, &p);
	if (ret == 0) {
		ue->disabled = true;
	} else if (ret == -EINVAL) {
		/* Older kernels: no SINGLE_ISSUER. */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 2;
		ret = io_uring_queue_init_params(entries, &ue->ring, &p);
	}
	if (ret < 0) {
		xb_err("io_uring setup (%u entries) failed: %s", entries,
		       strerror(-ret));
		goto err_local;
	}
	if (cfg->fd >= 0) {
		ret = io_uring_register_files(&ue->ring, &cfg->fd, 1);
		ue->fixed = ret == 0;
	}
	/* Before the ring is enabled: a single-issuer ring takes
	 * registrations only from its issuer afterwards. */
	if (cfg->fixed_buf && cfg->fixed_len) {
		struct iovec iov = { cfg->fixed_buf, cfg->fixed_len };

		ret = io_uring_register_buffers(&ue->ring, &iov, 1);
		if (ret)
			xb_warn("io_uring: cannot register %zu KiB of buffers "
				"(%s): unregistered I/O", cfg->fixed_len >> 10,
				strerror(-ret));
		ue->fixed_buf = ret == 0;
	}
	*out = &ue->base;
	return 0;

err_local:
	free(ue->local);
err_free:
	free(ue);
	return ret;
}

static void uring_destroy(struct blk_engine *e)
{
	struct uring_engine *ue = to_ue(e);

	if (!e)
		return;
	io_uring_queue_exit(&ue->ring);
	free(ue->local);
	free(ue);
}

static int uring_start(struct blk_engine *e)
{
	struct uring_engine *ue = to_ue(e);
	int ret;

	if (ue->disabled) {
		/* liburing 2.3 declares io_uring_enable_rings but does not
		 * export it: register directly. */
		ret = (int)syscall(__NR_io_uring_register, ue->ring.ring_fd,
				   IORING_REGISTER_ENABLE_RINGS, NULL, 0);
		if (ret < 0)
			return -errno;
		ue->disabled = false;
	}
	if (ue->cpu >= 0 && ue->cpu < CPU_SETSIZE) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(ue->cpu, &set);
		ret = io_uring_register_iowq_aff(&ue->ring, sizeof(set), &set);
		if (ret)
			xb_warn("io_uring: io-wq affinity to CPU %d: %s",
				ue->cpu, strerror(-ret));
	}
	return 0;
}

static struct io_uring_sqe *get_sqe(struct uring_engine *ue)
{
	return io_uring_get_sqe(&ue->ring);
}

static void set_file(struct uring_engine *ue, struct io_uring_sqe *sqe)
{
	if (ue->fixed) {
		sqe->fd = 0;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
}

static int post_local(struct uring_engine *ue, uint64_t tag, int32_t res)
{
	if (ue->local_n == ue->local_cap)
		return -EBUSY;
	ue->local[ue->local_n].tag = tag;
	ue->local[ue->local_n].res = res;
	ue->local_n++;
	return 0;
}

/* After a failed inline link member: the next operation is cancelled
 * (and, if linked itself, the one after it). */
static int cancel_linked(struct uring_engine *ue, uint64_t tag,
			 unsigned int flags)
{
	int ret = post_local(ue, tag, -ECANCELED);

	if (!ret)
		ue->cancel_next = flags & BLK_IO_LINK;
	return ret;
}

/*
 * preadv/pwritev until @want bytes moved: a regular file may still come
 * up short (seen under real Xen: a buffered read into guest pages mapped
 * through gntdev returned part of a request, about once in ten thousand),
 * and a short transfer is not an error until the remainder moves nothing
 * or fails. The remainder, rare, goes one pread/pwrite per iovec (no
 * scratch iovec array); each is tried once. Returns the bytes moved, or
 * -errno if nothing could be.
 */
static ssize_t rw_full(int fd, bool write, const struct iovec *iov,
		       unsigned int iovcnt, uint64_t offset, size_t want)
{
	size_t done, skip, len;
	unsigned int i;
	ssize_t n;

	do {
		n = write ? pwritev(fd, iov, (int)iovcnt, (off_t)offset)
			  : preadv(fd, iov, (int)iovcnt, (off_t)offset);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	done = (size_t)n;
	if (done >= want || n == 0)
		return n;
	skip = done;
	for (i = 0; i < iovcnt && done < want; i++) {
		char *base = iov[i].iov_base;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		while (skip < iov[i].iov_len) {
			len = iov[i].iov_len - skip;
			do {
				n = write ? pwrite(fd, base + skip, len,
						   (off_t)(offset + done))
					  : pread(fd, base + skip, len,
						  (off_t)(offset + done));
			} while (n < 0 && errno == EINTR);
			if (n <= 0)
				return (ssize_t)done;
			skip += (size_t)n;
			done += (size_t)n;
		}
		skip = 0;
	}
	return (ssize_t)done;
}

static int inline_rw(struct uring_engine *ue, bool write,
		     const struct iovec *iov, unsigned int iovcnt,
		     uint64_t offset, uint64_t tag, unsigned int flags)
{
	size_t want = 0;
	ssize_t n;
	unsigned int i;
	int32_t res;

	if (ue->local_n == ue->local_cap)
		return -EBUSY;
	if (ue->cancel_next)
		return cancel_linked(ue, tag, flags);
	for (i = 0; i < iovcnt; i++)
		want += iov[i].iov_len;
	n = rw_full(ue->fd, write, iov, iovcnt, offset, want);
	res = (int32_t)n;
	/* As the kernel ring: a short transfer breaks the chain too. */
	ue->cancel_next = (flags & BLK_IO_LINK) && (n < 0 || (size_t)n != want);
	return post_local(ue, tag, res);
}

static int uring_prep_rw(struct blk_engine *e, bool write,
			 const struct iovec *iov, unsigned int iovcnt,
			 uint64_t offset, uint64_t tag, unsigned int flags)
{
	struct uring_engine *ue = to_ue(e);
	struct io_uring_sqe *sqe;

	if (ue->inline_rw)
		return inline_rw(ue, write, iov, iovcnt, offset, tag, flags);
	sqe = get_sqe(ue);
	if (!sqe)
		return -EBUSY;
	if (iovcnt == 1 && (flags & BLK_IO_FIXED) && ue->fixed_buf) {
		if (write)
			io_uring_prep_write_fixed(sqe, ue->fd, iov[0].iov_base,
						  (unsigned int)iov[0].iov_len,
						  offset, 0);
		else
			io_uring_prep_read_fixed(sqe, ue->fd, iov[0].iov_base,
						 (unsigned int)iov[0].iov_len,
						 offset, 0);
	} else if (iovcnt == 1) {
		if (write)
			io_uring_prep_write(sqe, ue->fd, iov[0].iov_base,
					    (unsigned int)iov[0].iov_len, offset);
		else
			io_uring_prep_read(sqe, ue->fd, iov[0].iov_base,
					   (unsigned int)iov[0].iov_len, offset);
	} else if (write) {
		io_uring_prep_writev(sqe, ue->fd, iov, iovcnt, offset);
	} else {
		io_uring_prep_readv(sqe, ue->fd, iov, iovcnt, offset);
	}
	set_file(ue, sqe);
	if (flags & BLK_IO_LINK)
		sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

static int uring_prep_flush(struct blk_engine *e, uint64_t tag,
			    unsigned int flags)
{
	struct uring_engine *ue = to_ue(e);
	struct io_uring_sqe *sqe;

	if (ue->cancel_next)
		return cancel_linked(ue, tag, flags);
	sqe = get_sqe(ue);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, ue->fd, IORING_FSYNC_DATASYNC);
	set_file(ue, sqe);
	if (flags & BLK_IO_LINK)
		sqe->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

static int uring_prep_discard(struct blk_engine *e, uint64_t offset,
			      uint64_t len, bool secure, uint64_t tag)
{
	struct uring_engine *ue = to_ue(e);
	struct io_uring_sqe *sqe;

	if (ue->blockdev) {
		uint64_t range[2] = { offset, len };
		int res = 0;

		if (ue->local_n == ue->local_cap)
			return -EBUSY;
		if (ioctl(ue->fd, secure ? BLKSECDISCARD : BLKDISCARD,
			  range) < 0)
			res = -errno;
		return post_local(ue, tag, res);
	}
	sqe = get_sqe(ue);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_fallocate(sqe, ue->fd,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)offset, (off_t)len);
	set_file(ue, sqe);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

static int uring_prep_poll(struct blk_engine *e, int fd, uint64_t tag)
{
	struct uring_engine *ue = to_ue(e);
	struct io_uring_sqe *sqe = get_sqe(ue);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag);
	return 0;
}

static int uring_submit(struct blk_engine *e)
{
	struct uring_engine *ue = to_ue(e);
	int ret;

	do {
		ret = io_uring_submit(&ue->ring);
	} while (ret == -EINTR);
	return ret < 0 ? ret : 0;
}

static unsigned int take_local(struct uring_engine *ue, struct blk_cqe *cqes,
			       unsigned int max)
{
	unsigned int n = ue->local_n < max ? ue->local_n : max;

	if (!n)
		return 0;
	memcpy(cqes, ue->local, n * sizeof(*cqes));
	memmove(ue->local, ue->local + n,
		(ue->local_n - n) * sizeof(*ue->local));
	ue->local_n -= n;
	return n;
}

static unsigned int take_ring(struct uring_engine *ue, struct blk_cqe *cqes,
			      unsigned int max)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&ue->ring, head, cqe) {
		if (n == max)
			break;
		cqes[n].tag = io_uring_cqe_get_data64(cqe);
		cqes[n].res = cqe->res;
		n++;
	}
	io_uring_cq_advance(&ue->ring, n);
	return n;
}

static int uring_reap(struct blk_engine *e, struct blk_cqe *cqes,
		      unsigned int max, bool wait, int64_t timeout_us)
{
	struct uring_engine *ue = to_ue(e);
	struct io_uring_cqe *cqe;
	unsigned int n;
	int ret;

	n = take_local(ue, cqes, max);
	if (n < max)
		n += take_ring(ue, cqes + n, max - n);
	if (n || !wait)
		return (int)n;

	if (timeout_us < 0) {
		ret = io_uring_submit_and_wait(&ue->ring, 1);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_us / 1000000,
			.tv_nsec = (long long)(timeout_us % 1000000) * 1000,
		};
		ret = io_uring_submit_and_wait_timeout(&ue->ring, &cqe, 1, &ts,
						       NULL);
	}
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN &&
	    ret != -EBUSY)
		return ret;
	return (int)take_ring(ue, cqes, max);
}

static bool uring_ready(struct blk_engine *e)
{
	struct uring_engine *ue = to_ue(e);

	return ue->local_n || io_uring_cq_ready(&ue->ring);
}

const struct blk_engine_ops blk_engine_uring_ops = {
	.name = "uring",
	.create = uring_create,
	.destroy = uring_destroy,
	.start = uring_start,
	.prep_rw = uring_prep_rw,
	.prep_flush = uring_prep_flush,
	.prep_discard = uring_prep_discard,
	.prep_poll = uring_prep_poll,
	.submit = uring_submit,
	.reap = uring_reap,
	.ready = uring_ready,
};

int blk_engine_lookup(const char *name, const struct blk_engine_ops **out)
{
	if (!name || !strcmp(name, "uring") || !strcmp(name, "io_uring")) {
		*out = &blk_engine_uring_ops;
		return 0;
	}
	if (!strcmp(name, "null")) {
		*out = &blk_engine_null_ops;
		return 0;
	}
	return -ENOENT;
}
