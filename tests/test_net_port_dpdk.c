/* SPDX-License-Identifier: MIT */
/*
 * netback/port_dpdk.c: the DPDK port.
 *
 *   (no args)  suite unit: header parsing, EAL argv, a net_ring loopback
 *              (frames of 60..65535 B back intact, checksums completed,
 *              GSO refused and counted), net_null counts, bad devargs,
 *              reopen of a closed name; net_vhost <-> net_virtio_user in
 *              this process (both directions, 64..9000 B, a TCP GSO frame
 *              crossing whole where the device has TSO, dropped and
 *              counted where the device or the guest lacks it).
 *   --memif    suite dpdk: a dpdk-testpmd memif server in io forward mode,
 *              this port its client: frames of several sizes come back
 *              whole; testpmd killed and restarted: no crash, frames resume.
 *   --bench    64 B frames tx_burst -> testpmd -> rx_burst for a few
 *              seconds; prints Mpps (not a test).
 *
 * One EAL per process: all cases share it (the port initialises it once).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_ethdev.h>
#include <rte_ip.h>

#include "dpdk_peer.h"
#include "port.h"
#include "port_dpdk_priv.h"

#define BURST 32u
#define FRAMES (3 * BURST)   /* a tx_burst may offer several bursts */
#define TX_BP (2 * BURST + 7) /* back-pressure bursts: over two device
                               * bursts, not dividing the ring */

static const struct net_port_ops *ops = &net_port_dpdk_ops;

/* ---- helpers ----------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct frames {
	struct net_frame f[FRAMES];
	uint8_t *buf;
};

static void frames_init(struct frames *fr)
{
	fr->buf = malloc((size_t)FRAMES * NET_FRAME_MAX);
	assert_non_null(fr->buf);
	for (unsigned int i = 0; i < FRAMES; i++) {
		memset(&fr->f[i], 0, sizeof(fr->f[i]));
		fr->f[i].data = fr->buf + (size_t)i * NET_FRAME_MAX;
	}
}

static void frames_fini(struct frames *fr)
{
	free(fr->buf);
}

/* An Ethernet frame of @len bytes, ethertype 0x88b5 (local experimental),
 * carrying @seq and a pattern derived from it. */
static void make_frame(struct net_frame *f, uint32_t len, uint32_t seq)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x02 };

	memset(&f->vnet, 0, sizeof(f->vnet));
	f->len = len;
	memcpy(f->data, dst, 6);
	memcpy(f->data + 6, src, 6);
	f->data[12] = 0x88;
	f->data[13] = 0xb5;
	memcpy(f->data + 14, &seq, 4);
	memcpy(f->data + 18, &len, 4);
	for (uint32_t i = 22; i < len; i++)
		f->data[i] = (uint8_t)(seq * 7 + i);
}

/* 0 if @f is make_frame(len, seq) for its own recorded len and seq. */
static int check_frame(const struct net_frame *f, uint32_t *seq_out)
{
	uint32_t seq;
	uint32_t len;

	if (f->len < 22)
		return -1;
	memcpy(&seq, f->data + 14, 4);
	memcpy(&len, f->data + 18, 4);
	if (len != f->len || f->data[12] != 0x88 || f->data[13] != 0xb5)
		return -1;
	for (uint32_t i = 22; i < len; i++)
		if (f->data[i] != (uint8_t)(seq * 7 + i))
			return -1;
	*seq_out = seq;
	return 0;
}

/* IPv4/UDP frame of @len bytes with a partial checksum: the UDP checksum
 * field holds the pseudo-header sum, as Linux and netfront hand it over. */
static void make_udp_partial(struct net_frame *f, uint32_t len)
{
	uint8_t *ip = f->data + 14;
	uint8_t *udp = ip + 20;
	uint16_t ipl = (uint16_t)(len - 14);
	uint16_t udpl = (uint16_t)(len - 34);
	uint16_t sum;

	make_frame(f, len, 0);
	f->data[12] = 0x08;
	f->data[13] = 0x00;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ipl >> 8);
	ip[3] = (uint8_t)ipl;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	ip[12] = 198; ip[13] = 18; ip[14] = 0; ip[15] = 1;
	ip[16] = 198; ip[17] = 18; ip[18] = 0; ip[19] = 2;
	sum = rte_ipv4_cksum((const void *)ip);
	memcpy(ip + 10, &sum, 2);
	udp[0] = 0x30; udp[1] = 0x39;
	udp[2] = 0x30; udp[3] = 0x3a;
	udp[4] = (uint8_t)(udpl >> 8);
	udp[5] = (uint8_t)udpl;
	sum = rte_ipv4_phdr_cksum((const void *)ip, 0);
	memcpy(udp + 6, &sum, 2);
	f->vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	f->vnet.csum_start = 34;
	f->vnet.csum_offset = 6;
}

/* IPv4/TCP GSO super-frame of @len bytes (MSS @mss) as a Linux guest
 * hands it over: partial checksum, pseudo-header sum with the length. */
static void make_tcp_gso(struct net_frame *f, uint32_t len, uint16_t mss)
{
	uint8_t *ip = f->data + 14;
	uint8_t *tcp = ip + 20;
	uint16_t ipl = (uint16_t)(len - 14);
	uint16_t sum;

	make_frame(f, len, 0);
	f->data[12] = 0x08;
	f->data[13] = 0x00;
	memset(ip, 0, 40);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ipl >> 8);
	ip[3] = (uint8_t)ipl;
	ip[6] = 0x40;   /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	ip[12] = 198; ip[13] = 18; ip[14] = 0; ip[15] = 1;
	ip[16] = 198; ip[17] = 18; ip[18] = 0; ip[19] = 2;
	sum = rte_ipv4_cksum((const void *)ip);
	memcpy(ip + 10, &sum, 2);
	tcp[0] = 0x30; tcp[1] = 0x39;
	tcp[2] = 0x00; tcp[3] = 0x50;
	tcp[7] = 1;            /* seq 1 */
	tcp[12] = 5 << 4;      /* data offset 20 */
	tcp[13] = 0x18;        /* PSH ACK */
	tcp[14] = 0xff; tcp[15] = 0xff;
	sum = rte_ipv4_phdr_cksum((const void *)ip, 0);
	memcpy(tcp + 16, &sum, 2);
	f->vnet.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	f->vnet.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	f->vnet.gso_size = mss;
	f->vnet.hdr_len = 54;
	f->vnet.csum_start = 34;
	f->vnet.csum_offset = 16;
}

static int open_port(const char *args, unsigned int nq, struct net_port **p)
{
	struct net_port_config cfg = {
		.ifname = "vif0.0",
		.args = args,
		.nr_queues = nq,
	};

	return ops->open(&cfg, p);
}

/* Send all @n frames of f[] through tx_burst, retrying on back-pressure,
 * for at most @ms milliseconds. Returns how many were taken. */
static unsigned int tx_all(struct net_port *p, struct net_frame *f,
			   unsigned int n, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	unsigned int done = 0;

	while (done < n && now_ns() < end) {
		int r = ops->tx_burst(p, 0, f + done, n - done);

		assert_true(r >= 0);
		done += (unsigned int)r;
	}
	return done;
}

/* ---- unit: pure helpers ------------------------------------------------ */

static void test_eal_argv(void **state)
{
	char buf[512];
	char *argv[32];
	int argc = 0;

	assert_int_equal(net_dpdk_eal_argv("--log-level=*:debug  -m 256", buf,
					   sizeof(buf), argv, 32, &argc), 0);
	assert_true(argc > 4);
	assert_string_equal(argv[argc - 1], "256");
	assert_string_equal(argv[argc - 2], "-m");
	assert_string_equal(argv[argc - 3], "--log-level=*:debug");
	assert_null(argv[argc]);
	for (int i = 0; i < argc; i++)
		assert_string_not_equal(argv[i], "--in-memory");
	assert_int_equal(net_dpdk_eal_argv(NULL, buf, 16, argv, 32, &argc),
			 -E2BIG);
	assert_int_equal(net_dpdk_eal_argv("a b c d e f g h i j k l", buf,
					   sizeof(buf), argv, 8, &argc),
			 -E2BIG);
}

static void test_parse_hdrs(void **state)
{
	struct frames fr;
	struct net_dpdk_hdrs h;
	struct net_frame *f;

	frames_init(&fr);
	f = &fr.f[0];
	make_udp_partial(f, 100);
	assert_int_equal(net_dpdk_parse_hdrs(f->data, f->len, &h), 0);
	assert_int_equal(h.l2_len, 14);
	assert_int_equal(h.l3_len, 20);
	assert_int_equal(h.l4_len, 8);
	assert_int_equal(h.ip_version, 4);
	assert_int_equal(h.l4_proto, IPPROTO_UDP);
	/* every truncation of the headers is refused */
	for (uint32_t l = 0; l < 42; l++)
		assert_int_equal(net_dpdk_parse_hdrs(f->data, l, &h), -EINVAL);
	/* a bad IHL */
	f->data[14] = 0x44;
	assert_int_equal(net_dpdk_parse_hdrs(f->data, f->len, &h), -EINVAL);
	/* not IP */
	make_frame(f, 100, 1);
	assert_int_equal(net_dpdk_parse_hdrs(f->data, f->len, &h), -EINVAL);
	frames_fini(&fr);
}

/* ---- unit: net_ring loopback ------------------------------------------- */

static void test_ring_loopback(void **state)
{
	static const uint32_t sizes[] = { 60, 64, 1514, 2048, 9000, 40000,
					  NET_FRAME_MAX };
	const unsigned int n = sizeof(sizes) / sizeof(sizes[0]);
	struct net_port_stats st;
	struct net_port *p = NULL;
	struct frames tx;
	struct frames rx;
	uint32_t seq;
	int r;

	frames_init(&tx);
	frames_init(&rx);
	assert_int_equal(open_port("net_ring_lb0", 1, &p), 0);
	assert_non_null(p);
	assert_int_equal(ops->queue_fd(p, 0), -1);

	/* not enabled: bursts move nothing */
	make_frame(&tx.f[0], 64, 0);
	assert_int_equal(ops->tx_burst(p, 0, tx.f, 1), 0);
	assert_int_equal(ops->rx_burst(p, 0, rx.f, BURST), 0);

	assert_int_equal(net_dpdk_host_offloads(p), NET_OFF_CSUM);
	assert_int_equal(ops->enable(p, 2, 0), -EINVAL);
	assert_int_equal(ops->enable(p, 1, 0), 0);
	for (unsigned int i = 0; i < n; i++)
		make_frame(&tx.f[i], sizes[i], i);
	assert_int_equal(ops->tx_burst(p, 0, tx.f, n), (int)n);
	r = ops->rx_burst(p, 0, rx.f, BURST);
	assert_int_equal(r, (int)n);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(check_frame(&rx.f[i], &seq), 0);
		assert_int_equal(seq, i);
		assert_int_equal(rx.f[i].len, sizes[i]);
		assert_int_equal(rx.f[i].vnet.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	}
	assert_int_equal(ops->rx_burst(p, 0, rx.f, BURST), 0);

	/* a partial checksum is completed on the way out */
	make_udp_partial(&tx.f[0], 300);
	assert_int_equal(ops->tx_burst(p, 0, tx.f, 1), 1);
	assert_int_equal(ops->rx_burst(p, 0, rx.f, BURST), 1);
	assert_int_equal(rx.f[0].len, 300);
	{
		uint16_t got_sum;
		uint16_t want;

		memcpy(&got_sum, rx.f[0].data + 40, 2);
		memset(rx.f[0].data + 40, 0, 2);
		want = rte_ipv4_udptcp_cksum((const void *)(rx.f[0].data + 14),
					     rx.f[0].data + 34);
		assert_int_equal(got_sum, want);
		memcpy(rx.f[0].data + 40, &got_sum, 2);
	}
	assert_memory_not_equal(rx.f[0].data + 40, tx.f[0].data + 40, 2);
	assert_memory_equal(rx.f[0].data + 42, tx.f[0].data + 42, 300 - 42);

	/* GSO without TSO on the device (dropped), a runt and a bad
	 * checksum offset (errors): taken and counted; the good frame
	 * between them passes */
	make_udp_partial(&tx.f[0], 1000);
	tx.f[0].vnet.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	tx.f[0].vnet.gso_size = 1448;
	make_frame(&tx.f[1], 10, 1);
	make_frame(&tx.f[2], 64, 2);
	make_udp_partial(&tx.f[3], 100);
	tx.f[3].vnet.csum_start = 99;
	assert_int_equal(ops->tx_burst(p, 0, tx.f, 4), 4);
	assert_int_equal(ops->rx_burst(p, 0, rx.f, BURST), 1);
	assert_int_equal(check_frame(&rx.f[0], &seq), 0);
	assert_int_equal(seq, 2);
	ops->get_stats(p, 0, &st);
	assert_int_equal(st.tx_dropped, 1);
	assert_int_equal(st.tx_errors, 2);
	assert_int_equal(st.rx_oversize, 0);
	assert_int_equal(st.rx_errors, 0);

	/* more than one device burst in one call: all taken, in order */
	for (unsigned int i = 0; i < FRAMES; i++)
		make_frame(&tx.f[i], 60 + i, i);
	assert_int_equal(ops->tx_burst(p, 0, tx.f, FRAMES), (int)FRAMES);
	for (unsigned int got = 0; got < FRAMES; got += (unsigned int)r) {
		r = ops->rx_burst(p, 0, rx.f, BURST);
		assert_true(r > 0);
		for (int i = 0; i < r; i++) {
			assert_int_equal(check_frame(&rx.f[i], &seq), 0);
			assert_int_equal(seq, got + (unsigned int)i);
		}
	}

	/* back-pressure: without rx the ring fills, tx_burst takes fewer
	 * than offered (cut inside one of its device bursts) and then
	 * none; every frame taken comes back, in order; a runt in every
	 * burst is counted once if taken, never if it was after the cut */
	{
		static uint32_t want[2048];
		unsigned int nwant = 0;
		unsigned int taken = 0;
		unsigned int runts = 0;
		unsigned int partial = 0;
		unsigned int back = 0;
		uint64_t dropped0;
		uint64_t errors0;

		r = 1;
		ops->get_stats(p, 0, &st);
		dropped0 = st.tx_dropped;
		errors0 = st.tx_errors;
		/* bursts of TX_BP do not divide the ring: one is cut short */
		for (unsigned int b = 0; b < 1000 && r > 0; b++) {
			for (unsigned int i = 0; i < TX_BP; i++)
				make_frame(&tx.f[i], i == 3 ? 8 : 100,
					   taken + i);
			r = ops->tx_burst(p, 0, tx.f, TX_BP);
			assert_true(r >= 0 && r <= (int)TX_BP);
			for (int i = 0; i < r; i++) {
				if (i == 3)
					runts++;
				else
					want[nwant++] = taken + (unsigned)i;
			}
			taken += (unsigned int)r;
			partial += r > 0 && r < (int)TX_BP;
		}
		assert_int_equal(r, 0);
		assert_int_equal(partial, 1);
		while ((r = ops->rx_burst(p, 0, rx.f, BURST)) > 0) {
			for (int i = 0; i < r; i++) {
				assert_int_equal(check_frame(&rx.f[i], &seq), 0);
				assert_true(back < nwant);
				assert_int_equal(seq, want[back]);
				back++;
			}
		}
		assert_int_equal(back, nwant);
		ops->get_stats(p, 0, &st);
		assert_int_equal(st.tx_dropped, dropped0);
		assert_int_equal(st.tx_errors, errors0 + runts);
	}

	/* disabled again: nothing moves */
	ops->disable(p);
	make_frame(&tx.f[0], 64, 0);
	assert_int_equal(ops->tx_burst(p, 0, tx.f, 1), 0);
	assert_int_equal(ops->set_carrier(p, false), 0);
	assert_int_equal(ops->set_carrier(p, true), 0);
	ops->close(p);

	/* the name is free again after close */
	assert_int_equal(open_port("net_ring_lb0", 1, &p), 0);
	ops->close(p);
	frames_fini(&tx);
	frames_fini(&rx);
}

/* ---- unit: net_null ---------------------------------------------------- */

static void test_null_counts(void **state)
{
	struct net_port *p = NULL;
	struct net_port_stats st;
	struct frames fr;
	unsigned int got = 0;

	frames_init(&fr);
	assert_int_equal(open_port("net_null_c0,size=128", 2, &p), 0);
	assert_int_equal(ops->enable(p, 2, NET_OFF_CSUM), 0);
	for (unsigned int i = 0; i < BURST; i++)
		make_frame(&fr.f[i], 64 + i * 40, i);
	/* net_null swallows everything: 100 bursts all taken */
	for (unsigned int b = 0; b < 100; b++) {
		assert_int_equal(ops->tx_burst(p, b & 1, fr.f, BURST),
				 (int)BURST);
	}
	/* and produces frames of the configured size on every queue */
	for (unsigned int b = 0; b < 10; b++) {
		int r = ops->rx_burst(p, b & 1, fr.f, BURST);

		assert_true(r > 0 && r <= (int)BURST);
		for (int i = 0; i < r; i++)
			assert_int_equal(fr.f[i].len, 128);
		got += (unsigned int)r;
	}
	assert_true(got >= 10);
	/* a queue beyond the enabled ones moves nothing */
	assert_int_equal(ops->rx_burst(p, 2, fr.f, BURST), 0);
	for (unsigned int q = 0; q < 2; q++) {
		ops->get_stats(p, q, &st);
		assert_int_equal(st.tx_dropped, 0);
		assert_int_equal(st.rx_errors, 0);
	}
	ops->close(p);
	frames_fini(&fr);
}

/* The most queues a port may have fit in the EAL's default memory. */
static void test_null_max_queues(void **state)
{
	struct net_port *p = NULL;
	struct frames fr;

	frames_init(&fr);
	assert_int_equal(open_port("net_null_mq0", NET_PORT_MAX_QUEUES, &p),
			 0);
	assert_int_equal(ops->enable(p, NET_PORT_MAX_QUEUES, 0), 0);
	for (unsigned int q = 0; q < NET_PORT_MAX_QUEUES; q++) {
		make_frame(&fr.f[0], 1514, q);
		assert_int_equal(ops->tx_burst(p, q, fr.f, 1), 1);
		assert_true(ops->rx_burst(p, q, fr.f, BURST) > 0);
	}
	ops->close(p);
	frames_fini(&fr);
}

static void test_bad_open(void **state)
{
	struct net_port *p = (struct net_port *)0x1;

	assert_int_equal(open_port("net_nosuchdriver0", 1, &p), -EINVAL);
	assert_int_equal(open_port("", 1, &p), -EINVAL);
	assert_int_equal(open_port(NULL, 1, &p), -EINVAL);
	assert_int_equal(open_port("net_null_b0", 0, &p), -EINVAL);
	assert_int_equal(open_port("net_null_b0", NET_PORT_MAX_QUEUES + 1, &p),
			 -EINVAL);
	assert_ptr_equal(p, (struct net_port *)0x1);
	/* the same name twice */
	assert_int_equal(open_port("net_null_b0", 1, &p), 0);
	{
		struct net_port *p2 = NULL;

		assert_int_equal(open_port("net_null_b0", 1, &p2), -EEXIST);
		assert_null(p2);
	}
	ops->close(p);
	ops->close(NULL);
	/* an MTU over the device's limit (memif: 1500): refused after the
	 * probe, and the name is free again */
	{
		char args[128];
		struct net_port_config cfg = {
			.ifname = "vif0.0",
			.args = args,
			.nr_queues = 1,
			.mtu = 9000,
		};

		snprintf(args, sizeof(args), "net_memif_m0,role=client,"
			 "socket=/tmp/uback-nosuch-%d.sock,socket-abstract=no",
			 (int)getpid());

		p = NULL;
		assert_true(ops->open(&cfg, &p) < 0);
		assert_null(p);
		cfg.mtu = 1500;
		assert_int_equal(ops->open(&cfg, &p), 0);
		ops->close(p);
	}
}

/* ---- unit: net_vhost <-> net_virtio_user in this process ----------------- */

static void test_vhost_virtio_user(void **state)
{
	static const uint32_t sizes[] = { 64, 1514, 9000 };
	char dir[] = "/tmp/uback-vhost-XXXXXX";
	char args[256];
	struct net_port *vh = NULL;
	struct net_port *vu = NULL;
	struct net_port_stats st;
	struct frames tx;
	struct frames rx;
	uint64_t end;
	uint32_t seq;
	unsigned int got;

	frames_init(&tx);
	frames_init(&rx);
	assert_non_null(mkdtemp(dir));
	snprintf(args, sizeof(args), "net_vhost_u%d,iface=%s/vh.sock,queues=1,tso=1",
		 (int)getpid(), dir);
	assert_int_equal(open_port(args, 1, &vh), 0);
	snprintf(args, sizeof(args),
		 "net_virtio_user_u%d,path=%s/vh.sock,queues=1",
		 (int)getpid(), dir);
	assert_int_equal(open_port(args, 1, &vu), 0);
	assert_int_equal(ops->enable(vh, 1, NET_OFF_CSUM | NET_OFF_TSO4), 0);
	assert_int_equal(ops->enable(vu, 1, 0), 0);
	/* virtio_user (its vhost peer offers TSO) takes GSO, net_vhost not */
	assert_int_equal(net_dpdk_host_offloads(vu),
			 NET_OFF_CSUM | NET_OFF_TSO4 | NET_OFF_TSO6);
	assert_int_equal(net_dpdk_host_offloads(vh), NET_OFF_CSUM);

	/* both directions, every size, payload checked */
	for (unsigned int dirn = 0; dirn < 2; dirn++) {
		struct net_port *a = dirn ? vh : vu;
		struct net_port *b = dirn ? vu : vh;

		for (unsigned int s = 0; s < 3; s++) {
			/* the vhost side comes up when the virtio side has
			 * its queues: retry the first burst for a while */
			end = now_ns() + 10000000000ull;
			got = 0;
			for (unsigned int i = 0; i < 8; i++)
				make_frame(&tx.f[i], sizes[s], i);
			while (got == 0 && now_ns() < end) {
				int r = ops->tx_burst(a, 0, tx.f, 8);

				assert_true(r >= 0);
				usleep(1000);
				while ((r = ops->rx_burst(b, 0, rx.f,
							  BURST)) > 0) {
					for (int i = 0; i < r; i++) {
						assert_int_equal(check_frame(
							&rx.f[i], &seq), 0);
						assert_int_equal(rx.f[i].len,
								 sizes[s]);
					}
					got += (unsigned int)r;
				}
			}
			fprintf(stderr, "%s -> %s %u B: %u frames\n",
				dirn ? "vhost" : "virtio_user",
				dirn ? "virtio_user" : "vhost", sizes[s], got);
			assert_true(got > 0);
		}
	}
	ops->get_stats(vh, 0, &st);
	assert_int_equal(st.rx_errors + st.rx_oversize, 0);
	ops->get_stats(vu, 0, &st);
	assert_int_equal(st.rx_errors + st.rx_oversize, 0);

	/* a partial checksum crosses as such, both ways (both devices
	 * offload checksums), to a guest that takes it; a guest that does
	 * not gets it completed */
	for (unsigned int dirn = 0; dirn < 2; dirn++) {
		struct net_port *a = dirn ? vh : vu;
		struct net_port *b = dirn ? vu : vh;

		for (unsigned int g = 0; g < 2; g++) {
			assert_int_equal(ops->enable(b, 1, g ? 0 : NET_OFF_CSUM),
					 0);
			make_udp_partial(&tx.f[0], 300);
			assert_int_equal(ops->tx_burst(a, 0, tx.f, 1), 1);
			end = now_ns() + 2000000000ull;
			got = 0;
			while (got == 0 && now_ns() < end) {
				int r = ops->rx_burst(b, 0, rx.f, BURST);

				assert_true(r >= 0);
				got = (unsigned int)r;
			}
			assert_int_equal(got, 1);
			assert_int_equal(rx.f[0].len, 300);
			if (!g) {
				assert_int_equal(rx.f[0].vnet.flags,
						 VIRTIO_NET_HDR_F_NEEDS_CSUM);
				assert_int_equal(rx.f[0].vnet.csum_start, 34);
				assert_int_equal(rx.f[0].vnet.csum_offset, 6);
				assert_memory_equal(rx.f[0].data, tx.f[0].data,
						    300);
			} else {
				uint16_t sum;
				uint16_t want;

				assert_false(rx.f[0].vnet.flags &
					     VIRTIO_NET_HDR_F_NEEDS_CSUM);
				memcpy(&sum, rx.f[0].data + 40, 2);
				memset(rx.f[0].data + 40, 0, 2);
				want = rte_ipv4_udptcp_cksum(
					(const void *)(rx.f[0].data + 14),
					rx.f[0].data + 34);
				assert_int_equal(sum, want);
				assert_memory_equal(rx.f[0].data + 42,
						    tx.f[0].data + 42, 300 - 42);
			}
		}
	}
	assert_int_equal(ops->enable(vh, 1, NET_OFF_CSUM | NET_OFF_TSO4), 0);
	assert_int_equal(ops->enable(vu, 1, 0), 0);

	/* a GSO frame crosses whole where the device takes TSO (virtio_user
	 * here), and arrives as GSO for a guest that takes TSO4 */
	make_tcp_gso(&tx.f[0], 14 + 20 + 20 + 4 * 1448, 1448);
	assert_int_equal(ops->tx_burst(vu, 0, tx.f, 1), 1);
	end = now_ns() + 2000000000ull;
	got = 0;
	while (got == 0 && now_ns() < end) {
		int r = ops->rx_burst(vh, 0, rx.f, BURST);

		assert_true(r >= 0);
		got = (unsigned int)r;
	}
	assert_int_equal(got, 1);
	assert_int_equal(rx.f[0].len, tx.f[0].len);
	assert_int_equal(rx.f[0].vnet.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(rx.f[0].vnet.gso_size, 1448);
	assert_int_equal(rx.f[0].vnet.hdr_len, 54);
	assert_int_equal(rx.f[0].vnet.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(rx.f[0].vnet.csum_start, 34);
	assert_int_equal(rx.f[0].vnet.csum_offset, 16);
	/* byte for byte, the partial checksum back in Linux's convention */
	assert_memory_equal(rx.f[0].data, tx.f[0].data, tx.f[0].len);

	/* the same frame for a guest without TSO: dropped, counted */
	assert_int_equal(ops->enable(vh, 1, NET_OFF_CSUM), 0);
	assert_int_equal(ops->tx_burst(vu, 0, tx.f, 1), 1);
	end = now_ns() + 2000000000ull;
	ops->get_stats(vh, 0, &st);
	while (st.rx_errors == 0 && now_ns() < end) {
		assert_int_equal(ops->rx_burst(vh, 0, rx.f, BURST), 0);
		ops->get_stats(vh, 0, &st);
	}
	assert_int_equal(st.rx_errors, 1);

	/* net_vhost offers no TSO: a GSO frame towards it is dropped */
	ops->get_stats(vh, 0, &st);
	assert_int_equal(st.tx_dropped, 0);
	assert_int_equal(ops->tx_burst(vh, 0, tx.f, 1), 1);
	ops->get_stats(vh, 0, &st);
	assert_int_equal(st.tx_dropped, 1);

	/* the virtio side goes away: the vhost port takes and drops
	 * (counted); it comes back under the same name: frames flow */
	ops->close(vu);
	vu = NULL;
	for (unsigned int i = 0; i < 8; i++)
		make_frame(&tx.f[i], 200, i);
	assert_int_equal(tx_all(vh, tx.f, 8, 3000), 8);
	assert_int_equal(ops->rx_burst(vh, 0, rx.f, BURST), 0);
	ops->get_stats(vh, 0, &st);
	assert_int_equal(st.tx_dropped, 1 + 8);
	assert_int_equal(open_port(args, 1, &vu), 0);
	assert_int_equal(ops->enable(vu, 1, 0), 0);
	end = now_ns() + 10000000000ull;
	got = 0;
	while (got == 0 && now_ns() < end) {
		int r = ops->tx_burst(vh, 0, tx.f, 8);

		assert_true(r >= 0);
		usleep(1000);
		r = ops->rx_burst(vu, 0, rx.f, BURST);
		assert_true(r >= 0);
		got = (unsigned int)r;
	}
	assert_true(got > 0);
	assert_int_equal(check_frame(&rx.f[0], &seq), 0);
	ops->close(vu);
	ops->close(vh);
	snprintf(args, sizeof(args), "%s/vh.sock", dir);
	unlink(args);
	assert_int_equal(rmdir(dir), 0);
	frames_fini(&tx);
	frames_fini(&rx);
}

/* ---- dpdk suite: a dpdk-testpmd memif peer ----------------------------- */

static struct dpdk_peer g_peer;
static char g_devargs[256];
static char g_portname[64];       /* the ethdev name in g_devargs */
static struct net_port *g_port;   /* closed by port_teardown on failure */

static const struct dpdk_peer_args memif_server = {
	.vdev = "net_memif0,role=server,socket=%s,socket-abstract=no",
	.fwd = "io",
	.nr_queues = 2,
	.publish = true,
};

static int port_teardown(void **state)
{
	if (g_port)
		ops->close(g_port);
	g_port = NULL;
	return 0;
}

static void peer_start(struct dpdk_peer *pe)
{
	assert_int_equal(dpdk_peer_start(pe, &memif_server), 0);
}

static void peer_kill(struct dpdk_peer *pe, int sig)
{
	dpdk_peer_kill(pe, sig);
}

static void peer_dump_log(void)
{
	dpdk_peer_dump_log(&g_peer);
}

/* Once the port's memif link is up (seen in this process), testpmd
 * starts forwarding. */
static void peer_go(struct dpdk_peer *pe)
{
	uint64_t end = now_ns() + 30000000000ull;
	struct rte_eth_link link = { 0 };
	uint16_t port_id;

	while (now_ns() < end) {
		if (rte_eth_dev_get_port_by_name(g_portname, &port_id) == 0 &&
		    rte_eth_link_get_nowait(port_id, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP)
			break;
		usleep(20000);
	}
	if (link.link_status != RTE_ETH_LINK_UP) {
		peer_dump_log();
		fail_msg("the memif client did not connect to testpmd");
	}
	assert_int_equal(dpdk_peer_go(pe), 0);
}

static void peer_atexit(void)
{
	dpdk_peer_fini(&g_peer);
}

static int memif_setup(void **state)
{
	if (dpdk_peer_init(&g_peer))
		return -1;
	snprintf(g_portname, sizeof(g_portname), "net_memif_u%d",
		 (int)getpid());
	snprintf(g_devargs, sizeof(g_devargs),
		 "%s,role=client,socket=%s,socket-abstract=no", g_portname,
		 g_peer.sock);
	atexit(peer_atexit);
	return 0;
}

/* A fresh testpmd per case: one that crashed cannot fail the next case. */
static int peer_setup(void **state)
{
	peer_start(&g_peer);
	return 0;
}

/* The server leaves before its client (a memif server can crash when its
 * client leaves first), then the port closes. */
static int peer_port_teardown(void **state)
{
	peer_kill(&g_peer, SIGTERM);
	return port_teardown(state);
}

/* Send frames of @len and receive them back through the peer until @n
 * came back or @ms elapsed; checks every received frame. Returns how many
 * came back; *sent_out how many tx_burst took. */
static unsigned int echo(struct net_port *p, unsigned int q,
			 struct frames *tx, struct frames *rx, uint32_t len,
			 unsigned int n,
			 unsigned int ms, unsigned int *sent_out,
			 unsigned int *seq_base)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;
	unsigned int sent = 0;
	unsigned int got = 0;
	uint32_t seq;

	while (got < n && now_ns() < end) {
		/* at most a few bursts in flight: the peer's rings are not
		 * to overflow, every frame must come back */
		if (sent < n && sent - got < 4 * BURST) {
			unsigned int k = n - sent < BURST ? n - sent : BURST;
			int r;

			for (unsigned int i = 0; i < k; i++)
				make_frame(&tx->f[i], len,
					   *seq_base + sent + i);
			r = ops->tx_burst(p, q, tx->f, k);
			assert_true(r >= 0);
			sent += (unsigned int)r;
		}
		int r = ops->rx_burst(p, q, rx->f, BURST);

		assert_true(r >= 0);
		for (int i = 0; i < r; i++) {
			if (check_frame(&rx->f[i], &seq) != 0) {
				fprintf(stderr, "bad frame q%u len %u (want %u) "
					"i %d of %d, got %u\n", q, rx->f[i].len,
					len, i, r, got);
				for (unsigned int k = 0; k < 32; k++)
					fprintf(stderr, "%02x", rx->f[i].data[k]);
				fprintf(stderr, "\n");
			}
			assert_int_equal(check_frame(&rx->f[i], &seq), 0);
			assert_int_equal(rx->f[i].len, len);
			/* in order, none lost, none twice */
			assert_int_equal(seq, *seq_base + got);
			got++;
		}
	}
	*seq_base += sent;
	*sent_out = sent;
	return got;
}

/* Poll until one frame makes the round trip (peer connected). */
static bool wait_link(struct net_port *p, struct frames *tx,
		      struct frames *rx, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;

	while (now_ns() < end) {
		make_frame(&tx->f[0], 64, 0xffffffffu);
		(void)ops->tx_burst(p, 0, tx->f, 1);
		usleep(20000);
		if (ops->rx_burst(p, 0, rx->f, BURST) > 0) {
			/* drain stragglers of earlier probes */
			usleep(50000);
			while (ops->rx_burst(p, 0, rx->f, BURST) > 0)
				;
			return true;
		}
	}
	if (g_peer.log[0])
		peer_dump_log();
	return false;
}

static void test_memif_echo(void **state)
{
	static const uint32_t sizes[] = { 64, 128, 777, 1514, 4000, 9000 };
	struct net_port *p = NULL;
	struct net_port_stats st;
	struct frames tx;
	struct frames rx;
	unsigned int seq = 0;
	uint64_t dropped0;

	frames_init(&tx);
	frames_init(&rx);
	assert_int_equal(open_port(g_devargs, 2, &g_port), 0);
	p = g_port;
	assert_int_equal(ops->enable(p, 2, 0), 0);
	peer_go(&g_peer);
	assert_true(wait_link(p, &tx, &rx, 15000));
	ops->get_stats(p, 0, &st);
	dropped0 = st.tx_dropped;

	/* every size on queue 0, then on queue 1 (testpmd's io forwarding
	 * returns each queue's frames on the same queue) */
	for (unsigned int q = 0; q < 2; q++) {
		for (unsigned int s = 0; s < sizeof(sizes) / sizeof(sizes[0]);
		     s++) {
			unsigned int sent;
			unsigned int got = echo(p, q, &tx, &rx, sizes[s], 2000,
						10000, &sent, &seq);

			fprintf(stderr, "memif echo q%u %u B: %u sent, "
				"%u back\n", q, sizes[s], sent, got);
			assert_int_equal(sent, 2000);
			assert_int_equal(got, 2000);
		}
	}
	ops->get_stats(p, 0, &st);
	assert_int_equal(st.tx_dropped, dropped0);
	for (unsigned int q = 0; q < 2; q++) {
		ops->get_stats(p, q, &st);
		assert_int_equal(st.rx_errors, 0);
		assert_int_equal(st.rx_oversize, 0);
		if (q)
			assert_int_equal(st.tx_dropped, 0);
	}
	frames_fini(&tx);
	frames_fini(&rx);
}

static void test_memif_peer_restart(void **state)
{
	struct net_port *p = NULL;
	struct net_port_stats st;
	struct frames tx;
	struct frames rx;
	unsigned int seq = 0;
	unsigned int sent;
	unsigned int taken;

	frames_init(&tx);
	frames_init(&rx);
	assert_int_equal(open_port(g_devargs, 2, &g_port), 0);
	p = g_port;
	assert_int_equal(ops->enable(p, 2, 0), 0);
	peer_go(&g_peer);
	assert_true(wait_link(p, &tx, &rx, 15000));
	assert_int_equal(echo(p, 0, &tx, &rx, 1000, 500, 10000, &sent, &seq),
			 500);

	/* the peer dies: bursts keep working, frames are dropped (counted)
	 * rather than held, nothing crashes */
	peer_kill(&g_peer, SIGKILL);
	usleep(200000);
	for (unsigned int i = 0; i < BURST; i++)
		make_frame(&tx.f[i], 200, i);
	taken = tx_all(p, tx.f, BURST, 3000);
	assert_int_equal(taken, BURST);
	for (unsigned int i = 0; i < 100; i++)
		assert_true(ops->rx_burst(p, 0, rx.f, BURST) >= 0);
	ops->get_stats(p, 0, &st);
	fprintf(stderr, "peer gone: tx_dropped %llu\n",
		(unsigned long long)st.tx_dropped);
	assert_true(st.tx_dropped >= 1);

	/* it comes back on the same socket: frames resume */
	peer_start(&g_peer);
	peer_go(&g_peer);
	assert_true(wait_link(p, &tx, &rx, 30000));
	seq = 0;
	assert_int_equal(echo(p, 0, &tx, &rx, 1514, 1000, 10000, &sent,
			      &seq), 1000);
	frames_fini(&tx);
	frames_fini(&rx);
}

/* The port opens while its memif server is not there: open succeeds,
 * frames are dropped and counted, and flow once the server appears. */
static void test_memif_open_before_peer(void **state)
{
	struct net_port *p = NULL;
	struct net_port_stats st;
	struct frames tx;
	struct frames rx;
	unsigned int seq = 0;
	unsigned int sent;

	frames_init(&tx);
	frames_init(&rx);
	peer_kill(&g_peer, SIGTERM);
	assert_int_equal(open_port(g_devargs, 2, &g_port), 0);
	p = g_port;
	assert_int_equal(ops->enable(p, 2, 0), 0);
	for (unsigned int i = 0; i < BURST; i++)
		make_frame(&tx.f[i], 300, i);
	assert_int_equal(tx_all(p, tx.f, BURST, 3000), BURST);
	assert_int_equal(ops->rx_burst(p, 1, rx.f, BURST), 0);
	ops->get_stats(p, 0, &st);
	assert_int_equal(st.tx_dropped, BURST);

	peer_start(&g_peer);
	peer_go(&g_peer);
	assert_true(wait_link(p, &tx, &rx, 30000));
	assert_int_equal(echo(p, 1, &tx, &rx, 1514, 1000, 10000, &sent,
			      &seq), 1000);
	frames_fini(&tx);
	frames_fini(&rx);
}

/* ---- bench ------------------------------------------------------------- */

/* The port's own cost: 64 B frames into net_null (tx) and out of it (rx),
 * one thread, no peer. */
static void bench_null(void)
{
	struct net_port *p = NULL;
	struct frames fr;
	uint64_t n = 0;
	uint64_t t0;
	uint64_t t1;

	frames_init(&fr);
	if (open_port("net_null_bench0,size=64", 1, &p) < 0 ||
	    ops->enable(p, 1, 0) < 0) {
		fprintf(stderr, "bench: no net_null\n");
		return;
	}
	for (unsigned int i = 0; i < BURST; i++)
		make_frame(&fr.f[i], 64, i);
	t0 = now_ns();
	while (now_ns() - t0 < 2000000000ull)
		for (int k = 0; k < 64; k++)
			n += (uint64_t)ops->tx_burst(p, 0, fr.f, BURST);
	t1 = now_ns();
	printf("net-dpdk-rate: 64 B tx_burst into net_null: %.2f Mpps\n",
	       (double)n / ((double)(t1 - t0) / 1e3));
	n = 0;
	t0 = now_ns();
	while (now_ns() - t0 < 2000000000ull)
		for (int k = 0; k < 64; k++)
			n += (uint64_t)ops->rx_burst(p, 0, fr.f, BURST);
	t1 = now_ns();
	printf("net-dpdk-rate: 64 B rx_burst from net_null: %.2f Mpps\n",
	       (double)n / ((double)(t1 - t0) / 1e3));
	ops->close(p);
	frames_fini(&fr);
}

static int bench(void)
{
	struct net_port *p = NULL;
	struct frames tx;
	struct frames rx;
	uint64_t sent = 0;
	uint64_t got = 0;
	uint64_t t0;
	uint64_t t1;
	double secs = 5.0;

	cpu_set_t cpu0;

	/* TEST_BENCH_PIN=1: this thread on CPU 0, testpmd's forwarding
	 * lcore is on CPU 1 (on a busy shared machine, unpinned does better) */
	if (getenv("TEST_BENCH_PIN")) {
		CPU_ZERO(&cpu0);
		CPU_SET(0, &cpu0);
		(void)sched_setaffinity(0, sizeof(cpu0), &cpu0);
	}
	frames_init(&tx);
	frames_init(&rx);
	if (memif_setup(NULL) < 0 || peer_setup(NULL) < 0 ||
	    open_port(g_devargs, 2, &p) < 0 ||
	    ops->enable(p, 2, 0) < 0 || (peer_go(&g_peer), false) ||
	    !wait_link(p, &tx, &rx, 15000)) {
		fprintf(stderr, "bench: no memif peer\n");
		return 1;
	}
	for (unsigned int i = 0; i < BURST; i++)
		make_frame(&tx.f[i], 64, i);
	t0 = now_ns();
	t1 = t0 + (uint64_t)(secs * 1e9);
	while (now_ns() < t1) {
		int r = ops->tx_burst(p, 0, tx.f, BURST);

		sent += (unsigned int)(r > 0 ? r : 0);
		for (int k = 0; k < 2; k++) {
			r = ops->rx_burst(p, 0, rx.f, BURST);
			got += (unsigned int)(r > 0 ? r : 0);
		}
	}
	t1 = now_ns();
	printf("net-dpdk-rate: 64 B tx_burst -> testpmd(io, memif) -> "
	       "rx_burst: %.2f Mpps back (%.2f Mpps taken by tx) over %.1f s\n",
	       (double)got / ((double)(t1 - t0) / 1e3),
	       (double)sent / ((double)(t1 - t0) / 1e3),
	       (double)(t1 - t0) / 1e9);
	peer_kill(&g_peer, SIGTERM);
	ops->close(p);
	frames_fini(&tx);
	frames_fini(&rx);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest unit[] = {
		cmocka_unit_test(test_eal_argv),
		cmocka_unit_test(test_parse_hdrs),
		cmocka_unit_test(test_ring_loopback),
		cmocka_unit_test(test_null_counts),
		cmocka_unit_test(test_null_max_queues),
		cmocka_unit_test(test_bad_open),
		cmocka_unit_test(test_vhost_virtio_user),
	};
	const struct CMUnitTest memif[] = {
		cmocka_unit_test_setup_teardown(test_memif_echo, peer_setup,
						peer_port_teardown),
		cmocka_unit_test_setup_teardown(test_memif_peer_restart,
						peer_setup,
						peer_port_teardown),
		cmocka_unit_test_setup_teardown(test_memif_open_before_peer,
						peer_setup,
						peer_port_teardown),
	};

	if (argc > 1 && (!strcmp(argv[1], "--memif") ||
			 !strcmp(argv[1], "--bench"))) {
		if (!dpdk_peer_have_testpmd()) {
			fprintf(stderr, DPDK_PEER_TESTPMD " not installed (package "
				"dpdk-dev): skip\n");
			return 77;
		}
		if (!strcmp(argv[1], "--bench")) {
			bench_null();
			return bench();
		}
		return cmocka_run_group_tests_name("net_port_dpdk_memif",
						   memif, memif_setup, NULL);
	}
	return cmocka_run_group_tests_name("net_port_dpdk", unit, NULL, NULL);
}
