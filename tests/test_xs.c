/* SPDX-License-Identifier: MIT */
/*
 * common/xs.c against a mocked libxenstore: this program links xs.c with
 * the xs_* definitions below, not with libxenstore. Checks argument
 * passing, -1/errno -> -errno conversion, strict integer parsing and the
 * transaction retry loop.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uback/xs.h"

#define FAKE_XS ((struct xs_handle *)0x1000)
#define FAKE_T  ((xs_transaction_t)7)

/* ---- mocked libxenstore ------------------------------------------------ */

/*
 * Every mock pops an errno first: non-zero means "fail with this errno".
 * A negative value fails without touching errno (after the wrapper zeroed
 * it), the library path that must still read as a failure.
 */
static bool fail_with(int err)
{
	if (err > 0) {
		errno = err;
		return true;
	}
	return err < 0;
}

/* A macro: mock() keys its queue on the calling function's name. */
#define mock_fail() fail_with(mock_type(int))

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
	      unsigned int *len)
{
	const char *v;
	unsigned int n;
	char *copy;

	assert_ptr_equal(h, FAKE_XS);
	check_expected(t);
	check_expected_ptr(path);
	if (mock_fail())
		return NULL;
	v = mock_ptr_type(const char *);
	n = mock_type(unsigned int);
	copy = malloc(n + 1);
	assert_non_null(copy);
	memcpy(copy, v, n);
	copy[n] = '\0';
	*len = n;
	return copy;
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path,
	      const void *data, unsigned int len)
{
	assert_ptr_equal(h, FAKE_XS);
	check_expected(t);
	check_expected_ptr(path);
	check_expected(len);
	check_expected_ptr(data);
	return !mock_fail();
}

bool xs_mkdir(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	check_expected(t);
	check_expected_ptr(path);
	return !mock_fail();
}

bool xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	check_expected(t);
	check_expected_ptr(path);
	return !mock_fail();
}

char **xs_directory(struct xs_handle *h, xs_transaction_t t,
		    const char *path, unsigned int *num)
{
	char **v;

	check_expected(t);
	check_expected_ptr(path);
	if (mock_fail())
		return NULL;
	/* Two entries, strings inside the one allocation, as libxenstore. */
	v = malloc(2 * sizeof(char *) + 4);
	assert_non_null(v);
	memcpy((char *)(v + 2), "0\0001", 4);
	v[0] = (char *)(v + 2);
	v[1] = (char *)(v + 2) + 2;
	*num = 2;
	return v;
}

struct xs_permissions *xs_get_permissions(struct xs_handle *h,
					  xs_transaction_t t,
					  const char *path, unsigned int *num)
{
	struct xs_permissions *p;

	check_expected(t);
	check_expected_ptr(path);
	if (mock_fail())
		return NULL;
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->id = 3;
	p->perms = XS_PERM_READ;
	*num = 1;
	return p;
}

bool xs_set_permissions(struct xs_handle *h, xs_transaction_t t,
			const char *path, struct xs_permissions *perms,
			unsigned int num_perms)
{
	check_expected(t);
	check_expected_ptr(path);
	check_expected_ptr(perms);
	check_expected(num_perms);
	return !mock_fail();
}

xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
	assert_ptr_equal(h, FAKE_XS);
	function_called();
	if (mock_fail())
		return XBT_NULL;
	return mock_type(xs_transaction_t);
}

bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t, bool abort)
{
	assert_ptr_equal(h, FAKE_XS);
	check_expected(t);
	check_expected(abort);
	return !mock_fail();
}

bool xs_watch(struct xs_handle *h, const char *path, const char *token)
{
	check_expected_ptr(path);
	check_expected_ptr(token);
	return !mock_fail();
}

bool xs_unwatch(struct xs_handle *h, const char *path, const char *token)
{
	check_expected_ptr(path);
	check_expected_ptr(token);
	return !mock_fail();
}

int xs_fileno(struct xs_handle *h)
{
	assert_ptr_equal(h, FAKE_XS);
	return mock_type(int);
}

char **xs_check_watch(struct xs_handle *h)
{
	char **v;

	assert_ptr_equal(h, FAKE_XS);
	if (mock_fail())
		return NULL;
	v = malloc(2 * sizeof(char *) + 9);
	assert_non_null(v);
	memcpy((char *)(v + 2), "/a/b\000tok", 9);
	v[XS_WATCH_PATH] = (char *)(v + 2);
	v[XS_WATCH_TOKEN] = (char *)(v + 2) + 5;
	return v;
}

/* ---- helpers ----------------------------------------------------------- */

static void expect_read(const char *path, xs_transaction_t t, int err,
			const char *value, unsigned int len)
{
	expect_value(xs_read, t, t);
	expect_string(xs_read, path, path);
	will_return(xs_read, err);
	if (err)
		return;
	will_return(xs_read, value);
	will_return(xs_read, len);
}

/* ---- read -------------------------------------------------------------- */

static void test_read_ok(void **state)
{
	char *v = NULL;

	expect_read("/a", FAKE_T, 0, "hello", 5);
	assert_int_equal(xb_xs_read(FAKE_XS, FAKE_T, "/a", &v), 0);
	assert_string_equal(v, "hello");
	free(v);
}

static void test_read_errors(void **state)
{
	static const int errs[] = { ENOENT, EACCES, EIO, EINVAL, E2BIG };
	char *v = (char *)0x1;
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		expect_read("/a", XBT_NULL, errs[i], NULL, 0);
		assert_int_equal(xb_xs_read(FAKE_XS, XBT_NULL, "/a", &v),
				 -errs[i]);
		assert_ptr_equal(v, (char *)0x1);
	}
	/* NULL without errno must not read as success. */
	expect_read("/a", XBT_NULL, -1, NULL, 0);
	assert_int_equal(xb_xs_read(FAKE_XS, XBT_NULL, "/a", &v), -EIO);
	assert_ptr_equal(v, (char *)0x1);
}

static void test_read_buf(void **state)
{
	char buf[6];

	memset(buf, 'x', sizeof(buf));
	expect_read("/b", XBT_NULL, 0, "hello", 5);
	assert_int_equal(xb_xs_read_buf(FAKE_XS, XBT_NULL, "/b", buf,
					sizeof(buf)), 0);
	assert_string_equal(buf, "hello");

	/* Exactly the buffer size leaves no room for the NUL. */
	memset(buf, 'x', sizeof(buf));
	expect_read("/b", XBT_NULL, 0, "hello!", 6);
	assert_int_equal(xb_xs_read_buf(FAKE_XS, XBT_NULL, "/b", buf,
					sizeof(buf)), -E2BIG);
	expect_read("/b", XBT_NULL, 0, "", 0);
	assert_int_equal(xb_xs_read_buf(FAKE_XS, XBT_NULL, "/b", buf, 0),
			 -E2BIG);
	expect_read("/b", XBT_NULL, 0, "", 0);
	assert_int_equal(xb_xs_read_buf(FAKE_XS, XBT_NULL, "/b", buf, 1), 0);
	assert_string_equal(buf, "");

	expect_read("/b", XBT_NULL, ENOENT, NULL, 0);
	assert_int_equal(xb_xs_read_buf(FAKE_XS, XBT_NULL, "/b", buf,
					sizeof(buf)), -ENOENT);
}

struct u64_case {
	const char *value;      /* NULL: node missing */
	unsigned int len;
	uint64_t max;
	int ret;
	uint64_t out;
};

#define OK(s, m, v)   { s, sizeof(s) - 1, m, 0, v }
#define BAD(s, m)     { s, sizeof(s) - 1, m, -EINVAL, 0 }

static const struct u64_case u64_cases[] = {
	OK("0", UINT64_MAX, 0),
	OK("1", UINT64_MAX, 1),
	OK("42", 100, 42),
	OK("007", 10, 7),
	OK("4", 4, 4),
	OK("4294967296", UINT64_MAX, 4294967296ull),
	OK("18446744073709551615", UINT64_MAX, UINT64_MAX),
	OK("0000000000000000000000000000001", UINT64_MAX, 1),
	BAD("5", 4),
	BAD("1", 0),
	BAD("18446744073709551616", UINT64_MAX),
	BAD("18446744073709551620", UINT64_MAX),
	BAD("99999999999999999999999", UINT64_MAX),
	BAD("", UINT64_MAX),
	BAD("-1", UINT64_MAX),
	BAD("+1", UINT64_MAX),
	BAD("-0", UINT64_MAX),
	BAD(" 1", UINT64_MAX),
	BAD("1 ", UINT64_MAX),
	BAD("1\n", UINT64_MAX),
	BAD("\t1", UINT64_MAX),
	BAD("0x10", UINT64_MAX),
	BAD("1e3", UINT64_MAX),
	BAD("12abc", UINT64_MAX),
	BAD("1.0", UINT64_MAX),
	BAD("1\0002", UINT64_MAX),      /* embedded NUL then a digit */
	BAD("7\000", UINT64_MAX),       /* trailing NUL inside the value */
	BAD("\xff", UINT64_MAX),
	{ NULL, 0, UINT64_MAX, -ENOENT, 0 },
};

static void test_read_u64_table(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(u64_cases) / sizeof(u64_cases[0]); i++) {
		const struct u64_case *c = &u64_cases[i];
		uint64_t out = 0xdeadbeef;
		int ret;

		if (c->value)
			expect_read("/k", XBT_NULL, 0, c->value, c->len);
		else
			expect_read("/k", XBT_NULL, ENOENT, NULL, 0);
		ret = xb_xs_read_u64(FAKE_XS, XBT_NULL, "/k", c->max, &out);
		if (ret != c->ret || (!ret && out != c->out) ||
		    (ret && out != 0xdeadbeef))
			fail_msg("case %zu \"%s\" max %" PRIu64 ": ret %d out %"
				 PRIu64 ", want ret %d out %" PRIu64, i,
				 c->value ? c->value : "(missing)", c->max, ret,
				 out, c->ret, c->out);
	}
}

static void test_read_u64_errno(void **state)
{
	uint64_t out = 9;

	expect_read("/k", FAKE_T, EACCES, NULL, 0);
	assert_int_equal(xb_xs_read_u64(FAKE_XS, FAKE_T, "/k", 10, &out),
			 -EACCES);
	assert_int_equal(out, 9);
}

/* ---- write, mkdir, rm, directory, perms -------------------------------- */

static void expect_write(const char *path, const char *data, int err)
{
	expect_value(xs_write, t, XBT_NULL);
	expect_string(xs_write, path, path);
	expect_value(xs_write, len, strlen(data));
	if (*data)
		expect_memory(xs_write, data, data, strlen(data));
	else
		expect_any(xs_write, data);
	will_return(xs_write, err);
}

static void test_write(void **state)
{
	expect_write("/w", "value", 0);
	assert_int_equal(xb_xs_write(FAKE_XS, XBT_NULL, "/w", "value"), 0);
	expect_write("/w", "", 0);
	assert_int_equal(xb_xs_write(FAKE_XS, XBT_NULL, "/w", ""), 0);
	expect_write("/w", "v", EACCES);
	assert_int_equal(xb_xs_write(FAKE_XS, XBT_NULL, "/w", "v"), -EACCES);
	expect_write("/w", "v", -1);
	assert_int_equal(xb_xs_write(FAKE_XS, XBT_NULL, "/w", "v"), -EIO);
}

static void test_write_too_big(void **state)
{
	char *big = malloc(XENSTORE_PAYLOAD_MAX + 2);

	assert_non_null(big);
	memset(big, 'a', XENSTORE_PAYLOAD_MAX + 1);
	big[XENSTORE_PAYLOAD_MAX + 1] = '\0';
	/* No xs_write expected: the mock would fail the test if called. */
	assert_int_equal(xb_xs_write(FAKE_XS, XBT_NULL, "/w", big), -E2BIG);
	free(big);
}

static void test_printf(void **state)
{
	expect_write("/p", "sectors=1024 info=0x1", 0);
	assert_int_equal(xb_xs_printf(FAKE_XS, XBT_NULL, "/p",
				      "sectors=%u info=%#x", 1024u, 1u), 0);
	expect_write("/p", "17", ENOSPC);
	assert_int_equal(xb_xs_printf(FAKE_XS, XBT_NULL, "/p", "%d", 17),
			 -ENOSPC);
}

static void test_mkdir(void **state)
{
	expect_value(xs_mkdir, t, FAKE_T);
	expect_string(xs_mkdir, path, "/d");
	will_return(xs_mkdir, 0);
	assert_int_equal(xb_xs_mkdir(FAKE_XS, FAKE_T, "/d"), 0);
	expect_value(xs_mkdir, t, FAKE_T);
	expect_string(xs_mkdir, path, "/d");
	will_return(xs_mkdir, EPERM);
	assert_int_equal(xb_xs_mkdir(FAKE_XS, FAKE_T, "/d"), -EPERM);
}

static void test_rm(void **state)
{
	expect_value_count(xs_rm, t, XBT_NULL, 3);
	expect_string_count(xs_rm, path, "/r", 3);
	will_return(xs_rm, 0);
	assert_int_equal(xb_xs_rm(FAKE_XS, XBT_NULL, "/r"), 0);
	/* A node that does not exist is already removed. */
	will_return(xs_rm, ENOENT);
	assert_int_equal(xb_xs_rm(FAKE_XS, XBT_NULL, "/r"), 0);
	will_return(xs_rm, EACCES);
	assert_int_equal(xb_xs_rm(FAKE_XS, XBT_NULL, "/r"), -EACCES);
}

static void test_directory(void **state)
{
	char **names = NULL;
	unsigned int n = 99;

	expect_value(xs_directory, t, XBT_NULL);
	expect_string(xs_directory, path, "/dir");
	will_return(xs_directory, 0);
	assert_int_equal(xb_xs_directory(FAKE_XS, XBT_NULL, "/dir", &names,
					 &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "0");
	assert_string_equal(names[1], "1");
	free(names);

	names = NULL;
	n = 99;
	expect_value(xs_directory, t, XBT_NULL);
	expect_string(xs_directory, path, "/dir");
	will_return(xs_directory, ENOENT);
	assert_int_equal(xb_xs_directory(FAKE_XS, XBT_NULL, "/dir", &names,
					 &n), -ENOENT);
	assert_null(names);
	assert_int_equal(n, 99);
}

static void test_perms(void **state)
{
	struct xs_permissions set[2] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = 5, .perms = XS_PERM_READ },
	};
	struct xs_permissions *got = NULL;
	unsigned int n = 0;

	expect_value(xs_get_permissions, t, XBT_NULL);
	expect_string(xs_get_permissions, path, "/q");
	will_return(xs_get_permissions, 0);
	assert_int_equal(xb_xs_get_perms(FAKE_XS, XBT_NULL, "/q", &got, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(got[0].id, 3);
	free(got);

	got = NULL;
	expect_value(xs_get_permissions, t, XBT_NULL);
	expect_string(xs_get_permissions, path, "/q");
	will_return(xs_get_permissions, EACCES);
	assert_int_equal(xb_xs_get_perms(FAKE_XS, XBT_NULL, "/q", &got, &n),
			 -EACCES);
	assert_null(got);

	expect_value_count(xs_set_permissions, t, FAKE_T, 2);
	expect_string_count(xs_set_permissions, path, "/q", 2);
	expect_memory_count(xs_set_permissions, perms, set, sizeof(set), 2);
	expect_value_count(xs_set_permissions, num_perms, 2, 2);
	will_return(xs_set_permissions, 0);
	assert_int_equal(xb_xs_set_perms(FAKE_XS, FAKE_T, "/q", set, 2), 0);
	will_return(xs_set_permissions, EPERM);
	assert_int_equal(xb_xs_set_perms(FAKE_XS, FAKE_T, "/q", set, 2),
			 -EPERM);
}

/* ---- transactions ------------------------------------------------------ */

struct txn_arg {
	unsigned int calls;
	int ret;                   /* what fn returns */
	xs_transaction_t last_t;
};

static int txn_fn(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
	struct txn_arg *a = arg;

	assert_ptr_equal(xs, FAKE_XS);
	a->calls++;
	a->last_t = t;
	return a->ret;
}

static void expect_start(xs_transaction_t t)
{
	expect_function_call(xs_transaction_start);
	will_return(xs_transaction_start, 0);
	will_return(xs_transaction_start, t);
}

static void expect_end(xs_transaction_t t, bool abort, int err)
{
	expect_value(xs_transaction_end, t, t);
	expect_value(xs_transaction_end, abort, abort);
	will_return(xs_transaction_end, err);
}

static void test_transact_commit(void **state)
{
	struct txn_arg a = { 0 };

	expect_start(11);
	expect_end(11, false, 0);
	assert_int_equal(xb_xs_transact(FAKE_XS, txn_fn, &a, 4), 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.last_t, 11);
}

static void test_transact_retry_then_success(void **state)
{
	struct txn_arg a = { 0 };

	expect_start(11);
	expect_end(11, false, EAGAIN);
	expect_start(12);
	expect_end(12, false, EAGAIN);
	expect_start(13);
	expect_end(13, false, 0);
	assert_int_equal(xb_xs_transact(FAKE_XS, txn_fn, &a, 4), 0);
	assert_int_equal(a.calls, 3);
	assert_int_equal(a.last_t, 13);
}

static void test_transact_retry_exhausted(void **state)
{
	struct txn_arg a = { 0 };
	unsigned int i;

	for (i = 0; i < 3; i++) {
		expect_start(20 + i);
		expect_end(20 + i, false, EAGAIN);
	}
	assert_int_equal(xb_xs_transact(FAKE_XS, txn_fn, &a, 3), -EAGAIN);
	assert_int_equal(a.calls, 3);
}

static void test_transact_default_tries(void **state)
{
	struct txn_arg a = { 0 };
	unsigned int i;

	for (i = 0; i < 16; i++) {
		expect_start(30 + i);
		expect_end(30 + i, false, EAGAIN);
	}
	assert_int_equal(xb_xs_transact(FAKE_XS, txn_fn, &a, 0), -EAGAIN);
	assert_int_equal(a.calls, 16);
}

static void test_transact_fn_error_aborts(void **state)
{
	struct txn_arg a = { .ret = -ENOENT };

	expect_start(40);
	expect_end(40, true, 0);           /* abort, never a commit */
	assert_int_equal(xb_xs_transact(FAKE_XS, txn_fn, &a, 4), -ENOENT);
	assert_int_equal(a.calls, 1);

	/* The error from fn wins even if the abort itself fails. */
	a.calls = 0;
	expect_start(41);
	expect_end(41, true, EIO);
	assert_int_equal(xb_xs_transact(FAKE_XS, txn_fn, &a, 4), -ENOENT);
	assert_int_equal(a.calls, 1);
}

static void test_transact_fn_eagain_not_retried(void **state)
{
	struct txn_arg a = { .ret = -EAGAIN };

	expect_start(45);
	expect_end(45, true, 0);
	assert_int_equal(xb_xs_transact(FAKE_XS, txn_fn, &a, 4), -EAGAIN);
	assert_int_equal(a.calls, 1);
}

static void test_transact_start_fails(void **state)
{
	struct txn_arg a = { 0 };

	expect_function_call(xs_transaction_start);
	will_return(xs_transaction_start, ENOSPC);
	assert_int_equal(xb_xs_transact(FAKE_XS, txn_fn, &a, 4), -ENOSPC);
	assert_int_equal(a.calls, 0);
}

static void test_transact_commit_error_not_retried(void **state)
{
	struct txn_arg a = { 0 };

	expect_start(50);
	expect_end(50, false, EIO);
	assert_int_equal(xb_xs_transact(FAKE_XS, txn_fn, &a, 4), -EIO);
	assert_int_equal(a.calls, 1);
}

/* ---- watches ----------------------------------------------------------- */

static void test_watch_unwatch(void **state)
{
	expect_string(xs_watch, path, "/backend/vbd");
	expect_string(xs_watch, token, "be");
	will_return(xs_watch, 0);
	assert_int_equal(xb_xs_watch(FAKE_XS, "/backend/vbd", "be"), 0);
	expect_string(xs_watch, path, "/x");
	expect_string(xs_watch, token, "t");
	will_return(xs_watch, EACCES);
	assert_int_equal(xb_xs_watch(FAKE_XS, "/x", "t"), -EACCES);

	expect_string(xs_unwatch, path, "/backend/vbd");
	expect_string(xs_unwatch, token, "be");
	will_return(xs_unwatch, 0);
	assert_int_equal(xb_xs_unwatch(FAKE_XS, "/backend/vbd", "be"), 0);
	expect_string(xs_unwatch, path, "/y");
	expect_string(xs_unwatch, token, "t");
	will_return(xs_unwatch, ENOENT);
	assert_int_equal(xb_xs_unwatch(FAKE_XS, "/y", "t"), -ENOENT);
}

static void test_watch_fd(void **state)
{
	will_return(xs_fileno, 17);
	assert_int_equal(xb_xs_watch_fd(FAKE_XS), 17);
}

static void test_read_watch(void **state)
{
	char **vec = NULL;

	will_return(xs_check_watch, 0);
	assert_int_equal(xb_xs_read_watch(FAKE_XS, &vec), 0);
	assert_non_null(vec);
	assert_string_equal(vec[XS_WATCH_PATH], "/a/b");
	assert_string_equal(vec[XS_WATCH_TOKEN], "tok");
	free(vec);

	vec = NULL;
	will_return(xs_check_watch, EAGAIN);
	assert_int_equal(xb_xs_read_watch(FAKE_XS, &vec), -EAGAIN);
	assert_null(vec);
	will_return(xs_check_watch, EBADF);
	assert_int_equal(xb_xs_read_watch(FAKE_XS, &vec), -EBADF);
	assert_null(vec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_ok),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_read_buf),
		cmocka_unit_test(test_read_u64_table),
		cmocka_unit_test(test_read_u64_errno),
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_write_too_big),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_mkdir),
		cmocka_unit_test(test_rm),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_perms),
		cmocka_unit_test(test_transact_commit),
		cmocka_unit_test(test_transact_retry_then_success),
		cmocka_unit_test(test_transact_retry_exhausted),
		cmocka_unit_test(test_transact_default_tries),
		cmocka_unit_test(test_transact_fn_error_aborts),
		cmocka_unit_test(test_transact_fn_eagain_not_retried),
		cmocka_unit_test(test_transact_start_fails),
		cmocka_unit_test(test_transact_commit_error_not_retried),
		cmocka_unit_test(test_watch_unwatch),
		cmocka_unit_test(test_watch_fd),
		cmocka_unit_test(test_read_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
