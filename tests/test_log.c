/* SPDX-License-Identifier: MIT */
/*
 * common/log.c: level from UBACK_LOG, level filtering, the line format,
 * errno preserved across a log call, and the rate limiter (time moved by
 * editing the limiter's window, never by sleeping).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "uback/log.h"

/* ---- stderr capture ---------------------------------------------------- */

struct capture {
	FILE *file;
	int saved_fd;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->file = tmpfile();
	assert_non_null(c->file);
	c->saved_fd = dup(STDERR_FILENO);
	assert_true(c->saved_fd >= 0);
	assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Stop capturing; return what was written (malloc'd, NUL-terminated). */
static char *capture_stop(struct capture *c)
{
	char *buf;
	long n;

	fflush(stderr);
	assert_true(dup2(c->saved_fd, STDERR_FILENO) >= 0);
	close(c->saved_fd);
	fseek(c->file, 0, SEEK_END);
	n = ftell(c->file);
	assert_true(n >= 0);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	rewind(c->file);
	if (n)
		assert_int_equal(fread(buf, 1, (size_t)n, c->file), (size_t)n);
	fclose(c->file);
	return buf;
}

static unsigned int count_lines(const char *s)
{
	unsigned int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* ---- tests ------------------------------------------------------------- */

/* Must run first: the environment is read at first use only. */
static void test_env_level(void **state)
{
	assert_int_equal(xb_log_get_level(), XB_LOG_WARN);
}

static void test_set_level(void **state)
{
	xb_log_set_level(XB_LOG_DEBUG);
	assert_int_equal(xb_log_get_level(), XB_LOG_DEBUG);
	xb_log_set_level(XB_LOG_ERR);
	assert_int_equal(xb_log_get_level(), XB_LOG_ERR);
}

static void test_format_and_filter(void **state)
{
	struct capture c;
	char *out;

	xb_log_set_ident("uback-test[1/51712]");
	xb_log_set_level(XB_LOG_INFO);
	capture_start(&c);
	xb_err("disk %d gone", 3);
	xb_warn("slow");
	xb_info("connected");
	xb_debug("not shown %s", "at info");
	out = capture_stop(&c);
	assert_string_equal(out,
		"uback-test[1/51712]: error: disk 3 gone\n"
		"uback-test[1/51712]: warning: slow\n"
		"uback-test[1/51712]: info: connected\n");
	free(out);

	xb_log_set_level(XB_LOG_ERR);
	capture_start(&c);
	xb_warn("dropped");
	xb_err("kept");
	out = capture_stop(&c);
	assert_string_equal(out, "uback-test[1/51712]: error: kept\n");
	free(out);
	xb_log_set_ident("uback");
}

static void test_long_message_truncated(void **state)
{
	struct capture c;
	char *big = malloc(5000);
	char *out;

	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	xb_log_set_level(XB_LOG_INFO);
	capture_start(&c);
	xb_info("%s", big);
	out = capture_stop(&c);
	assert_int_equal(count_lines(out), 1);
	assert_true(strlen(out) < 1100);
	assert_true(strlen(out) > 1000);
	free(out);
	free(big);
}

static void test_errno_preserved(void **state)
{
	struct capture c;
	char *out;

	xb_log_set_level(XB_LOG_INFO);
	capture_start(&c);
	errno = EXDEV;
	xb_err("err %s", "x");
	assert_int_equal(errno, EXDEV);
	errno = ENOSPC;
	xb_debug("filtered");
	assert_int_equal(errno, ENOSPC);
	out = capture_stop(&c);
	free(out);
}

static void test_ratelimit_burst(void **state)
{
	struct xb_ratelimit rl = { 0 };
	struct capture c;
	unsigned int i, ok = 0;
	char *out;

	xb_log_set_level(XB_LOG_INFO);
	capture_start(&c);
	for (i = 0; i < 3 * XB_RATELIMIT_BURST; i++)
		ok += xb_ratelimit_ok(&rl);
	out = capture_stop(&c);
	assert_int_equal(ok, XB_RATELIMIT_BURST);
	assert_int_equal(rl.suppressed, 2 * XB_RATELIMIT_BURST);
	assert_string_equal(out, "");   /* nothing reported yet */
	free(out);

	/* The window has passed: allowed again, and the drops reported. */
	rl.window_start_ns -= XB_RATELIMIT_INTERVAL_NS;
	capture_start(&c);
	assert_int_equal(xb_ratelimit_ok(&rl), 1);
	out = capture_stop(&c);
	assert_non_null(strstr(out, "20 similar messages suppressed"));
	assert_int_equal(count_lines(out), 1);
	assert_int_equal(rl.suppressed, 0);
	assert_int_equal(rl.printed, 1);
	free(out);

	/* A window with no drops reports nothing. */
	rl.window_start_ns -= XB_RATELIMIT_INTERVAL_NS;
	capture_start(&c);
	assert_int_equal(xb_ratelimit_ok(&rl), 1);
	out = capture_stop(&c);
	assert_string_equal(out, "");
	free(out);
}

static void log_from_one_site(unsigned int i)
{
	XB_LOG_RATELIMITED(XB_LOG_WARN, "guest error %u", i);
}

static void test_ratelimited_macro(void **state)
{
	struct capture c;
	unsigned int i;
	char *out;

	xb_log_set_level(XB_LOG_INFO);
	capture_start(&c);
	for (i = 0; i < 100; i++)
		log_from_one_site(i);
	out = capture_stop(&c);
	assert_int_equal(count_lines(out), XB_RATELIMIT_BURST);
	assert_non_null(strstr(out, "guest error 0\n"));
	assert_null(strstr(out, "guest error 10\n"));
	free(out);
}

/* The command-line level names: exactly four, case-sensitive. */
static void test_level_parse(void **state)
{
	static const struct {
		const char *name;
		int ret;
		enum xb_log_level level;
	} cases[] = {
		{ "err", 0, XB_LOG_ERR }, { "warn", 0, XB_LOG_WARN },
		{ "info", 0, XB_LOG_INFO }, { "debug", 0, XB_LOG_DEBUG },
		{ "", -EINVAL, 0 }, { "ERR", -EINVAL, 0 },
		{ "warning", -EINVAL, 0 }, { "inf", -EINVAL, 0 },
		{ "debug ", -EINVAL, 0 },
	};
	enum xb_log_level lvl;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lvl = (enum xb_log_level)99;
		assert_int_equal(xb_log_level_parse(cases[i].name, &lvl),
				 cases[i].ret);
		assert_int_equal(lvl, cases[i].ret ? (enum xb_log_level)99
						   : cases[i].level);
	}
	assert_int_equal(xb_log_level_parse(NULL, &lvl), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_env_level),
		cmocka_unit_test(test_set_level),
		cmocka_unit_test(test_level_parse),
		cmocka_unit_test(test_format_and_filter),
		cmocka_unit_test(test_long_message_truncated),
		cmocka_unit_test(test_errno_preserved),
		cmocka_unit_test(test_ratelimit_burst),
		cmocka_unit_test(test_ratelimited_macro),
	};

	setenv("UBACK_LOG", "warn", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
