/* SPDX-License-Identifier: MIT */
/*
 * Test-only fault injection for the data processes (docs/security.md,
 * "Restart after a sandbox kill").
 *
 * Compiled in only when UBACK_TEST_HOOKS is defined, which only the
 * uback-*-testhooks executables built for tests/ are (never installed).
 * In every other build the functions below are stubs that do nothing, so
 * neither a guest nor an administrator of a production binary can reach
 * the hook.
 *
 * The hook: UBACK_TEST_SIGSYS_FIFO=<path of a FIFO> in the environment.
 * The process opens the FIFO before it enters the sandbox (read-write, so
 * that the FIFO never reports a hang-up when the test's writer closes)
 * and adds the descriptor to its main loop. Every byte a test writes into
 * the FIFO makes the process perform one forbidden system call (execve),
 * which the seccomp filter answers by killing the process with SIGSYS. A
 * successor (started by ubackd with the same environment) opens the same
 * FIFO and waits for the next byte: one byte, one death.
 *
 * Main thread only. Nothing here allocates.
 */
#ifndef UBACK_TESTHOOK_H
#define UBACK_TESTHOOK_H

#ifdef UBACK_TEST_HOOKS
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uback/log.h"

/*
 * Open the FIFO named by UBACK_TEST_SIGSYS_FIFO. Returns its descriptor
 * (non-blocking, close-on-exec), or -1 when the variable is unset or the
 * FIFO cannot be opened (logged). Call before xb_sandbox_enter().
 */
static inline int xb_testhook_open(void)
{
	const char *path = getenv("UBACK_TEST_SIGSYS_FIFO");
	int fd;

	if (!path || !*path)
		return -1;
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		xb_err("test hook: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	xb_info("test hook: a byte in %s makes a forbidden system call", path);
	return fd;
}

/*
 * Call when @fd polls readable: consume one byte and, if there was one,
 * make the forbidden call (execve). Under the sandbox it does not
 * return. Without the sandbox the exec succeeds and /bin/true exits 0.
 * Returns 0 when there was nothing to read.
 */
static inline int xb_testhook_fire(int fd)
{
	char c;

	if (fd < 0 || read(fd, &c, 1) != 1)
		return 0;
	xb_info("test hook: making a forbidden system call (execve)");
	execl("/bin/true", "true", (char *)NULL);
	xb_err("test hook: execve returned: %s", strerror(errno));
	return -errno;
}
#else
static inline int xb_testhook_open(void)
{
	return -1;
}

static inline int xb_testhook_fire(int fd)
{
	(void)fd;
	return 0;
}
#endif

#endif /* UBACK_TESTHOOK_H */
