/* SPDX-License-Identifier: MIT */
/*
 * Logging. One line per message on stderr (or syslog-style prefix when
 * configured), with a level and a component tag. Thread-safe.
 *
 * The data path never calls xb_log directly: guest errors are counted and
 * reported through XB_LOG_RATELIMITED, which prints at most a burst of
 * messages per interval per call site and reports how many were dropped.
 */
#ifndef UBACK_LOG_H
#define UBACK_LOG_H

#include <stdarg.h>
#include <stdint.h>

enum xb_log_level {
	XB_LOG_ERR = 3,
	XB_LOG_WARN = 4,
	XB_LOG_INFO = 6,
	XB_LOG_DEBUG = 7,
};

/* Messages above @level are dropped. Default XB_LOG_INFO; the environment
 * variable UBACK_LOG=err|warn|info|debug overrides at first use. */
void xb_log_set_level(enum xb_log_level level);
enum xb_log_level xb_log_get_level(void);
/* A command line's level name: exactly "err", "warn", "info" or "debug".
 * -EINVAL (out untouched) for anything else. */
int xb_log_level_parse(const char *name, enum xb_log_level *out);
/* Prefix each line with @ident (program name), e.g. "uback-blk[1/51712]". */
void xb_log_set_ident(const char *ident);

void xb_log(enum xb_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void xb_vlog(enum xb_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Rate limit state for one call site. */
struct xb_ratelimit {
	uint64_t window_start_ns;
	uint32_t printed;
	uint32_t suppressed;
};

#define XB_RATELIMIT_INTERVAL_NS 5000000000ull  /* 5 s */
#define XB_RATELIMIT_BURST       10

/* Returns 1 if a message may be printed now (and reports suppressed ones). */
int xb_ratelimit_ok(struct xb_ratelimit *rl);

#define xb_err(...)   xb_log(XB_LOG_ERR, __VA_ARGS__)
#define xb_warn(...)  xb_log(XB_LOG_WARN, __VA_ARGS__)
#define xb_info(...)  xb_log(XB_LOG_INFO, __VA_ARGS__)
#define xb_debug(...) xb_log(XB_LOG_DEBUG, __VA_ARGS__)

#define XB_LOG_RATELIMITED(level, ...)                                   \
	do {                                                             \
		static struct xb_ratelimit _xb_rl;                       \
		if (xb_ratelimit_ok(&_xb_rl))                            \
			xb_log((level), __VA_ARGS__);                    \
	} while (0)

#endif /* UBACK_LOG_H */
