/* SPDX-License-Identifier: MIT */
/* Per-queue counters: names, snapshots, text output. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#include "netback.h"

static const char *const tx_err_names[NET_TX_F_COUNT] = {
	[NET_TX_OK] = "none",
	[NET_TX_E_SHORT] = "short",
	[NET_TX_E_SIZE] = "bad_size",
	[NET_TX_E_SLOTS] = "too_many_slots",
	[NET_TX_E_PAGE] = "crosses_page",
	[NET_TX_E_GSO] = "bad_gso",
	[NET_TX_E_EXTRA] = "bad_extra",
	[NET_TX_E_MCAST] = "mcast_refused",
	[NET_TX_E_GRANT] = "grant",
	[NET_TX_E_CSUM] = "csum_headers",
	[NET_TX_F_CHAIN] = "fatal_chain_past_producer",
	[NET_TX_F_SLOTS] = "fatal_slots",
	[NET_TX_F_EXTRAS] = "fatal_extras",
};

static const char *const rx_err_names[NET_RX_E_COUNT] = {
	[NET_RX_OK] = "none",
	[NET_RX_E_EMPTY] = "empty",
	[NET_RX_E_TOO_BIG] = "too_big",
	[NET_RX_E_GSO] = "gso_unsupported",
	[NET_RX_E_CSUM] = "csum",
	[NET_RX_E_MCAST] = "mcast_filtered",
	[NET_RX_E_STALLED] = "stalled",
	[NET_RX_E_GRANT] = "grant",
	[NET_RX_E_STEER_FULL] = "steer_full",
};

static const char *const stat_names[NET_ST_COUNT] = {
	[NET_ST_TX_PACKETS] = "tx_packets",
	[NET_ST_TX_BYTES] = "tx_bytes",
	[NET_ST_TX_SLOTS] = "tx_slots",
	[NET_ST_TX_GSO] = "tx_gso",
	[NET_ST_TX_CSUM_BLANK] = "tx_csum_blank",
	[NET_ST_TX_CSUM_FIXUP] = "tx_csum_fixup",
	[NET_ST_TX_MCAST_OPS] = "tx_mcast_ops",
	[NET_ST_TX_ERR_RSPS] = "tx_error_responses",
	[NET_ST_TX_CREDIT_WAITS] = "tx_credit_waits",
	[NET_ST_TX_PORT_BUSY] = "tx_port_busy",
	[NET_ST_TX_PORT_DROPS] = "tx_port_drops",
	[NET_ST_TX_RESENT] = "tx_resent",
	[NET_ST_RX_PACKETS] = "rx_packets",
	[NET_ST_RX_BYTES] = "rx_bytes",
	[NET_ST_RX_SLOTS] = "rx_slots",
	[NET_ST_RX_GSO] = "rx_gso",
	[NET_ST_RX_HASH] = "rx_hash",
	[NET_ST_RX_CSUM_SW] = "rx_csum_sw",
	[NET_ST_RX_ERR_RSPS] = "rx_error_responses",
	[NET_ST_RX_WAIT_SLOTS] = "rx_wait_buffers",
	[NET_ST_RX_PORT_ERRORS] = "rx_port_errors",
	[NET_ST_RX_STEER_OUT] = "rx_steered_out",
	[NET_ST_RX_STEER_IN] = "rx_steered_in",
	[NET_ST_BATCHES] = "batches",
	[NET_ST_NOTIFIES] = "notifies",
	[NET_ST_GCOPY_CALLS] = "gcopy_calls",
	[NET_ST_GCOPY_SEGS] = "gcopy_segs",
	[NET_ST_GCOPY_ERRORS] = "gcopy_errors",
	[NET_ST_SLEEPS] = "sleeps",
	[NET_ST_LOOPS] = "loops",
	[NET_ST_EVENTS] = "events",
	[NET_ST_RING_HALTED] = "ring_halted",
	[NET_ST_NOTIFY_ERRORS] = "notify_errors",
	[NET_ST_SPIN_HITS] = "spin_hits",
	[NET_ST_SPIN_PAUSES] = "spin_pauses",
	[NET_ST_PORT_RX_OVERSIZE] = "port_rx_oversize",
	[NET_ST_PORT_RX_ERRORS] = "port_rx_errors",
	[NET_ST_PORT_TX_DROPPED] = "port_tx_dropped",
	[NET_ST_PORT_TX_ERRORS] = "port_tx_errors",
};

const char *net_tx_err_name(enum net_tx_err e)
{
	if ((unsigned int)e >= NET_TX_F_COUNT || !tx_err_names[e])
		return "?";
	return tx_err_names[e];
}

const char *net_rx_err_name(enum net_rx_err e)
{
	if ((unsigned int)e >= NET_RX_E_COUNT || !rx_err_names[e])
		return "?";
	return rx_err_names[e];
}

/* The per-reason counters: "tx_err_<reason>", "rx_drop_<reason>". */
static char reason_names[NET_TX_F_COUNT + NET_RX_E_COUNT][32];
static pthread_once_t reason_once = PTHREAD_ONCE_INIT;

static void reason_names_init(void)
{
	unsigned int i;

	for (i = 0; i < NET_TX_F_COUNT; i++)
		snprintf(reason_names[i], sizeof(reason_names[i]), "tx_err_%s",
			 net_tx_err_name((enum net_tx_err)i));
	for (i = 0; i < NET_RX_E_COUNT; i++)
		snprintf(reason_names[NET_TX_F_COUNT + i],
			 sizeof(reason_names[0]), "rx_drop_%s",
			 net_rx_err_name((enum net_rx_err)i));
}

const char *net_stat_name(enum net_stat k)
{
	if ((unsigned int)k >= NET_ST_COUNT)
		return "?";
	if (stat_names[k])
		return stat_names[k];
	pthread_once(&reason_once, reason_names_init);
	if (k >= NET_ST_TX_ERR_FIRST && k <= NET_ST_TX_ERR_LAST)
		return reason_names[k - NET_ST_TX_ERR_FIRST];
	if (k >= NET_ST_RX_ERR_FIRST && k <= NET_ST_RX_ERR_LAST)
		return reason_names[NET_TX_F_COUNT + (k - NET_ST_RX_ERR_FIRST)];
	return "?";
}

void net_stats_snapshot(const struct net_stats *s, struct net_stats *out)
{
	unsigned int i;

	for (i = 0; i < NET_ST_COUNT; i++)
		out->v[i] = __atomic_load_n(&s->v[i], __ATOMIC_RELAXED);
}

void net_stats_print(FILE *f, const char *prefix, const struct net_stats *s)
{
	struct net_stats snap;
	unsigned int i;

	net_stats_snapshot(s, &snap);
	for (i = 0; i < NET_ST_COUNT; i++)
		fprintf(f, "%s%s=%" PRIu64 "\n", prefix,
			net_stat_name((enum net_stat)i), snap.v[i]);
}

void net_stats_add_totals(struct net_stats *sum, const struct net_stats *s)
{
	struct net_stats snap;
	unsigned int k;

	net_stats_snapshot(s, &snap);
	/* The port's counters are cumulative per port queue, not per
	 * connection: they are not summed across connections. */
	for (k = 0; k < NET_ST_PORT_RX_OVERSIZE; k++)
		sum->v[k] += snap.v[k];
}
