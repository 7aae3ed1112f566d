/* SPDX-License-Identifier: MIT */
/*
 * uback-net DPDK port: one ethdev given by devargs, one rx/tx queue pair
 * per ring queue, polled by the queue threads.
 *
 * Mbufs: frames are copied into and out of chains of default-sized mbufs
 * (2 KiB data room). A single-mbuf design cannot hold NET_FRAME_MAX: the
 * data room is a uint16_t that also covers the headroom, and a pool of
 * 64 KiB mbufs would need 256 MiB for 4096 of them where the EAL runs
 * without hugepages in -m 128. 2 KiB mbufs keep a 64 B frame cheap and a
 * 9000 B or 64 KiB frame a chain of 5 or 33 segments; every PMD used here
 * (memif, vhost, ring, null) takes multi-segment mbufs.
 *
 * Offloads: a guest checksum request (NEEDS_CSUM) goes out as a partial
 * checksum where the device offloads TCP and UDP checksums (vhost,
 * virtio_user), else it is completed in software while the frame is in
 * cache (memif, ring, null); a GSO frame goes out whole with TSO flags
 * when the device offers TCP TSO, otherwise it is dropped and counted in
 * tx_dropped (segmenting in software is not wanted; a device without TSO
 * must not have GSO offered to the guest). From the device, a frame with a
 * good L4 checksum becomes DATA_VALID, a partial one NEEDS_CSUM (or is
 * completed for a guest without checksum offload), an LRO frame a GSO frame
 * when the guest takes TSO, else it is dropped (rx_errors).
 *
 * EAL: initialised at the first open, once per process, never cleaned up
 * (it cannot be initialised again): --no-huge --no-pci --no-shconf
 * --file-prefix uback-<pid> -m 128 -l 0, then the words of the environment
 * variable UBACK_DPDK_EAL (e.g. "-m 512 --log-level=*:debug"; later
 * options win). Devices are hot-plugged by devargs, so one process can
 * open several ports.
 *
 * Peers: a vhost-user device (either role) and a memif server wait for
 * their peer by themselves. A memif client connects only when started, so
 * a watchdog (an EAL alarm) restarts it while its link is down: the port
 * opens even before its server exists, and reconnects after the server
 * went away. While the device restarts, bursts stay out (tx frames are
 * dropped and counted).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_alarm.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <uback/log.h>

#include "port.h"
#include "port_dpdk_priv.h"

#define DPDK_BURST 32u
#define TX_REFUSED (-1)     /* GSO the device cannot take */
#define TX_MALFORMED (-2)   /* bad length or vnet header */
#define DPDK_TX_CSUM (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | \
		      RTE_ETH_TX_OFFLOAD_UDP_CKSUM)
#define DPDK_DESC_MAX 1024u   /* ring descriptors per queue, fewer with */
#define DPDK_DESC_MIN 256u    /* more queues (the pool must fit in -m 128) */
#define DPDK_MBUF_CACHE 64u   /* per queue thread (each one an lcore) */
#define DPDK_WATCH_US 250000u      /* link watchdog period */
#define DPDK_RESTART_TICKS 4u      /* down this long: restart, */
#define DPDK_RESTART_TICKS_MAX 16u /* doubling up to this while it fails */
#define DPDK_HANDSHAKE_TICKS 40u   /* started, never up: wait this long */

struct dpdk_queue {
	struct net_port_stats stats;   /* written by the queue thread only */
	uint32_t busy;                 /* a burst runs (see queue_enter) */
	struct rte_mbuf *mbufs[DPDK_BURST];
} __rte_cache_aligned;

struct net_port {
	uint16_t port_id;
	struct rte_device *dev;
	struct rte_mempool *pool;
	unsigned int nr_queues;        /* configured on the device */
	unsigned int nb_desc;          /* per ring */
	unsigned int active_queues;    /* enabled by netback */
	unsigned int offloads;         /* NET_OFF_* the guest takes */
	unsigned int dev_off;          /* NET_OFF_* the device takes */
	bool enabled;
	/* The link watchdog (an EAL alarm on the EAL interrupt thread)
	 * restarts a device whose driver does not reconnect by itself. */
	pthread_mutex_t lock;          /* watchdog vs close */
	bool restart_on_down;
	bool closing;
	unsigned int down_ticks;
	unsigned int restart_ticks;    /* current restart interval */
	bool started;                  /* the last start succeeded */
	bool link_seen;                /* the link was up since then */
	uint32_t paused;               /* bursts stay out while set (and
					* while the device is not started) */
	uint64_t restarts;
	char name[RTE_ETH_NAME_MAX_LEN];
	struct dpdk_queue q[NET_PORT_MAX_QUEUES];
};

static pthread_mutex_t dpdk_eal_lock = PTHREAD_MUTEX_INITIALIZER;
static int dpdk_eal_state;   /* 0 not tried, 1 up, -errno failed */
static unsigned int dpdk_pool_seq;

static inline void stat_add(uint64_t *c, uint64_t v)
{
	/* Single writer (the queue's thread), any reader: relaxed. */
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v,
			 __ATOMIC_RELAXED);
}

int net_dpdk_eal_argv(const char *extra, char *buf, size_t bufsz,
		      char **argv, int max_argc, int *argc_out)
{
	int n;
	int argc = 0;
	char *save = NULL;
	char *tok;

	n = snprintf(buf, bufsz,
		     "uback-net --no-huge --no-pci --file-prefix uback-%d "
		     "-m 128 -l 0 --no-shconf --no-telemetry "
		     "--log-level=*:warning %s",
		     (int)getpid(), extra ? extra : "");
	if (n < 0 || (size_t)n >= bufsz)
		return -E2BIG;
	for (tok = strtok_r(buf, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (argc >= max_argc - 1)
			return -E2BIG;
		argv[argc++] = tok;
	}
	argv[argc] = NULL;
	*argc_out = argc;
	return 0;
}

/* The EAL can be initialised once per process and never again after
 * rte_eal_cleanup(), so it stays up until exit. rte_eal_init() pins the
 * calling thread to lcore 0's CPU: restore the caller's affinity, the
 * main thread is not a DPDK worker. */
static int dpdk_eal_up(void)
{
	static char buf[1024];
	static char *argv[64];
	cpu_set_t cpus;
	bool have_cpus;
	int argc;
	int ret;

	pthread_mutex_lock(&dpdk_eal_lock);
	if (dpdk_eal_state != 0) {
		ret = dpdk_eal_state < 0 ? dpdk_eal_state : 0;
		goto out_unlock;
	}
	ret = net_dpdk_eal_argv(getenv("UBACK_DPDK_EAL"), buf, sizeof(buf),
				argv, 64, &argc);
	if (ret < 0) {
		xb_err("dpdk: UBACK_DPDK_EAL too long");
		goto out_state;
	}
	have_cpus = pthread_getaffinity_np(pthread_self(), sizeof(cpus),
					   &cpus) == 0;
	if (rte_eal_init(argc, argv) < 0) {
		ret = rte_errno ? -rte_errno : -EIO;
		xb_err("dpdk: EAL init failed: %s", rte_strerror(-ret));
		goto out_state;
	}
	if (have_cpus)
		pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	/* With --no-shconf the EAL leaves only its empty runtime directory
	 * and never uses it after init (no shared files, no IPC socket):
	 * removed now, while we are still allowed to (a sandboxed process
	 * runs as a user that cannot, nor may it call rmdir). */
	(void)rmdir(rte_eal_get_runtime_dir());
	ret = 1;
out_state:
	dpdk_eal_state = ret;
	ret = ret < 0 ? ret : 0;
out_unlock:
	pthread_mutex_unlock(&dpdk_eal_lock);
	return ret;
}

/* The mempool cache is per lcore: a queue thread that is not an EAL
 * thread registers once, or every alloc/free goes to the shared ring. */
static inline void dpdk_thread_register(void)
{
	static __thread bool tried;

	if (unlikely(!tried)) {
		tried = true;
		if (rte_lcore_id() == LCORE_ID_ANY)
			(void)rte_thread_register();
	}
}

/* Bursts and a device restart exclude each other without a lock on the
 * data path: a burst announces itself in busy and then checks paused, the
 * restart sets paused and then waits for busy to clear (both seq_cst, so
 * at least one of them sees the other). */
static inline bool queue_enter(struct net_port *p, struct dpdk_queue *dq)
{
	__atomic_store_n(&dq->busy, 1, __ATOMIC_SEQ_CST);
	if (unlikely(__atomic_load_n(&p->paused, __ATOMIC_SEQ_CST))) {
		__atomic_store_n(&dq->busy, 0, __ATOMIC_RELEASE);
		return false;
	}
	return true;
}

static inline void queue_exit(struct dpdk_queue *dq)
{
	__atomic_store_n(&dq->busy, 0, __ATOMIC_RELEASE);
}

static void queues_pause(struct net_port *p)
{
	__atomic_store_n(&p->paused, 1, __ATOMIC_SEQ_CST);
	for (unsigned int i = 0; i < p->nr_queues; i++)
		while (__atomic_load_n(&p->q[i].busy, __ATOMIC_SEQ_CST))
			sched_yield();
}

static void queues_resume(struct net_port *p)
{
	__atomic_store_n(&p->paused, 0, __ATOMIC_SEQ_CST);
}

/* A memif client connects once, at start: when its server is not there
 * yet or goes away, only a stop/start tries again. vhost-user (either
 * role) and a memif server wait for their peer by themselves. */
static bool needs_restart_on_down(const char *driver, const char *args)
{
	return strcmp(driver, "net_memif") == 0 &&
	       strstr(args, "role=server") == NULL;
}

static void dpdk_watchdog(void *arg)
{
	struct net_port *p = arg;
	struct rte_eth_link link;
	int ret;

	pthread_mutex_lock(&p->lock);
	if (p->closing)
		goto out_unlock;
	if (rte_eth_link_get_nowait(p->port_id, &link) == 0 &&
	    link.link_status == RTE_ETH_LINK_UP) {
		p->down_ticks = 0;
		p->restart_ticks = DPDK_RESTART_TICKS;
		p->link_seen = true;
		goto out_rearm;
	}
	/* Started but never up: the handshake is under way, and a memif
	 * server may crash when its client leaves in the middle of it. */
	if (++p->down_ticks < (p->started && !p->link_seen ?
			       DPDK_HANDSHAKE_TICKS : p->restart_ticks))
		goto out_rearm;
	p->down_ticks = 0;
	queues_pause(p);
	(void)rte_eth_dev_stop(p->port_id);
	ret = rte_eth_dev_start(p->port_id);
	/* a device that did not start stays paused: its bursts would
	 * land in ethdev's not-ready stubs */
	if (ret == 0)
		queues_resume(p);
	p->started = ret == 0;
	p->link_seen = false;
	/* each failed try makes the driver log a failed connect */
	if (ret < 0 && p->restart_ticks < DPDK_RESTART_TICKS_MAX)
		p->restart_ticks *= 2;
	p->restarts++;
	/* once, then every 64th try: a peer may stay away for long */
	if (ret < 0 && (p->restarts & 63) == 1)
		xb_warn("dpdk %s: restart to reconnect: %s", p->name,
			rte_strerror(-ret));
out_rearm:
	(void)rte_eal_alarm_set(DPDK_WATCH_US, dpdk_watchdog, p);
out_unlock:
	pthread_mutex_unlock(&p->lock);
}

static int dpdk_configure(struct net_port *p,
			  const struct net_port_config *cfg)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	unsigned int i;
	int ret;

	ret = rte_eth_dev_info_get(p->port_id, &info);
	if (ret < 0)
		return ret;
	if (p->nr_queues > info.max_rx_queues ||
	    p->nr_queues > info.max_tx_queues) {
		xb_err("dpdk %s: %u queues asked, device has %u/%u", p->name,
		       p->nr_queues, info.max_rx_queues, info.max_tx_queues);
		return -EINVAL;
	}

	memset(&conf, 0, sizeof(conf));
	conf.rxmode.offloads = info.rx_offload_capa &
		(RTE_ETH_RX_OFFLOAD_SCATTER | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
		 RTE_ETH_RX_OFFLOAD_UDP_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_LRO);
	conf.txmode.offloads = info.tx_offload_capa &
		RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	/* Checksum offload only with both TCP and UDP; TSO only with it. */
	if ((info.tx_offload_capa & DPDK_TX_CSUM) == DPDK_TX_CSUM) {
		conf.txmode.offloads |= DPDK_TX_CSUM;
		p->dev_off |= NET_OFF_CSUM;
		if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO) {
			conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
			p->dev_off |= NET_OFF_TSO4 | NET_OFF_TSO6;
		}
	}
	if (cfg->mtu)
		conf.rxmode.mtu = cfg->mtu;

	xb_debug("dpdk %s: driver %s, offloads rx 0x%" PRIx64 "/0x%" PRIx64
		 " tx 0x%" PRIx64 "/0x%" PRIx64 " (used/offered)", p->name,
		 info.driver_name, conf.rxmode.offloads, info.rx_offload_capa,
		 conf.txmode.offloads, info.tx_offload_capa);
	ret = rte_eth_dev_configure(p->port_id, p->nr_queues, p->nr_queues,
				    &conf);
	if (ret < 0) {
		xb_err("dpdk %s: configure: %s", p->name, rte_strerror(-ret));
		return ret;
	}
	for (i = 0; i < p->nr_queues; i++) {
		ret = rte_eth_rx_queue_setup(p->port_id, i, p->nb_desc,
					     rte_eth_dev_socket_id(p->port_id),
					     NULL, p->pool);
		if (ret < 0) {
			xb_err("dpdk %s: rx queue %u: %s", p->name, i,
			       rte_strerror(-ret));
			return ret;
		}
		ret = rte_eth_tx_queue_setup(p->port_id, i, p->nb_desc,
					     rte_eth_dev_socket_id(p->port_id),
					     NULL);
		if (ret < 0) {
			xb_err("dpdk %s: tx queue %u: %s", p->name, i,
			       rte_strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static void dpdk_set_mac(struct net_port *p, const uint8_t mac[6])
{
	static const uint8_t zero[6];
	struct rte_ether_addr ea = {
		.addr_bytes = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	int ret;

	if (memcmp(mac, zero, 6) != 0)
		memcpy(ea.addr_bytes, mac, 6);
	ret = rte_eth_dev_default_mac_addr_set(p->port_id, &ea);
	if (ret < 0 && ret != -ENOTSUP)
		xb_warn("dpdk %s: cannot set MAC: %s", p->name,
			rte_strerror(-ret));
}

/* Create the ethdev of @args (p->name is its name); on failure nothing
 * stays probed. */
static int dpdk_probe(struct net_port *p, const char *args)
{
	struct rte_eth_dev_info info;
	uint16_t port_id;
	int ret;

	if (rte_eth_dev_get_port_by_name(p->name, &port_id) == 0) {
		xb_err("dpdk %s: device already exists", p->name);
		return -EEXIST;
	}
	/* Hot-plug rather than --vdev: one EAL serves every port the
	 * process opens, each with its own devargs. */
	ret = rte_dev_probe(args);
	if (ret < 0) {
		xb_err("dpdk: probe '%s': %s", args, rte_strerror(-ret));
		return ret == -EEXIST ? -EEXIST : -EINVAL;
	}
	if (rte_eth_dev_get_port_by_name(p->name, &port_id) != 0) {
		xb_err("dpdk %s: probed but not an ethdev", p->name);
		(void)rte_eal_hotplug_remove("vdev", p->name);
		return -EINVAL;
	}
	ret = rte_eth_dev_info_get(port_id, &info);
	if (ret < 0) {
		xb_err("dpdk %s: device info: %s", p->name,
		       rte_strerror(-ret));
		(void)rte_eth_dev_close(port_id);
		(void)rte_eal_hotplug_remove("vdev", p->name);
		return ret;
	}
	p->port_id = port_id;
	p->dev = info.device;
	p->restart_on_down = needs_restart_on_down(info.driver_name, args);
	return 0;
}

static int dpdk_open(const struct net_port_config *cfg,
		     struct net_port **out)
{
	struct net_port *p;
	uint16_t port_id;
	unsigned int nb_mbufs;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	size_t len;
	int ret;

	if (!cfg->args || !cfg->args[0] || cfg->nr_queues == 0 ||
	    cfg->nr_queues > NET_PORT_MAX_QUEUES) {
		xb_err("dpdk: need devargs and 1..%u queues",
		       NET_PORT_MAX_QUEUES);
		return -EINVAL;
	}
	ret = dpdk_eal_up();
	if (ret < 0)
		return ret;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	len = strcspn(cfg->args, ",");
	if (len == 0 || len >= sizeof(p->name)) {
		xb_err("dpdk: bad device name in '%s'", cfg->args);
		ret = -EINVAL;
		goto err_free;
	}
	memcpy(p->name, cfg->args, len);
	p->name[len] = '\0';
	p->nr_queues = cfg->nr_queues;
	if (cfg->bridge)
		xb_warn("dpdk %s: bridge '%s' ignored (not a kernel device)",
			p->name, cfg->bridge);

	ret = dpdk_probe(p, cfg->args);
	if (ret < 0)
		goto err_free;
	port_id = p->port_id;

	/* One mbuf per descriptor of every ring, bursts in flight and the
	 * per-lcore caches; chains of large frames draw beyond that and
	 * meet -ENOBUFS (tx back-pressure) or drops in the driver (rx). */
	p->nb_desc = p->nr_queues <= 2 ? DPDK_DESC_MAX :
		     p->nr_queues <= 4 ? DPDK_DESC_MAX / 2 : DPDK_DESC_MIN;
	nb_mbufs = p->nr_queues * (2 * p->nb_desc + 4 * DPDK_BURST +
				   2 * DPDK_MBUF_CACHE) + 1024;
	if (nb_mbufs < 8191)
		nb_mbufs = 8191;
	snprintf(pool_name, sizeof(pool_name), "uback-%u",
		 __atomic_fetch_add(&dpdk_pool_seq, 1, __ATOMIC_RELAXED));
	p->pool = rte_pktmbuf_pool_create(pool_name, nb_mbufs,
					  DPDK_MBUF_CACHE, 0,
					  RTE_MBUF_DEFAULT_BUF_SIZE,
					  rte_eth_dev_socket_id(port_id));
	if (!p->pool) {
		ret = -rte_errno;
		xb_err("dpdk %s: mempool of %u mbufs: %s", p->name, nb_mbufs,
		       rte_strerror(rte_errno));
		goto err_close_dev;
	}
	ret = dpdk_configure(p, cfg);
	if (ret < 0)
		goto err_close_dev;
	dpdk_set_mac(p, cfg->mac);
	/* Started now so that the device exists for its peer (a memif
	 * client connects, a vhost socket listens); netback gates the
	 * bursts with enable/disable. */
	ret = rte_eth_dev_start(port_id);
	if (ret < 0 && p->restart_on_down) {
		/* a memif client whose server is not there yet: the
		 * watchdog starts it when the server appears */
		xb_warn("dpdk %s: start: %s; retrying in the background",
			p->name, rte_strerror(-ret));
		p->paused = 1;
	} else if (ret < 0) {
		xb_err("dpdk %s: start: %s", p->name, rte_strerror(-ret));
		goto err_close_dev;
	}
	p->restart_ticks = DPDK_RESTART_TICKS;
	p->started = ret == 0;
	if (p->restart_on_down) {
		ret = rte_eal_alarm_set(DPDK_WATCH_US, dpdk_watchdog, p);
		if (ret < 0) {
			xb_err("dpdk %s: link watchdog: %s", p->name,
			       rte_strerror(-ret));
			goto err_stop_dev;
		}
	}
	xb_info("dpdk %s: port %u, %u queues%s%s", p->name, port_id,
		p->nr_queues, p->dev_off & NET_OFF_CSUM ? ", csum" : "",
		p->dev_off & NET_OFF_TSO4 ? ", TSO" : "");
	*out = p;
	return 0;

err_stop_dev:
	(void)rte_eth_dev_stop(port_id);
err_close_dev:
	(void)rte_eth_dev_close(port_id);
	(void)rte_dev_remove(p->dev);
	rte_mempool_free(p->pool);   /* NULL ok */
err_free:
	pthread_mutex_destroy(&p->lock);
	free(p);
	return ret < 0 ? ret : -EIO;
}

static void dpdk_close(struct net_port *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->closing = true;
	pthread_mutex_unlock(&p->lock);
	/* waits for a running callback; a closing port does not re-arm */
	(void)rte_eal_alarm_cancel(dpdk_watchdog, p);
	(void)rte_eth_dev_stop(p->port_id);
	(void)rte_eth_dev_close(p->port_id);
	/* A closed vdev stays on its bus: remove it so that the same name
	 * can be probed again. */
	if (p->dev)
		(void)rte_dev_remove(p->dev);
	rte_mempool_free(p->pool);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int dpdk_enable(struct net_port *p, unsigned int nr_queues,
		       unsigned int offloads)
{
	if (nr_queues == 0 || nr_queues > p->nr_queues) {
		xb_err("dpdk %s: enable with %u queues, opened with %u",
		       p->name, nr_queues, p->nr_queues);
		return -EINVAL;
	}
	p->active_queues = nr_queues;
	p->offloads = offloads;
	__atomic_store_n(&p->enabled, true, __ATOMIC_RELEASE);
	return 0;
}

static void dpdk_disable(struct net_port *p)
{
	__atomic_store_n(&p->enabled, false, __ATOMIC_RELEASE);
}

static int dpdk_set_carrier(struct net_port *p, bool up)
{
	int ret;

	ret = up ? rte_eth_dev_set_link_up(p->port_id)
		 : rte_eth_dev_set_link_down(p->port_id);
	return ret == -ENOTSUP ? 0 : ret;
}

static int dpdk_queue_fd(struct net_port *p, unsigned int q)
{
	return -1;
}

static int dpdk_rx_burst(struct net_port *p, unsigned int q,
			 struct net_frame *f, unsigned int n)
{
	struct dpdk_queue *dq;
	unsigned int got = 0;
	unsigned int oversize = 0;
	unsigned int errors = 0;
	uint16_t nb;
	uint16_t i;

	if (q >= p->active_queues ||
	    !__atomic_load_n(&p->enabled, __ATOMIC_ACQUIRE))
		return 0;
	dpdk_thread_register();
	dq = &p->q[q];
	if (n > DPDK_BURST)
		n = DPDK_BURST;
	if (!queue_enter(p, dq))
		return 0;
	nb = rte_eth_rx_burst(p->port_id, (uint16_t)q, dq->mbufs,
			      (uint16_t)n);
	for (i = 0; i < nb; i++) {
		struct rte_mbuf *m = dq->mbufs[i];
		int ret = net_dpdk_mbuf_to_frame(m, p->offloads, &f[got]);

		if (ret == 0)
			got++;
		else if (ret == -EMSGSIZE)
			oversize++;
		else
			errors++;
	}
	rte_pktmbuf_free_bulk(dq->mbufs, nb);
	queue_exit(dq);
	if (oversize)
		stat_add(&dq->stats.rx_oversize, oversize);
	if (errors)
		stat_add(&dq->stats.rx_errors, errors);
	return (int)got;
}

/* Up to DPDK_BURST frames of @f through queue @dq: how many were taken. */
static unsigned int tx_chunk(struct net_port *p, unsigned int q,
			     struct dpdk_queue *dq, struct net_frame *f,
			     unsigned int n)
{
	struct rte_eth_link link;
	unsigned int taken = 0;   /* frames consumed from f[] */
	unsigned int built = 0;   /* mbufs in dq->mbufs */
	unsigned int dropped = 0;
	unsigned int errors = 0;
	/* Per frame: its mbuf's index, or a refusal. Counted only up to
	 * the frames finally taken: the rest are offered again. */
	int16_t mbuf_of[DPDK_BURST];
	unsigned int frame_of[DPDK_BURST];
	unsigned int i;
	uint16_t sent;

	for (; taken < n; taken++) {
		int ret = net_dpdk_frame_to_mbuf(p->pool, &f[taken],
						 p->dev_off,
						 &dq->mbufs[built]);

		if (ret == -ENOBUFS)
			break;   /* pool empty: back-pressure */
		if (ret == -EOPNOTSUPP) {
			mbuf_of[taken] = TX_REFUSED;
		} else if (ret < 0) {
			mbuf_of[taken] = TX_MALFORMED;
		} else {
			mbuf_of[taken] = (int16_t)built;
			frame_of[built++] = taken;
		}
	}
	sent = built ? rte_eth_tx_burst(p->port_id, (uint16_t)q, dq->mbufs,
					(uint16_t)built) : 0;
	if (sent < built) {
		/* A peer that went away takes nothing until it is back:
		 * drop and count rather than stall the guest. Else it is
		 * back-pressure: the frames from the first unsent one on
		 * are offered again by the caller. */
		if (rte_eth_link_get_nowait(p->port_id, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_DOWN)
			dropped += built - sent;
		else
			taken = frame_of[sent];
		rte_pktmbuf_free_bulk(&dq->mbufs[sent], built - sent);
	}
	for (i = 0; i < taken; i++) {
		dropped += mbuf_of[i] == TX_REFUSED;
		errors += mbuf_of[i] == TX_MALFORMED;
	}
	if (dropped)
		stat_add(&dq->stats.tx_dropped, dropped);
	if (errors)
		stat_add(&dq->stats.tx_errors, errors);
	return taken;
}

/* The caller's whole batch, a burst at a time, until the device stops
 * taking frames (back-pressure: the rest is offered again). */
static int dpdk_tx_burst(struct net_port *p, unsigned int q,
			 struct net_frame *f, unsigned int n)
{
	struct dpdk_queue *dq;
	unsigned int taken = 0, chunk, got;

	if (q >= p->active_queues ||
	    !__atomic_load_n(&p->enabled, __ATOMIC_ACQUIRE))
		return 0;
	dpdk_thread_register();
	dq = &p->q[q];
	if (!queue_enter(p, dq)) {
		/* the device restarts because its peer is away */
		stat_add(&dq->stats.tx_dropped, n);
		return (int)n;
	}
	while (taken < n) {
		chunk = n - taken < DPDK_BURST ? n - taken : DPDK_BURST;
		got = tx_chunk(p, q, dq, f + taken, chunk);
		taken += got;
		if (got < chunk)
			break;
	}
	queue_exit(dq);
	return (int)taken;
}

unsigned int net_dpdk_host_offloads(const struct net_port *p)
{
	return NET_OFF_CSUM | (p->dev_off & (NET_OFF_TSO4 | NET_OFF_TSO6));
}

static void dpdk_get_stats(struct net_port *p, unsigned int q,
			   struct net_port_stats *out)
{
	const struct net_port_stats *s;

	memset(out, 0, sizeof(*out));
	if (q >= p->nr_queues)
		return;
	s = &p->q[q].stats;
	out->rx_oversize = __atomic_load_n(&s->rx_oversize, __ATOMIC_RELAXED);
	out->rx_errors = __atomic_load_n(&s->rx_errors, __ATOMIC_RELAXED);
	out->tx_dropped = __atomic_load_n(&s->tx_dropped, __ATOMIC_RELAXED);
	out->tx_errors = __atomic_load_n(&s->tx_errors, __ATOMIC_RELAXED);
}

static unsigned int dpdk_host_offloads(struct net_port *p)
{
	return net_dpdk_host_offloads(p);
}

const struct net_port_ops net_port_dpdk_ops = {
	.name = "dpdk",
	.open = dpdk_open,
	.close = dpdk_close,
	.enable = dpdk_enable,
	.disable = dpdk_disable,
	.set_carrier = dpdk_set_carrier,
	.queue_fd = dpdk_queue_fd,
	.rx_burst = dpdk_rx_burst,
	.tx_burst = dpdk_tx_burst,
	.get_stats = dpdk_get_stats,
	.host_offloads = dpdk_host_offloads,
};
