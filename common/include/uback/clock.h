/* SPDX-License-Identifier: MIT */
/*
 * Monotonic time in nanoseconds, for deadlines, rate limits, spins and
 * the CPU and latency counters. CLOCK_MONOTONIC_COARSE where a tick's
 * resolution is enough: a cheaper read.
 */
#ifndef UBACK_CLOCK_H
#define UBACK_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t xb_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t xb_now_ns(void)
{
	return xb_clock_ns(CLOCK_MONOTONIC);
}

#endif /* UBACK_CLOCK_H */
