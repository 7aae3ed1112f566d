/* SPDX-License-Identifier: MIT */
/*
 * xensim xenstore server against Debian's libxenstore (and, in one case,
 * xenstore-utils). The server runs on a sim_loop in a thread of this
 * process; calls into its C API are marshalled onto that thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>
#include <xenstore.h>
#include <xen/io/xs_wire.h>

#include "loop.h"
#include "xs_server.h"

struct fx {
	char dir[64];
	struct sim_loop *loop;
	struct xs_srv *srv;
	pthread_t thread;
	int call_rd, call_wr;        /* test thread -> loop: struct call * */
	int done_rd, done_wr;        /* loop -> test thread: result */
};

struct call {
	int (*fn)(struct fx *fx, void *arg);
	void *arg;
};

static void call_cb(void *arg, int fd, uint32_t events)
{
	struct fx *fx = arg;
	struct call *c;
	int ret;

	if (read(fd, &c, sizeof(c)) != sizeof(c))
		return;
	ret = c->fn(fx, c->arg);
	if (write(fx->done_wr, &ret, sizeof(ret)) != sizeof(ret))
		abort();
}

/* Run @fn on the loop thread and return its result. */
static int on_loop(struct fx *fx, int (*fn)(struct fx *, void *), void *arg)
{
	struct call c = { fn, arg }, *p = &c;
	int ret;

	assert_int_equal(write(fx->call_wr, &p, sizeof(p)), sizeof(p));
	assert_int_equal(read(fx->done_rd, &ret, sizeof(ret)), sizeof(ret));
	return ret;
}

static int call_introduce(struct fx *fx, void *arg)
{
	return xs_srv_domain_introduce(fx->srv, (domid_t)(uintptr_t)arg,
				       "guest");
}

static int call_release(struct fx *fx, void *arg)
{
	return xs_srv_domain_release(fx->srv, (domid_t)(uintptr_t)arg);
}

static int call_exists(struct fx *fx, void *arg)
{
	return xs_srv_domain_exists(fx->srv, (domid_t)(uintptr_t)arg);
}

static int introduce(struct fx *fx, unsigned int domid)
{
	return on_loop(fx, call_introduce, (void *)(uintptr_t)domid);
}

static int release(struct fx *fx, unsigned int domid)
{
	return on_loop(fx, call_release, (void *)(uintptr_t)domid);
}

static void *loop_thread(void *arg)
{
	struct fx *fx = arg;

	sim_loop_run(fx->loop);
	return NULL;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	int p[2];

	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/test_xs_server.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	assert_int_equal(sim_loop_create(&fx->loop), 0);
	assert_int_equal(xs_srv_create(fx->loop, fx->dir, &fx->srv), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fx->call_rd = p[0];
	fx->call_wr = p[1];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fx->done_rd = p[0];
	fx->done_wr = p[1];
	assert_int_equal(sim_loop_add(fx->loop, fx->call_rd, call_cb, fx), 0);
	assert_int_equal(pthread_create(&fx->thread, NULL, loop_thread, fx),
			 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	sim_loop_stop(fx->loop);
	pthread_join(fx->thread, NULL);
	xs_srv_destroy(fx->srv);
	sim_loop_destroy(fx->loop);
	close(fx->call_rd);
	close(fx->call_wr);
	close(fx->done_rd);
	close(fx->done_wr);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static void sock_path(const struct fx *fx, unsigned int domid, char *buf,
		      size_t len)
{
	if (domid == 0)
		snprintf(buf, len, "%s/xenstore.sock", fx->dir);
	else
		snprintf(buf, len, "%s/xenstore-dom%u.sock", fx->dir, domid);
}

/* A libxenstore handle acting as @domid (0: the privileged socket). */
static struct xs_handle *xs_as(const struct fx *fx, unsigned int domid)
{
	char path[128];
	struct xs_handle *h;

	sock_path(fx, domid, path, sizeof(path));
	setenv("XENSTORED_PATH", path, 1);
	h = xs_open(XS_OPEN_SOCKETONLY);
	assert_non_null(h);
	return h;
}

static char *rd(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	unsigned int len;

	return xs_read(h, t, path, &len);
}

static bool wr(struct xs_handle *h, xs_transaction_t t, const char *path,
	       const char *val)
{
	return xs_write(h, t, path, val, (unsigned int)strlen(val));
}

static void assert_value(struct xs_handle *h, const char *path,
			 const char *want)
{
	char *v = rd(h, XBT_NULL, path);

	assert_non_null(v);
	assert_string_equal(v, want);
	free(v);
}

static void assert_errno(bool ok, int err)
{
	assert_false(ok);
	assert_int_equal(errno, err);
}

/* Wait (bounded) for the next watch event; returns path and token. */
static bool next_event(struct xs_handle *h, char *path, char *token,
		       size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = xs_fileno(h), .events = POLLIN };
	char **ev;
	unsigned int n;

	ev = xs_check_watch(h);
	if (!ev) {
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		ev = xs_read_watch(h, &n);
		if (!ev)
			return false;
	}
	snprintf(path, len, "%s", ev[XS_WATCH_PATH]);
	snprintf(token, len, "%s", ev[XS_WATCH_TOKEN]);
	free(ev);
	return true;
}

static void expect_event(struct xs_handle *h, const char *path,
			 const char *token)
{
	char p[4096], t[4096];

	assert_true(next_event(h, p, t, sizeof(p), 10000));
	assert_string_equal(p, path);
	assert_string_equal(t, token);
}

/* No event pending: a round trip through the server (a read) flushes any
 * event it had queued before, so this is not a timing assertion. */
static void expect_no_event(struct xs_handle *h)
{
	char p[4096], t[4096];
	char *v = rd(h, XBT_NULL, "/");

	free(v);
	assert_false(next_event(h, p, t, sizeof(p), 0));
}

/* ---- basic operations ---- */

static void test_read_write(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0);
	unsigned int len;
	char *v;

	assert_true(wr(h, XBT_NULL, "/a/b/c", "hello"));
	assert_value(h, "/a/b/c", "hello");
	/* Parents were created, empty. */
	assert_value(h, "/a/b", "");
	v = xs_read(h, XBT_NULL, "/a/b/c", &len);
	assert_int_equal(len, 5);
	free(v);
	/* Binary value with embedded NUL. */
	assert_true(xs_write(h, XBT_NULL, "/bin", "x\0y", 3));
	v = xs_read(h, XBT_NULL, "/bin", &len);
	assert_int_equal(len, 3);
	assert_memory_equal(v, "x\0y", 3);
	free(v);
	assert_errno(rd(h, XBT_NULL, "/nope") != NULL, ENOENT);
	xs_close(h);
}

static void test_mkdir_rm_directory(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0);
	unsigned int n;
	char **d;

	assert_true(wr(h, XBT_NULL, "/m/x", "1"));
	assert_true(xs_mkdir(h, XBT_NULL, "/m/y"));
	/* mkdir of an existing node keeps its value */
	assert_true(xs_mkdir(h, XBT_NULL, "/m/x"));
	assert_value(h, "/m/x", "1");
	assert_true(wr(h, XBT_NULL, "/m/z/deep", "2"));
	d = xs_directory(h, XBT_NULL, "/m", &n);
	assert_non_null(d);
	assert_int_equal(n, 3);
	assert_string_equal(d[0], "x");
	assert_string_equal(d[1], "y");
	assert_string_equal(d[2], "z");
	free(d);
	/* rm removes the subtree */
	assert_true(xs_rm(h, XBT_NULL, "/m/z"));
	assert_errno(rd(h, XBT_NULL, "/m/z/deep") != NULL, ENOENT);
	/* rm of an absent node below an existing parent is fine (protocol);
	 * below an absent parent it is ENOENT */
	assert_true(xs_rm(h, XBT_NULL, "/m/z"));
	assert_errno(xs_rm(h, XBT_NULL, "/m/z/deep"), ENOENT);
	assert_errno(xs_rm(h, XBT_NULL, "/"), EINVAL);
	d = xs_directory(h, XBT_NULL, "/m", &n);
	assert_non_null(d);
	assert_int_equal(n, 2);
	free(d);
	xs_close(h);
}

static void test_perms_basic(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0);
	struct xs_permissions set[2] = {
		{ .id = 3, .perms = XS_PERM_NONE },
		{ .id = 7, .perms = XS_PERM_READ | XS_PERM_WRITE },
	};
	struct xs_permissions *p;
	unsigned int n;

	assert_true(wr(h, XBT_NULL, "/p", ""));
	p = xs_get_permissions(h, XBT_NULL, "/p", &n);
	assert_non_null(p);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].id, 0);
	assert_int_equal(p[0].perms, XS_PERM_NONE);
	free(p);
	assert_true(xs_set_permissions(h, XBT_NULL, "/p", set, 2));
	p = xs_get_permissions(h, XBT_NULL, "/p", &n);
	assert_non_null(p);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].id, 3);
	assert_int_equal(p[1].id, 7);
	assert_int_equal(p[1].perms, XS_PERM_READ | XS_PERM_WRITE);
	free(p);
	assert_errno(xs_set_permissions(h, XBT_NULL, "/nope", set, 2),
		     ENOENT);
	xs_close(h);
}

static void test_watch_basic(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *w = xs_as(fx, 0);

	assert_true(xs_watch(w, "/w", "tok"));
	expect_event(w, "/w", "tok");               /* fires on registration */
	assert_true(wr(h, XBT_NULL, "/w/a/b", "1"));
	expect_event(w, "/w/a/b", "tok");           /* descendant */
	assert_true(wr(h, XBT_NULL, "/other", "1"));
	assert_true(wr(h, XBT_NULL, "/w", "2"));
	expect_event(w, "/w", "tok");
	assert_true(xs_rm(h, XBT_NULL, "/w/a"));
	expect_event(w, "/w/a", "tok");
	expect_no_event(w);
	assert_true(xs_unwatch(w, "/w", "tok"));
	assert_true(wr(h, XBT_NULL, "/w", "3"));
	expect_no_event(w);
	xs_close(w);
	xs_close(h);
}

static void test_introduce_release(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g;
	char path[128];
	struct stat st;

	assert_true(xs_watch(h, "@introduceDomain", "in"));
	expect_event(h, "@introduceDomain", "in");
	assert_true(xs_watch(h, "@releaseDomain", "out"));
	expect_event(h, "@releaseDomain", "out");

	assert_int_equal(introduce(fx, 5), 0);
	assert_int_equal(introduce(fx, 5), -EEXIST);
	assert_int_equal(on_loop(fx, call_exists, (void *)5), 1);
	expect_event(h, "@introduceDomain", "in");
	assert_value(h, "/local/domain/5/domid", "5");
	assert_value(h, "/local/domain/5/name", "guest");
	assert_true(xs_is_domain_introduced(h, 5));
	assert_false(xs_is_domain_introduced(h, 6));
	sock_path(fx, 5, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);

	g = xs_as(fx, 5);
	assert_true(wr(g, XBT_NULL, "data/x", "1"));    /* relative */
	assert_value(h, "/local/domain/5/data/x", "1");

	assert_int_equal(release(fx, 5), 0);
	assert_int_equal(release(fx, 5), -ENOENT);
	assert_int_equal(on_loop(fx, call_exists, (void *)5), 0);
	expect_event(h, "@releaseDomain", "out");
	assert_errno(rd(h, XBT_NULL, "/local/domain/5") != NULL, ENOENT);
	assert_int_not_equal(stat(path, &st), 0);
	/* The guest's connection was closed. */
	assert_null(rd(g, XBT_NULL, "data/x"));
	xs_close(g);
	xs_close(h);
}

/* ---- raw wire ---- */

static int raw_connect(const struct fx *fx, unsigned int domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sock_path(fx, domid, sa.sun_path, sizeof(sa.sun_path));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t r = send(fd, p, len, MSG_NOSIGNAL);

		assert_true(r > 0);
		p += r;
		len -= (size_t)r;
	}
}

static void raw_send(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id,
		     const void *payload, uint32_t len)
{
	struct xsd_sockmsg hdr = { type, req_id, tx_id, len };

	send_all(fd, &hdr, sizeof(hdr));
	if (len)
		send_all(fd, payload, len);
}

/* Read exactly @len bytes; false on EOF or error (10 s bound). */
static bool recv_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 10000) <= 0)
			return false;
		r = recv(fd, p, len, 0);
		if (r <= 0)
			return false;
		p += r;
		len -= (size_t)r;
	}
	return true;
}

/* Next message; returns payload length, -1 on EOF. @buf gets a NUL. */
static int raw_recv(int fd, struct xsd_sockmsg *hdr, char *buf, size_t cap)
{
	if (!recv_all(fd, hdr, sizeof(*hdr)))
		return -1;
	assert_true(hdr->len <= XENSTORE_PAYLOAD_MAX && hdr->len < cap);
	if (hdr->len && !recv_all(fd, buf, hdr->len))
		return -1;
	buf[hdr->len] = '\0';
	return (int)hdr->len;
}

static void raw_expect(int fd, uint32_t type, uint32_t req_id,
		       uint32_t tx_id, const char *payload, uint32_t len)
{
	struct xsd_sockmsg hdr;
	char buf[XENSTORE_PAYLOAD_MAX + 1];

	assert_int_equal(raw_recv(fd, &hdr, buf, sizeof(buf)), (int)len);
	assert_int_equal(hdr.type, type);
	assert_int_equal(hdr.req_id, req_id);
	assert_int_equal(hdr.tx_id, tx_id);
	assert_memory_equal(buf, payload, len);
}

#define RAW_ERR(fd, req, tx, name) \
	raw_expect((fd), XS_ERROR, (req), (tx), name, sizeof(name))
#define RAW_OK(fd, type, req, tx) raw_expect((fd), (type), (req), (tx), "OK", 3)

static bool raw_eof(int fd)
{
	char buf[65536];
	unsigned int i;

	/* Bounded: whatever was queued before the close, then EOF. */
	for (i = 0; i < 100000; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 10000) <= 0)
			return false;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r == 0)
			return true;
		if (r < 0)
			return errno == ECONNRESET;
	}
	return false;
}

static void test_wire_reply_header(void **state)
{
	struct fx *fx = *state;
	int fd = raw_connect(fx, 0);

	raw_send(fd, XS_WRITE, 77, 0, "/r\0v", 4);
	RAW_OK(fd, XS_WRITE, 77, 0);
	raw_send(fd, XS_READ, 0x12345678, 0, "/r", 3);
	raw_expect(fd, XS_READ, 0x12345678, 0, "v", 1);
	raw_send(fd, XS_READ, 9, 0, "/nope", 6);
	RAW_ERR(fd, 9, 0, "ENOENT");
	/* Unknown transaction: error echoes the tx_id. */
	raw_send(fd, XS_READ, 10, 4242, "/r", 3);
	RAW_ERR(fd, 10, 4242, "ENOENT");
	/* Unknown op, and ops only the server may send. */
	raw_send(fd, 999, 11, 0, "/r", 3);
	RAW_ERR(fd, 11, 0, "EINVAL");
	raw_send(fd, XS_WATCH_EVENT, 12, 0, "/r\0t", 5);
	RAW_ERR(fd, 12, 0, "EINVAL");
	raw_send(fd, XS_ERROR, 13, 0, "EINVAL", 7);
	RAW_ERR(fd, 13, 0, "EINVAL");
	raw_send(fd, XS_TYPE_COUNT, 14, 0, NULL, 0);
	RAW_ERR(fd, 14, 0, "EINVAL");
	close(fd);
}

static void test_wire_partial_and_pipelined(void **state)
{
	struct fx *fx = *state;
	int fd = raw_connect(fx, 0);
	struct xsd_sockmsg hdr = { XS_WRITE, 5, 0, 8 };
	char msg[sizeof(hdr) + 8], *batch;
	size_t i, off = 0;

	/* One message dribbled a byte at a time. */
	memcpy(msg, &hdr, sizeof(hdr));
	memcpy(msg + sizeof(hdr), "/part\0xy", 8);
	for (i = 0; i < sizeof(msg); i++) {
		send_all(fd, msg + i, 1);
		usleep(200);
	}
	RAW_OK(fd, XS_WRITE, 5, 0);

	/* A message split at every offset, its tail arriving together with
	 * the next message: the server must not read past the first. */
	for (i = 1; i < sizeof(msg); i++) {
		char two[2 * sizeof(msg)];
		uint32_t six = 6;

		memcpy(two, msg, sizeof(msg));
		memcpy(two + sizeof(msg), msg, sizeof(msg));
		memcpy(two + sizeof(msg) + offsetof(struct xsd_sockmsg, req_id),
		       &six, sizeof(six));
		send_all(fd, two, i);
		usleep(1000);
		send_all(fd, two + i, sizeof(two) - i);
		RAW_OK(fd, XS_WRITE, 5, 0);
		RAW_OK(fd, XS_WRITE, 6, 0);
	}

	/* 200 requests in one write, answered in order. */
	batch = malloc(200 * (sizeof(hdr) + 6));
	assert_non_null(batch);
	for (i = 0; i < 200; i++) {
		struct xsd_sockmsg h = { XS_READ, (uint32_t)(1000 + i), 0, 6 };

		memcpy(batch + off, &h, sizeof(h));
		memcpy(batch + off + sizeof(h), "/part", 6);
		off += sizeof(h) + 6;
	}
	send_all(fd, batch, off);
	for (i = 0; i < 200; i++)
		raw_expect(fd, XS_READ, (uint32_t)(1000 + i), 0, "xy", 2);
	free(batch);
	close(fd);
}

static void test_wire_malformed(void **state)
{
	struct fx *fx = *state;
	int fd = raw_connect(fx, 0), fd2;
	struct xsd_sockmsg big = { XS_WRITE, 1, 0, XENSTORE_PAYLOAD_MAX + 1 };
	struct xs_handle *h;

	raw_send(fd, XS_WRITE, 1, 0, "/m\0v", 4);
	RAW_OK(fd, XS_WRITE, 1, 0);
	raw_send(fd, XS_READ, 2, 0, "/m", 2);           /* no NUL */
	RAW_ERR(fd, 2, 0, "EINVAL");
	raw_send(fd, XS_READ, 3, 0, "/m\0/m", 6);       /* two strings */
	RAW_ERR(fd, 3, 0, "EINVAL");
	raw_send(fd, XS_READ, 4, 0, NULL, 0);           /* empty */
	RAW_ERR(fd, 4, 0, "EINVAL");
	raw_send(fd, XS_WRITE, 5, 0, "/m", 2);          /* no NUL at all */
	RAW_ERR(fd, 5, 0, "EINVAL");
	raw_send(fd, XS_WATCH, 6, 0, "/m", 3);          /* no token */
	RAW_ERR(fd, 6, 0, "EINVAL");
	raw_send(fd, XS_SET_PERMS, 7, 0, "/m\0x5", 6);  /* bad perm */
	RAW_ERR(fd, 7, 0, "EINVAL");
	raw_send(fd, XS_SET_PERMS, 8, 0, "/m\0r5", 5);  /* unterminated */
	RAW_ERR(fd, 8, 0, "EINVAL");
	raw_send(fd, XS_SET_PERMS, 9, 0, "/m\0r70000", 10); /* domid range */
	RAW_ERR(fd, 9, 0, "EINVAL");
	raw_send(fd, XS_GET_DOMAIN_PATH, 10, 0, "abc", 4);
	RAW_ERR(fd, 10, 0, "EINVAL");
	raw_send(fd, XS_DIRECTORY_PART, 11, 0, "/m\0x", 5);
	RAW_ERR(fd, 11, 0, "EINVAL");
	raw_send(fd, XS_READ, 12, 0, "/m\xff", 4);      /* bad character */
	RAW_ERR(fd, 12, 0, "EINVAL");
	/* Still serving this connection. */
	raw_send(fd, XS_READ, 13, 0, "/m", 3);
	raw_expect(fd, XS_READ, 13, 0, "v", 1);
	/* Over the payload limit: xenstored drops the connection. */
	send_all(fd, &big, sizeof(big));
	assert_true(raw_eof(fd));
	close(fd);
	/* Garbage header then close: the server survives. */
	fd2 = raw_connect(fx, 0);
	send_all(fd2, "\xff\xff\xff", 3);
	close(fd2);
	h = xs_as(fx, 0);
	assert_value(h, "/m", "v");
	xs_close(h);
}

/* Random requests of every type, as dom0 and as a guest: each gets
 * exactly one reply (skipping watch events), nothing crashes (ASan). */
static void test_wire_random(void **state)
{
	static const char alphabet[] = "/\0ab0129@-_rwbnTF.\xff/local/domain/5";
	struct fx *fx = *state;
	struct xs_handle *h;
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	int fds[2];
	unsigned int i;

	assert_int_equal(introduce(fx, 5), 0);
	fds[0] = raw_connect(fx, 0);
	fds[1] = raw_connect(fx, 5);
	for (i = 0; i < 20000; i++) {
		char payload[256], buf[XENSTORE_PAYLOAD_MAX + 1];
		struct xsd_sockmsg hdr;
		uint32_t type, len, tx, j;
		int fd = fds[i & 1];

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		type = (uint32_t)(rng % (XS_TYPE_COUNT + 2));
		if (type == XS_CONTROL && fd == fds[0])
			type = XS_READ;      /* keeps "print" out of the log */
		len = (uint32_t)((rng >> 8) % sizeof(payload));
		tx = (uint32_t)((rng >> 20) % 4);
		for (j = 0; j < len; j++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			payload[j] = alphabet[rng % (sizeof(alphabet) - 1)];
		}
		raw_send(fd, type, i, tx, payload, len);
		for (j = 0; j < 10000; j++) {
			assert_true(raw_recv(fd, &hdr, buf, sizeof(buf)) >= 0);
			if (hdr.type != XS_WATCH_EVENT)
				break;
		}
		assert_int_equal(hdr.req_id, i);
		assert_int_equal(hdr.tx_id, tx);
		assert_true(hdr.type == type || hdr.type == XS_ERROR);
	}
	close(fds[0]);
	close(fds[1]);
	/* Still serving. */
	h = xs_as(fx, 0);
	assert_true(wr(h, XBT_NULL, "/alive", "yes"));
	assert_value(h, "/alive", "yes");
	xs_close(h);
}

static void test_many_clients(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h[64];
	char path[32], val[32];
	unsigned int i;

	for (i = 0; i < 64; i++)
		h[i] = xs_as(fx, 0);
	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "/many/%u", i);
		snprintf(val, sizeof(val), "v%u", i);
		assert_true(wr(h[i], XBT_NULL, path, val));
	}
	for (i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "/many/%u", (i + 7) % 64);
		snprintf(val, sizeof(val), "v%u", (i + 7) % 64);
		assert_value(h[i], path, val);
	}
	for (i = 0; i < 64; i++)
		xs_close(h[i]);
}

struct worker {
	struct fx *fx;
	unsigned int id;
	struct xs_handle *h;
	unsigned int fails;
	unsigned int commits;
};

/* Each worker bumps its own counter 100 times, half in transactions that
 * also read a shared node (retrying on EAGAIN), and a shared node. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char path[32], val[32], *v;
	unsigned int i, tries;

	snprintf(path, sizeof(path), "/conc/%u", w->id);
	for (i = 1; i <= 100; i++) {
		snprintf(val, sizeof(val), "%u", i);
		if (i % 2) {
			if (!wr(w->h, XBT_NULL, path, val))
				w->fails++;
			continue;
		}
		for (tries = 0; tries < 1000; tries++) {
			xs_transaction_t t = xs_transaction_start(w->h);

			if (t == XBT_NULL) {
				w->fails++;
				break;
			}
			v = rd(w->h, t, "/conc/shared");
			free(v);
			if (!wr(w->h, t, path, val) ||
			    !wr(w->h, t, "/conc/shared", val)) {
				w->fails++;
				xs_transaction_end(w->h, t, true);
				break;
			}
			if (xs_transaction_end(w->h, t, false)) {
				w->commits++;
				break;
			}
			if (errno != EAGAIN) {
				w->fails++;
				break;
			}
		}
	}
	return NULL;
}

static void test_concurrent_clients(void **state)
{
	struct fx *fx = *state;
	struct worker w[8];
	pthread_t th[8];
	struct xs_handle *h = xs_as(fx, 0);
	char path[32];
	unsigned int i;

	assert_true(wr(h, XBT_NULL, "/conc/shared", "0"));
	for (i = 0; i < 8; i++) {
		w[i] = (struct worker){ .fx = fx, .id = i, .h = xs_as(fx, 0) };
		assert_int_equal(pthread_create(&th[i], NULL, worker_run,
						&w[i]), 0);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].fails, 0);
		assert_int_equal(w[i].commits, 50);
		snprintf(path, sizeof(path), "/conc/%u", i);
		assert_value(h, path, "100");
		xs_close(w[i].h);
	}
	xs_close(h);
}

/* A client that pipelines without reading is paused (its input is not
 * read while its replies are queued), not dropped: every reply arrives, in
 * order, as it reads. */
static void test_output_backpressure(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0);
	static char val[4000];
	static char reqs[2000][sizeof(struct xsd_sockmsg) + 5];
	struct xsd_sockmsg hdr;
	char buf[XENSTORE_PAYLOAD_MAX + 1];
	size_t sent = 0, total = sizeof(reqs);
	unsigned int i, got = 0, iter;
	int fd;

	memset(val, 'z', sizeof(val));
	assert_true(xs_write(h, XBT_NULL, "/big", val, sizeof(val)));
	for (i = 0; i < 2000; i++) {
		struct xsd_sockmsg q = { XS_READ, i, 0, 5 };

		memcpy(reqs[i], &q, sizeof(q));
		memcpy(reqs[i] + sizeof(q), "/big", 5);
	}
	fd = raw_connect(fx, 0);
	/* Send everything (8 MB of replies) as fast as the server takes it;
	 * read a reply only when it stops taking requests. */
	for (iter = 0; got < 2000 && iter < 100000; iter++) {
		ssize_t r = 0;

		if (sent < total) {
			r = send(fd, (char *)reqs + sent, total - sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (r < 0) {
				assert_true(errno == EAGAIN);
				r = 0;
			}
			sent += (size_t)r;
		}
		if (r == 0 || sent == total) {
			assert_int_equal(raw_recv(fd, &hdr, buf, sizeof(buf)),
					 (int)sizeof(val));
			assert_int_equal(hdr.type, XS_READ);
			assert_int_equal(hdr.req_id, got);
			got++;
		}
	}
	assert_int_equal(got, 2000);
	close(fd);
	xs_close(h);
}

/* A watcher that never reads its events is dropped once its queue is
 * full; the server and other clients carry on. */
static void test_stuck_watcher_dropped(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0);
	static char msg[3 + 3000 + 1];
	unsigned int i;
	int fd = raw_connect(fx, 0);

	memcpy(msg, "/s\0", 3);
	memset(msg + 3, 't', 3000);
	raw_send(fd, XS_WATCH, 1, 0, msg, sizeof(msg));
	RAW_OK(fd, XS_WATCH, 1, 0);
	for (i = 0; i < 4000; i++)
		assert_true(wr(h, XBT_NULL, "/s", "x"));
	assert_true(raw_eof(fd));
	close(fd);
	assert_value(h, "/s", "x");
	xs_close(h);
}

/* ---- paths ---- */

static void test_paths(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g;
	char *longp = malloc(4000);
	char **d;
	unsigned int n;

	assert_errno(wr(h, XBT_NULL, "/a b", "1"), EINVAL);
	assert_errno(wr(h, XBT_NULL, "/a//b", "1"), EINVAL);
	assert_errno(wr(h, XBT_NULL, "/a/", "1"), EINVAL);
	assert_errno(wr(h, XBT_NULL, "/a.b", "1"), EINVAL);
	assert_errno(wr(h, XBT_NULL, "", "1"), EINVAL);
	assert_true(wr(h, XBT_NULL, "/Ok-_@9", "1"));
	d = xs_directory(h, XBT_NULL, "/", &n);
	assert_non_null(d);
	free(d);
	/* As xenstored 4.17: 2048 bytes, not counting a leading
	 * /local/domain/<id>/ (so at most 3072 in all). */
	memset(longp, 'x', 3000);
	longp[0] = '/';
	longp[2048] = '\0';
	assert_true(wr(h, XBT_NULL, longp, "1"));
	longp[2048] = 'x';
	longp[2049] = '\0';
	assert_errno(wr(h, XBT_NULL, longp, "1"), EINVAL);
	memset(longp, 'x', 3000);
	memcpy(longp, "/local/domain/7/", 16);
	longp[16 + 2048] = '\0';
	assert_true(wr(h, XBT_NULL, longp, "1"));
	longp[16 + 2048] = 'x';
	longp[16 + 2049] = '\0';
	assert_errno(wr(h, XBT_NULL, longp, "1"), EINVAL);
	/* dom0's relative paths are below /local/domain/0. */
	assert_true(wr(h, XBT_NULL, "rel", "1"));
	assert_value(h, "/local/domain/0/rel", "1");

	assert_int_equal(introduce(fx, 5), 0);
	g = xs_as(fx, 5);
	assert_true(wr(g, XBT_NULL, "x/y", "2"));
	assert_value(h, "/local/domain/5/x/y", "2");
	/* Relative paths up to 2048 bytes. */
	memset(longp, 'r', 2049);
	longp[2049] = '\0';
	assert_errno(wr(g, XBT_NULL, longp, "1"), EINVAL);
	longp[2048] = '\0';
	assert_true(wr(g, XBT_NULL, longp, "1"));
	/* Special paths are for watches only. */
	assert_errno(wr(h, XBT_NULL, "@introduceDomain", "1"), EINVAL);
	free(longp);
	xs_close(g);
	xs_close(h);
}

/* ---- domain operations ---- */

static void test_domain_ops(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g;
	char *s;
	int fd;

	s = xs_get_domain_path(h, 7);
	assert_non_null(s);
	assert_string_equal(s, "/local/domain/7");
	free(s);
	assert_true(xs_is_domain_introduced(h, 0));
	assert_false(xs_is_domain_introduced(h, 5));
	assert_int_equal(introduce(fx, 5), 0);
	assert_int_equal(introduce(fx, 6), 0);
	assert_true(xs_is_domain_introduced(h, 5));
	/* Wire INTRODUCE/RELEASE/RESUME: dom0 only, validated no-ops. */
	assert_true(xs_introduce_domain(h, 9, 1234, 3));
	assert_true(xs_resume_domain(h, 5));
	assert_errno(xs_release_domain(h, 9), ENOENT);
	assert_true(xs_release_domain(h, 5));
	assert_true(xs_is_domain_introduced(h, 5));
	g = xs_as(fx, 5);
	assert_errno(xs_introduce_domain(g, 9, 1234, 3), EACCES);
	assert_errno(xs_release_domain(g, 6), EACCES);
	assert_errno(xs_resume_domain(g, 6), EACCES);
	assert_errno(xs_set_target(g, 5, 6), EACCES);
	assert_null(xs_control_command(g, "check", NULL, 0));
	assert_int_equal(errno, EACCES);
	s = xs_get_domain_path(g, 5);
	assert_non_null(s);
	assert_string_equal(s, "/local/domain/5");
	free(s);

	/* SET_TARGET: 5 acts as owner of 6's nodes. */
	assert_errno(rd(g, XBT_NULL, "/local/domain/6/domid") != NULL,
		     EACCES);
	assert_errno(xs_set_target(h, 5, 77), ENOENT);
	assert_true(xs_set_target(h, 5, 6));
	assert_value(g, "/local/domain/6/domid", "6");
	assert_true(wr(g, XBT_NULL, "/local/domain/6/by5", "1"));

	/* CONTROL, minimal. */
	s = xs_control_command(h, "help", NULL, 0);
	assert_non_null(s);
	assert_non_null(strstr(s, "print"));
	free(s);
	s = xs_control_command(h, "print", "hello", 6);
	assert_non_null(s);
	free(s);
	assert_null(xs_control_command(h, "bogus", NULL, 0));
	assert_int_equal(errno, EINVAL);

	/* RESET_WATCHES drops watches and transactions. */
	fd = raw_connect(fx, 0);
	raw_send(fd, XS_TRANSACTION_START, 1, 0, "", 1);
	{
		struct xsd_sockmsg hdr;
		char buf[64];
		uint32_t id;

		assert_true(raw_recv(fd, &hdr, buf, sizeof(buf)) > 0);
		assert_int_equal(hdr.type, XS_TRANSACTION_START);
		id = (uint32_t)strtoul(buf, NULL, 10);
		assert_int_not_equal(id, 0);
		raw_send(fd, XS_WATCH, 2, 0, "/rw\0t", 6);
		RAW_OK(fd, XS_WATCH, 2, 0);
		raw_expect(fd, XS_WATCH_EVENT, 0, 0, "/rw\0t", 6);
		raw_send(fd, XS_RESET_WATCHES, 3, 0, "", 1);
		RAW_OK(fd, XS_RESET_WATCHES, 3, 0);
		raw_send(fd, XS_READ, 4, id, "/", 2);
		RAW_ERR(fd, 4, id, "ENOENT");
		raw_send(fd, XS_UNWATCH, 5, 0, "/rw\0t", 6);
		RAW_ERR(fd, 5, 0, "ENOENT");
	}
	close(fd);
	xs_close(g);
	xs_close(h);
}

/* ---- permissions ---- */

static void set_perms2(struct xs_handle *h, const char *path, unsigned int o,
		       unsigned int op, unsigned int id, unsigned int p)
{
	struct xs_permissions perms[2] = {
		{ .id = o, .perms = op }, { .id = id, .perms = p },
	};

	assert_true(xs_set_permissions(h, XBT_NULL, path, perms, 2));
}

static void test_perms_guest(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g, *g6;
	struct xs_permissions *p, six[6] = { { 0 } };
	unsigned int n, i;

	assert_int_equal(introduce(fx, 5), 0);
	assert_int_equal(introduce(fx, 6), 0);
	g = xs_as(fx, 5);
	g6 = xs_as(fx, 6);

	/* A backend directory: dom0's, the guest may read it. */
	assert_true(wr(h, XBT_NULL, "/local/domain/0/backend/vbd/5/0/state",
		       "1"));
	set_perms2(h, "/local/domain/0/backend/vbd/5/0", 0, XS_PERM_NONE, 5,
		   XS_PERM_READ);
	set_perms2(h, "/local/domain/0/backend/vbd/5/0/state", 0,
		   XS_PERM_NONE, 5, XS_PERM_READ);
	assert_value(g, "/local/domain/0/backend/vbd/5/0/state", "1");
	assert_errno(wr(g, XBT_NULL, "/local/domain/0/backend/vbd/5/0/state",
			"4"), EACCES);
	assert_errno(wr(g, XBT_NULL, "/local/domain/0/backend/vbd/5/0/new",
			"4"), EACCES);
	assert_errno(xs_mkdir(g, XBT_NULL,
			      "/local/domain/0/backend/vbd/5/0/d"), EACCES);
	assert_errno(xs_rm(g, XBT_NULL, "/local/domain/0/backend/vbd/5/0"),
		     EACCES);
	assert_errno(xs_set_permissions(g, XBT_NULL,
					"/local/domain/0/backend/vbd/5/0",
					six, 1), EACCES);
	/* Another guest cannot even read it. */
	assert_errno(rd(g6, XBT_NULL,
			"/local/domain/0/backend/vbd/5/0/state") != NULL,
		     EACCES);
	/* Absent below unreadable: EACCES; below readable: ENOENT. */
	assert_errno(rd(g6, XBT_NULL, "/local/domain/0/backend/vbd/5/0/x") !=
		     NULL, EACCES);
	assert_errno(rd(g, XBT_NULL, "/local/domain/0/backend/vbd/5/0/x") !=
		     NULL, ENOENT);
	/* Other domains' directories. */
	assert_errno(rd(g, XBT_NULL, "/local/domain/6/domid") != NULL,
		     EACCES);
	assert_errno(wr(g, XBT_NULL, "/local/domain/6/x", "1"), EACCES);
	assert_errno(wr(g, XBT_NULL, "/tool/x", "1"), EACCES);

	/* New nodes inherit the parent's perms, owner becomes the creator. */
	assert_true(wr(h, XBT_NULL, "/shared", ""));
	set_perms2(h, "/shared", 0, XS_PERM_READ, 5, XS_PERM_WRITE);
	assert_true(wr(g, XBT_NULL, "/shared/g/h", "1"));
	p = xs_get_permissions(h, XBT_NULL, "/shared/g/h", &n);
	assert_non_null(p);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].id, 5);
	assert_int_equal(p[0].perms, XS_PERM_READ);
	assert_int_equal(p[1].id, 5);
	free(p);
	/* dom0 creating keeps the parent's owner. */
	assert_true(wr(h, XBT_NULL, "/local/domain/5/bydom0", "1"));
	p = xs_get_permissions(h, XBT_NULL, "/local/domain/5/bydom0", &n);
	assert_non_null(p);
	assert_int_equal(p[0].id, 5);
	free(p);
	/* The owner may write whatever perms[0] says; others not. */
	assert_true(wr(g, XBT_NULL, "/local/domain/5/bydom0", "2"));
	assert_errno(wr(g6, XBT_NULL, "/shared/g/h", "3"), EACCES);
	assert_value(g6, "/shared/g/h", "1");     /* default: read */

	/* SET_PERMS by a guest: own nodes only, owner unchanged, bounded. */
	set_perms2(g, "/local/domain/5/bydom0", 5, XS_PERM_NONE, 6,
		   XS_PERM_READ);
	assert_value(g6, "/local/domain/5/bydom0", "2");
	for (i = 0; i < 6; i++)
		six[i] = (struct xs_permissions){ .id = i ? 10 + i : 5 };
	assert_errno(xs_set_permissions(g, XBT_NULL, "/local/domain/5/bydom0",
					six, 6), ENOSPC);
	six[0].id = 6;
	assert_errno(xs_set_permissions(g, XBT_NULL, "/local/domain/5/bydom0",
					six, 1), EPERM);
	assert_errno(xs_set_permissions(g6, XBT_NULL, "/shared/g/h", six, 1),
		     EACCES);
	xs_close(g6);
	xs_close(g);
	xs_close(h);
}

/* ---- watches ---- */

static void test_watch_relative_and_rm(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g, *w = xs_as(fx, 0);

	assert_int_equal(introduce(fx, 5), 0);
	g = xs_as(fx, 5);
	assert_true(xs_watch(g, "data", "rel"));
	expect_event(g, "data", "rel");
	assert_true(wr(h, XBT_NULL, "/local/domain/5/data/x", "1"));
	expect_event(g, "data/x", "rel");
	assert_errno(xs_watch(g, "data", "rel"), EEXIST);
	assert_errno(xs_unwatch(g, "data", "other"), ENOENT);

	/* A watch below a removed subtree fires with its own path; one on
	 * an ancestor with the removed path; unrelated ones not at all. */
	assert_true(wr(h, XBT_NULL, "/r/a/b/c", "1"));
	assert_true(wr(h, XBT_NULL, "/q", "1"));
	assert_true(xs_watch(w, "/r/a/b/c", "deep"));
	expect_event(w, "/r/a/b/c", "deep");
	assert_true(xs_watch(w, "/r/a/b/c/none", "deeper"));
	expect_event(w, "/r/a/b/c/none", "deeper");
	assert_true(xs_watch(w, "/q", "q"));
	expect_event(w, "/q", "q");
	assert_true(xs_rm(h, XBT_NULL, "/r/a"));
	{
		char p1[4096], t1[4096], p2[4096], t2[4096];

		assert_true(next_event(w, p1, t1, sizeof(p1), 10000));
		assert_true(next_event(w, p2, t2, sizeof(p2), 10000));
		if (strcmp(t1, "deep") != 0) {
			assert_string_equal(p1, "/r/a/b/c/none");
			assert_string_equal(p2, "/r/a/b/c");
		} else {
			assert_string_equal(p1, "/r/a/b/c");
			assert_string_equal(p2, "/r/a/b/c/none");
		}
	}
	expect_no_event(w);
	/* A watch on an absent node fires when it is created. */
	assert_true(wr(h, XBT_NULL, "/r/a/b/c", "2"));
	expect_event(w, "/r/a/b/c", "deep");
	expect_no_event(w);
	xs_close(g);
	xs_close(w);
	xs_close(h);
}

static void test_watch_perm_filter(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g;

	assert_int_equal(introduce(fx, 5), 0);
	g = xs_as(fx, 5);
	assert_true(xs_mkdir(h, XBT_NULL, "/local/domain/0"));
	set_perms2(h, "/local/domain/0", 0, XS_PERM_NONE, 0, XS_PERM_NONE);
	assert_true(wr(h, XBT_NULL, "/local/domain/0/pub", ""));
	set_perms2(h, "/local/domain/0/pub", 0, XS_PERM_NONE, 5,
		   XS_PERM_READ);
	assert_true(xs_watch(g, "/local/domain/0", "t"));
	expect_event(g, "/local/domain/0", "t");
	/* Unreadable node: no event; readable: event. */
	assert_true(wr(h, XBT_NULL, "/local/domain/0/secret", "1"));
	expect_no_event(g);
	assert_true(wr(h, XBT_NULL, "/local/domain/0/pub/x", "1"));
	expect_event(g, "/local/domain/0/pub/x", "t");
	/* Made unreadable: the watcher still hears it (old permissions),
	 * and later changes too, since the parent is readable (4.17). */
	set_perms2(h, "/local/domain/0/pub/x", 0, XS_PERM_NONE, 0,
		   XS_PERM_NONE);
	expect_event(g, "/local/domain/0/pub/x", "t");
	assert_true(wr(h, XBT_NULL, "/local/domain/0/pub/x", "2"));
	expect_event(g, "/local/domain/0/pub/x", "t");
	/* Parent unreadable: only the old permissions let it through. */
	assert_true(wr(h, XBT_NULL, "/local/domain/0/top", ""));
	set_perms2(h, "/local/domain/0/top", 0, XS_PERM_NONE, 5,
		   XS_PERM_READ);
	expect_event(g, "/local/domain/0/top", "t");
	set_perms2(h, "/local/domain/0/top", 0, XS_PERM_NONE, 0,
		   XS_PERM_NONE);
	expect_event(g, "/local/domain/0/top", "t");
	assert_true(wr(h, XBT_NULL, "/local/domain/0/top", "1"));
	expect_no_event(g);
	/* Below it, neither node nor parent is readable. */
	assert_true(wr(h, XBT_NULL, "/local/domain/0/pub/x/y", "2"));
	expect_no_event(g);

	/* @releaseDomain is dom0's by default: registering fires, releases
	 * do not, until dom0 grants read on it. */
	assert_true(xs_watch(g, "@releaseDomain", "r"));
	expect_event(g, "@releaseDomain", "r");
	assert_int_equal(introduce(fx, 6), 0);
	assert_int_equal(release(fx, 6), 0);
	expect_no_event(g);
	assert_errno(xs_set_permissions(g, XBT_NULL, "@releaseDomain",
					(struct xs_permissions[]){ { 5, 0 } },
					1), EACCES);
	assert_errno(xs_set_permissions(h, XBT_NULL, "@bogus",
					(struct xs_permissions[]){ { 0, 0 } },
					1), EINVAL);
	set_perms2(h, "@releaseDomain", 0, XS_PERM_NONE, 5, XS_PERM_READ);
	assert_int_equal(introduce(fx, 6), 0);
	assert_int_equal(release(fx, 6), 0);
	expect_event(g, "@releaseDomain", "r");
	xs_close(g);
	xs_close(h);
}

static void test_watch_quota(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g, *g2;
	char tok[16];
	unsigned int i;

	assert_int_equal(introduce(fx, 5), 0);
	g = xs_as(fx, 5);
	for (i = 0; i < 128; i++) {
		snprintf(tok, sizeof(tok), "%u", i);
		assert_true(xs_watch(g, "data", tok));
	}
	assert_errno(xs_watch(g, "data", "one-more"), E2BIG);
	/* Per domain, not per connection. */
	g2 = xs_as(fx, 5);
	assert_errno(xs_watch(g2, "data", "one-more"), E2BIG);
	assert_true(xs_unwatch(g, "data", "0"));
	assert_true(xs_watch(g2, "data", "one-more"));
	xs_close(g2);
	for (i = 0; i < 129; i++) {
		snprintf(tok, sizeof(tok), "%u", i);
		assert_true(xs_watch(h, "/x", tok));
	}
	xs_close(g);
	xs_close(h);
}

/* ---- transactions ---- */

static void test_tx_isolation(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *o = xs_as(fx, 0);
	xs_transaction_t t;
	char *v;

	assert_true(wr(h, XBT_NULL, "/t/a", "0"));
	t = xs_transaction_start(h);
	assert_int_not_equal(t, XBT_NULL);
	assert_true(wr(h, t, "/t/a", "1"));
	assert_true(wr(h, t, "/t/new/deep", "2"));
	/* Regression: touching a node the transaction itself created made
	 * every such commit fail with EAGAIN. */
	assert_true(wr(h, t, "/t/new/other", "3"));
	v = rd(h, t, "/t/a");
	assert_string_equal(v, "1");
	free(v);
	assert_value(o, "/t/a", "0");            /* not visible outside */
	assert_errno(rd(o, XBT_NULL, "/t/new") != NULL, ENOENT);
	assert_true(xs_transaction_end(h, t, false));
	assert_value(o, "/t/a", "1");
	assert_value(o, "/t/new/deep", "2");

	/* Changes by others after the start are not visible inside (and,
	 * having been read, make the commit fail). */
	t = xs_transaction_start(h);
	assert_true(wr(o, XBT_NULL, "/t/a", "5"));
	assert_true(wr(o, XBT_NULL, "/u", "x"));
	v = rd(h, t, "/t/a");
	assert_string_equal(v, "1");
	free(v);
	assert_errno(rd(h, t, "/u") != NULL, ENOENT);
	assert_errno(xs_transaction_end(h, t, false), EAGAIN);
	assert_value(o, "/t/a", "5");

	/* Abort discards. */
	t = xs_transaction_start(h);
	assert_true(wr(h, t, "/t/a", "9"));
	assert_true(xs_rm(h, t, "/t/new"));
	assert_true(xs_transaction_end(h, t, true));
	assert_value(o, "/t/a", "5");
	assert_value(o, "/t/new/deep", "2");
	/* Ended transactions are gone. */
	assert_errno(rd(h, t, "/t/a") != NULL, ENOENT);
	assert_errno(xs_transaction_end(h, 4242, false), ENOENT);

	/* rm, mkdir and set_perms inside a transaction apply at commit. */
	t = xs_transaction_start(h);
	assert_true(xs_rm(h, t, "/t/new"));
	assert_true(xs_mkdir(h, t, "/t/dir"));
	{
		struct xs_permissions tp[2] = {
			{ .id = 0, .perms = XS_PERM_READ },
			{ .id = 3, .perms = XS_PERM_WRITE },
		};

		assert_true(xs_set_permissions(h, t, "/t/a", tp, 2));
	}
	assert_true(xs_transaction_end(h, t, false));
	assert_errno(rd(o, XBT_NULL, "/t/new") != NULL, ENOENT);
	assert_value(o, "/t/dir", "");
	xs_close(o);
	xs_close(h);
}

enum conflict { C_READ, C_WRITE, C_DIR, C_ABSENT, C_UNRELATED, C_PERMS };

static void run_conflict(struct fx *fx, enum conflict kind, bool expect_eagain)
{
	struct xs_handle *h = xs_as(fx, 0), *o = xs_as(fx, 0);
	xs_transaction_t t;
	unsigned int n;
	char *v, **d;
	struct xs_permissions perm = { .id = 0, .perms = XS_PERM_READ };

	assert_true(wr(h, XBT_NULL, "/c/x", "0"));
	t = xs_transaction_start(h);
	assert_int_not_equal(t, XBT_NULL);
	switch (kind) {
	case C_READ:
	case C_UNRELATED:
	case C_PERMS:
		v = rd(h, t, "/c/x");
		assert_non_null(v);
		free(v);
		break;
	case C_WRITE:
		assert_true(wr(h, t, "/c/x", "tx"));
		break;
	case C_DIR:
		d = xs_directory(h, t, "/c", &n);
		assert_non_null(d);
		free(d);
		break;
	case C_ABSENT:
		assert_null(rd(h, t, "/c/missing"));
		break;
	}
	assert_true(wr(h, t, "/c/mark", "tx"));
	switch (kind) {
	case C_READ:
	case C_WRITE:
		assert_true(wr(o, XBT_NULL, "/c/x", "other"));
		break;
	case C_DIR:
		assert_true(wr(o, XBT_NULL, "/c/y", "other"));
		break;
	case C_ABSENT:
		assert_true(wr(o, XBT_NULL, "/c/missing", "other"));
		break;
	case C_UNRELATED:
		assert_true(wr(o, XBT_NULL, "/elsewhere", "other"));
		break;
	case C_PERMS:
		assert_true(xs_set_permissions(o, XBT_NULL, "/c/x", &perm, 1));
		break;
	}
	if (expect_eagain) {
		assert_errno(xs_transaction_end(h, t, false), EAGAIN);
		assert_errno(rd(o, XBT_NULL, "/c/mark") != NULL, ENOENT);
	} else {
		assert_true(xs_transaction_end(h, t, false));
		assert_value(o, "/c/mark", "tx");
	}
	xs_close(o);
	xs_close(h);
}

static void test_tx_conflict_read(void **s)
{
	run_conflict(*s, C_READ, true);
}

static void test_tx_conflict_write(void **s)
{
	run_conflict(*s, C_WRITE, true);
}

static void test_tx_conflict_dir(void **s)
{
	run_conflict(*s, C_DIR, true);
}

static void test_tx_conflict_absent(void **s)
{
	run_conflict(*s, C_ABSENT, true);
}

static void test_tx_conflict_perms(void **s)
{
	run_conflict(*s, C_PERMS, true);
}

static void test_tx_no_conflict(void **s)
{
	run_conflict(*s, C_UNRELATED, false);
}

static void test_tx_watch_at_commit(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *w = xs_as(fx, 0);
	xs_transaction_t t;

	assert_true(xs_watch(w, "/tw", "t"));
	expect_event(w, "/tw", "t");
	t = xs_transaction_start(h);
	assert_true(wr(h, t, "/tw/a", "1"));
	expect_no_event(w);
	assert_true(xs_transaction_end(h, t, false));
	expect_event(w, "/tw/a", "t");
	t = xs_transaction_start(h);
	assert_true(wr(h, t, "/tw/b", "1"));
	assert_true(xs_transaction_end(h, t, true));
	expect_no_event(w);
	xs_close(w);
	xs_close(h);
}

static void test_tx_limits(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g, *g2;
	xs_transaction_t t[11];
	unsigned int i;
	int fd;

	assert_int_equal(introduce(fx, 5), 0);
	g = xs_as(fx, 5);
	for (i = 0; i < 10; i++) {
		t[i] = xs_transaction_start(g);
		assert_int_not_equal(t[i], XBT_NULL);
	}
	assert_int_equal(xs_transaction_start(g), XBT_NULL);
	assert_int_equal(errno, ENOSPC);
	/* Per domain, not per connection (each holds a database copy). */
	g2 = xs_as(fx, 5);
	assert_int_equal(xs_transaction_start(g2), XBT_NULL);
	assert_int_equal(errno, ENOSPC);
	xs_close(g2);
	assert_true(xs_transaction_end(g, t[0], true));
	t[10] = xs_transaction_start(g);
	assert_int_not_equal(t[10], XBT_NULL);
	/* A guest's transaction is still checked against permissions. */
	assert_errno(wr(g, t[10], "/local/domain/0/x", "1"), EACCES);
	assert_true(wr(g, t[10], "in-tx", "1"));
	assert_true(xs_transaction_end(g, t[10], false));
	assert_value(h, "/local/domain/5/in-tx", "1");
	/* Nested start is EBUSY. */
	fd = raw_connect(fx, 0);
	raw_send(fd, XS_TRANSACTION_START, 1, 77, "", 1);
	RAW_ERR(fd, 1, 77, "EBUSY");
	close(fd);
	xs_close(g);
	xs_close(h);
}

/* ---- quotas ---- */

static void test_quota_nodes(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g;
	char path[32];
	unsigned int i, ok = 0;

	assert_int_equal(introduce(fx, 5), 0);
	g = xs_as(fx, 5);
	for (i = 0; i < 1100; i++) {
		snprintf(path, sizeof(path), "n%u", i);
		if (!wr(g, XBT_NULL, path, "1")) {
			assert_int_equal(errno, ENOSPC);
			break;
		}
		ok++;
	}
	/* /local/domain/5, domid and name are the guest's too. */
	assert_int_equal(ok, 1000 - 3);
	/* In a transaction as well. */
	{
		xs_transaction_t t = xs_transaction_start(g);

		assert_errno(wr(g, t, "more", "1"), ENOSPC);
		xs_transaction_end(g, t, true);
	}
	/* dom0 is not limited. */
	assert_true(wr(h, XBT_NULL, "/local/domain/5/dom0made", "1"));
	/* ... but what it creates below the guest's home is the guest's. */
	assert_errno(wr(g, XBT_NULL, "again", "1"), ENOSPC);
	assert_true(xs_rm(g, XBT_NULL, "n0"));
	assert_true(xs_rm(g, XBT_NULL, "n1"));
	assert_true(wr(g, XBT_NULL, "again", "1"));
	xs_close(g);
	xs_close(h);
}

static void test_quota_value(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g;
	static char val[4000];

	assert_int_equal(introduce(fx, 5), 0);
	g = xs_as(fx, 5);
	memset(val, 'v', sizeof(val));
	assert_true(xs_write(g, XBT_NULL, "v", val, 2048));
	assert_errno(xs_write(g, XBT_NULL, "v", val, 2049), ENOSPC);
	assert_true(xs_write(h, XBT_NULL, "/v", val, sizeof(val)));
	xs_close(g);
	xs_close(h);
}

/* ---- domain release ---- */

static void test_release_cleans_up(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0), *g, *w = xs_as(fx, 0);
	struct xs_permissions *p;
	xs_transaction_t t;
	unsigned int n;

	assert_int_equal(introduce(fx, 5), 0);
	g = xs_as(fx, 5);
	assert_true(wr(h, XBT_NULL, "/keep", ""));
	set_perms2(h, "/keep", 0, XS_PERM_NONE, 5,
		   XS_PERM_READ | XS_PERM_WRITE);
	assert_true(wr(g, XBT_NULL, "/keep/g", "1"));
	assert_true(xs_watch(g, "data", "t"));
	t = xs_transaction_start(g);
	assert_int_not_equal(t, XBT_NULL);
	assert_true(xs_watch(w, "/local/domain/5", "dir"));
	expect_event(w, "/local/domain/5", "dir");

	assert_int_equal(release(fx, 5), 0);
	expect_event(w, "/local/domain/5", "dir");  /* removal */
	/* Perms naming 5 are dropped; 5's nodes pass to dom0. */
	p = xs_get_permissions(h, XBT_NULL, "/keep", &n);
	assert_non_null(p);
	assert_int_equal(n, 1);
	free(p);
	p = xs_get_permissions(h, XBT_NULL, "/keep/g", &n);
	assert_non_null(p);
	assert_int_equal(p[0].id, 0);
	free(p);
	assert_null(rd(g, XBT_NULL, "data"));
	xs_close(g);

	/* A new domain 5 starts clean. */
	assert_int_equal(introduce(fx, 5), 0);
	g = xs_as(fx, 5);
	assert_errno(rd(g, XBT_NULL, "/keep/g") != NULL, EACCES);
	assert_errno(rd(g, t, "data") != NULL, ENOENT);
	xs_close(g);
	xs_close(w);
	xs_close(h);
}

static void test_directory_part(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0);
	char path[64], **d;
	unsigned int i, n;
	xs_transaction_t t;

	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/big/child-with-long-name-%04u",
			 i);
		assert_true(wr(h, XBT_NULL, path, ""));
	}
	d = xs_directory(h, XBT_NULL, "/big", &n);
	assert_non_null(d);
	assert_int_equal(n, 300);
	for (i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "child-with-long-name-%04u", i);
		assert_string_equal(d[i], path);
	}
	free(d);
	/* The wire format, as xenstored 4.17. */
	{
		int fd = raw_connect(fx, 0);
		struct xsd_sockmsg hdr;
		char buf[XENSTORE_PAYLOAD_MAX + 1], *g;
		unsigned int off = 0, got = 0;
		int len;

		assert_true(wr(h, XBT_NULL, "/dp/a", ""));
		assert_true(wr(h, XBT_NULL, "/dp/bb", ""));
		raw_send(fd, XS_DIRECTORY_PART, 1, 0, "/dp\0" "0", 6);
		len = raw_recv(fd, &hdr, buf, sizeof(buf));
		assert_int_equal(hdr.type, XS_DIRECTORY_PART);
		g = strdup(buf);      /* generation */
		assert_int_equal(len, (int)strlen(g) + 1 + 6);
		assert_memory_equal(buf + strlen(g) + 1, "a\0bb\0\0", 6);
		raw_send(fd, XS_DIRECTORY_PART, 2, 0, "/dp\0" "2", 6);
		len = raw_recv(fd, &hdr, buf, sizeof(buf));
		assert_string_equal(buf, g);
		assert_int_equal(len, (int)strlen(g) + 1 + 4);
		assert_memory_equal(buf + strlen(g) + 1, "bb\0\0", 4);
		raw_send(fd, XS_DIRECTORY_PART, 3, 0, "/dp\0" "99", 7);
		len = raw_recv(fd, &hdr, buf, sizeof(buf));
		assert_int_equal(len, (int)strlen(g) + 2);
		free(g);
		/* Big list: whole names per chunk, the last one terminated. */
		for (;;) {
			char q[32];
			int ql = snprintf(q, sizeof(q), "/big%c%u", 0, off) + 1;
			size_t glen;

			raw_send(fd, XS_DIRECTORY_PART, 4, 0, q, (uint32_t)ql);
			len = raw_recv(fd, &hdr, buf, sizeof(buf));
			assert_int_equal(hdr.type, XS_DIRECTORY_PART);
			glen = strlen(buf) + 1;
			assert_true((size_t)len > glen);
			assert_int_equal(buf[len - 1], '\0');
			if (len >= 2 && buf[len - 2] == '\0' &&
			    (size_t)len - glen >= 1) {
				off += (unsigned int)((size_t)len - glen - 1);
				break;
			}
			off += (unsigned int)((size_t)len - glen);
			assert_true(++got < 100);
		}
		assert_true(got >= 1);      /* more than one chunk */
		assert_int_equal(off, 300 * (strlen("child-with-long-name-0000")
					     + 1));
		close(fd);
	}

	t = xs_transaction_start(h);
	d = xs_directory(h, t, "/big", &n);
	assert_non_null(d);
	assert_int_equal(n, 300);
	free(d);
	xs_transaction_end(h, t, true);
	xs_close(h);
}

/* ---- Debian's xenstore-utils ---- */

/* Run @argv with XENSTORED_PATH for dom0; return its stdout. */
static char *run_tool(const struct fx *fx, char *const argv[], int *status)
{
	char path[128], *out = calloc(1, 65536);
	size_t len = 0;
	int p[2];
	pid_t pid;

	assert_non_null(out);
	sock_path(fx, 0, path, sizeof(path));
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);    /* expected failures stay quiet */
		close(p[0]);
		close(p[1]);
		setenv("XENSTORED_PATH", path, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 20000) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		r = read(p[0], out + len, 65535 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, status, 0), pid);
	return out;
}

static void expect_tool(const struct fx *fx, const char *want,
			char *const argv[])
{
	int status;
	char *out = run_tool(fx, argv, &status);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(out, want);
	free(out);
}

static void test_xenstore_utils(void **state)
{
	struct fx *fx = *state;
	struct xs_handle *h = xs_as(fx, 0);
	struct xs_permissions *p;
	unsigned int n, i;
	int status, fds[2];
	pid_t pid;
	char *out, path[128];

	if (access("/usr/bin/xenstore-write", X_OK) != 0) {
		/* xenstore-utils is a listed build dependency of the tests. */
		fail_msg("xenstore-utils not installed");
	}
	expect_tool(fx, "", (char *const[]){ "xenstore-write", "/u/a", "1",
					     "/u/b", "two words", NULL });
	expect_tool(fx, "1\n", (char *const[]){ "xenstore-read", "/u/a",
						NULL });
	expect_tool(fx, "a\nb\n", (char *const[]){ "xenstore-list", "/u",
						   NULL });
	expect_tool(fx, "a = \"1\"\nb = \"two words\"\n",
		    (char *const[]){ "xenstore-ls", "/u", NULL });
	expect_tool(fx, "", (char *const[]){ "xenstore-chmod", "/u/a", "r5",
					     "b6", NULL });
	p = xs_get_permissions(h, XBT_NULL, "/u/a", &n);
	assert_non_null(p);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].id, 5);
	assert_int_equal(p[0].perms, XS_PERM_READ);
	assert_int_equal(p[1].id, 6);
	assert_int_equal(p[1].perms, XS_PERM_READ | XS_PERM_WRITE);
	free(p);
	expect_tool(fx, "", (char *const[]){ "xenstore-rm", "/u/a", NULL });
	assert_errno(rd(h, XBT_NULL, "/u/a") != NULL, ENOENT);
	out = run_tool(fx, (char *const[]){ "xenstore-read", "/u/a", NULL },
		       &status);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	free(out);

	/* xenstore-watch -n 2: the registration event, then one change.
	 * Keep changing /u until it exits (it may register late). */
	sock_path(fx, 0, path, sizeof(path));
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		setenv("XENSTORED_PATH", path, 1);
		execlp("timeout", "timeout", "30", "xenstore-watch", "-n", "2",
		       "/u", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	for (i = 0; i < 300; i++) {
		assert_true(wr(h, XBT_NULL, "/u/c", "x"));
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(100000);
	}
	if (i == 300)
		assert_int_equal(waitpid(pid, &status, 0), pid);
	out = calloc(1, 4096);
	assert_non_null(out);
	assert_true(read(fds[0], out, 4095) >= 0);
	close(fds[0]);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(out, "/u\n/u/c\n");
	free(out);
	xs_close(h);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_read_write),
		T(test_mkdir_rm_directory),
		T(test_perms_basic),
		T(test_watch_basic),
		T(test_introduce_release),
		T(test_wire_reply_header),
		T(test_wire_partial_and_pipelined),
		T(test_wire_malformed),
		T(test_wire_random),
		T(test_many_clients),
		T(test_concurrent_clients),
		T(test_output_backpressure),
		T(test_stuck_watcher_dropped),
		T(test_paths),
		T(test_domain_ops),
		T(test_perms_guest),
		T(test_watch_relative_and_rm),
		T(test_watch_perm_filter),
		T(test_watch_quota),
		T(test_tx_isolation),
		T(test_tx_conflict_read),
		T(test_tx_conflict_write),
		T(test_tx_conflict_dir),
		T(test_tx_conflict_absent),
		T(test_tx_conflict_perms),
		T(test_tx_no_conflict),
		T(test_tx_watch_at_commit),
		T(test_tx_limits),
		T(test_quota_nodes),
		T(test_quota_value),
		T(test_release_cleans_up),
		T(test_directory_part),
		T(test_xenstore_utils),
	};

	/* A dropped connection must not kill the test with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
