/* SPDX-License-Identifier: MIT */
/* The toolstack's transmit rate limit: see ctrl.h. */
#include <errno.h>

#include "ctrl.h"

#define NSEC_PER_USEC 1000ull
#define NET_CREDIT_USEC_MAX (1ull << 32)

/* Decimal digits only, at least one, no overflow; *@end at the first
 * non-digit. */
static int parse_u64(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*end = p;
	*out = v;
	return 0;
}

int net_credit_parse(const char *s, uint64_t *bytes, uint64_t *usec)
{
	uint64_t b, u;
	const char *p;

	if (!s || parse_u64(s, &p, &b) || *p != ',' ||
	    parse_u64(p + 1, &p, &u) || *p != '\0')
		return -EINVAL;
	if (!b || !u || u > NET_CREDIT_USEC_MAX)
		return -EINVAL;
	*bytes = b;
	*usec = u;
	return 0;
}

void net_credit_init(struct net_credit *c, uint64_t bytes, uint64_t usec)
{
	c->bytes = bytes;
	c->usec = usec;
	c->remaining = bytes;
	c->next_ns = 0;      /* the first take opens an interval */
}

bool net_credit_take(struct net_credit *c, uint64_t now_ns, uint32_t len,
		     uint64_t *wait_ns)
{
	if (!c->bytes)
		return true;
	if (now_ns >= c->next_ns) {
		/* A full interval's credit, not an accumulation: an idle
		 * guest cannot save up a burst beyond the configured rate. */
		c->remaining = c->bytes;
		c->next_ns = now_ns + c->usec * NSEC_PER_USEC;
	}
	if (len <= c->remaining) {
		c->remaining -= len;
		return true;
	}
	if (len > c->bytes && c->remaining == c->bytes) {
		/* Larger than any interval's credit: let it use a whole
		 * interval, or it would wait forever and wedge the queue. */
		c->remaining = 0;
		return true;
	}
	if (wait_ns)
		*wait_ns = c->next_ns - now_ns;
	return false;
}
