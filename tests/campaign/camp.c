/* SPDX-License-Identifier: MIT */
/* Campaign helpers: see camp.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "camp.h"

uint64_t camp_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

void camp_msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

uint64_t camp_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

uint32_t camp_rand_below(uint64_t *s, uint32_t n)
{
	return n ? (uint32_t)(camp_rand(s) % n) : 0;
}

int camp_spawn(const char *const *argv, pid_t *pid)
{
	pid_t p = fork();

	if (p < 0)
		return -errno;
	if (p == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	*pid = p;
	return 0;
}

int camp_coproc_start(const char *const *argv, struct camp_coproc *c)
{
	int in[2], out[2];
	pid_t p;

	if (pipe2(in, O_CLOEXEC))
		return -errno;
	if (pipe2(out, O_CLOEXEC)) {
		int ret = -errno;

		close(in[0]);
		close(in[1]);
		return ret;
	}
	p = fork();
	if (p < 0) {
		int ret = -errno;

		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return ret;
	}
	if (p == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->pid = p;
	c->to = fdopen(in[1], "w");
	c->from = fdopen(out[0], "r");
	if (!c->to || !c->from)
		return -ENOMEM;
	setvbuf(c->to, NULL, _IOLBF, 0);
	return 0;
}

int camp_coproc_cmd(struct camp_coproc *c, const char *line, char *reply,
		    size_t size)
{
	size_t n;

	if (fprintf(c->to, "%s\n", line) < 0 || fflush(c->to))
		return -EPIPE;
	if (!fgets(reply, (int)size, c->from))
		return -EPIPE;
	n = strlen(reply);
	if (n && reply[n - 1] == '\n')
		reply[n - 1] = '\0';
	return 0;
}

int camp_coproc_end(struct camp_coproc *c, unsigned int timeout_ms)
{
	int st;

	if (c->to)
		fclose(c->to);
	c->to = NULL;
	st = camp_wait(c->pid, timeout_ms);
	if (c->from)
		fclose(c->from);
	c->from = NULL;
	return st;
}

int camp_wait(pid_t pid, unsigned int timeout_ms)
{
	unsigned int waited;
	int status;

	for (waited = 0; waited < timeout_ms; waited += 5) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status)
						 : 128 + WTERMSIG(status);
		camp_msleep(5);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -ETIMEDOUT;
}

bool camp_alive(pid_t pid)
{
	char path[64], st = 0;
	FILE *f;

	/* Not waitpid: the monitor thread must not reap it. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%*d %*s %c", &st) != 1)
		st = 0;
	fclose(f);
	return st && st != 'Z' && st != 'X';
}

long camp_rss_kib(pid_t pid, bool anon)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, anon ? "RssAnon: %ld" : "VmRSS: %ld",
			   &v) == 1)
			break;
	fclose(f);
	return v;
}

long long camp_cpu_us(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st) * 1000000 / (hz > 0 ? hz : 100);
}

static struct {
	pthread_t thread;
	struct camp_mon *m;
	unsigned int n, period_ms;
	volatile bool stop;
} mon;

static void *mon_thread(void *arg)
{
	long long last[8];
	uint64_t t_last = camp_now_us();
	unsigned int i;

	for (i = 0; i < mon.n; i++)
		last[i] = camp_cpu_us(mon.m[i].pid);
	while (!mon.stop) {
		uint64_t t;

		camp_msleep(mon.period_ms);
		t = camp_now_us();
		for (i = 0; i < mon.n; i++) {
			struct camp_mon *m = &mon.m[i];
			long rss = camp_rss_kib(m->pid, false);
			long anon = camp_rss_kib(m->pid, true);
			long long cpu = camp_cpu_us(m->pid);

			if (rss < 0 || cpu < 0 || !camp_alive(m->pid)) {
				m->died = true;
				continue;
			}
			if (!m->samples) {
				m->rss_first = m->rss_min = rss;
				m->anon_first = anon;
			}
			if (anon > m->anon_max)
				m->anon_max = anon;
			m->anon_last = anon;
			if (rss < m->rss_min)
				m->rss_min = rss;
			if (rss > m->rss_max)
				m->rss_max = rss;
			m->rss_last = rss;
			if (t > t_last && (double)(cpu - last[i]) /
					  (double)(t - t_last) > m->cpu_max)
				m->cpu_max = (double)(cpu - last[i]) /
					     (double)(t - t_last);
			last[i] = cpu;
			m->samples++;
		}
		t_last = t;
	}
	return NULL;
}

int camp_mon_start(struct camp_mon *m, unsigned int n, unsigned int period_ms)
{
	if (n > 8)
		return -EINVAL;
	mon.m = m;
	mon.n = n;
	mon.period_ms = period_ms;
	mon.stop = false;
	return -pthread_create(&mon.thread, NULL, mon_thread, NULL);
}

void camp_mon_stop(void)
{
	mon.stop = true;
	pthread_join(mon.thread, NULL);
}
