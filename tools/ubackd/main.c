/* SPDX-License-Identifier: MIT */
/*
 * ubackd: serve every backend/vbd and backend/vif device of this domain
 * with one uback data process each (ubackd.h, docs/operating.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uback/hv.h"
#include "uback/log.h"
#include "uback/xs.h"
#include "ubackd.h"

#ifndef UBACK_BINDIR
#define UBACK_BINDIR "/usr/local/bin"
#endif
#define DEFAULT_CONFIG "/etc/uback/ubackd.conf"

static void usage(FILE *f)
{
	fprintf(f,
"usage: ubackd [options]\n"
"  --hv xen|sim            hypervisor provider (default: xen if present)\n"
"  --sim-dir DIR           xensim directory (default $XENSIM_DIR)\n"
"  --self-domid S          our domain (default 0; a driver domain's id)\n"
"  --run-dir DIR           state directory (default /run/uback)\n"
"  --config FILE           per-device options (default " DEFAULT_CONFIG
" if present)\n"
"  --blk-bin PATH          uback-blk binary (default " UBACK_BINDIR
"/uback-blk)\n"
"  --net-bin PATH          uback-net binary (default " UBACK_BINDIR
"/uback-net)\n"
"  --no-vbd, --no-vif      do not serve that kind\n"
"  --metrics-port N        Prometheus text on http://127.0.0.1:N/metrics\n"
"  --sysfs DIR             sysfs root for the kernel backend check (/sys)\n"
"  --ignore-kernel-backends  start even if xen-blkback/netback is bound\n"
"  --log err|warn|info|debug\n");
}

static int parse_args(int argc, char **argv, struct ud_config *c)
{
	static const struct option lo[] = {
		{ "hv", required_argument, NULL, 'H' },
		{ "sim-dir", required_argument, NULL, 'S' },
		{ "self-domid", required_argument, NULL, 's' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "blk-bin", required_argument, NULL, 'b' },
		{ "net-bin", required_argument, NULL, 'n' },
		{ "no-vbd", no_argument, NULL, 'B' },
		{ "no-vif", no_argument, NULL, 'N' },
		{ "metrics-port", required_argument, NULL, 'm' },
		{ "sysfs", required_argument, NULL, 'y' },
		{ "ignore-kernel-backends", no_argument, NULL, 'K' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long v;
	int o;

	*c = (struct ud_config){
		.run_dir = "/run/uback",
		.sysfs = "/sys",
		.blk_bin = UBACK_BINDIR "/uback-blk",
		.net_bin = UBACK_BINDIR "/uback-net",
		.vbd = true,
		.vif = true,
		.check_kernel = true,
	};
	if (access(DEFAULT_CONFIG, R_OK) == 0)
		c->config_file = DEFAULT_CONFIG;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'H': c->hv = optarg; break;
		case 'S': c->sim_dir = optarg; break;
		case 'r': c->run_dir = optarg; break;
		case 'c': c->config_file = optarg; break;
		case 'b': c->blk_bin = optarg; break;
		case 'n': c->net_bin = optarg; break;
		case 'B': c->vbd = false; break;
		case 'N': c->vif = false; break;
		case 'y': c->sysfs = optarg; break;
		case 'K': c->check_kernel = false; break;
		case 's':
		case 'm':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 0 ||
			    v > (o == 's' ? DOMID_FIRST_RESERVED - 1 : 65535)) {
				fprintf(stderr, "ubackd: bad value '%s'\n",
					optarg);
				return -EINVAL;
			}
			if (o == 's')
				c->self = (unsigned int)v;
			else
				c->metrics_port = (int)v;
			break;
		case 'l': {
			enum xb_log_level lvl;

			if (xb_log_level_parse(optarg, &lvl))
				return -EINVAL;
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
	if (optind != argc || (!c->vbd && !c->vif)) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/*
 * The kernel's backends register a driver on the xen-backend bus; while
 * they do, the kernel claims every new backend/vbd (vif) device of this
 * domain, and two backends on one device corrupt it.
 */
static int check_kernel(const struct ud_config *c)
{
	static const struct {
		const char *kind, *module, *drv;
	} k[] = {
		{ "vbd", "xen-blkback", "vbd" },
		{ "vif", "xen-netback", "vif" },
	};
	char path[PATH_MAX];
	unsigned int i;
	struct stat st;
	int bad = 0;

	for (i = 0; i < 2; i++) {
		if ((i == 0 && !c->vbd) || (i == 1 && !c->vif))
			continue;
		snprintf(path, sizeof(path), "%s/bus/xen-backend/drivers/%s",
			 c->sysfs, k[i].drv);
		if (stat(path, &st))
			continue;
		xb_err("the kernel's %s is bound (%s): it would serve the same "
		       "backend/%s devices as uback. Unload it (rmmod %s; to "
		       "keep it unloaded: echo 'blacklist %s' > "
		       "/etc/modprobe.d/uback.conf), or run ubackd in a driver"
		       " domain whose kernel has no %s, or start ubackd with "
		       "--no-%s to leave %s devices to the kernel",
		       k[i].module, path, k[i].kind, k[i].module, k[i].module,
		       k[i].module, k[i].kind, k[i].kind);
		bad = 1;
	}
	return bad ? -EBUSY : 0;
}

static int watch_kinds(struct ud *ud)
{
	static const char *const kinds[] = { "vbd", "vif" };
	char path[96];
	unsigned int i;
	int ret;

	for (i = 0; i < 2; i++) {
		if ((i == 0 && !ud->cfg.vbd) || (i == 1 && !ud->cfg.vif))
			continue;
		snprintf(path, sizeof(path), "/local/domain/%u/backend/%s",
			 ud->cfg.self, kinds[i]);
		ret = xb_xs_watch(ud->xs, path, kinds[i]);
		if (ret) {
			xb_err("cannot watch %s: %s", path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int xs_events(struct ud *ud)
{
	unsigned int i;
	char **vec;
	int ret;

	/* Bounded per wake-up; libxenstore keeps the fd readable. */
	for (i = 0; i < 4096; i++) {
		ret = xb_xs_read_watch(ud->xs, &vec);
		if (ret == -EAGAIN)
			return 0;
		if (ret)
			return ret;
		ud_xs_event(ud, vec[XS_WATCH_PATH]);
		free(vec);
	}
	return 0;
}

static void free_rules(struct ud *ud)
{
	unsigned int i;

	for (i = 0; i < ud->nrules; i++) {
		free(ud->rules[i].kind);
		free(ud->rules[i].match);
		free(ud->rules[i].args);
	}
	free(ud->rules);
	ud->rules = NULL;
	ud->nrules = 0;
}

int main(int argc, char **argv)
{
	struct xb_hv_config hcfg = { 0 };
	struct epoll_event ev, evs[32];
	struct ud ud = { .ctl_fd = -1, .metrics_fd = -1, .epfd = -1 };
	char lock_path[PATH_MAX + 16];
	int sfd, lock_fd, ret, rc = 1, i, n;
	sigset_t mask;

	xb_log_set_ident("ubackd");
	if (parse_args(argc, argv, &ud.cfg))
		return 2;
	if (ud.cfg.check_kernel && check_kernel(&ud.cfg))
		return 1;
	if (ud.cfg.config_file) {
		ret = ud_config_load(&ud, ud.cfg.config_file);
		if (ret) {
			xb_err("config %s: %s", ud.cfg.config_file,
			       strerror(-ret));
			free_rules(&ud);
			return 1;
		}
	}
	if (mkdir(ud.cfg.run_dir, 0700) && errno != EEXIST) {
		xb_err("%s: %s", ud.cfg.run_dir, strerror(errno));
		free_rules(&ud);
		return 1;
	}
	snprintf(lock_path, sizeof(lock_path), "%s/ubackd.lock",
		 ud.cfg.run_dir);
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB)) {
		xb_err("another ubackd runs on %s", ud.cfg.run_dir);
		if (lock_fd >= 0)
			close(lock_fd);
		free_rules(&ud);
		return 1;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	hcfg.provider = ud.cfg.hv;
	hcfg.sim_dir = ud.cfg.sim_dir;
	hcfg.sim_domid = (domid_t)ud.cfg.self;
	ret = xb_hv_open(&hcfg, &ud.hv);
	if (ret) {
		xb_err("hypervisor provider: %s", strerror(-ret));
		goto out_sig;
	}
	ret = xb_hv_xs_open(ud.hv, &ud.xs);
	if (ret) {
		xb_err("xenstore: %s", strerror(-ret));
		goto out_hv;
	}
	ud.epfd = epoll_create1(EPOLL_CLOEXEC);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = UD_EV_XS };
	if (ud.epfd < 0 ||
	    epoll_ctl(ud.epfd, EPOLL_CTL_ADD, xb_xs_watch_fd(ud.xs), &ev))
		goto out_xs;
	ev.data.u64 = UD_EV_SIGNAL;
	if (sfd < 0 || epoll_ctl(ud.epfd, EPOLL_CTL_ADD, sfd, &ev))
		goto out_xs;
	if (ud_ctl_open(&ud))
		goto out_xs;
	if (ud.cfg.metrics_port && ud_metrics_open(&ud))
		goto out_ctl;

	/* Live processes first, so the scan does not start second ones. */
	ud_adopt_existing(&ud);
	if (watch_kinds(&ud))
		goto out_ctl;
	if (ud.cfg.vbd)
		ud_scan(&ud, "vbd", -1, -1);
	if (ud.cfg.vif)
		ud_scan(&ud, "vif", -1, -1);
	xb_info("watching domain %u's backends (%s%s), run dir %s",
		ud.cfg.self, ud.cfg.vbd ? "vbd " : "", ud.cfg.vif ? "vif" : "",
		ud.cfg.run_dir);

	while (!ud.stop) {
		int timeout = ud_run_timers(&ud);

		n = epoll_wait(ud.epfd, evs, 32, timeout);
		if (n < 0 && errno != EINTR) {
			xb_err("epoll: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == UD_EV_XS) {
				ret = xs_events(&ud);
				if (ret) {
					xb_err("xenstore: %s", strerror(-ret));
					ud.stop = true;
				}
			} else if (tag == UD_EV_CTL) {
				ud_ctl_accept(&ud);
			} else if (tag == UD_EV_METRICS) {
				ud_metrics_accept(&ud);
			} else if (tag == UD_EV_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si))
					xb_info("signal %u: exiting; data "
						"processes keep running",
						si.ssi_signo);
				ud.stop = true;
				rc = 0;
			} else {
				ud_dev_died(&ud, (struct ud_dev *)(uintptr_t)tag);
			}
		}
	}
	/* Data processes are left running: a new ubackd adopts them. */
out_ctl:
	ud_ctl_close(&ud);
out_xs:
	if (ud.epfd >= 0)
		close(ud.epfd);
	xs_close(ud.xs);
out_hv:
	xb_hv_close(ud.hv);
out_sig:
	if (sfd >= 0)
		close(sfd);
	close(lock_fd);
	while (ud.devs) {
		struct ud_dev *d = ud.devs;

		ud.devs = d->next;
		if (d->pidfd >= 0)
			close(d->pidfd);
		free(d);
	}
	free_rules(&ud);
	return rc;
}
