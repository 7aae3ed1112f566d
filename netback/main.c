/* SPDX-License-Identifier: MIT */
/*
 * uback-net: serve one vif device.
 *
 * The main thread runs the XenBus state machine, the control ring and
 * writes the counters file; each queue has its own thread. Exits 0 when
 * the toolstack removed the device or on SIGINT/SIGTERM (after
 * disconnecting cleanly), or on SIGUSR1 after detaching: the device
 * stays Connected, the tap stays, and the next process started with the
 * same --state-dir adopts them (state.h).
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
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/if_tun.h>
#include <time.h>
#include <unistd.h>

#include "uback/hv.h"
#include "uback/log.h"
#include "uback/sandbox.h"
#include "uback/xenbus.h"
#include "state.h"
#include "vif.h"

struct opts {
	const char *hv;
	const char *sim_dir;
	const char *backend;
	long domid, devid, self;
	const char *stats;
	unsigned int stats_ms;
	struct net_vif_config vif;
	int sandbox;                  /* 1 on, 0 off, -1 default */
	const char *sandbox_user;
	const char *state_dir;        /* the state file (--state-dir) */
	/* Hidden, for tests of the sandbox: once sandboxed, make a
	 * forbidden call ("execve", "tunsetpersist" on the tap,
	 * "socket-inet"), or "socket-unix" (allowed for DPDK ports). */
	const char *debug_forbidden;
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
"  --port tap|loop|dpdk:<devargs>  host side (default tap)\n"
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
"  --poll-max-us N         ... doubled while idle up to N (default 1000;\n"
"                          N <= --poll-us: no back-off)\n"
"  --spin-us N             after work, look for more N us before sleeping\n"
"                          (default 0: sleep at once; paused 100 ms after\n"
"                          4 spins in a row that found nothing)\n"
"  --state-dir DIR         keep the vif's state (vif.state) there and make\n"
"                          the tap persistent: a new process adopts a\n"
"                          live vif without renegotiation (see\n"
"                          docs/operating.md); SIGUSR1 detaches\n"
"  --stats FILE            write counters to FILE while running\n"
"  --stats-interval MS     how often (default 1000)\n"
"  --sandbox-user NAME     user to run as once the device is open\n"
"                          (default uback, else nobody)\n"
"  --no-sandbox            keep root, no system call filter (debugging;\n"
"                          the default with DPDK devices other than\n"
"                          net_ring, net_null, net_memif,\n"
"                          net_virtio_user and net_vhost)\n"
"  --sandbox               sandbox a DPDK device even so\n"
"  --log err|warn|info|debug\n");
}

static bool is_dpdk(const struct opts *o)
{
	return !strcmp(o->vif.port_ops->name, "dpdk");
}

/*
 * DPDK devices run sandboxed by default only where tests show they work
 * (test_net_sandbox, test_net_sim, test_net_dpdk_e2e): net_ring,
 * net_null, net_memif (both roles, its server restarting),
 * net_virtio_user and net_vhost. PCI devices (VFIO) are run sandboxed
 * by no test: off unless --sandbox (docs/security.md).
 */
static bool dpdk_sandbox_tested(const struct opts *o)
{
	static const char *const tested[] = {
		"net_ring", "net_null", "net_memif", "net_virtio_user",
		"net_vhost",
	};
	const char *a = o->vif.port_args ? o->vif.port_args : "";
	size_t i;

	for (i = 0; i < sizeof(tested) / sizeof(tested[0]); i++)
		if (!strncmp(a, tested[i], strlen(tested[i])))
			return true;
	return false;
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
		{ "poll-max-us", required_argument, NULL, 0x104 },
		{ "spin-us", required_argument, NULL, 'W' },
		{ "stats", required_argument, NULL, 't' },
		{ "state-dir", required_argument, NULL, 'j' },
		{ "stats-interval", required_argument, NULL, 'T' },
		{ "log", required_argument, NULL, 'l' },
		{ "no-sandbox", no_argument, NULL, 0x100 },
		{ "sandbox-user", required_argument, NULL, 0x101 },
		{ "debug-forbidden-syscall", required_argument, NULL, 0x102 },
		{ "sandbox", no_argument, NULL, 0x103 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->domid = o->devid = -1;
	o->stats_ms = 1000;
	o->sandbox = -1;
	net_vif_config_defaults(&o->vif);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'H': o->hv = optarg; break;
		case 'S': o->sim_dir = optarg; break;
		case 'b': o->backend = optarg; break;
		case 't': o->stats = optarg; break;
		case 'j': o->state_dir = optarg; break;
		case 'i': o->vif.ifname = optarg; break;
		case 0x100: o->sandbox = 0; break;
		case 0x103: o->sandbox = 1; break;
		case 0x101: o->sandbox_user = optarg; break;
		case 0x102:
			if (strcmp(optarg, "execve") &&
			    strcmp(optarg, "tunsetpersist") &&
			    strcmp(optarg, "socket-inet") &&
			    strcmp(optarg, "socket-unix"))
				goto bad;
			o->debug_forbidden = optarg;
			break;
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
		case 0x104:
			if (parse_uint(optarg, 1000000, &v) || !v)
				goto bad;
			o->vif.poll_max_us = (uint32_t)v;
			break;
		case 'W':
			if (parse_uint(optarg, 1000000, &v))
				goto bad;
			o->vif.spin_us = (uint32_t)v;
			break;
		case 'T':
			if (parse_uint(optarg, 3600000, &v) || v < 10)
				goto bad;
			o->stats_ms = (unsigned int)v;
			break;
		case 'l': {
			enum xb_log_level lvl;

			if (xb_log_level_parse(optarg, &lvl))
				goto bad;
			xb_log_set_level(lvl);
			break;
		}
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
	if (o->sandbox < 0)
		o->sandbox = !is_dpdk(o) || dpdk_sandbox_tested(o);
	o->vif.carrier_only = o->sandbox;
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

static void print_stats(FILE *f, const struct net_vif *vif)
{
	struct rusage ru;

	net_vif_print_stats(f, vif);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(f, "cpu_user_us=%" PRIu64 "\ncpu_sys_us=%" PRIu64 "\n",
			tv_us(&ru.ru_utime), tv_us(&ru.ru_stime));
}

struct stats_out {
	const char *path;
	int fd;          /* >= 0: write in place (sandboxed) */
	size_t len;
};

/*
 * Unsandboxed: a new file renamed over the old one (readers never see
 * half a file). Sandboxed: the file was opened before the privilege drop
 * (open is forbidden afterwards) and is rewritten in place with one
 * pwrite, a shorter text padded with newlines.
 */
static void write_stats(struct stats_out *so, const struct net_vif *vif)
{
	char tmp[PATH_MAX], *buf = NULL;
	size_t n = 0;
	FILE *f;

	if (so->fd >= 0) {
		f = open_memstream(&buf, &n);
		if (!f)
			return;
		print_stats(f, vif);
		/* open_memstream updates n only on a flush: without it the
		 * padding below would add the old length every time. */
		fflush(f);
		while (n < so->len && fputc('\n', f) != EOF)
			n++;
		if (fclose(f) == 0 && pwrite(so->fd, buf, n, 0) == (ssize_t)n)
			so->len = n;
		free(buf);
		return;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", so->path) >= (int)sizeof(tmp))
		return;
	f = fopen(tmp, "w");
	if (!f)
		return;
	print_stats(f, vif);
	if (fclose(f) == 0)
		rename(tmp, so->path);
	else
		unlink(tmp);
}

/* What uback-net adds to the sandbox's common lists: the tap port's
 * ioctls on the fds it holds (never TUNSETIFF, TUNSETPERSIST, or the
 * owner/group/link-type ones). The loop port needs nothing more. */
static const unsigned long net_ioctls[] = {
	TUNSETOFFLOAD, TUNSETQUEUE, TUNSETCARRIER,
};
/* A persistent tap (--state-dir) is made non-persistent when it is
 * removed for good; making one persistent stays forbidden. */
static const unsigned long net_ioctls_zero[] = { TUNSETPERSIST };

/*
 * What DPDK does after rte_eal_init and probe, on the descriptors it
 * holds (docs/security.md, "DPDK"): rte_thread_register (each queue
 * thread, at connect) looks up its CPU's NUMA node with access() on
 * sysfs; EAL alarms (the port's link watchdog) arm a timerfd; vhost-user
 * and memif servers accept on their listening socket; memif's socket
 * file and client regions (below). Unix sockets only (enter_sandbox).
 */
static const int dpdk_syscalls[] = {
#ifdef SYS_access
	SYS_access,
#endif
	SYS_faccessat, SYS_faccessat2,
#ifdef SYS_epoll_create
	SYS_epoll_create,
#endif
	SYS_timerfd_create, SYS_timerfd_settime, SYS_timerfd_gettime,
#ifdef SYS_accept
	SYS_accept,
#endif
	SYS_accept4,
	/* memif (server role) and vhost-user servers unlink their socket
	 * file when the port closes at removal. */
#ifdef SYS_unlink
	SYS_unlink,
#endif
	SYS_unlinkat,
	/* A memif client makes its shared regions anew at each reconnect:
	 * an anonymous memory file, sized, sealed (fcntl) and sent to the
	 * server; no path, and mapped without PROT_EXEC like all memory. */
	SYS_memfd_create, SYS_ftruncate,
	/* A vhost-user server asks which NUMA node the guest memory it was
	 * sent lives on (to place its queues there): a read-only query. */
	SYS_get_mempolicy,
};

/* Everything is open: xenstore, the hypervisor, the port (probe). */
static int enter_sandbox(const struct opts *o, struct xb_hv *hv)
{
	bool dpdk = is_dpdk(o);
	struct xb_sandbox_config sc = {
		.user = o->sandbox_user,
		.ioctls = net_ioctls,
		.nr_ioctls = sizeof(net_ioctls) / sizeof(net_ioctls[0]),
		.extra = dpdk ? dpdk_syscalls : NULL,
		.nr_extra = dpdk ? sizeof(dpdk_syscalls) /
				   sizeof(dpdk_syscalls[0]) : 0,
		.ioctls_zero = net_ioctls_zero,
		.nr_ioctls_zero = 1,
		/* A memif client connects anew (socket(AF_UNIX), connect)
		 * when its server appears or comes back, on the EAL
		 * interrupt thread: no other socket family is allowed. */
		.unix_connect = dpdk,
	};
	int ret;

	/* Grant and event channel handles for every queue and the control
	 * ring of any later connection: /dev/xen/ is out of reach then. */
	ret = xb_hv_reserve(hv, o->vif.max_queues + 1);
	if (ret) {
		xb_err("cannot open hypervisor handles: %s", strerror(-ret));
		return ret;
	}
	return xb_sandbox_enter(&sc);
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
	struct stats_out so = { .fd = -1 };
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
	bool detach = false;

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
	sigaddset(&mask, SIGUSR1);
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
	if (o.state_dir) {
		char sp[PATH_MAX];

		/* Opened now: the sandbox allows no open later, and a live
		 * device is adopted (from it) inside xb_dev_open. */
		if (snprintf(sp, sizeof(sp), "%s/vif.state", o.state_dir) >=
		    (int)sizeof(sp))
			ret = -ENAMETOOLONG;
		else
			ret = net_state_file_open(sp, o.vif.max_queues,
						  &o.vif.state_fd);
		if (ret) {
			xb_err("state file %s (%zu KiB for %u queues): %s", sp,
			       net_state_used_size(o.vif.max_queues) / 1024,
			       o.vif.max_queues, strerror(-ret));
			goto out_hv;
		}
	}
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
	so.path = o.stats;
	if (o.stats && o.sandbox) {
		so.fd = open(o.stats, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			     0644);
		if (so.fd < 0) {
			xb_err("cannot open %s: %s", o.stats, strerror(errno));
			goto out_dev;
		}
	}
	if (!o.sandbox) {
		bool untested = is_dpdk(&o) && !dpdk_sandbox_tested(&o);

		xb_warn("%s: running with full privileges and no system call "
			"filter (%s)",
			untested ? "--port dpdk" : "--no-sandbox",
			untested ? "this DPDK device is not tested sandboxed; "
				   "--sandbox forces it"
				 : "debugging only");
	} else {
		ret = enter_sandbox(&o, hv);
		if (ret) {
			xb_err("cannot enter the sandbox (%s)%s", strerror(-ret),
			       ret == -ENOTSUP ? ": pass --no-sandbox to run "
			       "without it" : "");
			goto out_dev;
		}
	}
	if (o.debug_forbidden && !strcmp(o.debug_forbidden, "execve")) {
		xb_info("debug: making a forbidden system call (execve)");
		execl("/bin/true", "true", (char *)NULL);
		xb_err("debug: execve returned: %s", strerror(errno));
		goto out_dev;
	}
	if (o.debug_forbidden && !strncmp(o.debug_forbidden, "socket-", 7)) {
		/* DPDK ports may open unix sockets only: the filter looks
		 * at the family. */
		int fam = strcmp(o.debug_forbidden, "socket-unix") ? AF_INET
								   : AF_UNIX;
		int fd = socket(fam, SOCK_DGRAM, 0);

		xb_err("debug: socket(%s) returned %d",
		       fam == AF_UNIX ? "AF_UNIX" : "AF_INET", fd);
		if (fd >= 0)
			close(fd);
		goto out_dev;
	}
	if (o.debug_forbidden) {
		int fd = net_vif_port_fd(vif, 0);

		xb_info("debug: making a forbidden ioctl (TUNSETPERSIST) on "
			"fd %d", fd);
		ret = ioctl(fd, TUNSETPERSIST, 1);
		xb_err("debug: TUNSETPERSIST returned %d (%s)", ret,
		       ret ? strerror(errno) : "ok");
		if (!ret && o.vif.state_fd < 0 && ioctl(fd, TUNSETPERSIST, 0))
			xb_err("debug: cannot clear persist again");
		goto out_dev;
	}

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
				write_stats(&so, vif);
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

			if (read(sfd, &si, sizeof(si)) == sizeof(si) &&
			    si.ssi_signo == SIGUSR1) {
				/* Live upgrade: finish the batches in
				 * flight and leave the device Connected and
				 * the tap for the next process. */
				xb_info("SIGUSR1: detaching for a successor");
				detach = true;
			} else {
				xb_info("signal %u: shutting down",
					si.ssi_signo);
			}
			rc = 0;
			break;
		}
	}
	if (detach) {
		net_vif_set_detach(vif);
		xb_dev_detach(dev);
		dev = NULL;
	}
	if (o.stats)
		write_stats(&so, vif);
out_dev:
	xb_dev_close(dev);
	if (so.fd >= 0)
		close(so.fd);
out_vif:
	net_vif_destroy(vif);
	if (o.vif.state_fd >= 0)
		close(o.vif.state_fd);
out_hv:
	xb_hv_close(hv);
out_sfd:
	close(sfd);
	return rc;
}
