/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the hostile-guest campaigns (campaign_blk.c,
 * campaign_net.c): spawning a backend process, sampling its memory and
 * CPU, a small PRNG, timing, and the report.
 *
 * Conventions: 0 or -errno; the report goes to stdout. One thread per
 * call unless stated.
 */
#ifndef TESTS_CAMPAIGN_CAMP_H
#define TESTS_CAMPAIGN_CAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* How much a backend's private memory (RssAnon) may grow over a run.
 * A sanitizer build's backend keeps freed memory in ASan's quarantine
 * (256 MiB by default) and has shadow memory: bounded, but larger. */
#if defined(__SANITIZE_ADDRESS__)
#define CAMP_ANON_GROWTH_KIB (512u * 1024)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CAMP_ANON_GROWTH_KIB (512u * 1024)
#endif
#endif
#ifndef CAMP_ANON_GROWTH_KIB
#define CAMP_ANON_GROWTH_KIB (16u * 1024)
#endif

uint64_t camp_now_us(void);
void camp_msleep(unsigned int ms);

/* xorshift64*: deterministic per seed (printed, so a run can be
 * repeated with --seed). Not thread-safe: one state per thread. */
uint64_t camp_rand(uint64_t *s);
uint32_t camp_rand_below(uint64_t *s, uint32_t n);

/* Start @argv (argv[0] a path) as a child; its pid in *@pid. */
int camp_spawn(const char *const *argv, pid_t *pid);
/* A helper process spoken to by lines: its stdin and stdout as streams
 * (line-buffered on our side). */
struct camp_coproc {
	pid_t pid;
	FILE *to, *from;
};
/* Start @argv (argv[0] found in PATH) with pipes on its stdin/stdout. */
int camp_coproc_start(const char *const *argv, struct camp_coproc *c);
/* Send @line (a newline is added) and read one reply line into @reply
 * (newline removed). -EPIPE when the helper is gone. Blocks until the
 * helper answers: the helper bounds its own work. */
int camp_coproc_cmd(struct camp_coproc *c, const char *line, char *reply,
		    size_t size);
/* Close its stdin (the helper cleans up and exits) and wait for it, at
 * most @timeout_ms; its exit status as camp_wait. */
int camp_coproc_end(struct camp_coproc *c, unsigned int timeout_ms);

/* Exit status, 128 + signal, or -ETIMEDOUT (then SIGKILLed). */
int camp_wait(pid_t pid, unsigned int timeout_ms);
bool camp_alive(pid_t pid);

/* VmRSS in KiB, -1 if gone; with @anon, RssAnon (private memory: the
 * backend's own heap and stacks, without the shared guest memory the
 * simulator maps into it, which RSS counts as it is touched). */
long camp_rss_kib(pid_t pid, bool anon);
/* utime + stime of the whole process in microseconds, -1 if gone. */
long long camp_cpu_us(pid_t pid);

/* Samples of one backend process, taken by a monitor thread. */
struct camp_mon {
	pid_t pid;
	const char *name;
	long rss_first, rss_min, rss_max, rss_last;    /* VmRSS, KiB */
	long anon_first, anon_max, anon_last;          /* RssAnon, KiB */
	double cpu_max;             /* highest share of one CPU per sample */
	unsigned int samples;
	bool died;
};

/* Start sampling @n processes every @period_ms until camp_mon_stop. */
int camp_mon_start(struct camp_mon *m, unsigned int n, unsigned int period_ms);
void camp_mon_stop(void);

#endif
