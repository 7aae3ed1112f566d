/* SPDX-License-Identifier: MIT */
/* Frontend vbd keys: strict parsing, every value bounded (fekeys.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "uback/xs.h"
#include "fekeys.h"

static int bad(struct blk_fe_keys *out, const char *key)
{
	snprintf(out->bad_key, sizeof(out->bad_key), "%s", key);
	return -EINVAL;
}

/* A number; @def when absent and @optional. */
static int read_u64(blk_fe_read_fn read, void *arg, const char *key,
		    bool optional, uint64_t def, uint64_t max, uint64_t *v,
		    struct blk_fe_keys *out)
{
	char buf[BLK_FE_VALUE_MAX];
	size_t len = 0;
	int ret = read(arg, key, buf, sizeof(buf), &len);

	if (ret == -ENOENT && optional) {
		*v = def;
		return 0;
	}
	if (ret == -ENOENT || ret == -E2BIG)
		return bad(out, key);
	if (ret)
		return ret;
	if (len >= sizeof(buf) || xb_parse_u64(buf, len, max, v))
		return bad(out, key);
	return 0;
}

static int read_queue(blk_fe_read_fn read, void *arg, unsigned int q,
		      struct blk_fe_keys *out)
{
	char dir[24] = "", key[48];
	uint32_t i;
	uint64_t v;
	int ret;

	if (out->nr_queues > 1)
		snprintf(dir, sizeof(dir), "queue-%u/", q);
	for (i = 0; i < (1u << out->ring_order); i++) {
		if (out->ring_order == 0)
			snprintf(key, sizeof(key), "%sring-ref", dir);
		else
			snprintf(key, sizeof(key), "%sring-ref%u", dir, i);
		ret = read_u64(read, arg, key, false, 0, UINT32_MAX, &v, out);
		if (ret)
			return ret;
		out->ring_refs[q][i] = (grant_ref_t)v;
	}
	snprintf(key, sizeof(key), "%sevent-channel", dir);
	ret = read_u64(read, arg, key, false, 0, UINT32_MAX, &v, out);
	if (ret)
		return ret;
	out->ports[q] = (evtchn_port_t)v;
	return 0;
}

int blk_fe_keys_parse(uint32_t max_queues, uint32_t max_ring_order,
		      blk_fe_read_fn read, void *arg,
		      struct blk_fe_keys *out)
{
	char protocol[BLK_FE_VALUE_MAX];
	uint64_t v;
	size_t len = 0;
	unsigned int q;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!max_queues || max_queues > BLK_MAX_QUEUES ||
	    max_ring_order > BLK_MAX_RING_ORDER)
		return -EINVAL;
	ret = read_u64(read, arg, "multi-queue-num-queues", true, 1,
		       max_queues, &v, out);
	if (ret)
		return ret;
	if (v == 0)
		return bad(out, "multi-queue-num-queues");
	out->nr_queues = (uint32_t)v;
	ret = read_u64(read, arg, "ring-page-order", true, 0, max_ring_order,
		       &v, out);
	if (ret)
		return ret;
	out->ring_order = (uint32_t)v;

	ret = read(arg, "protocol", protocol, sizeof(protocol), &len);
	if (ret == -ENOENT) {
		protocol[0] = '\0';
		len = 0;
	} else if (ret == -E2BIG) {
		return bad(out, "protocol");
	} else if (ret) {
		return ret;
	}
	/* An embedded NUL would make the name compare as its prefix. */
	if (len >= sizeof(protocol) || strlen(protocol) != len ||
	    blk_abi_from_protocol(protocol, &out->abi))
		return bad(out, "protocol");

	ret = read_u64(read, arg, "feature-persistent", true, 0, 1, &v, out);
	if (ret)
		return ret;
	out->persistent = v;

	for (q = 0; q < out->nr_queues; q++) {
		ret = read_queue(read, arg, q, out);
		if (ret)
			return ret;
	}
	return 0;
}
