/* SPDX-License-Identifier: MIT */
/*
 * A bounded spin for queue threads that look for work before they sleep
 * (uback-blk's polling, uback-net's --spin-us). The caller looks at its
 * rings, then asks xb_spin_next whether to look again: the clock is read
 * once every XB_SPIN_CLOCK_EVERY looks (a few microseconds), and the spin
 * ends when its window has passed or when two reads lie more than
 * XB_SPIN_PREEMPTED_NS apart: the thread lost its CPU while spinning, and
 * on an oversubscribed machine a spinning thread only delays the one it
 * waits for (and the scheduler ranks it a CPU hog).
 */
#ifndef UBACK_SPIN_H
#define UBACK_SPIN_H

#include <stdint.h>

#include "uback/clock.h"
#include "uback/ring.h"

#define XB_SPIN_PREEMPTED_NS 50000ull
#define XB_SPIN_CLOCK_EVERY 64u

enum xb_spin_verdict {
	XB_SPIN_GO,          /* look again */
	XB_SPIN_TIMEOUT,     /* the window passed */
	XB_SPIN_PREEMPTED,   /* the thread lost its CPU: stop */
};

struct xb_spin {
	uint64_t last, deadline;
	unsigned int looks;
};

/* Arm a spin of @ns nanoseconds from now. */
static inline void xb_spin_start(struct xb_spin *s, uint64_t ns)
{
	s->last = xb_now_ns();
	s->deadline = s->last + ns;
	s->looks = 0;
}

/* After a look that found nothing: pause the CPU briefly, then say
 * whether to look again. */
static inline enum xb_spin_verdict xb_spin_next(struct xb_spin *s)
{
	uint64_t now;

	xb_cpu_relax();
	if (++s->looks % XB_SPIN_CLOCK_EVERY)
		return XB_SPIN_GO;
	now = xb_now_ns();
	if (now - s->last > XB_SPIN_PREEMPTED_NS)
		return XB_SPIN_PREEMPTED;
	if (now >= s->deadline)
		return XB_SPIN_TIMEOUT;
	s->last = now;
	return XB_SPIN_GO;
}

#endif /* UBACK_SPIN_H */
