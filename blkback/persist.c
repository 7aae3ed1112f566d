/* SPDX-License-Identifier: MIT */
/* Persistent grant cache: hash by grant ref, LRU of idle entries. */
#include <errno.h>
#include <stdlib.h>

#include "persist.h"

#define NIL UINT32_MAX

struct pentry {
	grant_ref_t ref;
	uint32_t refcnt;
	void *addr;              /* NULL: free entry */
	uint64_t last_use;
	uint32_t hnext;          /* hash chain, or free list */
	uint32_t lprev, lnext;   /* LRU (idle entries only) */
};

struct blk_persist {
	struct xb_gnt *gnt;
	domid_t domid;
	uint32_t max;
	uint32_t nbuckets;       /* power of two */
	uint32_t *buckets;
	struct pentry *e;
	uint32_t free_head;
	uint32_t lru_head, lru_tail;   /* head: most recently used */
	struct blk_persist_stats st;
};

static uint32_t hash_ref(const struct blk_persist *p, grant_ref_t ref)
{
	return (uint32_t)((ref * 0x9E3779B1u) >> 7) & (p->nbuckets - 1);
}

int blk_persist_create(struct xb_gnt *gnt, domid_t domid, uint32_t max,
		       struct blk_persist **out)
{
	struct blk_persist *p;
	uint32_t i;

	if (!max || max > (1u << 20))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->gnt = gnt;
	p->domid = domid;
	p->max = max;
	p->nbuckets = 1;
	while (p->nbuckets < 2 * max)
		p->nbuckets <<= 1;
	p->buckets = malloc(p->nbuckets * sizeof(*p->buckets));
	p->e = calloc(max, sizeof(*p->e));
	if (!p->buckets || !p->e) {
		free(p->buckets);
		free(p->e);
		free(p);
		return -ENOMEM;
	}
	for (i = 0; i < p->nbuckets; i++)
		p->buckets[i] = NIL;
	for (i = 0; i < max; i++)
		p->e[i].hnext = i + 1 < max ? i + 1 : NIL;
	p->free_head = 0;
	p->lru_head = p->lru_tail = NIL;
	*out = p;
	return 0;
}

static inline void lru_unlink(struct blk_persist *p, uint32_t i)
{
	struct pentry *e = &p->e[i];

	if (e->lprev != NIL)
		p->e[e->lprev].lnext = e->lnext;
	else
		p->lru_head = e->lnext;
	if (e->lnext != NIL)
		p->e[e->lnext].lprev = e->lprev;
	else
		p->lru_tail = e->lprev;
	e->lprev = e->lnext = NIL;
}

static inline void lru_push_head(struct blk_persist *p, uint32_t i)
{
	struct pentry *e = &p->e[i];

	e->lprev = NIL;
	e->lnext = p->lru_head;
	if (p->lru_head != NIL)
		p->e[p->lru_head].lprev = i;
	else
		p->lru_tail = i;
	p->lru_head = i;
}

static void hash_unlink(struct blk_persist *p, uint32_t i)
{
	uint32_t *link = &p->buckets[hash_ref(p, p->e[i].ref)];

	while (*link != NIL) {
		if (*link == i) {
			*link = p->e[i].hnext;
			return;
		}
		link = &p->e[*link].hnext;
	}
}

/* Unmap an idle entry and return it to the free list. */
static void drop_entry(struct blk_persist *p, uint32_t i)
{
	struct pentry *e = &p->e[i];

	lru_unlink(p, i);
	hash_unlink(p, i);
	xb_gnt_unmap(p->gnt, e->addr, 1);
	e->addr = NULL;
	e->hnext = p->free_head;
	p->free_head = i;
	p->st.entries--;
}

int blk_persist_get(struct blk_persist *p, grant_ref_t ref, uint64_t now_ns,
		    void **addr, uint32_t *handle)
{
	uint32_t b = hash_ref(p, ref), i;
	void *va;
	int ret;

	for (i = p->buckets[b]; i != NIL; i = p->e[i].hnext) {
		if (p->e[i].ref != ref)
			continue;
		if (p->e[i].refcnt++ == 0) {
			lru_unlink(p, i);
			p->st.in_use++;
		}
		p->e[i].last_use = now_ns;
		p->st.hits++;
		*addr = p->e[i].addr;
		*handle = i;
		return 0;
	}

	p->st.misses++;
	if (p->free_head == NIL) {
		if (p->lru_tail == NIL) {
			p->st.full++;
			return -ENOSPC;
		}
		drop_entry(p, p->lru_tail);
		p->st.evictions++;
	}
	ret = xb_gnt_map(p->gnt, p->domid, 1, &ref, false, &va);
	if (ret) {
		p->st.map_errors++;
		return ret;
	}
	i = p->free_head;
	p->free_head = p->e[i].hnext;
	p->e[i].ref = ref;
	p->e[i].addr = va;
	p->e[i].refcnt = 1;
	p->e[i].last_use = now_ns;
	p->e[i].lprev = p->e[i].lnext = NIL;
	p->e[i].hnext = p->buckets[b];
	p->buckets[b] = i;
	p->st.entries++;
	p->st.in_use++;
	*addr = va;
	*handle = i;
	return 0;
}

void blk_persist_put(struct blk_persist *p, uint32_t handle, uint64_t now_ns)
{
	struct pentry *e;

	if (handle >= p->max)
		return;
	e = &p->e[handle];
	if (!e->addr || !e->refcnt)
		return;
	e->last_use = now_ns;
	if (--e->refcnt == 0) {
		lru_push_head(p, handle);
		p->st.in_use--;
	}
}

uint32_t blk_persist_purge(struct blk_persist *p, uint64_t now_ns,
			   uint64_t idle_ns)
{
	uint32_t n = 0;

	while (p->lru_tail != NIL) {
		struct pentry *e = &p->e[p->lru_tail];

		if (now_ns < idle_ns || e->last_use > now_ns - idle_ns)
			break;
		drop_entry(p, p->lru_tail);
		n++;
	}
	p->st.purged += n;
	return n;
}

void blk_persist_get_stats(const struct blk_persist *p,
			   struct blk_persist_stats *st)
{
	*st = p->st;
}

void blk_persist_destroy(struct blk_persist *p)
{
	uint32_t i;

	if (!p)
		return;
	for (i = 0; i < p->max; i++)
		if (p->e[i].addr)
			xb_gnt_unmap(p->gnt, p->e[i].addr, 1);
	free(p->buckets);
	free(p->e);
	free(p);
}
