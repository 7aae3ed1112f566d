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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mkdir_rm_directory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_perms_basic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_watch_basic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_introduce_release, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
