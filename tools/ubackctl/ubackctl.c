/* SPDX-License-Identifier: MIT */
/*
 * ubackctl: the operator's view of ubackd (docs/operating.md).
 *
 *   ubackctl [--run-dir DIR] list [--json]
 *   ubackctl top [--interval S] [--count N]
 *   ubackctl upgrade DEVICE|all [--binary PATH] [--timeout S]
 *   ubackctl metrics
 *   ubackctl attach BACKEND-PATH [--timeout S]     (hotplug scripts)
 *   ubackctl detach BACKEND-PATH
 *   ubackctl ping
 *
 * Talks to ubackd's control socket (RUN-DIR/ubackd.sock, one request a
 * connection, tools/ubackd/ctl.c). Exit status: 0, 1 on an error ubackd
 * reported or a timeout, 2 on a bad command line, 3 when ubackd is not
 * running.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EXIT_NO_DAEMON 3
#define MAX_DEVS 1024
#define MAX_QUEUES 16

static const char *run_dir = "/run/uback";

/* ---- the control socket ---- */

/* The whole answer, malloc'd, or NULL with *err = -errno. */
static char *request(const char *req, int *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0, cap = 65536;
	char *buf;
	ssize_t n;
	int fd;

	*err = 0;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ubackd.sock",
			     run_dir) >= sizeof(sa.sun_path)) {
		*err = -ENAMETOOLONG;
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req) ||
	    write(fd, "\n", 1) != 1) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	buf = malloc(cap);
	while (buf && (n = read(fd, buf + len, cap - 1 - len)) > 0) {
		len += (size_t)n;
		if (len + 1 == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	close(fd);
	if (!buf) {
		*err = -ENOMEM;
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static char *request_or_die(const char *req)
{
	int err;
	char *a = request(req, &err);

	if (!a) {
		fprintf(stderr, "ubackctl: cannot reach ubackd at %s/ubackd.sock"
			": %s (is ubackd running? systemctl start ubackd)\n",
			run_dir, strerror(-err));
		exit(EXIT_NO_DAEMON);
	}
	return a;
}

/* "error: ..." anywhere at a line start, or no final "." line. */
static bool answer_ok(const char *a)
{
	size_t n = strlen(a);

	if (!strncmp(a, "error:", 6) || strstr(a, "\nerror:"))
		return false;
	return n >= 2 && !strcmp(a + n - 2, ".\n");
}

/* ---- parsing "status" ---- */

struct kv {
	char *key, *val;
};

struct dev {
	struct kv attr[16];
	unsigned int nattr;
	struct kv *stat;
	unsigned int nstat, capstat;
};

struct devs {
	struct dev *v;
	unsigned int n;
	char *text;                   /* owns every string */
};

static const char *attr(const struct dev *d, const char *key)
{
	unsigned int i;

	for (i = 0; i < d->nattr; i++)
		if (!strcmp(d->attr[i].key, key))
			return d->attr[i].val;
	return "";
}

static const char *stat_str(const struct dev *d, const char *key)
{
	unsigned int i;

	for (i = 0; i < d->nstat; i++)
		if (!strcmp(d->stat[i].key, key))
			return d->stat[i].val;
	return NULL;
}

static uint64_t stat_u64(const struct dev *d, const char *key)
{
	const char *s = stat_str(d, key);

	return s ? strtoull(s, NULL, 10) : 0;
}

static void parse_status(char *text, struct devs *out)
{
	char *save = NULL, *line;

	out->v = calloc(MAX_DEVS, sizeof(*out->v));
	out->n = 0;
	out->text = text;
	if (!out->v)
		exit(1);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "device ", 7) && out->n < MAX_DEVS) {
			struct dev *d = &out->v[out->n++];
			char *s2 = NULL, *w;

			for (w = strtok_r(line + 7, " ", &s2); w;
			     w = strtok_r(NULL, " ", &s2)) {
				char *eq = strchr(w, '=');

				if (!eq || d->nattr == 16)
					continue;
				*eq = '\0';
				d->attr[d->nattr++] = (struct kv){ w, eq + 1 };
			}
		} else if (!strncmp(line, "stat ", 5) && out->n) {
			struct dev *d = &out->v[out->n - 1];
			char *eq = strchr(line + 5, '=');

			if (!eq)
				continue;
			*eq = '\0';
			if (d->nstat == d->capstat) {
				unsigned int cap = d->capstat ? d->capstat * 2
							      : 64;
				struct kv *nv = realloc(d->stat,
							cap * sizeof(*nv));

				if (!nv)
					exit(1);
				d->stat = nv;
				d->capstat = cap;
			}
			d->stat[d->nstat++] = (struct kv){ line + 5, eq + 1 };
		}
	}
}

static void free_devs(struct devs *ds)
{
	unsigned int i;

	for (i = 0; i < ds->n; i++)
		free(ds->v[i].stat);
	free(ds->v);
	free(ds->text);
}

static void get_devs(struct devs *ds)
{
	char *a = request_or_die("status");

	if (!answer_ok(a)) {
		fprintf(stderr, "ubackctl: %s", a);
		exit(1);
	}
	parse_status(a, ds);
}

static const char *state_name(const char *s)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised",
		"Connected", "Closing", "Closed", "Reconfiguring",
		"Reconfigured",
	};
	unsigned long v = strtoul(s, NULL, 10);

	return v < 9 ? names[v] : "?";
}

static unsigned int nr_queues(const struct dev *d)
{
	unsigned int q = (unsigned int)stat_u64(d, "queues");

	return q > MAX_QUEUES ? MAX_QUEUES : q;
}

static bool is_vif(const struct dev *d)
{
	return !strcmp(attr(d, "kind"), "vif");
}

static void features(const struct dev *d, char *buf, size_t size)
{
	const char *proto = stat_str(d, "protocol");

	if (is_vif(d)) {
		const char *ifn = stat_str(d, "ifname");

		snprintf(buf, size, "%s%s%s%s%s%s", ifn ? ifn : "-",
			 stat_u64(d, "sg") ? ",sg" : "",
			 stat_u64(d, "gso_tcpv4") ? ",gso4" : "",
			 stat_u64(d, "gso_tcpv6") ? ",gso6" : "",
			 stat_u64(d, "split_evtchn") ? ",split" : "",
			 stat_u64(d, "ctrl_ring") ? ",ctrl" : "");
		return;
	}

	if (!stat_str(d, "queues") || !nr_queues(d)) {
		snprintf(buf, size, "-");
		return;
	}
	snprintf(buf, size, "%s,order%" PRIu64 "%s%s%s",
		 proto ? proto : "?", stat_u64(d, "ring_order"),
		 stat_u64(d, "persistent") ? ",persistent" : "",
		 stat_u64(d, "readonly") ? ",ro" : "",
		 stat_u64(d, "direct") ? ",direct" : "");
}

static uint64_t qstat(const struct dev *d, unsigned int q, const char *name)
{
	char key[64];

	snprintf(key, sizeof(key), "q%u.%s", q, name);
	return stat_u64(d, key);
}

/* I/Os answered, and packets (uback-net counters named *packets*). */
static uint64_t q_ios(const struct dev *d, unsigned int q)
{
	return qstat(d, q, "rsp_okay") + qstat(d, q, "rsp_error") +
	       qstat(d, q, "rsp_eopnotsupp");
}

static uint64_t q_packets(const struct dev *d, unsigned int q)
{
	char prefix[16];
	uint64_t sum = 0;
	unsigned int i;

	snprintf(prefix, sizeof(prefix), "q%u.", q);
	for (i = 0; i < d->nstat; i++)
		if (!strncmp(d->stat[i].key, prefix, strlen(prefix)) &&
		    strstr(d->stat[i].key, "packets"))
			sum += strtoull(d->stat[i].val, NULL, 10);
	return sum;
}

/* ---- list ---- */

static void list_table(const struct devs *ds)
{
	char feat[96];
	unsigned int i, q;

	printf("%-6s %-8s %-4s %-11s %-34s %6s %8s %8s\n", "DOMAIN", "DEVICE",
	       "KIND", "STATE", "FEATURES", "QUEUES", "PID", "RESTARTS");
	for (i = 0; i < ds->n; i++) {
		const struct dev *d = &ds->v[i];

		features(d, feat, sizeof(feat));
		printf("%-6s %-8s %-4s %-11s %-34s %6u %8s %8s%s\n",
		       attr(d, "domid"), attr(d, "devid"), attr(d, "kind"),
		       state_name(attr(d, "state")), feat, nr_queues(d),
		       strcmp(attr(d, "pid"), "0") ? attr(d, "pid") : "-",
		       attr(d, "restarts"),
		       strcmp(attr(d, "adopted"), "1") ? "" : " (adopted)");
		for (q = 0; q < nr_queues(d); q++)
			printf("    q%-2u ios %" PRIu64 " read %" PRIu64
			       " write %" PRIu64 " bytes_read %" PRIu64
			       " bytes_written %" PRIu64 " in_flight %" PRIu64
			       " errors %" PRIu64 " replayed %" PRIu64 "\n",
			       q, q_ios(d, q), qstat(d, q, "req_read"),
			       qstat(d, q, "req_write"),
			       qstat(d, q, "bytes_read"),
			       qstat(d, q, "bytes_written"),
			       qstat(d, q, "in_flight"),
			       qstat(d, q, "rsp_error"),
			       qstat(d, q, "replayed"));
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static bool is_num(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void json_val(const char *s)
{
	if (is_num(s))
		fputs(s, stdout);
	else
		json_str(s);
}

static void list_json(const struct devs *ds)
{
	unsigned int i, k, q;

	printf("[");
	for (i = 0; i < ds->n; i++) {
		const struct dev *d = &ds->v[i];
		bool first;

		printf("%s\n  {", i ? "," : "");
		for (k = 0; k < d->nattr; k++) {
			printf("%s", k ? ", " : "");
			json_str(d->attr[k].key);
			printf(": ");
			if (!strcmp(d->attr[k].key, "running") ||
			    !strcmp(d->attr[k].key, "adopted"))
				printf("%s", strcmp(d->attr[k].val, "0")
					     ? "true" : "false");
			else
				json_val(d->attr[k].val);
		}
		printf(", \"state_name\": ");
		json_str(state_name(attr(d, "state")));
		/* Device summary lines: no "q<N>." or "total." prefix. */
		printf(",\n   \"features\": {");
		first = true;
		for (k = 0; k < d->nstat; k++) {
			const char *key = d->stat[k].key;

			if (key[0] == 'q' && key[1] >= '0' && key[1] <= '9')
				continue;
			if (!strncmp(key, "total.", 6))
				continue;
			printf("%s", first ? "" : ", ");
			first = false;
			json_str(key);
			printf(": ");
			json_val(d->stat[k].val);
		}
		printf("},\n   \"queues\": [");
		for (q = 0; q < nr_queues(d); q++) {
			char prefix[16];

			snprintf(prefix, sizeof(prefix), "q%u.", q);
			printf("%s{\"queue\": %u", q ? ", " : "", q);
			for (k = 0; k < d->nstat; k++)
				if (!strncmp(d->stat[k].key, prefix,
					     strlen(prefix))) {
					printf(", ");
					json_str(d->stat[k].key +
						 strlen(prefix));
					printf(": ");
					json_val(d->stat[k].val);
				}
			printf("}");
		}
		printf("],\n   \"totals\": {");
		first = true;
		for (k = 0; k < d->nstat; k++)
			if (!strncmp(d->stat[k].key, "total.", 6)) {
				printf("%s", first ? "" : ", ");
				first = false;
				json_str(d->stat[k].key + 6);
				printf(": ");
				json_val(d->stat[k].val);
			}
		printf("}}");
	}
	printf("%s]\n", ds->n ? "\n" : "");
}

/* ---- top ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct dev *find_dev(const struct devs *ds, const char *name)
{
	unsigned int i;

	for (i = 0; i < ds->n; i++)
		if (!strcmp(attr(&ds->v[i], "name"), name))
			return &ds->v[i];
	return NULL;
}

/* A counter that went down: a new process (counters restart at 0). */
static double rate(uint64_t now, uint64_t before, double dt)
{
	return now >= before ? (double)(now - before) / dt : (double)now / dt;
}

static int cmd_top(double interval, long count)
{
	struct devs prev = { 0 }, cur;
	double t0, t1;
	bool tty = isatty(1);
	long n;

	get_devs(&prev);
	t0 = now_s();
	for (n = 0; count < 0 || n < count; n++) {
		unsigned int i, q;

		usleep((useconds_t)(interval * 1e6));
		get_devs(&cur);
		t1 = now_s();
		if (tty)
			printf("\033[H\033[2J");
		printf("%-16s %-3s %8s %10s %10s %10s %10s %8s\n", "DEVICE", "Q",
		       "PID", "IOPS", "RD/TX MB/s", "WR/RX MB/s", "PKTS/s",
		       "INFLIGHT");
		for (i = 0; i < cur.n; i++) {
			const struct dev *d = &cur.v[i];
			const struct dev *p = find_dev(&prev, attr(d, "name"));
			double dt = t1 - t0;

			for (q = 0; q < nr_queues(d); q++) {
				uint64_t io0 = p ? q_ios(p, q) : 0;
				/* vif: from the guest (tx), to it (rx). */
				const char *rk = is_vif(d) ? "tx_bytes"
							   : "bytes_read";
				const char *wk = is_vif(d) ? "rx_bytes"
							   : "bytes_written";
				uint64_t r0 = p ? qstat(p, q, rk) : 0;
				uint64_t w0 = p ? qstat(p, q, wk) : 0;
				uint64_t k0 = p ? q_packets(p, q) : 0;

				printf("%-16s %-3u %8s %10.0f %10.2f %10.2f "
				       "%10.0f %8" PRIu64 "\n",
				       attr(d, "name"), q, attr(d, "pid"),
				       rate(q_ios(d, q), io0, dt),
				       rate(qstat(d, q, rk), r0, dt) / 1e6,
				       rate(qstat(d, q, wk), w0, dt) / 1e6,
				       rate(q_packets(d, q), k0, dt),
				       qstat(d, q, "in_flight"));
			}
			if (!nr_queues(d))
				printf("%-16s %-3s %8s %10s\n", attr(d, "name"),
				       "-", attr(d, "pid"),
				       state_name(attr(d, "state")));
		}
		fflush(stdout);
		free_devs(&prev);
		prev = cur;
		t0 = t1;
	}
	free_devs(&prev);
	return 0;
}

/* ---- upgrade, attach ---- */

static int cmd_upgrade(const char *which, const char *bin, double timeout)
{
	struct devs before, after;
	char req[4352];
	char *a;
	double end = now_s() + timeout;
	unsigned int i, left;

	get_devs(&before);
	snprintf(req, sizeof(req), "upgrade %s%s%s", which, bin ? " " : "",
		 bin ? bin : "");
	a = request_or_die(req);
	fputs(a, stdout);
	if (!answer_ok(a)) {
		free(a);
		free_devs(&before);
		return 1;
	}
	free(a);
	/* Wait until every device named has a new, running process. */
	do {
		usleep(50000);
		get_devs(&after);
		left = 0;
		for (i = 0; i < before.n; i++) {
			const struct dev *b = &before.v[i], *n;

			if (strcmp(which, "all") &&
			    strcmp(which, attr(b, "name")) &&
			    strcmp(which, attr(b, "path")))
				continue;
			n = find_dev(&after, attr(b, "name"));
			if (n && (!strcmp(attr(n, "pid"), "0") ||
				  !strcmp(attr(n, "pid"), attr(b, "pid"))))
				left++;
		}
		free_devs(&after);
	} while (left && now_s() < end);
	free_devs(&before);
	if (left) {
		fprintf(stderr, "ubackctl: %u device(s) not restarted after "
			"%.0f s\n", left, timeout);
		return 1;
	}
	printf("upgraded\n");
	return 0;
}

static int cmd_attach(const char *path, double timeout)
{
	double end = now_s() + timeout;
	char req[512];
	char *a;

	snprintf(req, sizeof(req), "attach %s", path);
	for (;;) {
		a = request_or_die(req);
		if (answer_ok(a)) {
			fputs(a, stdout);
			free(a);
			return 0;
		}
		if (strncmp(a, "pending", 7) || now_s() >= end) {
			fprintf(stderr, "ubackctl: %s", a);
			free(a);
			return 1;
		}
		free(a);
		usleep(50000);
	}
}

static int cmd_simple(const char *req, bool print)
{
	char *a = request_or_die(req);
	int rc = answer_ok(a) ? 0 : 1;

	if (print || rc) {
		size_t n = strlen(a);

		/* Drop the final "." line. */
		if (!rc && n >= 2)
			a[n - 2] = '\0';
		fputs(a, rc ? stderr : stdout);
	}
	free(a);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: ubackctl [--run-dir DIR] COMMAND\n"
"  list [--json]                     devices, state, features, per-queue counters\n"
"  top [--interval S] [--count N]    live IOPS, MB/s, packets/s per queue\n"
"  upgrade DEVICE|all [--binary PATH] [--timeout S]\n"
"                                    replace data processes under live guests\n"
"  metrics                           Prometheus text\n"
"  attach BACKEND-PATH [--timeout S] wait until ubackd serves the device\n"
"  detach BACKEND-PATH               (hotplug remove; nothing to undo)\n"
"  ping\n"
"DEVICE: vbd-<domid>-<devid>, vbd/<domid>/<devid> or the backend path.\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "binary", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	double interval = 1, timeout = 10;
	const char *bin = NULL, *cmd;
	bool json = false;
	long count = -1;
	int o;

	if (getenv("UBACK_RUN_DIR"))
		run_dir = getenv("UBACK_RUN_DIR");
	/* GNU getopt permutes: options may come before or after the
	 * command and its argument. */
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'r': run_dir = optarg; break;
		case 'j': json = true; break;
		case 'i': interval = atof(optarg); break;
		case 'c': count = atol(optarg); break;
		case 'b': bin = optarg; break;
		case 't': timeout = atof(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind++];
	if (interval <= 0 || interval > 3600 || timeout < 0) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "list") && optind == argc) {
		struct devs ds;

		get_devs(&ds);
		if (json)
			list_json(&ds);
		else
			list_table(&ds);
		free_devs(&ds);
		return 0;
	}
	if (!strcmp(cmd, "top") && optind == argc)
		return cmd_top(interval, count);
	if (!strcmp(cmd, "metrics") && optind == argc)
		return cmd_simple("metrics", true);
	if (!strcmp(cmd, "ping") && optind == argc)
		return cmd_simple("ping", true);
	if (!strcmp(cmd, "upgrade") && optind == argc - 1)
		return cmd_upgrade(argv[optind], bin, timeout);
	if (!strcmp(cmd, "attach") && optind == argc - 1)
		return cmd_attach(argv[optind], timeout);
	if (!strcmp(cmd, "detach") && optind == argc - 1) {
		char req[512];

		snprintf(req, sizeof(req), "detach %s", argv[optind]);
		return cmd_simple(req, false);
	}
	usage(stderr);
	return 2;
}
