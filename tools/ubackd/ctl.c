/* SPDX-License-Identifier: MIT */
/*
 * ubackd's control socket (ubackctl) and Prometheus endpoint.
 *
 * Control protocol, one request line per connection, answered with lines
 * and closed; the last line is "." on success or "error: <why>":
 *   ping
 *   status                 per device: "device k=v ..." then "stat <line>"
 *                          for each line of its counters file
 *   metrics                the Prometheus text exposition
 *   attach PATH            is the device at backend PATH served? (hotplug)
 *   detach PATH            the hotplug script's remove: nothing to undo
 *   upgrade DEV|all [BIN]  replace data processes (docs/operating.md)
 * A client gets 2 s to send its line and to read the answer: ubackd is
 * single-threaded and must not hang on a stuck client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uback/log.h"
#include "ubackd.h"

#define CLIENT_TIMEOUT_S 2

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int add_fd(struct ud *ud, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(ud->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int ud_ctl_open(struct ud *ud)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ubackd.sock",
			     ud->cfg.run_dir) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(sa.sun_path, 0600) || listen(fd, 16)) {
		ret = -errno;
		xb_err("control socket %s: %s", sa.sun_path, strerror(-ret));
		close(fd);
		return ret;
	}
	ret = add_fd(ud, fd, UD_EV_CTL);
	if (ret) {
		close(fd);
		return ret;
	}
	ud->ctl_fd = fd;
	return 0;
}

int ud_metrics_open(struct ud *ud)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)ud->cfg.metrics_port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd, one = 1, ret;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16)) {
		ret = -errno;
		xb_err("metrics port 127.0.0.1:%d: %s", ud->cfg.metrics_port,
		       strerror(-ret));
		close(fd);
		return ret;
	}
	ret = add_fd(ud, fd, UD_EV_METRICS);
	if (ret) {
		close(fd);
		return ret;
	}
	ud->metrics_fd = fd;
	return 0;
}

void ud_ctl_close(struct ud *ud)
{
	char path[PATH_MAX + 16];

	if (ud->ctl_fd >= 0) {
		close(ud->ctl_fd);
		snprintf(path, sizeof(path), "%s/ubackd.sock", ud->cfg.run_dir);
		unlink(path);
	}
	if (ud->metrics_fd >= 0)
		close(ud->metrics_fd);
	ud->ctl_fd = ud->metrics_fd = -1;
}

static FILE *open_stats(const struct ud_dev *d)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/stats", d->dir);
	return fopen(path, "re");
}

static void cmd_status(struct ud *ud, FILE *out)
{
	const struct ud_dev *d;
	char line[512];

	for (d = ud->devs; d; d = d->next) {
		FILE *f;

		fprintf(out, "device name=%s kind=%s domid=%u devid=%u "
			"path=%s state=%u pid=%d restarts=%u running=%d "
			"adopted=%d last_signal=%d\n", d->name, d->kind,
			d->domid, d->devid, d->be_path, ud_be_state(ud, d),
			(int)d->pid, d->restarts, d->pid > 0,
			d->pid > 0 && !d->child,
			d->last_status >= 0 && WIFSIGNALED(d->last_status)
				? WTERMSIG(d->last_status) : 0);
		f = open_stats(d);
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			fprintf(out, "stat %s", line);
		fclose(f);
	}
}

/* ---- Prometheus text exposition ---- */

struct sample {
	char name[96];
	char text[256];   /* "name{labels} value" */
	bool counter;
};

struct samples {
	struct sample *v;
	size_t n, cap;
};

static void add_sample(struct samples *s, const char *name, bool counter,
		       const char *labels, const char *value)
{
	struct sample *x;
	size_t i;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct sample *nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			return;
		s->v = nv;
		s->cap = cap;
	}
	x = &s->v[s->n++];
	snprintf(x->name, sizeof(x->name), "%s", name);
	for (i = 0; x->name[i]; i++)
		if (!((x->name[i] >= 'a' && x->name[i] <= 'z') ||
		      (x->name[i] >= 'A' && x->name[i] <= 'Z') ||
		      (x->name[i] >= '0' && x->name[i] <= '9')))
			x->name[i] = '_';
	snprintf(x->text, sizeof(x->text), "%s{%s} %s", x->name, labels,
		 value);
	x->counter = counter;
}

static int cmp_sample(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->text, y->text);
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool is_gauge(const char *name)
{
	static const char *const g[] = {
		"in_flight", "in_flight_max", "persist_entries",
	};
	size_t i;

	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		if (!strcmp(name, g[i]))
			return true;
	return false;
}

static void device_samples(struct ud *ud, const struct ud_dev *d,
			   struct samples *s)
{
	char labels[128], qlabels[160], name[128], val[32], line[512];
	FILE *f;

	snprintf(labels, sizeof(labels), "kind=\"%s\",domid=\"%u\",devid=\"%u\"",
		 d->kind, d->domid, d->devid);
	add_sample(s, "uback_device_up", false, labels, d->pid ? "1" : "0");
	snprintf(val, sizeof(val), "%u", d->restarts);
	add_sample(s, "uback_device_restarts_total", true, labels, val);
	snprintf(val, sizeof(val), "%u", ud_be_state(ud, d));
	add_sample(s, "uback_device_xenbus_state", false, labels, val);
	f = open_stats(d);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '='), *key = line, *v;
		unsigned int q;
		int n = 0;

		if (!eq)
			continue;
		*eq = '\0';
		v = eq + 1;
		v[strcspn(v, "\n")] = '\0';
		if (!is_number(v))
			continue;
		if (sscanf(key, "q%u.%n", &q, &n) == 1 && n > 0) {
			snprintf(qlabels, sizeof(qlabels), "%s,queue=\"%u\"",
				 labels, q);
			snprintf(name, sizeof(name), "uback_%s_queue_%.80s%s",
				 d->kind, key + n,
				 is_gauge(key + n) ? "" : "_total");
			add_sample(s, name, !is_gauge(key + n), qlabels, v);
		} else if (!strncmp(key, "total.", 6)) {
			snprintf(name, sizeof(name), "uback_%s_%.80s_total",
				 d->kind, key + 6);
			add_sample(s, name, true, labels, v);
		} else {
			snprintf(name, sizeof(name), "uback_%s_%.80s", d->kind,
				 key);
			add_sample(s, name, false, labels, v);
		}
	}
	fclose(f);
}

static void cmd_metrics(struct ud *ud, FILE *out)
{
	struct samples s = { 0 };
	const struct ud_dev *d;
	size_t i;

	for (d = ud->devs; d; d = d->next)
		device_samples(ud, d, &s);
	if (s.n)
		qsort(s.v, s.n, sizeof(*s.v), cmp_sample);
	/* One TYPE line per metric, its samples together. */
	for (i = 0; i < s.n; i++) {
		if (i == 0 || strcmp(s.v[i].name, s.v[i - 1].name))
			fprintf(out, "# TYPE %s %s\n", s.v[i].name,
				s.v[i].counter ? "counter" : "gauge");
		fprintf(out, "%s\n", s.v[i].text);
	}
	free(s.v);
}

static void cmd_upgrade(struct ud *ud, FILE *out, char *arg)
{
	char *bin = strchr(arg, ' ');
	struct ud_dev *d;
	unsigned int n = 0;
	int ret;

	if (bin) {
		*bin++ = '\0';
		if (!*bin)
			bin = NULL;
	}
	if (strcmp(arg, "all")) {
		d = ud_find(ud, arg);
		if (!d) {
			fprintf(out, "error: no device %s\n", arg);
			return;
		}
		ret = ud_upgrade(ud, d, bin);
		if (ret) {
			fprintf(out, "error: %s: %s\n", d->name, strerror(-ret));
			return;
		}
		fprintf(out, "upgrading %s pid %d\n.\n", d->name, (int)d->pid);
		return;
	}
	for (d = ud->devs; d; d = d->next) {
		ret = ud_upgrade(ud, d, bin);
		if (ret) {
			fprintf(out, "error: %s: %s\n", d->name, strerror(-ret));
			return;
		}
		fprintf(out, "upgrading %s pid %d\n", d->name, (int)d->pid);
		n++;
	}
	fprintf(out, ".\n");
}

static void cmd_attach(struct ud *ud, FILE *out, const char *spec)
{
	char path[600];
	struct ud_dev *d;
	unsigned int st;

	ud_abs_path(ud, spec, path, sizeof(path));
	d = ud_find(ud, path);

	if (!d) {
		/* The watch event may still be on its way: look now. */
		ud_xs_event(ud, path);
		d = ud_find(ud, path);
	}
	if (!d) {
		fprintf(out, "error: ubackd does not serve %s (kind not served,"
			" or the toolstack is removing it)\n", path);
		return;
	}
	st = ud_be_state(ud, d);
	if (!d->pid && d->last_error[0]) {
		fprintf(out, "error: %s: %s\n", d->name, d->last_error);
		return;
	}
	if (!d->pid) {
		fprintf(out, "pending: %s is not running (restarts %u)\n",
			d->name, d->restarts);
		return;
	}
	if (st < 2 || st > 4) {
		fprintf(out, "pending: %s backend state %u\n", d->name, st);
		return;
	}
	fprintf(out, "ok %s pid %d state %u\n.\n", d->name, (int)d->pid, st);
}

static void handle(struct ud *ud, char *req, FILE *out)
{
	req[strcspn(req, "\r\n")] = '\0';
	if (!strcmp(req, "ping")) {
		fprintf(out, "pong\n.\n");
	} else if (!strcmp(req, "status")) {
		cmd_status(ud, out);
		fprintf(out, ".\n");
	} else if (!strcmp(req, "metrics")) {
		cmd_metrics(ud, out);
		fprintf(out, ".\n");
	} else if (!strncmp(req, "upgrade ", 8)) {
		cmd_upgrade(ud, out, req + 8);
	} else if (!strncmp(req, "attach ", 7)) {
		cmd_attach(ud, out, req + 7);
	} else if (!strncmp(req, "detach ", 7)) {
		/* The data process leaves by itself when the toolstack
		 * removes the device; nothing of ours to undo. */
		fprintf(out, ".\n");
	} else {
		fprintf(out, "error: unknown request\n");
	}
}

void ud_ctl_accept(struct ud *ud)
{
	char req[512];
	FILE *f;
	int fd;

	fd = accept4(ud->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	set_timeouts(fd);
	f = fdopen(fd, "r+");
	if (!f) {
		close(fd);
		return;
	}
	if (fgets(req, sizeof(req), f))
		handle(ud, req, f);
	fclose(f);
}

void ud_metrics_accept(struct ud *ud)
{
	char req[1024];
	char *body = NULL;
	size_t len = 0;
	FILE *f, *mem;
	ssize_t n;
	int fd;

	fd = accept4(ud->metrics_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	set_timeouts(fd);
	/* Any request gets the metrics (GET /metrics, GET /). */
	n = read(fd, req, sizeof(req) - 1);
	if (n <= 0) {
		close(fd);
		return;
	}
	mem = open_memstream(&body, &len);
	if (!mem) {
		close(fd);
		return;
	}
	cmd_metrics(ud, mem);
	fclose(mem);
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		free(body);
		return;
	}
	fprintf(f, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
		"version=0.0.4\r\nContent-Length: %zu\r\nConnection: close"
		"\r\n\r\n", len);
	fwrite(body, 1, len, f);
	fclose(f);
	free(body);
}
