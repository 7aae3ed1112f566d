/* SPDX-License-Identifier: MIT */
/*
 * uback-net: serve one vif device.
 *
 * The main thread runs the XenBus state machine, the control ring and
 * writes the counters file; each queue has its own thread. Exits 0 when
 * the toolstack removed the device or on SIGINT/SIGTERM (after
 * disconnecting cleanly).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "uback/hv.h"
#include "uback/log.h"
#include "uback/xenbus.h"
#include "vif.h"

struct opts {
	const char *hv;
	const char *sim_dir;
	const char *backend;
	long domid, devid, self;
	const char *stats;
	unsigned int stats_ms;
	struct net_vif_config vif;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: uback-net [options] (--backend PATH | --domid D --devid N | PATH)\n"
"  --hv xen|sim            hypervisor provider (default: xen if present)\n"
"  --sim-dir DIR           xensim directory (default $XENSIM_DIR)\n"
"  --backend PATH          backend xenstore dir of the device\n"
"  --domid D --devid N     ... or the guest and device number\n"
"  --self-domid S          our domain (default 0)\n"
"  --port tap|loop|dpdk:<devargs>  host side (default loop)\n"
"  --ifname NAME           host device name (default: the vifname key,\n"
"                          else vif<domid>.<devid>)\n"
"  --queues N              multi-queue-max-queues (default min(4, CPUs),\n"
"                          max 16)\n"
"  --tx-max-slots N        TX slots per packet accepted (default 18)\n"
"  --tx-fatal-slots N      beyond this the frontend is failed (default 20,\n"
"                          max 64); in between packets are dropped\n"
"  --rx-stall-ms MS        drop frames held for a guest that posts no\n"
"                          receive buffers for MS (default 500)\n"
"  --poll-us N             poll period of ports without fd (dpdk; 50)\n"
"  --stats FILE            write counters to FILE while running\n"
"  --stats-interval MS     how often (default 1000)\n"
"  --log err|warn|info|debug\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "hv", required_argument, NULL, 'H' },
		{ "sim-dir", required_argument, NULL, 'S' },
		{ "backend", required_argument, NULL, 'b' },
		{ "domid", required_argument, NULL, 'd' },
		{ "devid", required_argument, NULL, 'n' },
		{ "self-domid", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "ifname", required_argument, NULL, 'i' },
		{ "queues", required_argument, NULL, 'q' },
		{ "tx-max-slots", required_argument, NULL, 'm' },
		{ "tx-fatal-slots", required_argument, NULL, 'f' },
		{ "rx-stall-ms", required_argument, NULL, 'r' },
		{ "poll-us", required_argument, NULL, 'P' },
		{ "stats", required_argument, NULL, 't' },
		{ "stats-interval", required_argument, NULL, 'T' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->domid = o->devid = -1;
	o->stats_ms = 1000;
	net_vif_config_defaults(&o->vif);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'H': o->hv = optarg; break;
		case 'S': o->sim_dir = optarg; break;
		case 'b': o->backend = optarg; break;
		case 't': o->stats = optarg; break;
		case 'i': o->vif.ifname = optarg; break;
		case 'p':
			if (net_port_lookup(optarg, &o->vif.port_ops,
					    &o->vif.port_args)) {
				fprintf(stderr, "uback-net: unknown port '%s' "
					"in this build\n", optarg);
				return -EINVAL;
			}
			break;
		case 'd':
			if (parse_uint(optarg, DOMID_FIRST_RESERVED - 1, &v))
				goto bad;
			o->domid = (long)v;
			break;
		case 's':
			if (parse_uint(optarg, DOMID_FIRST_RESERVED - 1, &v))
				goto bad;
			o->self = (long)v;
			break;
		case 'n':
			if (parse_uint(optarg, INT_MAX, &v))
				goto bad;
			o->devid = (long)v;
			break;
		case 'q':
			if (parse_uint(optarg, NET_MAX_QUEUES, &v) || !v)
				goto bad;
			o->vif.max_queues = (uint32_t)v;
			break;
		case 'm':
			if (parse_uint(optarg, NET_TX_FATAL_SLOTS_MAX, &v) ||
			    v < XEN_NETIF_NR_SLOTS_MIN)
				goto bad;
			o->vif.tx_limits.max_slots = (uint32_t)v;
			break;
		case 'f':
			if (parse_uint(optarg, NET_TX_FATAL_SLOTS_MAX, &v) ||
			    v < XEN_NETIF_NR_SLOTS_MIN)
				goto bad;
			o->vif.tx_limits.fatal_slots = (uint32_t)v;
			break;
		case 'r':
			if (parse_uint(optarg, 600000, &v) || !v)
				goto bad;
			o->vif.rx_stall_ms = (uint32_t)v;
			break;
		case 'P':
			if (parse_uint(optarg, 1000000, &v) || !v)
				goto bad;
			o->vif.poll_us = (uint32_t)v;
			break;
		case 'T':
			if (parse_uint(optarg, 3600000, &v) || v < 10)
				goto bad;
			o->stats_ms = (unsigned int)v;
			break;
		case 'l':
			if (!strcmp(optarg, "err"))
				xb_log_set_level(XB_LOG_ERR);
			else if (!strcmp(optarg, "warn"))
				xb_log_set_level(XB_LOG_WARN);
			else if (!strcmp(optarg, "info"))
				xb_log_set_level(XB_LOG_INFO);
			else if (!strcmp(optarg, "debug"))
				xb_log_set_level(XB_LOG_DEBUG);
			else
				goto bad;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (o->vif.tx_limits.fatal_slots < o->vif.tx_limits.max_slots) {
		fprintf(stderr, "uback-net: --tx-fatal-slots below "
			"--tx-max-slots\n");
		return -EINVAL;
	}
	if (!o->backend && o->domid < 0 && o->devid < 0 && optind == argc - 1)
		o->backend = argv[optind++];
	if (optind != argc ||
	    (!o->backend && (o->domid < 0 || o->devid < 0)) ||
	    (o->backend && (o->domid >= 0 || o->devid >= 0))) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "uback-net: bad option value '%s'\n", optarg);
	usage(stderr);
	return -EINVAL;
}

static uint64_t tv_us(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

static void write_stats(const char *path, const struct net_vif *vif)
{
	char tmp[PATH_MAX];
	struct rusage ru;
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	f = fopen(tmp, "w");
	if (!f)
		return;
	net_vif_print_stats(f, vif);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(f, "cpu_user_us=%" PRIu64 "\ncpu_sys_us=%" PRIu64 "\n",
			tv_us(&ru.ru_utime), tv_us(&ru.ru_stime));
	if (fclose(f) == 0)
		rename(tmp, path);
	else
		unlink(tmp);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct xb_hv_config hcfg = { 0 };
	struct net_vif *vif = NULL;
	struct xb_dev *dev = NULL;
	struct xb_hv *hv = NULL;
	struct pollfd pfd[6];
	char path[128], ident[192];
	uint64_t next_stats = 0;
	unsigned int n;
	sigset_t mask;
	struct opts o;
	int ret, sfd, rc = 1;

	if (parse_args(argc, argv, &o))
		return 2;
	if (o.backend)
		snprintf(path, sizeof(path), "%s", o.backend);
	else
		snprintf(path, sizeof(path), "/local/domain/%ld/backend/vif/%ld/%ld",
			 o.self, o.domid, o.devid);
	snprintf(ident, sizeof(ident), "uback-net[%s]",
		 strstr(path, "/backend/") ? strstr(path, "/backend/") + 9 : path);
	xb_log_set_ident(ident);

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	/* Blocked before any thread starts: queue threads inherit it. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		xb_err("signalfd: %s", strerror(errno));
		return 1;
	}

	hcfg.provider = o.hv;
	hcfg.sim_dir = o.sim_dir;
	hcfg.sim_domid = (domid_t)o.self;
	ret = xb_hv_open(&hcfg, &hv);
	if (ret)
		goto out_sfd;
	ret = net_vif_create(&o.vif, &vif);
	if (ret) {
		xb_err("bad configuration: %s", strerror(-ret));
		goto out_hv;
	}
	ret = xb_dev_open(hv, path, &net_vif_ops, vif, &dev);
	if (ret) {
		xb_err("cannot open device %s: %s", path, strerror(-ret));
		goto out_vif;
	}
	xb_info("serving %s (port %s)", path, o.vif.port_ops->name);

	for (;;) {
		int timeout = -1;

		/* The first round processes without waiting: a frontend
		 * may already be waiting for us. */
		ret = xb_dev_process(dev);
		if (ret == 1) {
			xb_info("device removed");
			rc = 0;
			break;
		}
		if (ret < 0) {
			xb_err("xenstore failure: %s", strerror(-ret));
			break;
		}
		net_vif_process(dev);
		n = 0;
		pfd[n++] = (struct pollfd){ .fd = xb_dev_fd(dev), .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		n += net_vif_fds(vif, pfd + n, 6 - n);
		if (o.stats) {
			uint64_t t = now_ms();

			if (t >= next_stats) {
				write_stats(o.stats, vif);
				next_stats = t + o.stats_ms;
			}
			timeout = (int)(next_stats - t);
		}
		ret = poll(pfd, n, timeout);
		if (ret < 0 && errno != EINTR) {
			xb_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				xb_info("signal %u: shutting down", si.ssi_signo);
			rc = 0;
			break;
		}
	}
	if (o.stats)
		write_stats(o.stats, vif);
	xb_dev_close(dev);
out_vif:
	net_vif_destroy(vif);
out_hv:
	xb_hv_close(hv);
out_sfd:
	close(sfd);
	return rc;
}
