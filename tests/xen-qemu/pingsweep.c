/* SPDX-License-Identifier: MIT */
/*
 * pingsweep: ICMP echo to one IPv4 address with every payload size of a
 * range (or a list), one echo at a time, from a single process. Checks that
 * each reply carries the same number of bytes and the same bytes that were
 * sent (busybox ping checks neither), so a data path that drops, truncates
 * or corrupts a fragment of a large datagram is caught. One process for the
 * whole sweep because short-lived processes sometimes segfault under TCG
 * (docs/xen-in-qemu-e2e.md) and a process per size would be too slow.
 *
 * usage: pingsweep [-w MS] [-r N] ADDR SPEC...
 *   SPEC   SIZE, or MIN:MAX (every size), or MIN:MAX:STEP; sizes are ICMP
 *          payload bytes, 0..65507, swept in the order given
 *   -w MS  wait for each reply (default 2000)
 *   -r N   re-send a lost echo up to N times (default 2); a corrupt reply is
 *          never retried. A send refused with ENOBUFS (the interface queue
 *          is full) counts as lost, and in nobufs=
 * Prints one summary line ("pingsweep: ... ok=N lost=N corrupt=N ..."), the
 * first failing sizes, and exits 0 when every size got an exact reply, 1
 * otherwise, 2 on usage or socket errors. Sizes above 65507 cannot be sent
 * over IPv4 and are refused. Run by domU-net-init in the Xen-in-QEMU net
 * case; needs CAP_NET_RAW.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 65507           /* 65535 - 20 (IP) - 8 (ICMP) */
#define MAX_SHOWN 10

struct sweep {
	int fd;
	struct sockaddr_in dst;
	uint16_t id;
	uint16_t seq;
	int wait_ms;
	int retries;
	unsigned char *tx;          /* ICMP header + payload */
	unsigned char *rx;          /* IP header + ICMP header + payload */
	unsigned long ok, lost, corrupt, resent, nobufs;
	unsigned int shown;
	char bad[MAX_SHOWN * 48];
	size_t bad_len, bad_off;    /* of the last corrupt reply */
};

static uint16_t inet_csum(const unsigned char *p, size_t len)
{
	uint64_t sum = 0;
	uint32_t w;
	size_t i;

	/* 32-bit words: a 64 KiB echo per size adds up under TCG */
	for (i = 0; i + 4 <= len; i += 4) {
		memcpy(&w, p + i, 4);
		sum += w;
	}
	for (; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] | p[i + 1] << 8);
	if (len & 1)
		sum += p[len - 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;      /* in network order, as the words were read */
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* The payload is a window of a random pattern that starts where the
 * sequence number says, so a reply to an older echo or a fragment of
 * another datagram does not compare equal. The pattern is made once: a
 * sweep sends about 2 GiB. */
#define PAT_SHIFTS 4093
static unsigned char pattern[MAX_PAYLOAD + PAT_SHIFTS];

static void make_pattern(void)
{
	uint32_t x = 0x9e3779b9u;
	size_t i;

	for (i = 0; i < sizeof(pattern); i++) {
		x = x * 1103515245u + 12345u;
		pattern[i] = (unsigned char)(x >> 16);
	}
}

static const unsigned char *payload_of(uint16_t seq)
{
	return pattern + (seq * 251u) % PAT_SHIFTS;
}

static void note_bad(struct sweep *s, const char *what, size_t size)
{
	size_t used = strlen(s->bad);

	if (s->shown >= MAX_SHOWN)
		return;
	if (strcmp(what, "corrupt") == 0)
		snprintf(s->bad + used, sizeof(s->bad) - used, " corrupt:%zu(len=%zu,at=%zu)",
			 size, s->bad_len, s->bad_off);
	else
		snprintf(s->bad + used, sizeof(s->bad) - used, " %s:%zu", what, size);
	s->shown++;
}

/* Send one echo of SIZE payload bytes and wait for its reply.
 * Returns 1 exact reply, 0 no reply in time, -1 a reply that differs,
 * -2 a socket error. */
static int echo_once(struct sweep *s, size_t size)
{
	struct icmphdr *h = (struct icmphdr *)s->tx;
	size_t len = sizeof(*h) + size;
	long deadline;
	ssize_t n;

	s->seq++;
	memset(h, 0, sizeof(*h));
	h->type = ICMP_ECHO;
	h->un.echo.id = htons(s->id);
	h->un.echo.sequence = htons(s->seq);
	memcpy(s->tx + sizeof(*h), payload_of(s->seq), size);
	h->checksum = inet_csum(s->tx, len);
	if (sendto(s->fd, s->tx, len, 0, (struct sockaddr *)&s->dst, sizeof(s->dst)) != (ssize_t)len) {
		/* The interface's queue is full: the device is not draining
		 * it. Counted, and the echo is as good as lost. */
		if (errno == ENOBUFS) {
			s->nobufs++;
			poll(NULL, 0, s->wait_ms);
			return 0;
		}
		fprintf(stderr, "pingsweep: sendto size %zu: %s\n", size, strerror(errno));
		return -2;
	}
	deadline = now_ms() + s->wait_ms;
	for (;;) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		long left = deadline - now_ms();
		const struct iphdr *ip;
		const struct icmphdr *r;
		size_t ihl;

		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(s->fd, s->rx, sizeof(struct iphdr) + 60 + sizeof(*h) + MAX_PAYLOAD, 0);
		if (n < (ssize_t)sizeof(struct iphdr))
			continue;
		ip = (const struct iphdr *)s->rx;
		ihl = ip->ihl * 4u;
		if (ip->saddr != s->dst.sin_addr.s_addr || (size_t)n < ihl + sizeof(*r))
			continue;
		r = (const struct icmphdr *)(s->rx + ihl);
		if (r->type != ICMP_ECHOREPLY || ntohs(r->un.echo.id) != s->id ||
		    ntohs(r->un.echo.sequence) != s->seq)
			continue;       /* someone else's, or a late reply */
		if ((size_t)n - ihl != len ||
		    memcmp(s->rx + ihl + sizeof(*r), payload_of(s->seq), size) != 0) {
			/* where it differs says which fragment was wrong */
			const unsigned char *got = s->rx + ihl + sizeof(*r);
			size_t i, m = (size_t)n - ihl - sizeof(*r);

			for (i = 0; i < m && i < size && got[i] == payload_of(s->seq)[i]; i++)
				;
			s->bad_len = m;
			s->bad_off = i;
			return -1;
		}
		return 1;
	}
}

static int sweep_size(struct sweep *s, size_t size)
{
	int t, ret = 0;

	for (t = 0; t <= s->retries; t++) {
		if (t)
			s->resent++;
		ret = echo_once(s, size);
		if (ret != 0)
			break;
	}
	switch (ret) {
	case 1:
		s->ok++;
		return 0;
	case 0:
		s->lost++;
		note_bad(s, "lost", size);
		return 0;
	case -1:
		s->corrupt++;
		note_bad(s, "corrupt", size);
		return 0;
	default:
		return -EIO;
	}
}

static int parse_size(const char *arg, const char **rest, size_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || v > MAX_PAYLOAD || (*end && *end != ':'))
		return -EINVAL;
	*out = v;
	*rest = *end ? end + 1 : NULL;
	return 0;
}

/* SIZE | MIN:MAX | MIN:MAX:STEP */
static int parse_spec(const char *arg, size_t *lo, size_t *hi, size_t *step)
{
	const char *rest;

	*step = 1;
	if (parse_size(arg, &rest, lo))
		return -EINVAL;
	*hi = *lo;
	if (rest && (parse_size(rest, &rest, hi) || *hi < *lo))
		return -EINVAL;
	if (rest && (parse_size(rest, &rest, step) || rest || *step == 0))
		return -EINVAL;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: pingsweep [-w MS] [-r N] ADDR SPEC...\n"
		"  SPEC: SIZE | MIN:MAX | MIN:MAX:STEP (payload bytes, 0..%d)\n",
		MAX_PAYLOAD);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sweep s = { .wait_ms = 2000, .retries = 2 };
	size_t lo, hi, step, size;
	int first, i, opt, rcvbuf = 1 << 20;
	unsigned long count = 0;
	long t0;

	while ((opt = getopt(argc, argv, "+w:r:")) != -1) {
		switch (opt) {
		case 'w': s.wait_ms = atoi(optarg); break;
		case 'r': s.retries = atoi(optarg); break;
		default: usage();
		}
	}
	if (argc - optind < 2 || s.wait_ms <= 0 || s.retries < 0)
		usage();
	s.dst.sin_family = AF_INET;
	if (inet_pton(AF_INET, argv[optind], &s.dst.sin_addr) != 1)
		usage();
	first = optind + 1;
	for (i = first; i < argc; i++)
		if (parse_spec(argv[i], &lo, &hi, &step))
			usage();

	s.fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (s.fd < 0) {
		fprintf(stderr, "pingsweep: raw socket: %s\n", strerror(errno));
		return 2;
	}
	setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	s.tx = malloc(sizeof(struct icmphdr) + MAX_PAYLOAD);
	s.rx = malloc(sizeof(struct iphdr) + 60 + sizeof(struct icmphdr) + MAX_PAYLOAD);
	if (!s.tx || !s.rx)
		return 2;
	s.id = (uint16_t)getpid();
	make_pattern();

	t0 = now_ms();
	for (i = first; i < argc; i++) {
		parse_spec(argv[i], &lo, &hi, &step);
		for (size = lo; size <= hi; size += step, count++)
			if (sweep_size(&s, size))
				return 2;
	}
	printf("pingsweep: %s sizes=%lu ok=%lu lost=%lu corrupt=%lu resent=%lu nobufs=%lu ms=%ld%s%s\n",
	       argv[optind], count, s.ok, s.lost, s.corrupt, s.resent, s.nobufs, now_ms() - t0,
	       s.shown ? " first-bad:" : "", s.bad);
	return s.ok == count ? 0 : 1;
}
