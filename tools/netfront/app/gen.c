/* SPDX-License-Identifier: MIT */
/*
 * The frame generator (uback-netfront --gen-64b): the guest sends
 * fixed-size frames as fast as its TX rings take them, for bench/net's
 * small-frame rate through uback-net. Frames are written straight into
 * the granted pool pages (netfront_tx_buffers), published once per burst.
 * While it can send, it spins on the rings' response producers (memory
 * reads: netfront tx_poll, the backend is not asked to notify) and looks
 * at its event channels and xenstore watch (system calls: netfront_poll)
 * and the clock only every GEN_POLL_EVERY rounds, so that the generator,
 * not its system calls, sets the pace. Once the rings stay full for
 * GEN_IDLE_SPINS rounds it sleeps until the backend has completed them
 * (netfront_queue_tx_arm): spinning on would only take the CPU from
 * whatever shares it, the backend itself in bench/net.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <uback/clock.h>
#include <uback/log.h>

#include "app.h"

#define GEN_BURST 64u
#define GEN_POLL_EVERY 256u
#define GEN_IDLE_SPINS 16u   /* rounds with nothing sent before a sleep */

int nfa_gen_run(struct netfront *nf, unsigned int secs, unsigned int len,
		const uint8_t mac[6], uint64_t *sent_out)
{
	/* Broadcast destination, the guest's MAC, a local experimental
	 * ethertype: a frame every host side forwards and none answers. */
	uint8_t frame[NETFRONT_MAX_FRAME > 1514 ? 1514 : NETFRONT_MAX_FRAME];
	struct iovec iov[NETFRONT_MAX_SLOTS];
	struct netfront_info info;
	uint64_t end, sent = 0;
	unsigned int q, k, n, round = 0, posted, idle = 0;
	bool ready;
	int ret = 0;

	if (len < 60 || len > sizeof(frame))
		return -EINVAL;
	memset(frame, 0, sizeof(frame));
	memset(frame, 0xff, 6);
	memcpy(frame + 6, mac, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	netfront_get_info(nf, &info);
	end = xb_now_ns() + (uint64_t)secs * 1000000000ull;
	for (;;) {
		if (++round == GEN_POLL_EVERY) {
			round = 0;
			if (xb_now_ns() >= end)
				break;
			ret = netfront_poll(nf);
			if (ret == -ENOTCONN)
				break;
			ret = 0;
		}
		posted = 0;
		for (q = 0; q < info.nr_queues; q++) {
			netfront_queue_reap(nf, q);
			for (k = 0; k < GEN_BURST; k++) {
				if (netfront_tx_buffers(nf, q, len, iov, &n))
					break;
				memcpy(iov[0].iov_base, frame, len);
				if (netfront_tx_commit(nf, q, NULL, len))
					break;
				sent++;
				posted++;
			}
			netfront_queue_kick(nf, q);
		}
		if (posted) {
			idle = 0;
			continue;
		}
		if (++idle < GEN_IDLE_SPINS)
			continue;
		/* The rings are full and stay so: sleep until the backend
		 * has taken them, leaving it the CPU. */
		idle = 0;
		ready = false;
		for (q = 0; q < info.nr_queues; q++)
			ready |= netfront_queue_tx_arm(nf, q);
		if (!ready)
			netfront_wait(nf, 1);
		ret = netfront_poll(nf);
		if (ret == -ENOTCONN)
			break;
		ret = 0;
	}
	*sent_out = sent;
	return ret;
}
