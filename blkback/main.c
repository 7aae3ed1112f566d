/* SPDX-License-Identifier: MIT */
/*
 * uback-blk: serve one vbd device (docs/blkback.md).
 *
 * The main thread runs the XenBus state machine and writes the counters
 * file; each queue has its own thread. Exits 0 when the toolstack removed
 * the device or on SIGINT/SIGTERM (after disconnecting cleanly).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "uback/hv.h"
#include "uback/log.h"
#include "uback/sandbox.h"
#include "uback/testhook.h"
#include "uback/xenbus.h"
#include "journal.h"
#include "vbd.h"

struct opts {
	const char *hv;
	const char *sim_dir;
	const char *backend;
	const char *kind;
	long domid, devid, self;
	const char *stats;
	unsigned int stats_ms;
	bool sandbox;
	const char *sandbox_user;
	const char *state_dir;        /* request journals (--state-dir) */
	/* Hidden, for tests of the sandbox: once sandboxed, make a
	 * forbidden system call, or try to open a file through io_uring
	 * (which the system call filter does not see). */
	bool debug_forbidden;
	const char *debug_open;
	struct blk_vbd_config vbd;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: uback-blk [options] (--backend PATH | --domid D --devid N | PATH)\n"
"  --hv xen|sim            hypervisor provider (default: xen if present)\n"
"  --sim-dir DIR           xensim directory (default $XENSIM_DIR)\n"
"  --backend PATH          backend xenstore dir of the device\n"
"  --domid D --devid N     ... or the guest and device number\n"
"  --self-domid S          our domain (default 0)\n"
"  --kind vbd|vbd3         backend kind for --domid/--devid (default vbd)\n"
"  --image PATH            image file or block device (default: params)\n"
"  --readonly              serve read-only whatever `mode` says\n"
"  --queues N              multi-queue-max-queues (default 4, max 16)\n"
"  --ring-order N          max-ring-page-order (default 4, max 4)\n"
"  --indirect-segs N       feature-max-indirect-segments (default 256,\n"
"                          0 disables indirect, max 4096)\n"
"  --no-persistent         do not offer feature-persistent\n"
"  --persist-max N         persistent grants kept per queue (default:\n"
"                          ring slots x segments, 1056..8192)\n"
"  --persist-idle S        unmap persistent grants idle S seconds (60)\n"
"  --poll adaptive|off|US  before sleeping on the event channel, spin on\n"
"                          the ring for a learned period (adaptive, the\n"
"                          default: up to 50 us, none when requests are\n"
"                          over 25 us apart), never (off), or always US us\n"
"  --poll-us N             same as --poll N (0: off)\n"
"  --coalesce on|off       when the frontend is behind on our responses,\n"
"                          sleep until it sent that many more requests\n"
"                          (at most 50 us) instead of waking for each (on)\n"
"  --copy-pool KIB         without persistent grants, grant-copy through a\n"
"                          bounce pool of KIB per queue (16384; 0: map)\n"
"  --fixed-buffers auto|on|off  register the bounce pool with io_uring\n"
"                          (auto: block devices with O_DIRECT)\n"
"  --cpus A,B,...          run queue i and its io_uring workers on CPU\n"
"                          list[i %% n] (default: not pinned)\n"
"  --inline-io auto|on|off reads and writes as synchronous calls on the\n"
"                          queue thread instead of io_uring (auto: files\n"
"                          on tmpfs/ramfs, which io_uring can only serve\n"
"                          through its worker threads)\n"
"  --engine uring|null     I/O engine (default uring; null completes every\n"
"                          request at once without touching storage)\n"
"  --no-direct             buffered I/O instead of O_DIRECT\n"
"  --no-discard            do not offer discard\n"
"  --stats FILE            write counters to FILE while running\n"
"  --stats-interval MS     how often (default 1000)\n"
"  --state-dir DIR         request journals (q<N>.journal) there: a new\n"
"                          process adopts a live device (see\n"
"                          docs/operating.md); SIGUSR1 detaches\n"
"  --sandbox-user NAME     user to run as once the device is open\n"
"                          (default uback, else nobody)\n"
"  --no-sandbox            keep root, no system call filter (debugging)\n"
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

/* Long-only options, past every short option character. */
enum {
	OPT_NO_SANDBOX = 256,
	OPT_SANDBOX_USER,
	OPT_DEBUG_FORBIDDEN,
	OPT_DEBUG_OPEN,
	OPT_COALESCE,
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "hv", required_argument, NULL, 'H' },
		{ "sim-dir", required_argument, NULL, 'S' },
		{ "backend", required_argument, NULL, 'b' },
		{ "domid", required_argument, NULL, 'd' },
		{ "devid", required_argument, NULL, 'n' },
		{ "self-domid", required_argument, NULL, 's' },
		{ "kind", required_argument, NULL, 'k' },
		{ "image", required_argument, NULL, 'i' },
		{ "readonly", no_argument, NULL, 'r' },
		{ "queues", required_argument, NULL, 'q' },
		{ "ring-order", required_argument, NULL, 'o' },
		{ "indirect-segs", required_argument, NULL, 'I' },
		{ "no-persistent", no_argument, NULL, 'P' },
		{ "persist-max", required_argument, NULL, 'm' },
		{ "persist-idle", required_argument, NULL, 'e' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ "poll", required_argument, NULL, 'L' },
		{ "coalesce", required_argument, NULL, OPT_COALESCE },
		{ "copy-pool", required_argument, NULL, 'C' },
		{ "fixed-buffers", required_argument, NULL, 'F' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "engine", required_argument, NULL, 'E' },
		{ "inline-io", required_argument, NULL, 'N' },
		{ "no-direct", no_argument, NULL, 'D' },
		{ "no-discard", no_argument, NULL, 'X' },
		{ "stats", required_argument, NULL, 't' },
		{ "stats-interval", required_argument, NULL, 'T' },
		{ "log", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 'j' },
		{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
		{ "sandbox-user", required_argument, NULL, OPT_SANDBOX_USER },
		{ "debug-forbidden-syscall", no_argument, NULL,
		  OPT_DEBUG_FORBIDDEN },
		{ "debug-try-open", required_argument, NULL, OPT_DEBUG_OPEN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->domid = o->devid = -1;
	o->kind = "vbd";
	o->stats_ms = 1000;
	o->sandbox = true;
	blk_vbd_config_defaults(&o->vbd);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'H': o->hv = optarg; break;
		case 'S': o->sim_dir = optarg; break;
		case 'b': o->backend = optarg; break;
		case 'k': o->kind = optarg; break;
		case 'i': o->vbd.image = optarg; break;
		case 'r': o->vbd.force_readonly = true; break;
		case 'P': o->vbd.persistent = false; break;
		case 'D': o->vbd.direct = false; break;
		case 'X': o->vbd.discard = false; break;
		case 't': o->stats = optarg; break;
		case 'j': o->state_dir = optarg; break;
		case OPT_NO_SANDBOX: o->sandbox = false; break;
		case OPT_SANDBOX_USER: o->sandbox_user = optarg; break;
		case OPT_DEBUG_FORBIDDEN: o->debug_forbidden = true; break;
		case OPT_DEBUG_OPEN: o->debug_open = optarg; break;
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
			if (parse_uint(optarg, BLK_MAX_QUEUES, &v) || !v)
				goto bad;
			o->vbd.max_queues = (uint32_t)v;
			break;
		case 'o':
			if (parse_uint(optarg, BLK_MAX_RING_ORDER, &v))
				goto bad;
			o->vbd.max_ring_order = (uint32_t)v;
			break;
		case 'I':
			if (parse_uint(optarg, BLK_MAX_INDIRECT_SEGS_LIMIT, &v) ||
			    (v && v < BLKIF_MAX_SEGMENTS_PER_REQUEST))
				goto bad;
			o->vbd.max_indirect_segs = (uint32_t)v;
			break;
		case 'm':
			if (parse_uint(optarg, 1u << 20, &v) || !v)
				goto bad;
			o->vbd.persist_max = (uint32_t)v;
			break;
		case 'e':
			if (parse_uint(optarg, 86400, &v) || !v)
				goto bad;
			o->vbd.persist_idle_s = (uint32_t)v;
			break;
		case 'L':
			if (!strcmp(optarg, "adaptive")) {
				o->vbd.poll_us = 0;
				o->vbd.poll_adaptive = true;
				break;
			}
			if (!strcmp(optarg, "off")) {
				o->vbd.poll_us = 0;
				o->vbd.poll_adaptive = false;
				break;
			}
			/* A number of microseconds: */
			__attribute__((fallthrough));
		case 'p':
			if (parse_uint(optarg, 1000000, &v))
				goto bad;
			o->vbd.poll_us = (uint32_t)v;
			o->vbd.poll_adaptive = false;
			break;
		case 'C':
			if (parse_uint(optarg, 1u << 22, &v))
				goto bad;
			o->vbd.copy_pool_kib = (uint32_t)v;
			break;
		case 'c': {
			char *tok, *save = NULL, *list = optarg;

			o->vbd.nr_cpus = 0;
			for (tok = strtok_r(list, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (parse_uint(tok, CPU_SETSIZE - 1, &v) ||
				    o->vbd.nr_cpus == BLK_MAX_QUEUES)
					goto bad;
				o->vbd.cpus[o->vbd.nr_cpus++] = (unsigned int)v;
			}
			if (!o->vbd.nr_cpus)
				goto bad;
			break;
		}
		case 'F':
			if (!strcmp(optarg, "on"))
				o->vbd.fixed_buffers = 1;
			else if (!strcmp(optarg, "off"))
				o->vbd.fixed_buffers = 0;
			else if (!strcmp(optarg, "auto"))
				o->vbd.fixed_buffers = -1;
			else
				goto bad;
			break;
		case 'E':
			if (blk_engine_lookup(optarg, &o->vbd.engine))
				goto bad;
			break;
		case OPT_COALESCE:
			if (!strcmp(optarg, "on"))
				o->vbd.coalesce = true;
			else if (!strcmp(optarg, "off"))
				o->vbd.coalesce = false;
			else
				goto bad;
			break;
		case 'N':
			if (!strcmp(optarg, "on"))
				o->vbd.inline_io = 1;
			else if (!strcmp(optarg, "off"))
				o->vbd.inline_io = 0;
			else if (!strcmp(optarg, "auto"))
				o->vbd.inline_io = -1;
			else
				goto bad;
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
	/* A lone positional argument is the backend path (as the fio
	 * engine's default command line "uback-blk --hv sim PATH"). */
	if (!o->backend && o->domid < 0 && o->devid < 0 && optind == argc - 1)
		o->backend = argv[optind++];
	if (optind != argc ||
	    (!o->backend && (o->domid < 0 || o->devid < 0)) ||
	    (o->backend && (o->domid >= 0 || o->devid >= 0)) ||
	    (strcmp(o->kind, "vbd") && strcmp(o->kind, "vbd3"))) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "uback-blk: bad option value '%s'\n", optarg);
	usage(stderr);
	return -EINVAL;
}

static uint64_t tv_us(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

static uint64_t thread_cpu_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

static void print_stats(FILE *f, const struct blk_vbd *vbd)
{
	struct rusage ru;

	blk_vbd_print_stats(f, vbd);
	/* Whole-process CPU time, for CPU cost per I/O (bench/blk). It
	 * includes the io_uring workers (io-wq threads belong to the
	 * process, also once exited); this thread's own share is given
	 * apart, the queue threads' in total.cpu_queue_us. */
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(f, "cpu_user_us=%" PRIu64 "\ncpu_sys_us=%" PRIu64
			"\ncpu_main_us=%" PRIu64 "\n",
			tv_us(&ru.ru_utime), tv_us(&ru.ru_stime),
			thread_cpu_us());
}

/* Unsandboxed: a new file renamed over the old one (readers never see
 * half a file). */
static void write_stats_rename(const char *path, const struct blk_vbd *vbd)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	f = fopen(tmp, "w");
	if (!f)
		return;
	print_stats(f, vbd);
	if (fclose(f) == 0)
		rename(tmp, path);
	else
		unlink(tmp);
}

/*
 * Sandboxed: the file was opened before the privilege drop (the stats
 * directory need not be writable by the sandbox user, and open is
 * forbidden anyway). Rewritten in place with one pwrite; a shorter text
 * is padded with newlines so no stale tail survives.
 */
static void write_stats_fd(int fd, size_t *len, const struct blk_vbd *vbd)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return;
	print_stats(f, vbd);
	/* open_memstream updates n only on a flush: without it the
	 * padding below would add the old length every time. */
	fflush(f);
	while (n < *len && fputc('\n', f) != EOF)
		n++;
	if (fclose(f) == 0 && pwrite(fd, buf, n, 0) == (ssize_t)n)
		*len = n;
	free(buf);
}

struct stats_out {
	const char *path;
	int fd;          /* >= 0: write in place (sandboxed) */
	size_t len;
};

static void write_stats(struct stats_out *so, const struct blk_vbd *vbd)
{
	if (so->fd >= 0)
		write_stats_fd(so->fd, &so->len, vbd);
	else
		write_stats_rename(so->path, vbd);
}

/* What uback-blk adds to the sandbox's common system call list. */
static const int blk_syscalls[] = {
	SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
	SYS_fsync, SYS_fdatasync, SYS_fallocate,
};
static const unsigned long blk_ioctls[] = { BLKDISCARD, BLKSECDISCARD };

/* Everything is open: the image (probe), xenstore, the hypervisor. */
static int enter_sandbox(const struct opts *o, struct xb_hv *hv)
{
	struct xb_sandbox_config sc = {
		.user = o->sandbox_user,
		.extra = blk_syscalls,
		.nr_extra = sizeof(blk_syscalls) / sizeof(blk_syscalls[0]),
		.ioctls = blk_ioctls,
		.nr_ioctls = sizeof(blk_ioctls) / sizeof(blk_ioctls[0]),
		/* Registered bounce pools: per queue the pool plus one
		 * 11-page chunk per slot of the largest ring. */
		.memlock_bytes = (uint64_t)o->vbd.max_queues *
			((uint64_t)o->vbd.copy_pool_kib * 1024 +
			 (uint64_t)XB_PAGE_SIZE * BLK_MAX_RING_PAGES / 64 *
			 BLKIF_MAX_SEGMENTS_PER_REQUEST * XB_PAGE_SIZE),
	};
	int ret;

	/* Grant and event channel handles for every queue of any later
	 * connection: /dev/xen/ is out of reach afterwards. */
	ret = xb_hv_reserve(hv, o->vbd.max_queues);
	if (ret) {
		xb_err("cannot open hypervisor handles: %s", strerror(-ret));
		return ret;
	}
	return xb_sandbox_enter(&sc);
}

/* The hidden --debug-* options (tests of the sandbox only). */
static int debug_try_open(const char *path)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_queue_init(2, &ring, 0);
	if (ret)
		return ret;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY, 0);
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret >= 0)
		ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret >= 0) {
		ret = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	if (ret >= 0) {
		close(ret);
		ret = 0;
	}
	return ret;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void close_journals(struct opts *o)
{
	unsigned int q;

	for (q = 0; o->vbd.journal && q < o->vbd.max_queues; q++)
		if (o->vbd.journal_fd[q] >= 0)
			close(o->vbd.journal_fd[q]);
	o->vbd.journal = false;
}

/* One journal file per queue the device may negotiate. */
static int open_journals(struct opts *o)
{
	char path[PATH_MAX];
	unsigned int q;
	int ret;

	for (q = 0; q < BLK_MAX_QUEUES; q++)
		o->vbd.journal_fd[q] = -1;
	o->vbd.journal = true;
	for (q = 0; q < o->vbd.max_queues; q++) {
		if (snprintf(path, sizeof(path), "%s/q%u.journal",
			     o->state_dir, q) >= (int)sizeof(path))
			ret = -ENAMETOOLONG;
		else
			ret = blk_journal_file_open(path,
						    &o->vbd.journal_fd[q]);
		if (ret) {
			xb_err("request journal %s: %s", path, strerror(-ret));
			close_journals(o);
			return ret;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct xb_hv_config hcfg = { 0 };
	struct stats_out so = { .fd = -1 };
	struct blk_vbd *vbd = NULL;
	struct xb_dev *dev = NULL;
	struct xb_hv *hv = NULL;
	struct pollfd pfd[3];
	char path[128], ident[192];
	uint64_t next_stats = 0;
	sigset_t mask;
	struct opts o;
	int ret, sfd, hook_fd = -1, rc = 1;
	bool detach = false;

	if (parse_args(argc, argv, &o))
		return 2;
	if (o.backend)
		snprintf(path, sizeof(path), "%s", o.backend);
	else
		snprintf(path, sizeof(path), "/local/domain/%ld/backend/%s/%ld/%ld",
			 o.self, o.kind, o.domid, o.devid);
	snprintf(ident, sizeof(ident), "uback-blk[%s]",
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
		/* Opened now: the sandbox allows no open later, and a live
		 * device is adopted (from them) inside xb_dev_open. */
		ret = open_journals(&o);
		if (ret)
			goto out_hv;
	}
	ret = blk_vbd_create(&o.vbd, &vbd);
	if (ret) {
		xb_err("bad configuration: %s", strerror(-ret));
		goto out_hv;
	}
	ret = xb_dev_open(hv, path, !strcmp(o.kind, "vbd3") ? &blk_vbd3_ops
							     : &blk_vbd_ops,
			  vbd, &dev);
	if (ret) {
		xb_err("cannot open device %s: %s", path, strerror(-ret));
		goto out_vbd;
	}
	xb_info("serving %s", path);
	so.path = o.stats;
	if (o.stats && o.sandbox) {
		so.fd = open(o.stats, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			     0644);
		if (so.fd < 0) {
			xb_err("cannot open %s: %s", o.stats, strerror(errno));
			goto out_dev;
		}
	}
	/* A no-op outside the test build (uback/testhook.h). */
	hook_fd = xb_testhook_open();
	if (!o.sandbox) {
		xb_warn("--no-sandbox: running with full privileges and no "
			"system call filter (debugging only)");
	} else {
		ret = enter_sandbox(&o, hv);
		if (ret) {
			xb_err("cannot enter the sandbox (%s)%s", strerror(-ret),
			       ret == -ENOTSUP ? ": pass --no-sandbox to run "
			       "without it" : "");
			goto out_dev;
		}
	}
	if (o.debug_forbidden) {
		xb_info("debug: making a forbidden system call (execve)");
		execl("/bin/true", "true", (char *)NULL);
		xb_err("debug: execve returned: %s", strerror(errno));
		goto out_dev;
	}
	if (o.debug_open) {
		ret = debug_try_open(o.debug_open);
		xb_info("debug: open %s through io_uring: %s", o.debug_open,
			ret ? strerror(-ret) : "opened");
		rc = ret == -EACCES ? 3 : ret ? 4 : 0;
		goto out_dev;
	}

	for (;;) {
		int timeout = -1;

		pfd[0] = (struct pollfd){ .fd = xb_dev_fd(dev), .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = hook_fd, .events = POLLIN };
		if (o.stats) {
			uint64_t t = now_ms();

			if (t >= next_stats) {
				write_stats(&so, vbd);
				next_stats = t + o.stats_ms;
			}
			timeout = (int)(next_stats - t);
		}
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
		ret = poll(pfd, 3, timeout);
		if (ret < 0 && errno != EINTR) {
			xb_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[2].revents & POLLIN)
			xb_testhook_fire(hook_fd);
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si) &&
			    si.ssi_signo == SIGUSR1) {
				/* Live upgrade: finish what is in flight and
				 * leave the device Connected for the next
				 * process (it adopts the rings). */
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
		/* The device stays Connected for the successor. */
		xb_dev_detach(dev);
		dev = NULL;
	}
	if (o.stats)
		write_stats(&so, vbd);
out_dev:
	xb_dev_close(dev);
	if (hook_fd >= 0)
		close(hook_fd);
	if (so.fd >= 0)
		close(so.fd);
out_vbd:
	blk_vbd_destroy(vbd);
	close_journals(&o);
out_hv:
	xb_hv_close(hv);
out_sfd:
	close(sfd);
	return rc;
}
