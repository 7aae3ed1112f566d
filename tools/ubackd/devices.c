/* SPDX-License-Identifier: MIT */
/*
 * ubackd's devices: start, adopt, supervise and restart one data process
 * per backend device.
 *
 * A process is watched through a pidfd, whether it is our child or was
 * adopted from an earlier ubackd (then its exit status is unknown, and
 * nothing depends on it: what happens after a death is decided from the
 * device's xenstore directory alone).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uback/log.h"
#include "uback/xs.h"
#include "ubackd.h"

/* A process that dies within this long after its start is crash-looping. */
#define QUICK_DEATH_MS 10000
#define BACKOFF_BASE_MS 200
#define BACKOFF_MAX_MS 30000
/* An upgrade waits this long for a graceful exit, then kills. */
#define UPGRADE_KILL_MS 10000

uint64_t ud_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int sys_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Field 22 of /proc/<pid>/stat (after the parenthesised comm). */
static int proc_starttime(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	/* Fields 3..21 precede starttime. */
	for (i = 3; i <= 21; i++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EIO;
	}
	*out = strtoull(p + 1, NULL, 10);
	return 0;
}

static int write_file(const char *dir, const char *name, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));
static int write_file(const char *dir, const char *name, const char *fmt, ...)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 80];
	va_list ap;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f))
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	return ret;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

static void dev_name(struct ud_dev *d, struct ud *ud)
{
	snprintf(d->name, sizeof(d->name), "%s-%u-%u", d->kind, d->domid,
		 d->devid);
	snprintf(d->be_path, sizeof(d->be_path),
		 "/local/domain/%u/backend/%s/%u/%u", ud->cfg.self, d->kind,
		 d->domid, d->devid);
	snprintf(d->dir, sizeof(d->dir), "%s/%s", ud->cfg.run_dir, d->name);
}

static struct ud_dev *dev_new(struct ud *ud, const char *kind,
			      unsigned int domid, unsigned int devid)
{
	struct ud_dev *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	snprintf(d->kind, sizeof(d->kind), "%s", kind);
	d->domid = domid;
	d->devid = devid;
	d->pidfd = -1;
	d->last_status = -1;
	dev_name(d, ud);
	d->next = ud->devs;
	ud->devs = d;
	return d;
}

static void dev_forget(struct ud *ud, struct ud_dev *d)
{
	struct ud_dev **pp;

	for (pp = &ud->devs; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	if (d->pidfd >= 0)
		close(d->pidfd);
	/* pid file, counters, journals: the device is gone for good. */
	nftw(d->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	xb_info("%s: forgotten", d->name);
	free(d);
}

const char *ud_abs_path(const struct ud *ud, const char *spec, char *buf,
			size_t size)
{
	if (!strncmp(spec, "backend/", 8))
		snprintf(buf, size, "/local/domain/%u/%s", ud->cfg.self, spec);
	else
		snprintf(buf, size, "%s", spec);
	return buf;
}

struct ud_dev *ud_find(struct ud *ud, const char *spec)
{
	struct ud_dev *d;
	char alt[64], abs[600];

	spec = ud_abs_path(ud, spec, abs, sizeof(abs));
	for (d = ud->devs; d; d = d->next) {
		/* "vbd-3-51712", "vbd/3/51712" or the backend path. */
		snprintf(alt, sizeof(alt), "%s/%u/%u", d->kind, d->domid,
			 d->devid);
		if (!strcmp(spec, d->name) || !strcmp(spec, alt) ||
		    !strcmp(spec, d->be_path))
			return d;
	}
	return NULL;
}

static int watch_pid(struct ud *ud, struct ud_dev *d)
{
	struct epoll_event ev = { .events = EPOLLIN };

	d->pidfd = sys_pidfd_open(d->pid);
	if (d->pidfd < 0)
		return -errno;
	fcntl(d->pidfd, F_SETFD, FD_CLOEXEC);
	ev.data.u64 = (uint64_t)(uintptr_t)d;
	if (epoll_ctl(ud->epfd, EPOLL_CTL_ADD, d->pidfd, &ev)) {
		int ret = -errno;

		close(d->pidfd);
		d->pidfd = -1;
		return ret;
	}
	return 0;
}

static int read_xs_uint(struct ud *ud, const char *dir, const char *key,
			uint64_t *v)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xb_xs_read_u64(ud->xs, XBT_NULL, path, UINT32_MAX, v);
}

unsigned int ud_be_state(struct ud *ud, const struct ud_dev *d)
{
	uint64_t v;

	return read_xs_uint(ud, d->be_path, "state", &v) ? 0 : (unsigned int)v;
}

/*
 * Whether a device directory still wants a backend: it exists, and the
 * toolstack is not removing it (online=0 with Closing/Closed).
 */
static bool dev_wanted(struct ud *ud, const char *be_path)
{
	uint64_t state, online;

	if (read_xs_uint(ud, be_path, "state", &state))
		return false;
	if (read_xs_uint(ud, be_path, "online", &online))
		online = 0;
	return !(online != 1 && state >= 5);
}

static int spawn(struct ud *ud, struct ud_dev *d)
{
	char *argv[UD_MAX_ARGS + 16], image[PATH_MAX], self[16];
	char stats[PATH_MAX + 16];
	const char *bin;
	int argc = 0, ret, i, nfixed, nconf;
	bool blk = !strcmp(d->kind, "vbd");
	pid_t pid;

	if (mkdir(d->dir, 0700) && errno != EEXIST) {
		ret = -errno;
		xb_err("%s: cannot create %s: %s", d->name, d->dir,
		       strerror(-ret));
		return ret;
	}
	bin = d->bin_override[0] ? d->bin_override
				 : blk ? ud->cfg.blk_bin : ud->cfg.net_bin;
	argv[argc++] = (char *)bin;
	if (ud->cfg.hv) {
		argv[argc++] = "--hv";
		argv[argc++] = (char *)ud->cfg.hv;
	}
	if (ud->cfg.sim_dir) {
		argv[argc++] = "--sim-dir";
		argv[argc++] = (char *)ud->cfg.sim_dir;
	}
	snprintf(stats, sizeof(stats), "%s/stats", d->dir);
	snprintf(self, sizeof(self), "%u", ud->cfg.self);
	argv[argc++] = "--self-domid";
	argv[argc++] = self;
	argv[argc++] = "--stats";
	argv[argc++] = stats;
	/* Journals (vbd) or the vif state file and a persistent tap: a
	 * restarted or upgraded process adopts the live device. */
	argv[argc++] = "--state-dir";
	argv[argc++] = d->dir;
	if (!blk) {
		/* A tap named vif<domid>.<devid> (or vifname), which
		 * vif-uback puts in the bridge; vif-args may change it. */
		argv[argc++] = "--port";
		argv[argc++] = "tap";
	}
	nfixed = argc;
	image[0] = '\0';
	ret = ud_device_args(ud, d, argv, &argc, UD_MAX_ARGS, image,
			     sizeof(image));
	nconf = argc;
	if (ret) {
		xb_err("%s: bad device options: %s", d->name, strerror(-ret));
		snprintf(d->last_error, sizeof(d->last_error),
			 "bad device options (config file or uback: prefix of "
			 "params): %s", strerror(-ret));
		goto out;
	}
	if (image[0] && blk) {
		argv[argc++] = "--image";
		argv[argc++] = image;
	}
	argv[argc++] = d->be_path;
	argv[argc] = NULL;

	pid = fork();
	if (pid < 0) {
		ret = -errno;
		xb_err("%s: fork: %s", d->name, strerror(-ret));
		snprintf(d->last_error, sizeof(d->last_error), "fork: %s",
			 strerror(-ret));
		goto out;
	}
	d->last_error[0] = '\0';
	if (pid == 0) {
		sigset_t none;

		/* Its own session: a terminal's or ubackd's signals are not
		 * its business; it outlives ubackd. */
		setsid();
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execv(bin, argv);
		fprintf(stderr, "ubackd: exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	d->pid = pid;
	d->child = true;
	d->started_ms = ud_now_ms();
	d->restart_at_ms = 0;
	d->bin_override[0] = '\0';
	if (proc_starttime(pid, &d->starttime))
		d->starttime = 0;
	ret = watch_pid(ud, d);
	if (ret)
		xb_err("%s: pidfd: %s", d->name, strerror(-ret));
	write_file(d->dir, "pid", "%d %llu\n", (int)pid, d->starttime);
	write_file(d->dir, "restarts", "%u\n", d->restarts);
	write_file(d->dir, "meta", "kind=%s\ndomid=%u\ndevid=%u\npath=%s\n"
		   "bin=%s\n", d->kind, d->domid, d->devid, d->be_path, bin);
	xb_info("%s: started %s, pid %d", d->name, bin, (int)pid);
	ret = 0;
out:
	for (i = nfixed; i < nconf; i++)
		free(argv[i]);
	return ret;
}

static void consider(struct ud *ud, const char *kind, unsigned int domid,
		     unsigned int devid)
{
	struct ud_dev *d, tmp = { 0 };

	for (d = ud->devs; d; d = d->next)
		if (!strcmp(d->kind, kind) && d->domid == domid &&
		    d->devid == devid)
			return;   /* served, or a restart is pending */
	snprintf(tmp.kind, sizeof(tmp.kind), "%s", kind);
	tmp.domid = domid;
	tmp.devid = devid;
	dev_name(&tmp, ud);
	if (!dev_wanted(ud, tmp.be_path))
		return;
	d = dev_new(ud, kind, domid, devid);
	if (!d)
		return;
	xb_info("%s: new device %s", d->name, d->be_path);
	if (spawn(ud, d)) {
		d->quick_deaths++;
		d->restart_at_ms = ud_now_ms() + BACKOFF_MAX_MS;
	}
}

static bool parse_uint(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9' || (s[0] == '0' && s[1]))
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > UINT32_MAX)
		return false;
	*out = (unsigned int)v;
	return true;
}

static bool kind_served(struct ud *ud, const char *kind)
{
	return (!strcmp(kind, "vbd") && ud->cfg.vbd) ||
	       (!strcmp(kind, "vif") && ud->cfg.vif);
}

void ud_scan(struct ud *ud, const char *kind, long domid, long devid)
{
	char path[160], **names;
	unsigned int n, i, v;

	if (!kind_served(ud, kind))
		return;
	if (domid >= 0 && devid >= 0) {
		consider(ud, kind, (unsigned int)domid, (unsigned int)devid);
		return;
	}
	if (domid >= 0)
		snprintf(path, sizeof(path), "/local/domain/%u/backend/%s/%ld",
			 ud->cfg.self, kind, domid);
	else
		snprintf(path, sizeof(path), "/local/domain/%u/backend/%s",
			 ud->cfg.self, kind);
	if (xb_xs_directory(ud->xs, XBT_NULL, path, &names, &n))
		return;
	for (i = 0; i < n; i++) {
		if (!parse_uint(names[i], &v))
			continue;
		if (domid >= 0)
			consider(ud, kind, (unsigned int)domid, v);
		else
			ud_scan(ud, kind, v, -1);
	}
	free(names);
}

void ud_xs_event(struct ud *ud, const char *path)
{
	char prefix[64], buf[160], *comp[4], *save = NULL, *tok;
	unsigned int n = 0, domid, devid;
	size_t plen;

	plen = (size_t)snprintf(prefix, sizeof(prefix),
				"/local/domain/%u/backend/", ud->cfg.self);
	if (strncmp(path, prefix, plen))
		return;
	snprintf(buf, sizeof(buf), "%s", path + plen);
	for (tok = strtok_r(buf, "/", &save); tok && n < 4;
	     tok = strtok_r(NULL, "/", &save))
		comp[n++] = tok;
	if (n == 0 || !kind_served(ud, comp[0]))
		return;
	if (n == 1) {
		ud_scan(ud, comp[0], -1, -1);
	} else if (!parse_uint(comp[1], &domid)) {
		return;
	} else if (n == 2) {
		ud_scan(ud, comp[0], domid, -1);
	} else if (parse_uint(comp[2], &devid)) {
		ud_scan(ud, comp[0], domid, devid);
	}
}

void ud_adopt_existing(struct ud *ud)
{
	DIR *dir = opendir(ud->cfg.run_dir);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char kind[8], path[PATH_MAX + 300], line[64];
		unsigned int domid, devid;
		unsigned long long st = 0, now_st;
		int pid = 0;
		struct ud_dev *d;
		FILE *f;

		if (sscanf(de->d_name, "%7[a-z]-%u-%u", kind, &domid,
			   &devid) != 3 || !kind_served(ud, kind))
			continue;
		d = dev_new(ud, kind, domid, devid);
		if (!d)
			break;
		if (strcmp(d->name, de->d_name)) {   /* not canonical */
			dev_forget(ud, d);
			continue;
		}
		snprintf(path, sizeof(path), "%s/restarts", d->dir);
		f = fopen(path, "re");
		if (f) {
			if (fscanf(f, "%u", &d->restarts) != 1)
				d->restarts = 0;
			fclose(f);
		}
		snprintf(path, sizeof(path), "%s/pid", d->dir);
		f = fopen(path, "re");
		if (f) {
			if (!fgets(line, sizeof(line), f) ||
			    sscanf(line, "%d %llu", &pid, &st) != 2)
				pid = 0;
			fclose(f);
		}
		/* Same pid and same start time: the very process we
		 * started, not a recycled pid. */
		if (pid > 0 && !proc_starttime(pid, &now_st) && now_st == st) {
			d->pid = pid;
			d->starttime = st;
			d->child = false;
			d->started_ms = ud_now_ms();
			if (!watch_pid(ud, d) &&
			    !proc_starttime(pid, &now_st) && now_st == st) {
				xb_info("%s: adopted running pid %d", d->name,
					pid);
				continue;
			}
			if (d->pidfd >= 0) {
				epoll_ctl(ud->epfd, EPOLL_CTL_DEL, d->pidfd,
					  NULL);
				close(d->pidfd);
				d->pidfd = -1;
			}
			d->pid = 0;
		}
		/* Dead while nobody watched: start it again if the device
		 * is still there (the new process adopts the live rings). */
		if (dev_wanted(ud, d->be_path)) {
			xb_info("%s: not running; restarting", d->name);
			d->restarts++;
			spawn(ud, d);
		} else {
			dev_forget(ud, d);
		}
	}
	closedir(dir);
}

void ud_dev_died(struct ud *ud, struct ud_dev *d)
{
	uint64_t now = ud_now_ms(), delay;
	int st;

	epoll_ctl(ud->epfd, EPOLL_CTL_DEL, d->pidfd, NULL);
	close(d->pidfd);
	d->pidfd = -1;
	d->last_status = -1;
	if (d->child && waitpid(d->pid, &st, WNOHANG) == d->pid)
		d->last_status = st;
	if (d->last_status < 0)
		xb_info("%s: pid %d exited", d->name, (int)d->pid);
	else if (WIFSIGNALED(d->last_status))
		xb_warn("%s: pid %d killed by signal %d", d->name,
			(int)d->pid, WTERMSIG(d->last_status));
	else
		xb_info("%s: pid %d exited with status %d", d->name,
			(int)d->pid, WEXITSTATUS(d->last_status));
	d->pid = 0;
	if (!dev_wanted(ud, d->be_path)) {
		dev_forget(ud, d);
		return;
	}
	d->restarts++;
	if (d->upgrading) {
		d->upgrading = false;
		d->quick_deaths = 0;
		spawn(ud, d);
		return;
	}
	if (now - d->started_ms < QUICK_DEATH_MS)
		d->quick_deaths++;
	else
		d->quick_deaths = 1;
	/* The first death restarts at once: the guest only sees a pause.
	 * A process that keeps dying backs off. */
	delay = 0;
	if (d->quick_deaths > 1) {
		unsigned int shift = d->quick_deaths - 2;

		delay = shift > 10 ? BACKOFF_MAX_MS
				   : (uint64_t)BACKOFF_BASE_MS << shift;
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
		xb_warn("%s: died %u times in a row; restart in %" PRIu64
			" ms", d->name, d->quick_deaths, delay);
	}
	if (!delay) {
		spawn(ud, d);
		return;
	}
	d->restart_at_ms = now + delay;
}

int ud_run_timers(struct ud *ud)
{
	uint64_t now = ud_now_ms(), next = 0;
	struct ud_dev *d, *nd;

	for (d = ud->devs; d; d = nd) {
		nd = d->next;
		if (d->pid && d->upgrading && d->restart_at_ms) {
			if (now >= d->restart_at_ms) {
				xb_warn("%s: no graceful exit for the upgrade:"
					" SIGKILL", d->name);
				kill(d->pid, SIGKILL);
				d->restart_at_ms = 0;
				continue;
			}
		} else if (d->pid || !d->restart_at_ms) {
			continue;
		} else if (now >= d->restart_at_ms) {
			if (!dev_wanted(ud, d->be_path)) {
				dev_forget(ud, d);
				continue;
			}
			d->restart_at_ms = 0;
			if (spawn(ud, d))
				d->restart_at_ms = now + BACKOFF_MAX_MS;
			continue;
		}
		if (!next || d->restart_at_ms < next)
			next = d->restart_at_ms;
	}
	if (!next)
		return -1;
	return next > now ? (int)(next - now) : 0;
}

int ud_upgrade(struct ud *ud, struct ud_dev *d, const char *bin)
{
	(void)ud;
	/* Both uback-blk and uback-net adopt a live device from their
	 * --state-dir after a SIGUSR1 detach. */
	if (bin && access(bin, X_OK))
		return -errno;
	snprintf(d->bin_override, sizeof(d->bin_override), "%s",
		 bin ? bin : "");
	if (!d->pid) {
		d->restart_at_ms = ud_now_ms();
		return 0;
	}
	d->upgrading = true;
	d->restart_at_ms = ud_now_ms() + UPGRADE_KILL_MS;
	if (kill(d->pid, SIGUSR1))
		return -errno;
	xb_info("%s: upgrade: pid %d asked to detach", d->name, (int)d->pid);
	return 0;
}
