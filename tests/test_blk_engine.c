/* SPDX-License-Identifier: MIT */
/* The io_uring engine and the backing store on a tmpfs file (O_DIRECT
 * works on tmpfs): vectored I/O, short reads, linked write+fdatasync,
 * hole punching, fd polls; disk probing of size, sector sizes, discard. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "blkback.h"
#include "engine.h"

#define IMG_SIZE (1u << 20)

struct fx {
	char path[64];
	struct blk_disk disk;
	struct blk_engine *e;
	uint8_t *buf;   /* 64 KiB, page aligned */
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct blk_engine_config cfg = { .depth = 32 };
	int fd;

	assert_non_null(x);
	snprintf(x->path, sizeof(x->path), "/dev/shm/test_blk_engine.XXXXXX");
	fd = mkstemp(x->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMG_SIZE), 0);
	close(fd);
	assert_int_equal(blk_disk_open(x->path, false, true, &x->disk), 0);
	cfg.fd = x->disk.fd;
	assert_int_equal(blk_engine_uring_ops.create(&cfg, &x->e), 0);
	assert_int_equal(x->e->ops->start(x->e), 0);
	x->buf = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(x->buf != MAP_FAILED);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	x->e->ops->destroy(x->e);
	blk_disk_close(&x->disk);
	unlink(x->path);
	munmap(x->buf, 65536);
	free(x);
	return 0;
}

/* Wait (bounded) for @n completions. */
static int reap_n(struct blk_engine *e, struct blk_cqe *c, int n)
{
	int got = 0, tries;

	for (tries = 0; got < n && tries < 100; tries++) {
		int r = e->ops->reap(e, c + got, (unsigned int)(n - got), true,
				     1000000);

		assert_true(r >= 0);
		got += r;
	}
	return got;
}

static void test_disk_probe(void **state)
{
	struct fx *x = *state;
	struct blk_disk ro;

	assert_true(x->disk.sectors == IMG_SIZE / 512);
	assert_int_equal(x->disk.sector_size, 512);
	assert_true(x->disk.physical_sector_size >= 512);
	assert_true(x->disk.direct);      /* tmpfs takes O_DIRECT */
	assert_true(x->disk.memory);      /* and is memory */
	assert_true(x->disk.discard);     /* and punches holes */
	assert_false(x->disk.discard_secure);
	assert_false(x->disk.blockdev);
	assert_int_equal(blk_disk_open(x->path, true, false, &ro), 0);
	assert_true(ro.readonly);
	assert_false(ro.discard);
	assert_false(ro.direct);
	assert_int_equal(write(ro.fd, "x", 1), -1);
	blk_disk_close(&ro);
	assert_int_equal(blk_disk_open("/nonexistent/img", false, true, &ro),
			 -ENOENT);
	assert_int_equal(blk_disk_open("/dev/shm", true, false, &ro), -EINVAL);
}

static void test_rw_vectored(void **state)
{
	struct fx *x = *state;
	struct blk_engine *e = x->e;
	struct iovec iov[3];
	struct blk_cqe c[4];
	unsigned int i;

	for (i = 0; i < 3 * 4096; i++)
		x->buf[i] = (uint8_t)(i * 7 + 1);
	iov[0] = (struct iovec){ x->buf, 4096 };
	iov[1] = (struct iovec){ x->buf + 4096, 512 };
	iov[2] = (struct iovec){ x->buf + 8192, 3584 };
	assert_int_equal(e->ops->prep_rw(e, true, iov, 3, 8192, 11, 0), 0);
	assert_int_equal(e->ops->submit(e), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_true(c[0].tag == 11);
	assert_int_equal(c[0].res, 8192);

	memset(x->buf + 16384, 0, 8192);
	iov[0] = (struct iovec){ x->buf + 16384, 8192 };
	assert_int_equal(e->ops->prep_rw(e, false, iov, 1, 8192, 12, 0), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_int_equal(c[0].res, 8192);
	assert_memory_equal(x->buf + 16384, x->buf, 4096);
	assert_memory_equal(x->buf + 16384 + 4096, x->buf + 4096, 512);
	assert_memory_equal(x->buf + 16384 + 4608, x->buf + 8192, 3584);

	/* Reading across the end is short: the data path treats that as an
	 * error (it never asks for it after its range check). */
	iov[0] = (struct iovec){ x->buf, 8192 };
	assert_int_equal(e->ops->prep_rw(e, false, iov, 1, IMG_SIZE - 4096,
					 13, 0), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_int_equal(c[0].res, 4096);
}

static void test_linked_flush(void **state)
{
	struct fx *x = *state;
	struct blk_engine *e = x->e;
	struct iovec iov = { x->buf, 4096 };
	struct blk_cqe c[4];
	bool seen_w = false, seen_f = false;
	int i, n;

	assert_int_equal(e->ops->prep_rw(e, true, &iov, 1, 0, 1, BLK_IO_LINK), 0);
	assert_int_equal(e->ops->prep_flush(e, 2, 0), 0);
	n = reap_n(e, c, 2);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		if (c[i].tag == 1) {
			seen_w = true;
			assert_int_equal(c[i].res, 4096);
		} else if (c[i].tag == 2) {
			seen_f = true;
			assert_int_equal(c[i].res, 0);
		}
	}
	assert_true(seen_w && seen_f);
	/* A failing head cancels the chain. */
	iov.iov_base = (void *)8;    /* a bad address: -EFAULT */
	iov.iov_len = 4096;
	assert_int_equal(e->ops->prep_rw(e, true, &iov, 1, 0, 3, BLK_IO_LINK), 0);
	assert_int_equal(e->ops->prep_flush(e, 4, 0), 0);
	assert_int_equal(reap_n(e, c, 2), 2);
	for (i = 0; i < 2; i++) {
		if (c[i].tag == 3)
			assert_true(c[i].res < 0);
		else
			assert_int_equal(c[i].res, -ECANCELED);
	}
}

static void test_discard(void **state)
{
	struct fx *x = *state;
	struct blk_engine *e = x->e;
	struct iovec iov = { x->buf, 65536 };
	struct blk_cqe c[2];
	struct stat st0, st1;
	unsigned int i;

	memset(x->buf, 0xab, 65536);
	assert_int_equal(e->ops->prep_rw(e, true, &iov, 1, 65536, 1, 0), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_int_equal(c[0].res, 65536);
	assert_int_equal(fstat(x->disk.fd, &st0), 0);
	assert_int_equal(e->ops->prep_discard(e, 65536 + 16384, 32768, false,
					      5), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_int_equal(c[0].res, 0);
	assert_int_equal(fstat(x->disk.fd, &st1), 0);
	assert_true(st1.st_blocks < st0.st_blocks);
	memset(x->buf, 0x11, 65536);
	assert_int_equal(e->ops->prep_rw(e, false, &iov, 1, 65536, 2, 0), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	for (i = 0; i < 65536; i++) {
		uint8_t want = (i >= 16384 && i < 16384 + 32768) ? 0 : 0xab;

		if (x->buf[i] != want)
			fail_msg("byte %u is %#x, want %#x", i, x->buf[i], want);
	}
}

static void test_poll(void **state)
{
	struct fx *x = *state;
	struct blk_engine *e = x->e;
	struct blk_cqe c[2];
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK);

	assert_true(efd >= 0);
	assert_int_equal(e->ops->prep_poll(e, efd, 99), 0);
	assert_int_equal(e->ops->submit(e), 0);
	assert_int_equal(e->ops->reap(e, c, 2, false, 0), 0);
	assert_false(e->ops->ready(e));
	assert_int_equal(write(efd, &one, 8), 8);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_true(c[0].tag == 99);
	assert_true(c[0].res & POLLIN);
	/* Waiting with a timeout and nothing pending returns 0. */
	assert_int_equal(e->ops->reap(e, c, 2, true, 10000), 0);
	close(efd);
}

/* Registered buffers: I/O inside them works; BLK_IO_FIXED with memory
 * outside them fails (so the fixed path is the one taken). */
static void test_fixed_buffers(void **state)
{
	struct fx *x = *state;
	struct blk_engine_config cfg = { .fd = x->disk.fd, .depth = 8,
					 .fixed_buf = x->buf,
					 .fixed_len = 32768 };
	struct blk_engine *e;
	struct blk_cqe c[2];
	struct iovec iov = { x->buf, 8192 };
	uint8_t *other = malloc(8192);
	unsigned int i;

	assert_non_null(other);
	assert_int_equal(blk_engine_uring_ops.create(&cfg, &e), 0);
	assert_int_equal(e->ops->start(e), 0);
	for (i = 0; i < 8192; i++)
		x->buf[i] = (uint8_t)(i * 3);
	assert_int_equal(e->ops->prep_rw(e, true, &iov, 1, 4096, 1,
					 BLK_IO_FIXED), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_int_equal(c[0].res, 8192);
	iov.iov_base = x->buf + 16384;
	assert_int_equal(e->ops->prep_rw(e, false, &iov, 1, 4096, 2,
					 BLK_IO_FIXED), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_int_equal(c[0].res, 8192);
	assert_memory_equal(x->buf + 16384, x->buf, 8192);
	iov.iov_base = other;
	assert_int_equal(e->ops->prep_rw(e, false, &iov, 1, 4096, 3,
					 BLK_IO_FIXED), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_int_equal(c[0].res, -EFAULT);
	/* Without the flag the same memory is fine. */
	assert_int_equal(e->ops->prep_rw(e, false, &iov, 1, 4096, 4, 0), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_int_equal(c[0].res, 8192);
	e->ops->destroy(e);
	free(other);
}

/* Inline reads and writes (cfg.inline_rw): done by the time prep returns,
 * completed locally without a system call to reap; a failed or short
 * linked member cancels the rest of its chain; flush still works. */
static void test_inline_rw(void **state)
{
	struct fx *x = *state;
	struct blk_engine_config cfg = { .fd = x->disk.fd, .depth = 4,
					 .inline_rw = true };
	struct blk_engine *e;
	struct iovec iov[2];
	struct blk_cqe c[8];
	uint8_t file[8192];
	int i, n;

	assert_int_equal(blk_engine_uring_ops.create(&cfg, &e), 0);
	assert_int_equal(e->ops->start(e), 0);
	for (i = 0; i < 8192; i++)
		x->buf[i] = (uint8_t)(i * 5 + 3);
	iov[0] = (struct iovec){ x->buf, 4096 };
	iov[1] = (struct iovec){ x->buf + 4096, 4096 };
	assert_int_equal(e->ops->prep_rw(e, true, iov, 2, 16384, 1, 0), 0);
	/* Already in the file before any submit. */
	assert_int_equal(pread(x->disk.fd, file, 8192, 16384), 8192);
	assert_memory_equal(file, x->buf, 8192);
	assert_true(e->ops->ready(e));
	assert_int_equal(e->ops->reap(e, c, 8, false, 0), 1);
	assert_true(c[0].tag == 1);
	assert_int_equal(c[0].res, 8192);
	memset(x->buf + 16384, 0, 8192);
	iov[0] = (struct iovec){ x->buf + 16384, 8192 };
	assert_int_equal(e->ops->prep_rw(e, false, iov, 1, 16384, 2, 0), 0);
	assert_int_equal(reap_n(e, c, 1), 1);
	assert_int_equal(c[0].res, 8192);
	assert_memory_equal(x->buf + 16384, x->buf, 8192);
	/* Linked write + flush. */
	iov[0] = (struct iovec){ x->buf, 4096 };
	assert_int_equal(e->ops->prep_rw(e, true, iov, 1, 0, 3, BLK_IO_LINK),
			 0);
	assert_int_equal(e->ops->prep_flush(e, 4, 0), 0);
	n = reap_n(e, c, 2);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++)
		assert_int_equal(c[i].res, c[i].tag == 3 ? 4096 : 0);
	/* A failing head cancels the chain, and only the chain. */
	iov[0] = (struct iovec){ (void *)8, 4096 };
	assert_int_equal(e->ops->prep_rw(e, true, iov, 1, 0, 5, BLK_IO_LINK),
			 0);
	assert_int_equal(e->ops->prep_flush(e, 6, 0), 0);
	iov[0] = (struct iovec){ x->buf, 4096 };
	assert_int_equal(e->ops->prep_rw(e, false, iov, 1, 0, 7, 0), 0);
	n = reap_n(e, c, 3);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		if (c[i].tag == 5)
			assert_int_equal(c[i].res, -EFAULT);
		else if (c[i].tag == 6)
			assert_int_equal(c[i].res, -ECANCELED);
		else
			assert_int_equal(c[i].res, 4096);
	}
	/* A short read in a chain breaks it too. */
	iov[0] = (struct iovec){ x->buf, 8192 };
	assert_int_equal(e->ops->prep_rw(e, false, iov, 1, IMG_SIZE - 4096, 8,
					 BLK_IO_LINK), 0);
	assert_int_equal(e->ops->prep_flush(e, 9, 0), 0);
	n = reap_n(e, c, 2);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++)
		assert_int_equal(c[i].res, c[i].tag == 8 ? 4096 : -ECANCELED);
	/* A read whose second page faults: preadv moves the first page,
	 * the retry of the remainder fails: the 4096 bytes moved are
	 * reported (a short transfer, which the ring answers as an error),
	 * the first page holds the file's data, and nothing loops. */
	{
		uint8_t *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		assert_true(two != MAP_FAILED);
		assert_int_equal(mprotect(two + 4096, 4096, PROT_NONE), 0);
		memset(two, 0xee, 4096);
		iov[0] = (struct iovec){ two, 4096 };
		iov[1] = (struct iovec){ two + 4096, 4096 };
		assert_int_equal(e->ops->prep_rw(e, false, iov, 2, 16384, 10,
						 0), 0);
		assert_int_equal(reap_n(e, c, 1), 1);
		assert_int_equal(c[0].res, 4096);
		assert_int_equal(pread(x->disk.fd, file, 4096, 16384), 4096);
		assert_memory_equal(two, file, 4096);
		munmap(two, 8192);
	}
	e->ops->destroy(e);
}

/* The null engine: everything completes at once with the full length,
 * neither the file nor the buffers are touched; polls still work. */
static void test_null_engine(void **state)
{
	struct fx *x = *state;
	struct blk_engine_config cfg = { .fd = x->disk.fd, .depth = 4 };
	const struct blk_engine_ops *ops;
	struct blk_engine *e;
	struct iovec iov[2] = { { x->buf, 4096 }, { x->buf + 8192, 1024 } };
	uint8_t file[8192];
	struct blk_cqe c[16];
	uint64_t one = 1;
	int efd = eventfd(0, EFD_NONBLOCK), n, i;

	assert_true(efd >= 0);
	assert_int_equal(blk_engine_lookup("null", &ops), 0);
	assert_ptr_equal(ops, &blk_engine_null_ops);
	assert_int_equal(blk_engine_lookup("nope", &ops), -ENOENT);
	assert_int_equal(ops->create(&cfg, &e), 0);
	memset(x->buf, 0x5a, 16384);
	assert_int_equal(pwrite(x->disk.fd, x->buf, 8192, 0), 8192);
	memset(x->buf, 0xc3, 16384);
	assert_int_equal(ops->prep_rw(e, false, iov, 2, 0, 1, 0), 0);
	assert_int_equal(ops->prep_rw(e, true, iov, 1, 4096, 2, BLK_IO_LINK),
			 0);
	assert_int_equal(ops->prep_flush(e, 3, 0), 0);
	assert_int_equal(ops->prep_discard(e, 0, 4096, false, 4), 0);
	assert_int_equal(ops->submit(e), 0);
	assert_true(ops->ready(e));
	n = ops->reap(e, c, 16, false, 0);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++) {
		assert_true(c[i].tag == (uint64_t)i + 1);
		assert_int_equal(c[i].res, i == 0 ? 5120 : i == 1 ? 4096 : 0);
	}
	assert_false(ops->ready(e));
	/* The read left the buffer alone, the write and discard the file. */
	for (i = 0; i < 16384; i++)
		if (x->buf[i] != 0xc3)
			fail_msg("buffer byte %d changed", i);
	assert_int_equal(pread(x->disk.fd, file, sizeof(file), 0), 8192);
	for (i = 0; i < 8192; i++)
		if (file[i] != 0x5a)
			fail_msg("file byte %d changed", i);
	/* Depth 4: room for at least 2 x 4 I/Os, bounded, then -EBUSY. */
	for (i = 0; i < 64; i++)
		if (ops->prep_flush(e, 100 + (uint64_t)i, 0))
			break;
	assert_true(i >= 8 && i < 64);
	assert_int_equal(ops->prep_flush(e, 200, 0), -EBUSY);
	while (ops->reap(e, c, 16, false, 0) > 0)
		;
	/* Polls: nothing until the fd is readable; waiting times out. */
	assert_int_equal(ops->prep_poll(e, efd, 99), 0);
	assert_int_equal(ops->reap(e, c, 2, false, 0), 0);
	assert_int_equal(ops->reap(e, c, 2, true, 10000), 0);
	assert_int_equal(write(efd, &one, 8), 8);
	assert_int_equal(ops->reap(e, c, 2, true, 1000000), 1);
	assert_true(c[0].tag == 99);
	assert_true(c[0].res & POLLIN);
	/* One-shot: it does not fire again. */
	assert_int_equal(ops->reap(e, c, 2, true, 10000), 0);
	ops->destroy(e);
	close(efd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_disk_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_vectored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linked_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixed_buffers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_null_engine, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_inline_rw, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
