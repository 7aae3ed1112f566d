/* SPDX-License-Identifier: MIT */
/*
 * The vif state file (state.h): a shared file mapping that outlives the
 * process; the per-ring recovery lives with each ring (queue.c, ctrl.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uback/log.h"
#include "state.h"

#define STATE_MAGIC 0x3154534554454e55ull   /* "UNETSTE1" */
#define STATE_VERSION 2u

_Static_assert(sizeof(union net_tx_slot) * NET_STATE_RING_MAX >=
	       sizeof(union netif_tx_sring_entry) * 256u,
	       "tx_win must hold a whole one-page TX ring");

int net_state_file_open(const char *path, unsigned int max_queues,
			int *out)
{
	struct stat st;
	int fd, ret;

	if (max_queues > NET_MAX_QUEUES)
		return -EINVAL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) ||
	    ((size_t)st.st_size < net_state_size() &&
	     ftruncate(fd, (off_t)net_state_size())))
		goto err;
	/* Keeps the size; allocates what is not yet (tmpfs has it). */
	ret = posix_fallocate(fd, 0, (off_t)net_state_used_size(max_queues));
	if (ret) {
		errno = ret;
		goto err;
	}
	*out = fd;
	return 0;
err:
	ret = -errno;
	close(fd);
	return ret;
}

int net_state_map(int fd, struct net_state **out)
{
	void *map;

	if (fd >= 0) {
		struct stat st;

		if (fstat(fd, &st))
			return -errno;
		if ((size_t)st.st_size < net_state_size())
			return -EINVAL;
		map = mmap(NULL, net_state_size(), PROT_READ | PROT_WRITE,
			   MAP_SHARED, fd, 0);
	} else {
		map = mmap(NULL, net_state_size(), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (map == MAP_FAILED)
		return -ENOMEM;
	*out = map;
	return 0;
}

void net_state_unmap(struct net_state *st)
{
	if (st)
		munmap(st, net_state_size());
}

void net_state_begin(struct net_state *st, const struct net_state_id *id)
{
	/* Invalid while rewritten: a successor that finds it half done
	 * refuses it instead of trusting stale indices. */
	__atomic_store_n(&st->magic, 0, __ATOMIC_RELEASE);
	st->version = STATE_VERSION;
	memset(&st->id, 0, sizeof(st->id));
	st->id = *id;
	memset(&st->ctrl, 0, sizeof(st->ctrl));
	memset(st->q, 0, sizeof(st->q));
	net_hash_init(&st->hash);
	net_mcast_init(&st->mcast);
	__atomic_store_n(&st->magic, STATE_MAGIC, __ATOMIC_RELEASE);
}

void net_state_invalidate(struct net_state *st)
{
	__atomic_store_n(&st->magic, 0, __ATOMIC_RELEASE);
}

/* The predecessor's writes, never trusted to stay in bounds. */
static bool hash_sane(const struct net_hash *h, uint32_t nr_queues)
{
	uint32_t i;

	if (h->alg != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
	    h->alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
		return false;
	if (h->key_len > NET_HASH_KEY_MAX ||
	    h->mapping_size > NET_HASH_MAPPING_MAX)
		return false;
	for (i = 0; i < h->mapping_size; i++)
		if (h->mapping[i] >= nr_queues)
			return false;
	return true;
}

static bool mcast_sane(const struct net_mcast *m)
{
	uint32_t i;

	if (m->count > NET_MCAST_MAX)
		return false;
	for (i = 0; i < m->count; i++)
		if (!(m->addr[i][0] & 1u))
			return false;
	return true;
}

int net_state_check(struct net_state *st, const struct net_state_id *id)
{
	if (__atomic_load_n(&st->magic, __ATOMIC_ACQUIRE) != STATE_MAGIC) {
		xb_warn("vif state file: no live connection recorded: not "
			"adopted");
		return -ENOENT;
	}
	if (st->version != STATE_VERSION ||
	    memcmp(&st->id, id, sizeof(*id))) {
		xb_warn("vif state file belongs to other rings: not adopted");
		return -ESTALE;
	}
	/* A control request applied halfway is replayed (ctrl.c), whose
	 * writer section must start from an even count. */
	if (st->hash.seq & 1u)
		st->hash.seq++;
	if (!hash_sane(&st->hash, id->nr_queues) || !mcast_sane(&st->mcast)) {
		xb_warn("vif state file: hash or multicast state out of "
			"bounds: not adopted");
		return -EUCLEAN;
	}
	return 0;
}
