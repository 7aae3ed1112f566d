/* SPDX-License-Identifier: MIT */
/*
 * The frontend's vif keys (hostile) parsed into what a connection
 * negotiates, independent of xenstore: the caller supplies a function
 * that fetches one key's raw bytes. uback-net's connect reads them from
 * xenstore; tests/fuzz/fuzz_net_fekeys feeds arbitrary bytes.
 */
#ifndef NETBACK_FEKEYS_H
#define NETBACK_FEKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netback.h"

/* Longest value read for any key (numbers). */
#define NET_FE_VALUE_MAX 32u

struct net_fe_queue_keys {
	grant_ref_t tx_ref, rx_ref;
	evtchn_port_t tx_evtchn, rx_evtchn;   /* equal unless split */
	bool split;                           /* event-channel-tx / -rx */
};

struct net_fe_keys {
	uint32_t nr_queues;          /* 1 .. max_queues */
	bool rx_notify;              /* feature-rx-notify */
	struct net_rx_guest guest;   /* sg, gso, checksum offloads */
	bool mcast_ctrl;             /* request-multicast-control */
	bool gso_prefix;             /* asked for prefix GSO only (refused) */
	bool ctrl;                   /* ctrl-ring-ref present */
	grant_ref_t ctrl_ref;
	evtchn_port_t ctrl_evtchn;
	struct net_fe_queue_keys q[NET_MAX_QUEUES];
	/* On failure: why, naming the key ("bad frontend key feature-sg",
	 * "missing frontend key queue-1/tx-ring-ref", ...). */
	char why[96];
};

/*
 * Fetch frontend key @key (relative to the frontend dir) into @buf of
 * @size, NUL-terminated, its length in *@len (the value may hold NULs).
 * 0, -ENOENT if absent, -E2BIG if it does not fit, other -errno.
 */
typedef int (*net_fe_read_fn)(void *arg, const char *key, char *buf,
			      size_t size, size_t *len);

/*
 * Read and validate, as xen-netback: request-rx-copy (must be 1:
 * -EOPNOTSUPP if absent or 0), multi-queue-num-queues (absent: 1;
 * 1..@max_queues), feature-rx-notify, feature-sg, feature-gso-tcpv4/6,
 * feature-no-csum-offload, feature-ipv6-csum-offload,
 * request-multicast-control, feature-gso-tcpv4/6-prefix (each absent: 0;
 * 0/1), ctrl-ring-ref with event-channel-ctrl (optional pair), then per
 * queue (queue-N/ when more than one) tx-ring-ref, rx-ring-ref and either
 * event-channel or event-channel-tx plus -rx (distinct), each a strict
 * decimal below 2^32. Returns 0 with @out filled; -EINVAL (or
 * -EOPNOTSUPP) with out->why naming the key for anything malformed,
 * missing or out of range; another -errno from @read as is (out->why
 * says which key). Never logs. @max_queues 1..NET_MAX_QUEUES (else
 * -EINVAL).
 */
int net_fe_keys_parse(uint32_t max_queues, net_fe_read_fn read, void *arg,
		      struct net_fe_keys *out);

#endif /* NETBACK_FEKEYS_H */
