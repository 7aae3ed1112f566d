/* SPDX-License-Identifier: MIT */
/*
 * The per-device process sandbox (docs/security.md).
 *
 * A backend process opens everything it will ever need first (xenstore
 * connection, grant and event channel handles or the simulator's control
 * socket, the image or port), then calls xb_sandbox_enter() once. From
 * then on it runs as an unprivileged user with no capabilities and no
 * supplementary groups, with no_new_privs set, under a seccomp filter
 * that allows only the system calls the data and control paths use:
 * no open, no socket, no exec, no ptrace. Anything else kills the whole
 * process with SIGSYS.
 *
 * What the filter allows is one list for every backend (common: memory,
 * threads, polling, reading and writing the descriptors it holds, the
 * xenstore and hypervisor calls) plus what the caller adds for its own
 * data path (struct xb_sandbox_config.extra), e.g. io_uring for blkback.
 */
#ifndef UBACK_SANDBOX_H
#define UBACK_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XB_SANDBOX_DEFAULT_USER "uback"
/* Used when neither the default user nor "nobody" is in the passwd
 * database (a minimal initramfs): the traditional nobody/nogroup ids. */
#define XB_SANDBOX_FALLBACK_ID 65534u

struct xb_sandbox_config {
	/*
	 * The user to become. NULL: "uback", else (with a warning)
	 * "nobody", else (with a warning) uid/gid 65534. A name given
	 * explicitly must exist: no silent fallback for a typo.
	 */
	const char *user;
	/*
	 * Raise RLIMIT_MEMLOCK to at least this many bytes before dropping
	 * privileges (io_uring fixed buffers are charged to it and an
	 * unprivileged user cannot raise it later). 0: leave it.
	 */
	uint64_t memlock_bytes;
	/* System call numbers allowed in addition to the common list. */
	const int *extra;
	size_t nr_extra;
	/* ioctl requests allowed in addition to Xen's gntdev/evtchn ones. */
	const unsigned long *ioctls;
	size_t nr_ioctls;
	/* ioctl requests allowed only with a third argument of 0 (a flag
	 * being cleared, e.g. TUNSETPERSIST 0 on a tap leaving). */
	const unsigned long *ioctls_zero;
	size_t nr_ioctls_zero;
	/* Allow socket(AF_UNIX, ...) (no other family) and connect: a
	 * port that connects to a peer's unix socket after the sandbox is
	 * entered (a DPDK memif client reconnecting). */
	bool unix_connect;
};

/*
 * Drop to cfg->user, set no_new_privs, install the seccomp filter, in
 * that order, for every thread of the process (the filter is
 * synchronised to threads that already exist, e.g. libxenstore's
 * reader). Call once, from the main thread, after the setup that needs
 * privileges and before serving anything the guest controls.
 * Returns 0, or -errno: -ENOENT an explicit user that does not exist,
 * -EPERM cannot change ids (not root and not already that user),
 * -ENOTSUP built without libseccomp (nothing was changed: the caller
 * should refuse to run unless sandboxing was turned off), or the error
 * of the failing step. A failure after the ids changed leaves the
 * process unprivileged but without a filter: the caller must exit.
 * Logs what it did (one info line) and every failure.
 */
int xb_sandbox_enter(const struct xb_sandbox_config *cfg);

/* Whether this build has the seccomp filter (libseccomp). */
int xb_sandbox_supported(void);

#endif /* UBACK_SANDBOX_H */
