/* SPDX-License-Identifier: MIT */
/*
 * Test helper: run ubackd under a private xensim and talk to its control
 * socket (tools/ubackd/ctl.c's line protocol).
 */
#ifndef UBACK_TESTS_UBACKD_CLIENT_H
#define UBACK_TESTS_UBACKD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Send @req, read the whole answer into @buf (NUL-terminated). Returns
 * the answer length, or -errno (-ECONNREFUSED: no daemon). */
static inline int ud_request(const char *run_dir, const char *req, char *buf,
			     size_t size);

/* In the answer of "status": the value of @key on the device line of
 * @name ("vbd-1-51712"), or -1 if absent. */
static inline long ud_status_value(const char *status, const char *name,
				   const char *key);

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static inline int ud_request(const char *run_dir, const char *req, char *buf,
			     size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ubackd.sock",
			     run_dir) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    write(fd, "\n", 1) != 1) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return (int)len;
}

static inline long ud_status_value(const char *status, const char *name,
				   const char *key)
{
	char pat[256], kpat[64];
	const char *line, *eol, *k;

	snprintf(pat, sizeof(pat), "device name=%s ", name);
	line = strstr(status, pat);
	if (!line)
		return -1;
	eol = strchr(line, '\n');
	snprintf(kpat, sizeof(kpat), " %s=", key);
	k = strstr(line, kpat);
	if (!k || (eol && k > eol))
		return -1;
	return strtol(k + strlen(kpat), NULL, 10);
}

#endif
