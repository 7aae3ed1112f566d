/* SPDX-License-Identifier: MIT */
/*
 * xensim shared memory layout: the per-domain state that the daemon, the
 * guest library (tools/xensim/guest.c) and the "sim" hypervisor provider
 * (common/hv_sim.c) all map, so that grant maps, copies and notifications
 * need no round trip to the daemon.
 *
 * Per domain the daemon creates two memfds:
 *
 *   memory   mem_pages * 4 KiB of guest memory; gfn N is at offset N * 4 KiB.
 *   state    struct sim_shm_hdr, then the grant table (grant_entry_v1
 *            [nr_grants]) at gnt_off, then one struct sim_pin per grant at
 *            pin_off. Offsets are page aligned; sim_shm_layout() computes them.
 *
 * Who writes what:
 *   daemon   the header (once, before handing the fd out), @dying (set once
 *            at destroy) and @port_gen[] (bumped on every change of a port's
 *            binding, so a guest knows its cached peer eventfd is stale);
 *   guest    grant entries (frame, domid, then flags with a barrier; revoke
 *            by cmpxchg on flags, as a Linux guest);
 *   mappers  (providers) GTF_reading/GTF_writing in the entry's flags with
 *            cmpxchg on the 32-bit flags+domid word, as Xen does, and the pin
 *            counts, under the per-grant spinlock in struct sim_pin. The lock
 *            serialises mappers only; the guest never takes it, which is
 *            why flag updates are cmpxchg and not plain stores.
 *
 * Pin ledgers: besides the global counts, each mapper keeps the pins it
 * holds on a domain in a ledger of its own (struct sim_pin_held
 * [nr_grants], a memfd the daemon makes per (control connection, domain
 * instance), see CTL_DOM_LEDGER), updated under the same per-grant lock.
 * When the connection closes (the process exited or was killed), the
 * daemon takes each lock in turn and drops what the ledger still holds
 * from the global counts, as closing /dev/xen/gntdev unmaps everything on
 * Xen. A mapper only unpins what its ledger says it holds, so pins the
 * daemon already dropped are not dropped twice.
 */
#ifndef XENSIM_SIM_SHM_H
#define XENSIM_SIM_SHM_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/grant_table.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "xensim assumes a little-endian host (grant entry word layout)"
#endif

#define SIM_SHM_MAGIC    0x31306d69736e6578ull  /* "xensim01" */
#define SIM_SHM_VERSION  1u
#define SIM_PAGE_SIZE    4096u

/* Event channel ports per domain (Xen's 2-level ABI on 64-bit: 4096). Port
 * 0 is never allocated, as on Xen. */
#define SIM_NR_PORTS     4096u

/* Limits on what a domain may be created with. */
#define SIM_MAX_MEM_PAGES  (1u << 22)      /* 16 GiB */
#define SIM_MAX_GRANTS     (1u << 20)
#define SIM_DEFAULT_MEM_PAGES 16384u
#define SIM_DEFAULT_GRANTS    (32u * 512u)

/* Highest pin count of either kind on one grant (Xen allows 255 per kind;
 * we allow more and fail beyond this). */
#define SIM_PIN_MAX 0xffffu

struct sim_shm_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t domid;
	uint64_t instance;       /* unique per domain created by this daemon */
	uint32_t dying;          /* 0, or 1 once destroyed (atomic) */
	uint32_t mem_pages;
	uint32_t nr_grants;
	uint32_t gnt_off;        /* byte offset of grant_entry_v1[nr_grants] */
	uint64_t pin_off;        /* byte offset of struct sim_pin[nr_grants] */
	uint64_t size;           /* total size of the state memfd */
	uint32_t port_gen[SIM_NR_PORTS];
};

/* Mapper-private bookkeeping of one grant entry (Xen's "active entry"). */
struct sim_pin {
	uint32_t lock;           /* spinlock among mappers: 0 free, 1 held */
	uint16_t rd;             /* read-only pins (maps and copies) */
	uint16_t wr;             /* writable pins */
	uint32_t frame;          /* frame captured when first pinned */
	uint32_t pad;
};

/* One mapper's pins on one grant entry (its ledger entry). */
struct sim_pin_held {
	uint16_t rd;
	uint16_t wr;
};

static inline size_t sim_page_align(size_t n)
{
	return (n + SIM_PAGE_SIZE - 1) & ~(size_t)(SIM_PAGE_SIZE - 1);
}

/* Fill the layout fields of @h for @nr_grants entries. */
static inline void sim_shm_layout(struct sim_shm_hdr *h, uint32_t nr_grants)
{
	size_t gnt_off = sim_page_align(sizeof(*h));
	size_t pin_off = sim_page_align(gnt_off +
					(size_t)nr_grants *
					sizeof(grant_entry_v1_t));

	h->nr_grants = nr_grants;
	h->gnt_off = (uint32_t)gnt_off;
	h->pin_off = pin_off;
	h->size = sim_page_align(pin_off +
				 (size_t)nr_grants * sizeof(struct sim_pin));
}

/*
 * A grant entry with a second view: @word is flags (low 16 bits) and domid
 * (high 16 bits) as one 32-bit value, for Xen's combined cmpxchg on x86
 * (little-endian). The union makes the type punning well defined.
 */
union sim_gnt_entry {
	grant_entry_v1_t e;
	struct {
		uint32_t word;
		uint32_t frame;
	} w;
};
_Static_assert(sizeof(union sim_gnt_entry) == sizeof(grant_entry_v1_t),
	       "grant entry layout");

static inline uint16_t sim_gnt_word_flags(uint32_t word)
{
	return (uint16_t)(word & 0xffffu);
}

static inline domid_t sim_gnt_word_domid(uint32_t word)
{
	return (domid_t)(word >> 16);
}

static inline union sim_gnt_entry *sim_shm_grants(struct sim_shm_hdr *h)
{
	return (union sim_gnt_entry *)((char *)h + h->gnt_off);
}

static inline struct sim_pin *sim_shm_pins(struct sim_shm_hdr *h)
{
	return (struct sim_pin *)((char *)h + h->pin_off);
}

/* Size of a pin ledger for @nr_grants entries. */
static inline size_t sim_ledger_size(uint32_t nr_grants)
{
	return sim_page_align((size_t)nr_grants * sizeof(struct sim_pin_held));
}

/* The per-grant spinlock among mappers (and the daemon's ledger release). */
static inline void sim_pin_lock(struct sim_pin *p)
{
	unsigned int spins = 0;

	while (__atomic_exchange_n(&p->lock, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&p->lock, __ATOMIC_RELAXED))
			if (++spins > 100)
				sched_yield();
	}
}

static inline void sim_pin_unlock(struct sim_pin *p)
{
	__atomic_store_n(&p->lock, 0, __ATOMIC_RELEASE);
}

/*
 * Under the lock of @p: clear GTF_writing once no writable pin is left
 * and GTF_reading once no pin at all is left. An atomic and on the flags
 * only, since the guest may be rewriting the entry at the same time.
 */
static inline void sim_pin_clear_unused(union sim_gnt_entry *e,
					const struct sim_pin *p)
{
	uint16_t bits = 0;

	if (!p->wr)
		bits |= GTF_writing;
	if (!p->rd && !p->wr)
		bits |= GTF_reading;
	if (bits)
		__atomic_fetch_and(&e->e.flags, (uint16_t)~bits,
				   __ATOMIC_SEQ_CST);
}

/*
 * Validate a header received from the daemon against the size of the memfd
 * it came in (the daemon is trusted, but a stale or foreign fd must not
 * make us index out of the mapping).
 */
static inline int sim_shm_check(const struct sim_shm_hdr *h, size_t fd_size)
{
	struct sim_shm_hdr l;

	if (fd_size < sizeof(*h) || h->magic != SIM_SHM_MAGIC ||
	    h->version != SIM_SHM_VERSION || h->nr_grants > SIM_MAX_GRANTS ||
	    h->mem_pages > SIM_MAX_MEM_PAGES)
		return -1;
	sim_shm_layout(&l, h->nr_grants);
	if (l.gnt_off != h->gnt_off || l.pin_off != h->pin_off ||
	    l.size != h->size || h->size > fd_size)
		return -1;
	return 0;
}

#endif /* XENSIM_SIM_SHM_H */
