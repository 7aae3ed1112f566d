/* SPDX-License-Identifier: MIT */
/*
 * Privilege drop, no_new_privs and the seccomp allowlist (uback/sandbox.h,
 * docs/security.md explains each entry of the lists below).
 */
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <linux/ioctl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uback/log.h"
#include "uback/sandbox.h"

#ifdef HAVE_LIBSECCOMP
#include <seccomp.h>
#include <xen/xen.h>
#include <xen/sys/evtchn.h>
#include <xen/sys/gntdev.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define XB_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XB_SANITIZED 1
#endif
#endif

/* ---- user ---------------------------------------------------------------- */

struct ids {
	uid_t uid;
	gid_t gid;
	char name[64];
};

static int lookup_user(const char *name, struct ids *out)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int ret;

	ret = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
	if (ret)
		return -ret;
	if (!res)
		return -ENOENT;
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
}

static int pick_user(const char *user, struct ids *out)
{
	int ret;

	if (user) {
		ret = lookup_user(user, out);
		if (ret)
			xb_err("sandbox: user '%s': %s", user, strerror(-ret));
		return ret;
	}
	if (!lookup_user(XB_SANDBOX_DEFAULT_USER, out))
		return 0;
	if (!lookup_user("nobody", out)) {
		xb_warn("sandbox: no user '%s' (created by the install step): "
			"running as nobody", XB_SANDBOX_DEFAULT_USER);
		return 0;
	}
	xb_warn("sandbox: neither '%s' nor 'nobody' exists: running as "
		"uid/gid %u", XB_SANDBOX_DEFAULT_USER, XB_SANDBOX_FALLBACK_ID);
	out->uid = XB_SANDBOX_FALLBACK_ID;
	out->gid = XB_SANDBOX_FALLBACK_ID;
	snprintf(out->name, sizeof(out->name), "%u", XB_SANDBOX_FALLBACK_ID);
	return 0;
}

static int raise_memlock(uint64_t bytes)
{
	struct rlimit rl;

	if (!bytes)
		return 0;
	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return -errno;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < bytes)
		rl.rlim_cur = bytes;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) == 0)
		return 0;
	/* Without CAP_SYS_RESOURCE (a container): as far as allowed. */
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_MEMLOCK, &rl);
	}
	xb_info("sandbox: cannot raise RLIMIT_MEMLOCK to %llu KiB (kept %llu "
		"KiB): io_uring fixed buffers may be refused",
		(unsigned long long)(bytes >> 10),
		(unsigned long long)(rl.rlim_cur >> 10));
	return 0;
}

static int drop_to(const struct ids *id)
{
	uid_t r, e, s;

	if (getresuid(&r, &e, &s))
		return -errno;
	if (r == id->uid && e == id->uid && s == id->uid)
		return 0;   /* started as that user already */
	/* glibc applies each of these to every thread of the process. */
	if (setgroups(0, NULL) || setresgid(id->gid, id->gid, id->gid) ||
	    setresuid(id->uid, id->uid, id->uid))
		return -errno;
	/* There must be no way back. */
	if (id->uid != 0 && setresuid(0, 0, 0) == 0)
		return -EPERM;
	return 0;
}

/* ---- seccomp ----------------------------------------------------------- */

#ifdef HAVE_LIBSECCOMP

/* What every backend process does after setup. Numbers, not names, so the
 * list is checked by the compiler. */
static const int common_syscalls[] = {
	/* descriptors it holds: xenstore socket, simulator control socket,
	 * event channel fds, eventfds, the stats file, stderr */
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64,
	SYS_pwrite64, SYS_preadv, SYS_pwritev, SYS_preadv2, SYS_pwritev2,
	SYS_lseek, SYS_close, SYS_fstat, SYS_newfstatat, SYS_fcntl,
	SYS_recvmsg, SYS_sendmsg, SYS_recvfrom, SYS_sendto,
	SYS_shutdown, SYS_pipe2,   /* libxenstore: its watch pipe, made lazily */
	/* waiting (poll and epoll_wait exist on x86 only) */
#ifdef SYS_poll
	SYS_poll, SYS_epoll_wait,
#endif
	SYS_ppoll, SYS_epoll_create1, SYS_epoll_ctl,
	SYS_epoll_pwait, SYS_epoll_pwait2, SYS_eventfd2,
	SYS_futex, SYS_clock_gettime, SYS_clock_getres, SYS_gettimeofday,
	SYS_clock_nanosleep, SYS_nanosleep, SYS_sched_yield,
	SYS_restart_syscall,
	/* memory: malloc, grant and guest-memory mappings, thread stacks
	 * (mmap/mprotect are further restricted below: never PROT_EXEC) */
	SYS_brk, SYS_munmap, SYS_mremap, SYS_madvise,
	/* threads (queue threads start at every connect) */
	SYS_clone, SYS_clone3, SYS_set_robust_list, SYS_rseq, SYS_exit,
	SYS_exit_group, SYS_sched_getaffinity, SYS_sched_setaffinity,
	SYS_getpid, SYS_gettid, SYS_tgkill, SYS_rt_sigprocmask,
	SYS_rt_sigreturn, SYS_rt_sigaction,
	/* statistics, harmless identity queries */
	SYS_getrusage, SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid,
	SYS_getrandom,
};

/* Xen's gntdev and evtchn drivers (libxengnttab, libxenevtchn). */
static const unsigned long common_ioctls[] = {
	IOCTL_GNTDEV_MAP_GRANT_REF, IOCTL_GNTDEV_UNMAP_GRANT_REF,
	IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, IOCTL_GNTDEV_SET_UNMAP_NOTIFY,
	IOCTL_GNTDEV_GRANT_COPY,
	IOCTL_EVTCHN_BIND_INTERDOMAIN, IOCTL_EVTCHN_UNBIND,
	IOCTL_EVTCHN_NOTIFY, IOCTL_EVTCHN_RESET,
};

#ifdef XB_SANITIZED
/*
 * ASan/LSan runtimes read /proc/self/maps and stop the world with ptrace
 * from a helper thread at exit. Only in sanitizer builds, which are test
 * builds: the privilege drop still holds there.
 */
static const int sanitizer_syscalls[] = {
#ifdef SYS_open
	SYS_open, SYS_readlink, SYS_getdents, SYS_getrlimit, SYS_dup2,
#endif
	SYS_openat, SYS_readlinkat, SYS_ptrace, SYS_wait4, SYS_waitid,
	SYS_prctl, SYS_getppid, SYS_kill, SYS_sigaltstack, SYS_getdents64,
	SYS_prlimit64, SYS_mmap, SYS_mprotect, SYS_dup3, SYS_ioctl,
};
#endif

static int allow_all(scmp_filter_ctx ctx, const int *nrs, size_t n)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nrs[i], 0);
		if (ret)
			return ret;
	}
	return 0;
}

/* Allow @nr when argument @arg compares true (one comparison). */
static int allow_if(scmp_filter_ctx ctx, int nr, unsigned int arg,
		    enum scmp_compare op, uint64_t a, uint64_t b)
{
	const struct scmp_arg_cmp c = {
		.arg = arg, .op = op, .datum_a = a, .datum_b = b,
	};

	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &c);
}

static int build_filter(const struct xb_sandbox_config *cfg,
			scmp_filter_ctx ctx)
{
	size_t i;
	int ret;

	ret = allow_all(ctx, common_syscalls,
			sizeof(common_syscalls) / sizeof(common_syscalls[0]));
	if (!ret && cfg->nr_extra)
		ret = allow_all(ctx, cfg->extra, cfg->nr_extra);
	if (ret)
		return ret;
	/* No new executable memory: code cannot be injected and run. */
	ret = allow_if(ctx, SYS_mmap, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	if (!ret)
		ret = allow_if(ctx, SYS_mprotect, 2, SCMP_CMP_MASKED_EQ,
			       PROT_EXEC, 0);
	/* Thread names only (pthread_setname_np on the calling thread). */
	if (!ret)
		ret = allow_if(ctx, SYS_prctl, 0, SCMP_CMP_EQ, PR_SET_NAME, 0);
	for (i = 0; !ret && i < sizeof(common_ioctls) / sizeof(common_ioctls[0]);
	     i++)
		ret = allow_if(ctx, SYS_ioctl, 1, SCMP_CMP_MASKED_EQ,
			       0xffffffffu, common_ioctls[i]);
	for (i = 0; !ret && i < cfg->nr_ioctls; i++)
		ret = allow_if(ctx, SYS_ioctl, 1, SCMP_CMP_MASKED_EQ,
			       0xffffffffu, cfg->ioctls[i]);
	for (i = 0; !ret && i < cfg->nr_ioctls_zero; i++) {
		const struct scmp_arg_cmp c[2] = {
			{ .arg = 1, .op = SCMP_CMP_MASKED_EQ,
			  .datum_a = 0xffffffffu, .datum_b = cfg->ioctls_zero[i] },
			{ .arg = 2, .op = SCMP_CMP_EQ, .datum_a = 0 },
		};

		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SYS_ioctl, 2,
					     c);
	}
	/* Unix sockets only: no network socket, not even for an
	 * attacker holding the process. */
	if (!ret && cfg->unix_connect) {
		ret = allow_if(ctx, SYS_socket, 0, SCMP_CMP_EQ, AF_UNIX, 0);
		if (!ret)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SYS_connect,
					       0);
	}
#ifdef XB_SANITIZED
	if (!ret)
		ret = allow_all(ctx, sanitizer_syscalls,
				sizeof(sanitizer_syscalls) /
				sizeof(sanitizer_syscalls[0]));
#endif
	return ret;
}

static int load_filter(const struct xb_sandbox_config *cfg)
{
	scmp_filter_ctx ctx;
	int ret;

	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* Threads that exist already (libxenstore's reader) get it too. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!ret)
		ret = build_filter(cfg, ctx);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

int xb_sandbox_supported(void)
{
	return 1;
}

#else /* !HAVE_LIBSECCOMP */

static int load_filter(const struct xb_sandbox_config *cfg)
{
	return -ENOTSUP;
}

int xb_sandbox_supported(void)
{
	return 0;
}

#endif

int xb_sandbox_enter(const struct xb_sandbox_config *cfg)
{
	struct ids id;
	int ret;

	if (!xb_sandbox_supported()) {
		xb_err("sandbox: this build has no libseccomp");
		return -ENOTSUP;
	}
	ret = pick_user(cfg->user, &id);
	if (ret)
		return ret;
	/*
	 * pthread_cancel (libxenstore cancels its reader thread in
	 * xs_close) dlopens the unwinder on first use: load it now, while
	 * open and executable mappings are still allowed; later lookups
	 * find it by name without touching the file system.
	 */
	if (!dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE))
		xb_debug("sandbox: no libgcc_s.so.1: %s", dlerror());
	ret = raise_memlock(cfg->memlock_bytes);
	if (ret) {
		xb_err("sandbox: RLIMIT_MEMLOCK: %s", strerror(-ret));
		return ret;
	}
	ret = drop_to(&id);
	if (ret) {
		xb_err("sandbox: cannot become %s (uid %u): %s", id.name,
		       (unsigned int)id.uid, strerror(-ret));
		return ret;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		ret = -errno;
		xb_err("sandbox: no_new_privs: %s", strerror(-ret));
		return ret;
	}
	ret = load_filter(cfg);
	if (ret) {
		xb_err("sandbox: seccomp filter: %s", strerror(-ret));
		return ret;
	}
	xb_info("sandbox: running as %s (uid %u gid %u), no_new_privs, "
		"seccomp allowlist", id.name, (unsigned int)id.uid,
		(unsigned int)id.gid);
	return 0;
}
