/* SPDX-License-Identifier: MIT */
/*
 * The reference test backend (test_blkfront_back.c) as a process, for the
 * fio engine's tests: serves @image (mmap'd, shared) on @backend-path
 * until SIGTERM/SIGINT.
 *
 *   test_blkfront_backd /local/domain/0/backend/vbd/<domid>/<devid> IMAGE
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_blkfront_back.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct tb_config c = {
		.max_ring_order = 4, .max_queues = 4, .max_indirect = 256,
		.persistent = true, .flush = true, .barrier = true,
		.discard = true,
	};
	unsigned int domid, devid;
	struct sigaction sa = { .sa_handler = on_signal };
	struct stat st;
	struct tb *tb;
	void *disk;
	int fd, ret;

	if (argc != 3 || sscanf(argv[1], "/local/domain/0/backend/vbd/%u/%u",
				&domid, &devid) != 2) {
		fprintf(stderr, "usage: %s BACKEND-PATH IMAGE\n", argv[0]);
		return 2;
	}
	fd = open(argv[2], O_RDWR);
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 512) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[2],
			strerror(errno));
		return 1;
	}
	disk = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	if (disk == MAP_FAILED)
		return 1;
	c.domid = (domid_t)domid;
	c.devid = devid;
	c.disk = disk;
	c.sectors = (uint64_t)st.st_size / 512;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	ret = tb_start(&c, &tb);
	if (ret) {
		fprintf(stderr, "%s: start: %s\n", argv[0], strerror(-ret));
		return 1;
	}
	while (!stop)
		usleep(100000);
	tb_stop(tb);
	munmap(disk, (size_t)st.st_size);
	close(fd);
	return 0;
}
