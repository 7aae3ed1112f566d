/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "uback/clock.h"
#include "uback/log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_level = -1;
static char log_ident[64] = "uback";

static int level_from_env(void)
{
	const char *s = getenv("UBACK_LOG");

	if (!s)
		return XB_LOG_INFO;
	if (!strcasecmp(s, "err") || !strcasecmp(s, "error"))
		return XB_LOG_ERR;
	if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
		return XB_LOG_WARN;
	if (!strcasecmp(s, "debug"))
		return XB_LOG_DEBUG;
	return XB_LOG_INFO;
}

void xb_log_set_level(enum xb_log_level level)
{
	__atomic_store_n(&log_level, (int)level, __ATOMIC_RELAXED);
}

enum xb_log_level xb_log_get_level(void)
{
	int l = __atomic_load_n(&log_level, __ATOMIC_RELAXED);

	if (l < 0) {
		l = level_from_env();
		__atomic_store_n(&log_level, l, __ATOMIC_RELAXED);
	}
	return (enum xb_log_level)l;
}

void xb_log_set_ident(const char *ident)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	pthread_mutex_unlock(&log_lock);
}

int xb_log_level_parse(const char *name, enum xb_log_level *out)
{
	static const struct {
		const char *name;
		enum xb_log_level level;
	} names[] = {
		{ "err", XB_LOG_ERR }, { "warn", XB_LOG_WARN },
		{ "info", XB_LOG_INFO }, { "debug", XB_LOG_DEBUG },
	};
	size_t i;

	for (i = 0; name && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(name, names[i].name)) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *level_name(enum xb_log_level level)
{
	switch (level) {
	case XB_LOG_ERR: return "error";
	case XB_LOG_WARN: return "warning";
	case XB_LOG_INFO: return "info";
	default: return "debug";
	}
}

void xb_vlog(enum xb_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved_errno = errno;

	if ((int)level > (int)xb_log_get_level())
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s: %s: %s\n", log_ident, level_name(level), msg);
	pthread_mutex_unlock(&log_lock);
	/* A caller may log before converting errno to its return value. */
	errno = saved_errno;
}

void xb_log(enum xb_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xb_vlog(level, fmt, ap);
	va_end(ap);
}

int xb_ratelimit_ok(struct xb_ratelimit *rl)
{
	uint64_t now = xb_now_ns();
	uint32_t dropped = 0;
	int ok;

	pthread_mutex_lock(&log_lock);
	if (now - rl->window_start_ns >= XB_RATELIMIT_INTERVAL_NS) {
		dropped = rl->suppressed;
		rl->window_start_ns = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	ok = rl->printed < XB_RATELIMIT_BURST;
	if (ok)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&log_lock);
	if (dropped)
		xb_log(XB_LOG_WARN, "%u similar messages suppressed", dropped);
	return ok;
}
