/* SPDX-License-Identifier: MIT */
/*
 * The request journal (journal.h): a shared file mapping that outlives
 * the process, and the recovery that makes a successor's ring state from
 * it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uback/log.h"
#include "journal.h"

#define JOURNAL_MAGIC 0x314c4e524a4b4255ull   /* "UBKJRNL1" */
#define JOURNAL_VERSION 1u

static size_t journal_bytes(uint32_t nents)
{
	return sizeof(struct blk_journal_hdr) +
	       (size_t)nents * sizeof(struct blk_jent);
}

int blk_journal_file_open(const char *path, int *out)
{
	size_t bytes = journal_bytes(BLK_JOURNAL_MAX_ENTS);
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) ||
	    ((size_t)st.st_size < bytes && ftruncate(fd, (off_t)bytes))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

int blk_journal_open(int fd, const struct blk_journal_id *id, bool adopt,
		     RING_IDX start, struct blk_journal *j)
{
	size_t bytes = journal_bytes(id->nr_ents);
	uint32_t i;
	void *map;

	memset(j, 0, sizeof(*j));
	if (!id->nr_ents || id->nr_ents > BLK_JOURNAL_MAX_ENTS ||
	    id->slot_size > BLK_JOURNAL_RAW)
		return -EINVAL;
	if (fd >= 0) {
		struct stat st;

		if (fstat(fd, &st))
			return -errno;
		if ((size_t)st.st_size < bytes)
			return adopt ? -ESTALE : -EINVAL;
		map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			   0);
	} else {
		if (adopt)
			return -ENOENT;
		map = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (map == MAP_FAILED)
		return -ENOMEM;
	j->hdr = map;
	j->ent = (struct blk_jent *)(j->hdr + 1);
	j->nents = id->nr_ents;
	j->map_bytes = bytes;
	j->free_stack = calloc(j->nents, sizeof(*j->free_stack));
	j->replay = calloc(j->nents, sizeof(*j->replay));
	if (!j->free_stack || !j->replay) {
		blk_journal_close(j);
		return -ENOMEM;
	}
	if (adopt) {
		if (j->hdr->magic != JOURNAL_MAGIC ||
		    j->hdr->version != JOURNAL_VERSION ||
		    memcmp(&j->hdr->id, id, sizeof(*id))) {
			xb_warn("request journal belongs to other rings: not "
				"adopted");
			blk_journal_close(j);
			return -ESTALE;
		}
		return 0;
	}
	/* Fresh. Invalid while being rewritten: a successor that finds it
	 * half done refuses it instead of trusting stale entries. */
	__atomic_store_n(&j->hdr->magic, 0, __ATOMIC_RELEASE);
	memset(j->ent, 0, (size_t)j->nents * sizeof(*j->ent));
	memset(&j->hdr->id, 0, sizeof(j->hdr->id));
	j->hdr->id = *id;
	j->hdr->version = JOURNAL_VERSION;
	j->hdr->req_cons = start;
	j->hdr->rsp_written = start;
	__atomic_store_n(&j->hdr->magic, JOURNAL_MAGIC, __ATOMIC_RELEASE);
	for (i = 0; i < j->nents; i++)
		j->free_stack[j->free_top++] = j->nents - 1 - i;
	return 0;
}

void blk_journal_close(struct blk_journal *j)
{
	if (j->hdr)
		munmap(j->hdr, j->map_bytes);
	free(j->free_stack);
	free(j->replay);
	memset(j, 0, sizeof(*j));
}

static int cmp_idx(const void *a, const void *b, void *arg)
{
	const struct blk_journal *j = arg;
	RING_IDX x = j->ent[*(const uint32_t *)a].idx;
	RING_IDX y = j->ent[*(const uint32_t *)b].idx;
	/* Ring indices wrap: order by distance from the consumer. */
	int32_t d = (int32_t)(x - y);

	return d < 0 ? -1 : d > 0;
}

int blk_journal_recover(struct blk_journal *j, enum blk_abi abi,
			struct xb_back_ring *ring, bool *notify)
{
	struct blk_journal_hdr *h = j->hdr;
	RING_IDX req_cons = h->req_cons, written = h->rsp_written;
	uint32_t i, responding = UINT32_MAX, ninflight = 0;

	*notify = false;
	/* The journal is ours, but never trust it to stay in bounds. */
	for (i = 0; i < j->nents; i++) {
		struct blk_jent *e = &j->ent[i];

		switch (e->state) {
		case BLK_JE_FREE:
			break;
		case BLK_JE_INFLIGHT:
			/* Taken, the header not yet advanced: consumed. */
			if ((int32_t)(e->idx - req_cons) >= 0)
				req_cons = e->idx + 1;
			j->replay[ninflight++] = i;
			break;
		case BLK_JE_RESPONDING:
			if (responding != UINT32_MAX)
				return -EUCLEAN;   /* one at a time */
			responding = i;
			break;
		default:
			return -EUCLEAN;
		}
	}
	if (responding != UINT32_MAX) {
		struct blk_jent *e = &j->ent[responding];

		if (e->rsp_pos == written) {
			/* Possibly half written and never published. */
			struct blk_req req;

			blk_abi_copy_req(abi, e->raw, &req);
			blk_abi_put_rsp(abi, xb_ring_slot(ring, written),
					req.id, e->rsp_op, e->status);
			written++;
		} else if (e->rsp_pos != written - 1) {
			return -EUCLEAN;
		}
		/* A responded request is no longer in flight. */
		if ((int32_t)(e->idx - req_cons) >= 0)
			req_cons = e->idx + 1;
	}
	if ((RING_IDX)(req_cons - written) != ninflight ||
	    ninflight > ring->nr_ents)
		return -EUCLEAN;
	/* The ring must be the one the journal describes: what it shows as
	 * published lies within the ring's width behind what we wrote (a
	 * frontend that reconnected with new rings starts again at 0).
	 * Guest-written, so this only ever refuses. */
	if ((RING_IDX)(written - __atomic_load_n(&ring->sring->rsp_prod,
						 __ATOMIC_RELAXED)) >
	    ring->nr_ents)
		return -EUCLEAN;

	/* From here on the ring is ours again. */
	for (i = 0; i < j->nents; i++)
		if (j->ent[i].state != BLK_JE_INFLIGHT) {
			j->ent[i].state = BLK_JE_FREE;
			j->free_stack[j->free_top++] = i;
		}
	h->req_cons = req_cons;
	h->rsp_written = written;
	ring->req_cons = req_cons;
	ring->rsp_prod_pvt = written;
	if (ring->sring->rsp_prod != written) {
		/* Whole responses the predecessor did not publish. */
		xb_wmb();
		__atomic_store_n(&ring->sring->rsp_prod, written,
				 __ATOMIC_RELAXED);
		xb_mb();
		*notify = true;
	}
	qsort_r(j->replay, ninflight, sizeof(*j->replay), cmp_idx, j);
	j->nreplay = ninflight;
	return 0;
}
