/* SPDX-License-Identifier: MIT */
/*
 * "sim" provider grant handles: map, unmap and copy against a domain's
 * grant table in shared memory, following Xen's rules (see
 * docs/simulator.md for where and why it differs).
 *
 * The guest is hostile: it may rewrite its grant entries at any moment, so
 * an entry is validated and marked in use (GTF_reading/GTF_writing) with a
 * single cmpxchg on the flags+domid word, as Xen's _set_status_v1 does, and
 * the frame is read once, after the entry is pinned, and bounds-checked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hv_sim_priv.h"

#define MAP_BUCKETS 1024u
#define MAP_MAX_PAGES 4096u      /* pages in one gnt_map call */
#define MAP_POOL_CHUNK 64u
#define PIN_CMPXCHG_TRIES 64
#define MAP_INLINE_REFS 16u       /* a 16-page ring maps without malloc */

struct sim_map {
	char *addr;
	uint32_t count;
	bool readonly;
	bool own_area;              /* addr..count pages is our own mmap */
	uint32_t users;             /* identical single-page maps */
	struct sim_gdom *dom;
	grant_ref_t *refs;          /* inl, or malloc'd beyond MAP_INLINE_REFS */
	grant_ref_t inl[MAP_INLINE_REFS];
	struct sim_map *next;
};

struct sim_map_chunk {
	struct sim_map_chunk *next;
	struct sim_map maps[MAP_POOL_CHUNK];
};

struct sim_gnt {
	struct xb_gnt base;
	struct sim_map *buckets[MAP_BUCKETS];
	struct sim_map *pool;       /* free records */
	struct sim_map_chunk *chunks;
};

static inline struct sim_gnt *to_sim_gnt(struct xb_gnt *g)
{
	return (struct sim_gnt *)g;
}

int sim_gnt_open(struct xb_hv *hv, struct xb_gnt **out)
{
	struct sim_gnt *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->base.ops = hv->ops;
	g->base.hv = hv;
	*out = &g->base;
	return 0;
}

/* ---- pins (Xen's active entries) --------------------------------------- */

static void clear_flags(union sim_gnt_entry *e, uint16_t bits)
{
	__atomic_fetch_and(&e->e.flags, (uint16_t)~bits, __ATOMIC_SEQ_CST);
}

/*
 * Acquire @ref of @d for @self, read-only or writable. Returns GNTST_okay
 * with the pinned frame, or a GNTST_* error with nothing pinned.
 */
static int16_t gnt_pin(struct sim_gdom *d, domid_t self, grant_ref_t ref,
		       bool readonly, uint32_t *frame)
{
	union sim_gnt_entry *e;
	struct sim_pin *p;
	uint32_t old, new;
	uint16_t flags, want;
	int16_t st = GNTST_okay;
	int tries;

	if (ref >= d->nr_grants)
		return GNTST_bad_gntref;
	e = &d->gnt[ref];
	p = &d->pins[ref];
	sim_pin_lock(p);
	if (sim_gdom_dying(d)) {
		st = GNTST_bad_domain;
		goto out;
	}
	if ((readonly ? p->rd : p->wr) >= SIM_PIN_MAX) {
		st = GNTST_no_space;
		goto out;
	}
	want = GTF_reading | (readonly ? 0 : GTF_writing);
	for (tries = 0;; tries++) {
		old = __atomic_load_n(&e->w.word, __ATOMIC_ACQUIRE);
		flags = sim_gnt_word_flags(old);
		if ((flags & GTF_type_mask) != GTF_permit_access ||
		    sim_gnt_word_domid(old) != self ||
		    (!readonly && (flags & GTF_readonly))) {
			st = GNTST_permission_denied;
			goto out;
		}
		if ((flags & want) == want)
			break;
		new = old | want;
		if (__atomic_compare_exchange_n(&e->w.word, &old, new, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_ACQUIRE))
			break;
		if (tries >= PIN_CMPXCHG_TRIES) {
			/* The guest keeps rewriting the entry. */
			st = GNTST_general_error;
			goto out;
		}
	}
	if (p->rd + p->wr == 0) {
		/* First pin: capture the frame once; later pins use this copy
		 * even if the guest rewrites the entry under us. */
		uint32_t f = __atomic_load_n(&e->w.frame, __ATOMIC_ACQUIRE);

		if (f >= d->mem_pages) {
			clear_flags(e, GTF_reading | GTF_writing);
			st = GNTST_bad_page;
			goto out;
		}
		p->frame = f;
	}
	/* The ledger entry is never above the global count, so it cannot
	 * overflow before the check above fails. */
	if (readonly) {
		p->rd++;
		d->held[ref].rd++;
	} else {
		p->wr++;
		d->held[ref].wr++;
	}
	*frame = p->frame;
out:
	sim_pin_unlock(p);
	return st;
}

static void gnt_unpin(struct sim_gdom *d, grant_ref_t ref, bool readonly)
{
	struct sim_pin_held *h = &d->held[ref];
	struct sim_pin *p = &d->pins[ref];

	sim_pin_lock(p);
	/* Drop only a pin our ledger holds: if the daemon released our pins
	 * (our connection closed), the global counts are no longer ours. */
	if (readonly && h->rd) {
		h->rd--;
		if (p->rd)
			p->rd--;
	} else if (!readonly && h->wr) {
		h->wr--;
		if (p->wr)
			p->wr--;
	}
	sim_pin_clear_unused(&d->gnt[ref], p);
	sim_pin_unlock(p);
}

static int pin_errno(int16_t st)
{
	switch (st) {
	case GNTST_bad_domain:
		return -ESRCH;
	case GNTST_no_space:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

/* ---- map records --------------------------------------------------------- */

static unsigned int map_hash(const void *addr)
{
	uintptr_t a = (uintptr_t)addr >> XB_PAGE_SHIFT;

	return (unsigned int)((a ^ (a >> 10)) % MAP_BUCKETS);
}

static struct sim_map *map_find(struct sim_gnt *g, const void *addr)
{
	struct sim_map *m;

	for (m = g->buckets[map_hash(addr)]; m; m = m->next)
		if (m->addr == addr)
			return m;
	return NULL;
}

static struct sim_map *map_alloc(struct sim_gnt *g)
{
	struct sim_map *m;

	if (!g->pool) {
		/* Grows in chunks, never shrinks until close: steady-state
		 * mapping (persistent grants) allocates nothing. */
		struct sim_map_chunk *c = calloc(1, sizeof(*c));
		unsigned int i;

		if (!c)
			return NULL;
		c->next = g->chunks;
		g->chunks = c;
		for (i = 0; i < MAP_POOL_CHUNK; i++) {
			c->maps[i].next = g->pool;
			g->pool = &c->maps[i];
		}
	}
	m = g->pool;
	g->pool = m->next;
	memset(m, 0, sizeof(*m));
	return m;
}

static void map_insert(struct sim_gnt *g, struct sim_map *m)
{
	unsigned int h = map_hash(m->addr);

	m->next = g->buckets[h];
	g->buckets[h] = m;
}

static void map_remove(struct sim_gnt *g, struct sim_map *m)
{
	struct sim_map **pp = &g->buckets[map_hash(m->addr)];

	while (*pp && *pp != m)
		pp = &(*pp)->next;
	if (*pp)
		*pp = m->next;
	m->next = g->pool;
	g->pool = m;
}

/* ---- map / unmap --------------------------------------------------------- */

static void unpin_all(struct sim_gdom *d, const grant_ref_t *refs,
		      uint32_t n, bool readonly)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		gnt_unpin(d, refs[i], readonly);
}

/* Map one page already pinned: a pointer into the whole-memory mapping,
 * shared with identical maps of the same ref. */
static int map_single(struct sim_gnt *g, struct sim_gdom *d, grant_ref_t ref,
		      uint32_t frame, bool readonly, void **addr)
{
	char *a = (readonly ? d->ro_base : d->rw_base) +
		  (size_t)frame * SIM_PAGE_SIZE;
	struct sim_map *m = map_find(g, a);

	if (m) {
		if (m->refs[0] != ref || m->count != 1 || m->own_area)
			return -EEXIST;   /* another ref on this frame */
		m->users++;
		sim_gdom_put(to_sim_hv(g->base.hv), d);  /* m holds one */
		*addr = a;
		return 0;
	}
	m = map_alloc(g);
	if (!m)
		return -ENOMEM;
	m->addr = a;
	m->count = 1;
	m->readonly = readonly;
	m->users = 1;
	m->dom = d;
	m->inl[0] = ref;
	m->refs = m->inl;
	map_insert(g, m);
	*addr = a;
	return 0;
}

int sim_gnt_map(struct xb_gnt *base, domid_t domid, uint32_t count,
		const grant_ref_t *refs, bool readonly, void **addr)
{
	struct sim_gnt *g = to_sim_gnt(base);
	struct sim_hv *hv = to_sim_hv(base->hv);
	int prot = readonly ? PROT_READ : PROT_READ | PROT_WRITE;
	grant_ref_t stack[MAP_INLINE_REFS], *r = stack, ref1;
	uint32_t fstack[MAP_INLINE_REFS], *frames = fstack;
	struct sim_map *m;
	struct sim_gdom *d;
	char *area = NULL;
	uint32_t i = 0, frame;
	int16_t st;
	int err;

	if (count == 0 || count > MAP_MAX_PAGES)
		return -EINVAL;
	/* Read the caller's refs once: they may live in memory a guest can
	 * still write, and we must unpin exactly what we pinned. */
	if (count > MAP_INLINE_REFS) {
		r = malloc(count * sizeof(*r));
		if (!r)
			return -ENOMEM;
	}
	memcpy(r, refs, count * sizeof(*r));
	ref1 = r[0];
	err = sim_gdom_get(hv, domid, &d);
	if (err)
		goto err_free;

	if (count == 1) {
		st = gnt_pin(d, hv->self, ref1, readonly, &frame);
		if (st != GNTST_okay) {
			err = pin_errno(st);
			goto err_put;
		}
		i = 1;
		err = map_single(g, d, ref1, frame, readonly, addr);
		if (err == 0)
			return 0;
		if (err != -EEXIST)
			goto err_unpin;
		/* Same frame under another ref: give it its own mapping so
		 * that unmap can tell the two apart. */
		area = mmap(NULL, SIM_PAGE_SIZE, prot, MAP_SHARED, d->memfd,
			    (off_t)frame * SIM_PAGE_SIZE);
		if (area == MAP_FAILED) {
			area = NULL;
			err = -ENOMEM;
			goto err_unpin;
		}
	} else {
		bool contiguous = true;

		if (count > MAP_INLINE_REFS) {
			frames = malloc(count * sizeof(*frames));
			if (!frames) {
				err = -ENOMEM;
				goto err_put;
			}
		}
		/* Pin everything first; the frames (as pinned: the guest may
		 * rewrite its entries) decide how to map. */
		for (i = 0; i < count;) {
			st = gnt_pin(d, hv->self, r[i], readonly, &frames[i]);
			if (st != GNTST_okay) {
				err = pin_errno(st);
				goto err_unpin;
			}
			if (i && frames[i] != frames[0] + i)
				contiguous = false;
			i++;
		}
		/* Consecutive frames are already contiguous in the whole-memory
		 * mapping: no system call, as a batch map is one gntdev ioctl
		 * on Xen (unless another map already starts there). */
		if (contiguous) {
			char *a = (readonly ? d->ro_base : d->rw_base) +
				  (size_t)frames[0] * SIM_PAGE_SIZE;

			if (!map_find(g, a)) {
				m = map_alloc(g);
				if (!m) {
					err = -ENOMEM;
					goto err_unpin;
				}
				m->addr = a;
				m->own_area = false;
				goto record;
			}
		}
		area = mmap(NULL, (size_t)count * SIM_PAGE_SIZE, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (area == MAP_FAILED) {
			area = NULL;
			err = -ENOMEM;
			goto err_unpin;
		}
		for (i = 0; i < count; i++) {
			void *p = mmap(area + (size_t)i * SIM_PAGE_SIZE,
				       SIM_PAGE_SIZE, prot,
				       MAP_SHARED | MAP_FIXED, d->memfd,
				       (off_t)frames[i] * SIM_PAGE_SIZE);

			if (p == MAP_FAILED) {
				i = count;
				err = -ENOMEM;
				goto err_unpin;
			}
		}
	}

	m = map_alloc(g);
	if (!m) {
		err = -ENOMEM;
		goto err_unpin;
	}
	m->addr = area;
	m->own_area = true;
record:
	m->count = count;
	m->readonly = readonly;
	m->users = 1;
	m->dom = d;
	if (r == stack) {
		memcpy(m->inl, r, count * sizeof(*r));
		m->refs = m->inl;
	} else {
		m->refs = r;
	}
	map_insert(g, m);
	*addr = m->addr;
	if (frames != fstack)
		free(frames);
	return 0;

err_unpin:
	unpin_all(d, r, i, readonly);
	if (area)
		munmap(area, (size_t)count * SIM_PAGE_SIZE);
err_put:
	sim_gdom_put(hv, d);
	if (frames != fstack)
		free(frames);
err_free:
	if (r != stack)
		free(r);
	return err;
}

int sim_gnt_unmap(struct xb_gnt *base, void *addr, uint32_t count)
{
	struct sim_gnt *g = to_sim_gnt(base);
	struct sim_map *m = map_find(g, addr);

	if (!m || m->count != count)
		return -EINVAL;
	unpin_all(m->dom, m->refs, count, m->readonly);
	if (--m->users)
		return 0;
	if (m->own_area)
		munmap(m->addr, (size_t)count * SIM_PAGE_SIZE);
	sim_gdom_put(to_sim_hv(base->hv), m->dom);
	if (m->refs != m->inl)
		free(m->refs);
	map_remove(g, m);
	return 0;
}

void sim_gnt_close(struct xb_gnt *base)
{
	struct sim_gnt *g = to_sim_gnt(base);
	unsigned int b;

	/* Unmap what the caller left mapped, as closing gntdev does. */
	for (b = 0; b < MAP_BUCKETS; b++) {
		while (g->buckets[b]) {
			struct sim_map *m = g->buckets[b];

			while (m->users > 1)
				sim_gnt_unmap(base, m->addr, m->count);
			sim_gnt_unmap(base, m->addr, m->count);
		}
	}
	while (g->chunks) {
		struct sim_map_chunk *c = g->chunks;

		g->chunks = c->next;
		free(c);
	}
	free(g);
}

/* ---- copy ---------------------------------------------------------------- */

/* The domain looked up last for one side of a copy batch: one lookup per
 * batch in the common case of a single frontend. */
struct copy_dom {
	struct sim_gdom *d;
	domid_t domid;
	bool valid;
};

static struct sim_gdom *copy_dom_get(struct sim_hv *hv, struct copy_dom *c,
				     domid_t domid)
{
	if (c->valid && c->domid == domid)
		return c->d;
	if (c->d)
		sim_gdom_put(hv, c->d);
	c->d = NULL;
	c->domid = domid;
	c->valid = true;
	if (sim_gdom_get(hv, domid, &c->d))
		c->d = NULL;
	return c->d;
}

static void copy_dom_put(struct sim_hv *hv, struct copy_dom *c)
{
	if (c->d)
		sim_gdom_put(hv, c->d);
}

/* Pin one granted side of a segment; *ptr points at offset in the page. */
static int16_t copy_pin(struct sim_hv *hv, struct copy_dom *c, domid_t domid,
			grant_ref_t ref, uint16_t offset, bool readonly,
			struct sim_gdom **dom, char **ptr)
{
	struct sim_gdom *d = copy_dom_get(hv, c, domid);
	uint32_t frame;
	int16_t st;

	if (!d)
		return GNTST_bad_domain;
	st = gnt_pin(d, hv->self, ref, readonly, &frame);
	if (st != GNTST_okay)
		return st;
	*dom = d;
	*ptr = d->rw_base + (size_t)frame * SIM_PAGE_SIZE + offset;
	return GNTST_okay;
}

static int16_t copy_one(struct sim_hv *hv, struct copy_dom *sc,
			struct copy_dom *dc, struct xb_gcopy_seg *seg)
{
	bool src_gref = seg->flags & GNTCOPY_source_gref;
	bool dst_gref = seg->flags & GNTCOPY_dest_gref;
	struct sim_gdom *sd = NULL, *dd = NULL;
	char *src, *dst;
	int16_t st;

	if (seg->flags & ~(GNTCOPY_source_gref | GNTCOPY_dest_gref))
		return GNTST_bad_copy_arg;
	if ((src_gref && (uint32_t)seg->source.foreign.offset + seg->len >
	     SIM_PAGE_SIZE) ||
	    (dst_gref && (uint32_t)seg->dest.foreign.offset + seg->len >
	     SIM_PAGE_SIZE))
		return GNTST_bad_copy_arg;
	if (src_gref) {
		st = copy_pin(hv, sc, seg->source.foreign.domid,
			      seg->source.foreign.ref,
			      seg->source.foreign.offset, true, &sd, &src);
		if (st != GNTST_okay)
			return st;
	} else {
		src = seg->source.virt;
	}
	if (dst_gref) {
		st = copy_pin(hv, dc, seg->dest.foreign.domid,
			      seg->dest.foreign.ref, seg->dest.foreign.offset,
			      false, &dd, &dst);
		if (st != GNTST_okay)
			goto out;
	} else {
		dst = seg->dest.virt;
	}
	/* memmove: both sides may be the same guest page. */
	memmove(dst, src, seg->len);
	st = GNTST_okay;
	if (dd)
		gnt_unpin(dd, seg->dest.foreign.ref, false);
out:
	if (sd)
		gnt_unpin(sd, seg->source.foreign.ref, true);
	return st;
}

int sim_gnt_copy(struct xb_gnt *base, uint32_t count,
		 struct xb_gcopy_seg *segs)
{
	struct sim_hv *hv = to_sim_hv(base->hv);
	struct copy_dom sc = { 0 }, dc = { 0 };
	uint32_t i;

	for (i = 0; i < count; i++)
		segs[i].status = copy_one(hv, &sc, &dc, &segs[i]);
	copy_dom_put(hv, &sc);
	copy_dom_put(hv, &dc);
	return 0;
}
