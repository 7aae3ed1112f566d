/* SPDX-License-Identifier: MIT */
/* The backing store: a raw image file or a block device. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "uback/log.h"
#include "blkback.h"

static bool pow2_between(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

static int probe_blockdev(struct blk_disk *d)
{
	uint64_t bytes, range[2] = { 0, 0 };
	int ssz = 0;
	unsigned int pbsz = 0;

	if (ioctl(d->fd, BLKGETSIZE64, &bytes) < 0)
		return -errno;
	if (ioctl(d->fd, BLKSSZGET, &ssz) < 0 || !pow2_between(ssz, 512, 65536))
		ssz = 512;
	if (ioctl(d->fd, BLKPBSZGET, &pbsz) < 0 ||
	    !pow2_between(pbsz, (unsigned int)ssz, 65536))
		pbsz = (unsigned int)ssz;
	d->sectors = bytes >> BLK_SECTOR_SHIFT;
	d->sector_size = (uint32_t)ssz;
	d->physical_sector_size = pbsz;
	if (d->readonly)
		return 0;
	/* A zero-length discard says EOPNOTSUPP when the device cannot,
	 * and does nothing otherwise. */
	d->discard = !(ioctl(d->fd, BLKDISCARD, range) < 0 &&
		       errno == EOPNOTSUPP);
	d->discard_secure = !(ioctl(d->fd, BLKSECDISCARD, range) < 0 &&
			      errno == EOPNOTSUPP);
	d->discard_granularity = pbsz;
	d->discard_alignment = 0;
	return 0;
}

static void probe_file(struct blk_disk *d, const struct stat *st)
{
	uint64_t past_end;

	d->sectors = (uint64_t)st->st_size >> BLK_SECTOR_SHIFT;
	d->sector_size = BLK_SECTOR_SIZE;
	d->physical_sector_size =
		pow2_between((uint64_t)st->st_blksize, 512, 4096)
			? (uint32_t)st->st_blksize : BLK_SECTOR_SIZE;
	if (d->readonly)
		return;
	/* Punching a hole past the end (size kept) changes nothing and
	 * tells whether the file system can deallocate. */
	past_end = ((uint64_t)st->st_size + 4095) & ~4095ull;
	d->discard = fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       (off_t)past_end, 4096) == 0;
	d->discard_secure = false;
	d->discard_granularity = d->physical_sector_size;
	d->discard_alignment = 0;
}

int blk_disk_open(const char *path, bool readonly, bool direct,
		  struct blk_disk *out)
{
	struct blk_disk d;
	struct stat st;
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int ret;

	memset(&d, 0, sizeof(d));
	d.readonly = readonly;
	d.fd = -1;
	if (direct) {
		d.fd = open(path, flags | O_DIRECT);
		if (d.fd >= 0) {
			d.direct = true;
		} else if (errno == EINVAL) {
			xb_warn("%s: O_DIRECT not supported here, using "
				"buffered I/O (flush still fdatasyncs)", path);
		} else {
			ret = -errno;
			goto err_open;
		}
	}
	if (d.fd < 0) {
		d.fd = open(path, flags);
		if (d.fd < 0) {
			ret = -errno;
			goto err_open;
		}
	}
	if (fstat(d.fd, &st) < 0) {
		ret = -errno;
		goto err_close;
	}
	if (S_ISBLK(st.st_mode)) {
		d.blockdev = true;
		ret = probe_blockdev(&d);
		if (ret)
			goto err_close;
	} else if (S_ISREG(st.st_mode)) {
		struct statfs sf;

		probe_file(&d, &st);
		if (fstatfs(d.fd, &sf) == 0)
			d.memory = sf.f_type == TMPFS_MAGIC ||
				   sf.f_type == RAMFS_MAGIC;
	} else {
		ret = -EINVAL;
		goto err_close;
	}
	*out = d;
	return 0;

err_close:
	close(d.fd);
err_open:
	xb_err("cannot use %s as a disk: %s", path, strerror(-ret));
	return ret;
}

void blk_disk_close(struct blk_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}
