/* SPDX-License-Identifier: MIT */
/*
 * The frontend's vbd keys (hostile) parsed into what a connection
 * negotiates, independent of xenstore: the caller supplies a function
 * that fetches one key's raw bytes. uback-blk's connect reads them from
 * xenstore; tests/fuzz/fuzz_blk_fekeys feeds arbitrary bytes.
 */
#ifndef BLKBACK_FEKEYS_H
#define BLKBACK_FEKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blkback.h"

/* Longest value read for any key (the protocol name and numbers). */
#define BLK_FE_VALUE_MAX 32u

struct blk_fe_keys {
	uint32_t nr_queues;        /* 1 .. max_queues */
	uint32_t ring_order;       /* 0 .. max_ring_order */
	enum blk_abi abi;
	bool persistent;           /* the frontend asked for it */
	grant_ref_t ring_refs[BLK_MAX_QUEUES][BLK_MAX_RING_PAGES];
	evtchn_port_t ports[BLK_MAX_QUEUES];
	char bad_key[48];          /* on -EINVAL: the key at fault */
};

/*
 * Fetch frontend key @key (relative to the frontend dir) into @buf of
 * @size, NUL-terminated, its length in *@len (the value may hold NULs).
 * 0, -ENOENT if absent, -E2BIG if it does not fit, other -errno.
 */
typedef int (*blk_fe_read_fn)(void *arg, const char *key, char *buf,
			      size_t size, size_t *len);

/*
 * Read and validate multi-queue-num-queues (absent: 1; 1..@max_queues),
 * ring-page-order (absent: 0; <= @max_ring_order), protocol (absent or
 * empty: native; x86_32-abi / x86_64-abi), feature-persistent (absent:
 * 0; 0/1), then per queue (queue-N/ when more than one) ring-ref or
 * ring-refN for each page and event-channel, each a strict decimal below
 * 2^32. Returns 0 with @out filled; -EINVAL naming out->bad_key for
 * anything malformed, missing or out of range; another -errno from
 * @read as is. Never logs. @max_queues <= BLK_MAX_QUEUES and
 * @max_ring_order <= BLK_MAX_RING_ORDER (else -EINVAL).
 */
int blk_fe_keys_parse(uint32_t max_queues, uint32_t max_ring_order,
		      blk_fe_read_fn read, void *arg,
		      struct blk_fe_keys *out);

#endif /* BLKBACK_FEKEYS_H */
