/* SPDX-License-Identifier: MIT */
/*
 * uback-net host-side ports: where frames go after leaving the guest's TX
 * ring and come from before entering its RX ring.
 *
 * A port is a const ops table chosen at run time by name (--port tap,
 * --port dpdk:<devargs>); a port compiled out of this build is an _unimp.c
 * table whose open() returns -ENOTSUP. Two implementations:
 *
 *   tap   (port_tap.c)   a tap device with IFF_VNET_HDR and, for more than
 *                        one queue, IFF_MULTI_QUEUE (one tap fd per queue);
 *                        link, MTU, MAC and bridge set with libnl-route-3.
 *   dpdk  (port_dpdk.c)  any DPDK ethdev given by devargs (net_memif,
 *                        net_vhost, net_af_packet, net_ring, net_null ...),
 *                        one rx/tx queue pair per ring queue, polled.
 *
 * Frames carry GSO and checksum metadata in a virtio-net header, the format
 * the tap driver speaks (IFF_VNET_HDR): a guest GSO super-frame crosses the
 * port whole, never segmented in software.
 *
 * Lifetime: open() at probe time (before InitWait: the host-side device
 * must exist when the toolstack's hotplug script runs, as Xen's vif-bridge
 * expects), with the most queues the backend offers. enable() at connect
 * time with what the frontend negotiated; disable() at disconnect (the
 * port stays, frames for the guest are dropped by the port while
 * disabled), close() at removal.
 *
 * Threading: the control calls (open, close, enable, disable, set_carrier)
 * run on the main thread while no queue thread runs a burst. Burst calls
 * for queue q run on queue q's thread only; different queues' bursts may
 * run concurrently. Bursts never block, never allocate, never log.
 *
 * Conventions: 0 or -errno (a count where stated); out-parameters untouched
 * on failure; control calls log one line on failure.
 */
#ifndef NETBACK_PORT_H
#define NETBACK_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_net.h>

/* Largest frame a port hands over or accepts: a netif packet is at most
 * 0xFFFF bytes (its first TX slot's size field); frames larger than this
 * from the host side are dropped by the port and counted. */
#define NET_FRAME_MAX 0xFFFFu
#define NET_PORT_MAX_QUEUES 16u

struct net_frame {
	/* GSO type/size and checksum request (VIRTIO_NET_HDR_F_NEEDS_CSUM
	 * with csum_start/csum_offset) or VIRTIO_NET_HDR_F_DATA_VALID.
	 * Little-endian fields as the tap driver uses on x86. */
	struct virtio_net_hdr vnet;
	uint32_t len;      /* frame bytes at data, Ethernet header first */
	uint8_t *data;     /* caller's buffer of NET_FRAME_MAX bytes */
};

/* Offloads the guest negotiated; the port configures the host side so
 * that it only hands us frames the guest can take (TUNSETOFFLOAD). */
#define NET_OFF_CSUM   (1u << 0)   /* guest accepts partial checksums */
#define NET_OFF_TSO4   (1u << 1)   /* guest accepts TCPv4 GSO */
#define NET_OFF_TSO6   (1u << 2)   /* guest accepts TCPv6 GSO */

struct net_port_config {
	const char *ifname;   /* host device name: vif<domid>.<devid> or the
	                       * toolstack's vifname (tap: <= IFNAMSIZ-1) */
	const char *args;     /* engine arguments (dpdk: the devargs after
	                       * "dpdk:"), NULL for none */
	unsigned int nr_queues;   /* most queues that enable() may ask for */
	uint8_t mac[6];       /* host-side MAC; all zero: fe:ff:ff:ff:ff:ff,
	                       * as xen-netback */
	unsigned int mtu;     /* 0: leave the default */
	const char *bridge;   /* join this bridge at open, or NULL */
	/*
	 * The link goes up at open() and stays up; enable()/disable() only
	 * switch the carrier (set_carrier), as with xen-netback, whose vif
	 * the hotplug script brings up. After open() the port then needs
	 * no capability (uback-net's sandbox drops CAP_NET_ADMIN). Without
	 * it: down until enable(), link down at disable().
	 */
	bool carrier_only;
	/*
	 * The host-side device outlives the process (uback-net with
	 * --state-dir): made persistent at open, or, when a persistent
	 * device of that name exists (a predecessor's that died or
	 * detached), attached to as it is: its MAC, MTU, addresses and
	 * bridge membership are left untouched. close() still removes it;
	 * detach() leaves it. Ports without such a notion ignore it.
	 */
	bool persist;
};

struct net_port;

/* What a port itself dropped (per queue, cumulative). */
struct net_port_stats {
	uint64_t rx_oversize;   /* host frames over NET_FRAME_MAX */
	uint64_t rx_errors;     /* malformed vnet headers, read errors */
	uint64_t tx_dropped;    /* frames the host side refused */
	uint64_t tx_errors;     /* write errors */
};

struct net_port_ops {
	const char *name;     /* "tap", "dpdk" */

	/* Required. Create/attach the host-side device (down until enable),
	 * with cfg->nr_queues queues. -ENOTSUP if compiled out, -EINVAL
	 * for bad args, -EEXIST / -EBUSY if the name is taken. */
	int (*open)(const struct net_port_config *cfg, struct net_port **out);
	/* Required. Remove the device (tap: deleted, bridge left, also a
	 * persistent one); NULL ok. */
	void (*close)(struct net_port *p);
	/* Optional (NULL: close). Release the port but leave a persistent
	 * device for a successor process (live upgrade); NULL ok. */
	void (*detach)(struct net_port *p);

	/* Required. Start moving frames on queues 0..nr_queues-1 with the
	 * negotiated offloads (NET_OFF_*); the link goes up (carrier_only:
	 * it is up already; stale frames are discarded, the caller turns
	 * the carrier on). */
	int (*enable)(struct net_port *p, unsigned int nr_queues,
		      unsigned int offloads);
	/* Required. Stop: link down (carrier_only: carrier off); bursts are
	 * no longer called. */
	void (*disable)(struct net_port *p);
	/* Optional. Report carrier (the frontend's link state). */
	int (*set_carrier)(struct net_port *p, bool up);

	/* Required. A fd readable while queue @q has frames for the guest
	 * (for poll/epoll), or -1 if the queue must be polled (DPDK). */
	int (*queue_fd)(struct net_port *p, unsigned int q);
	/*
	 * Required. Host -> guest: fill up to @n frames (each f[i].data a
	 * NET_FRAME_MAX buffer; vnet and len written). Returns the count,
	 * 0 when nothing is pending, -errno only when the port is broken.
	 */
	int (*rx_burst)(struct net_port *p, unsigned int q,
			struct net_frame *f, unsigned int n);
	/*
	 * Required. Guest -> host: send @n frames. Returns how many were
	 * taken (sent or dropped by the port and counted in its stats; their
	 * data copied: the buffers are the caller's again on return); the
	 * caller retries the rest later (host side back-pressure).
	 */
	int (*tx_burst)(struct net_port *p, unsigned int q,
			struct net_frame *f, unsigned int n);
	/* Required. Queue @q's drop counters (any thread; relaxed reads). */
	void (*get_stats)(struct net_port *p, unsigned int q,
			  struct net_port_stats *out);
	/*
	 * Optional (NULL: all). The NET_OFF_* the host side takes from the
	 * guest: netback offers feature-gso-tcpv4/v6 only for the TSO bits
	 * returned here. Main thread, after open; no logging.
	 */
	unsigned int (*host_offloads)(struct net_port *p);
};

/* All NET_OFF_* bits: what a port without host_offloads takes. */
#define NET_OFF_ALL (NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6)

extern const struct net_port_ops net_port_tap_ops;
extern const struct net_port_ops net_port_dpdk_ops;

/* "tap" or "dpdk:<devargs>" -> ops and args (pointing into @spec).
 * -ENOENT for an unknown name. */
int net_port_lookup(const char *spec, const struct net_port_ops **ops,
		    const char **args);

#endif /* NETBACK_PORT_H */
