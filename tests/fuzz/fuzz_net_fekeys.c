/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: everything uback-net parses out of xenstore values a
 * frontend or the toolstack writes: the frontend's vif keys
 * (net_fe_keys_parse: request-rx-copy, queue count, feature flags, the
 * control ring pair, per-queue ring refs and shared or split event
 * channels, all through the strict xb_parse_u64), the toolstack's `rate`
 * (net_credit_parse), the backend path (xb_dev_parse_backend_path, kind
 * vif) and the frontend path (xb_dev_check_frontend_path).
 *
 * Input: byte 0 picks the backend's queue limit (1..16); the rest is a
 * list of "key=value" entries separated by '\n'; the value runs to the
 * next '\n' and may hold NULs. A key asked for and not listed is absent
 * (-ENOENT). The first line, whole, also goes to the path parsers
 * (frontend domain: byte 0 modulo 8) and, up to its first NUL, to the
 * rate parser.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uback/xenbus.h"
#include "fekeys.h"
#include "xenbus_priv.h"

struct kv_input {
	const uint8_t *data;
	size_t size;
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lookup(void *arg, const char *key, char *buf, size_t bufsize,
		  size_t *len)
{
	const struct kv_input *in = arg;
	const uint8_t *p = in->data, *end = in->data + in->size;
	size_t klen = strlen(key);

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *line_end = nl ? nl : end;
		const uint8_t *eq = memchr(p, '=', (size_t)(line_end - p));

		if (eq && (size_t)(eq - p) == klen && !memcmp(p, key, klen)) {
			size_t vlen = (size_t)(line_end - eq - 1);

			if (vlen >= bufsize)
				return -E2BIG;
			memcpy(buf, eq + 1, vlen);
			buf[vlen] = '\0';
			*len = vlen;
			return 0;
		}
		p = line_end + 1;
	}
	return -ENOENT;
}

static void first_line(const uint8_t *data, size_t size, domid_t feid)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - data) : size;
	uint64_t bytes = 0, usec = 0;
	unsigned int devid;
	domid_t self, domid;
	char *s = malloc(len + 1);

	if (!s)
		return;
	memcpy(s, data, len);
	s[len] = '\0';
	if (!xb_dev_parse_backend_path(s, "vif", &self, &domid, &devid) &&
	    domid >= DOMID_FIRST_RESERVED)
		__builtin_trap();
	xb_dev_check_frontend_path(s, feid);
	if (!net_credit_parse(s, &bytes, &usec) &&
	    (!bytes || !usec || usec > (1ull << 32)))
		__builtin_trap();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kv_input in;
	struct net_fe_keys fk;
	uint32_t maxq, q;
	int ret;

	if (size < 1)
		return 0;
	maxq = 1 + data[0] % NET_MAX_QUEUES;
	in.data = data + 1;
	in.size = size - 1;
	ret = net_fe_keys_parse(maxq, lookup, &in, &fk);
	/* What connect relies on once the keys passed. */
	if (!ret) {
		if (fk.nr_queues < 1 || fk.nr_queues > maxq)
			__builtin_trap();
		if (fk.guest.csum6 && !fk.guest.csum)
			__builtin_trap();
		for (q = 0; q < fk.nr_queues; q++)
			if (fk.q[q].split != (fk.q[q].tx_evtchn !=
					      fk.q[q].rx_evtchn))
				__builtin_trap();
	} else if ((ret != -EINVAL && ret != -EOPNOTSUPP) || !fk.why[0]) {
		__builtin_trap();
	}
	if (in.size)
		first_line(in.data, in.size, (domid_t)(data[0] % 8));
	return 0;
}
