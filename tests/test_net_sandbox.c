/* SPDX-License-Identifier: MIT */
/*
 * uback-net's sandbox (common/sandbox.c, netback/main.c), as a process
 * under a private xensim serving one guest, in a network namespace of
 * this test's own (tap devices included):
 *   - once its device is open it runs unprivileged (uid != 0, no
 *     capabilities at all), with no_new_privs and a seccomp filter; with
 *     the tap port the link is up without carrier; a frontend connects
 *     (carrier on), disconnects (carrier off) and connects again, all
 *     without CAP_NET_ADMIN; it exits 0 when the device is removed;
 *   - a forbidden system call (execve) kills it with SIGSYS, and the same
 *     call succeeds with --no-sandbox (the test can fail);
 *   - TUNSETPERSIST on its own tap fd (which would let the device outlive
 *     it) kills it too, while with --no-sandbox the ioctl returns;
 *   - --no-sandbox stays root, without a filter;
 *   - with DPDK (builds with libdpdk): a net_ring loopback runs sandboxed
 *     by default and carries verified frames over two connections; a
 *     memif server runs sandboxed by default and its removal (which
 *     unlinks its socket under the filter) exits 0; with --no-sandbox it
 *     stays root (memif traffic sandboxed: test_net_dpdk_e2e).
 * That the data path works sandboxed is shown by the other sim and net
 * tests: the sandbox is on by default.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <xenstore.h>
#include <xensim/guest.h>

#include "net_testfe.h"
#include "sim_harness.h"

#define DEVID 0u
#define TIMEOUT_MS 20000

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

struct gfx {
	struct xg_dom *dom;
	domid_t domid;
	char be_path[128];
	char ifname[IFNAMSIZ];
	char stats[64];
	pid_t pid;
	struct nfe fe;
};

static struct sim_harness harness;
static struct xg_sim *sim;
static struct xs_handle *xs0;

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int group_setup(void **state)
{
	if (sim_harness_start(&harness))
		return -1;
	if (xg_sim_connect(harness.dir, &sim))
		return -1;
	return xg_sim_xs_open(sim, &xs0) ? -1 : 0;
}

static int group_teardown(void **state)
{
	xs_close(xs0);
	xg_sim_disconnect(sim);
	return sim_harness_stop(&harness) ? -1 : 0;
}

/* A guest with one vif, and uback-net serving it (@port) with @args. */
static void guest_up(struct gfx *g, const char *port, const char *const *args)
{
	static const char *const be_kv[] = {
		"mac", "00:16:3e:00:00:01", "handle", "0", "type", "vif", NULL,
	};
	static const char *const fe_kv[] = {
		"mac", "00:16:3e:00:00:01", "handle", "0", NULL,
	};
	struct xg_dom_config dc = { .mem_pages = 8192, .nr_grants = 4096 };
	const char *argv[24];
	unsigned int n = 0, i;

	memset(g, 0, sizeof(*g));
	assert_int_equal(xg_dom_create(sim, &dc, &g->dom), 0);
	g->domid = xg_dom_id(g->dom);
	assert_int_equal(xg_device_create(sim, g->domid, "vif", "vif", DEVID,
					  be_kv, fe_kv), 0);
	snprintf(g->be_path, sizeof(g->be_path),
		 "/local/domain/0/backend/vif/%u/%u", g->domid, DEVID);
	snprintf(g->ifname, sizeof(g->ifname), "sbx%d.%u",
		 (int)getpid() % 100000, g->domid);
	argv[n++] = UBACK_NET_BIN;
	argv[n++] = "--hv";
	argv[n++] = "sim";
	argv[n++] = "--port";
	argv[n++] = port;
	argv[n++] = "--ifname";
	argv[n++] = g->ifname;
	argv[n++] = "--queues";
	argv[n++] = "2";
	snprintf(g->stats, sizeof(g->stats), "/tmp/test_net_sandbox.%d.%u",
		 (int)getpid(), g->domid);
	argv[n++] = "--stats";
	argv[n++] = g->stats;
	argv[n++] = "--stats-interval";
	argv[n++] = "10";
	argv[n++] = "--log";
	argv[n++] = "info";
	for (i = 0; args && args[i] && n < 22; i++)
		argv[n++] = args[i];
	argv[n++] = g->be_path;
	argv[n] = NULL;
	g->pid = fork();
	assert_true(g->pid >= 0);
	if (g->pid == 0) {
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(nfe_init(&g->fe, g->dom, DEVID), 0);
}

/* Exit status, or 128 + signal; -ETIMEDOUT (after SIGKILL). */
static int backend_wait(struct gfx *g, unsigned int timeout_ms)
{
	unsigned int waited;
	int status;

	for (waited = 0; waited < timeout_ms; waited += 5) {
		if (waitpid(g->pid, &status, WNOHANG) == g->pid) {
			g->pid = 0;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
		msleep(5);
	}
	kill(g->pid, SIGKILL);
	waitpid(g->pid, &status, 0);
	g->pid = 0;
	return -ETIMEDOUT;
}

static void guest_down(struct gfx *g)
{
	if (g->pid) {
		xg_device_remove(sim, g->domid, "vif", "vif", DEVID);
		backend_wait(g, TIMEOUT_MS);
	}
	nfe_fini(&g->fe);
	unlink(g->stats);
	assert_int_equal(xg_dom_destroy(g->dom), 0);
}

/* The value after "@key:" in /proc/@pid/status, or "". */
static void proc_status(pid_t pid, const char *key, char *out, size_t size)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			char *v = line + klen + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, size, "%s", v);
			break;
		}
	}
	fclose(f);
}

/* Interface flags (IFF_UP, IFF_RUNNING = carrier), -1 if absent. */
static int if_flags(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ret = ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ? -1 : ifr.ifr_flags;
	close(s);
	return ret;
}

static void wait_sandboxed(struct gfx *g)
{
	char seccomp[32], nnp[32], uid[64], capeff[64], capprm[64];
	unsigned int waited;

	/* The filter goes on once the device is open (probe). */
	for (waited = 0; waited < TIMEOUT_MS; waited += 10) {
		proc_status(g->pid, "Seccomp", seccomp, sizeof(seccomp));
		if (!strcmp(seccomp, "2"))
			break;
		msleep(10);
	}
	assert_string_equal(seccomp, "2");
	proc_status(g->pid, "NoNewPrivs", nnp, sizeof(nnp));
	assert_string_equal(nnp, "1");
	proc_status(g->pid, "Uid", uid, sizeof(uid));
	assert_true(uid[0] != '\0');
	assert_true(strtoul(uid, NULL, 10) != 0);
	proc_status(g->pid, "CapEff", capeff, sizeof(capeff));
	assert_string_equal(capeff, "0000000000000000");
	proc_status(g->pid, "CapPrm", capprm, sizeof(capprm));
	assert_string_equal(capprm, "0000000000000000");
}

static void test_loop_runs_sandboxed(void **state)
{
	struct nfe_config c = { .sg = true };
	struct gfx g;

	struct stat st;

	guest_up(&g, "loop", NULL);
	wait_sandboxed(&g);
	assert_int_equal(nfe_connect(&g.fe, &c, TIMEOUT_MS), 0);
	/* The stats file (opened before the drop, rewritten in place every
	 * 10 ms) keeps its size: regression, the padding once added the
	 * previous length at every write. */
	msleep(500);
	assert_int_equal(stat(g.stats, &st), 0);
	assert_true(st.st_size > 100 && st.st_size < 64 * 1024);
	assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
	assert_int_equal(xg_device_remove(sim, g.domid, "vif", "vif", DEVID),
			 0);
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 0);
	guest_down(&g);
}

#if NET_SANDBOX_HAVE_DPDK
/*
 * DPDK (a net_ring loopback, one queue): sandboxed by default, after
 * rte_eal_init and probe; frames cross it both ways over two connections
 * (queue threads registered with DPDK while filtered), the EAL's runtime
 * directory is gone before the privilege drop, removal exits 0.
 */
static void test_dpdk_runs_sandboxed(void **state)
{
	static const char *const args[] = { "--queues", "1", NULL };
	char rundir[64];
	struct stat sb;
	struct nfe_config c = { .sg = true };
	static uint8_t frame[2000], rx[65536];
	struct netif_tx_response rsp;
	struct nfe_rx_frame rf;
	uint16_t ids[NFE_RX_PAGES];
	unsigned int i, round;
	struct gfx g;

	guest_up(&g, "dpdk:net_ring_sbx0", args);
	wait_sandboxed(&g);
	snprintf(rundir, sizeof(rundir), "/var/run/dpdk/uback-%d", (int)g.pid);
	assert_int_equal(stat(rundir, &sb), -1);
	for (round = 0; round < 2; round++) {
		assert_int_equal(nfe_connect(&g.fe, &c, TIMEOUT_MS), 0);
		for (i = 0; i < NFE_RX_PAGES; i++)
			ids[i] = (uint16_t)i;
		nfe_rx_post_pages(&g.fe, 0, NFE_RX_PAGES, ids);
		for (i = 0; i < 50; i++) {
			memset(frame, (int)(i + round), sizeof(frame));
			memcpy(frame, "\xff\xff\xff\xff\xff\xff\x00\x16\x3e"
			       "\x00\x00\x02\x88\xb5", 14);
			nfe_send(&g.fe, 0, frame, sizeof(frame), 0, 0, 0, 0);
			nfe_tx_push(&g.fe, 0, false);
			assert_int_equal(nfe_tx_wait(&g.fe, 0, 1, &rsp,
						     TIMEOUT_MS), 0);
			assert_int_equal(rsp.status, NETIF_RSP_OKAY);
			assert_int_equal(nfe_recv(&g.fe, 0, rx, &rf,
						  TIMEOUT_MS), 0);
			nfe_rx_post_pages(&g.fe, 0, rf.nids, rf.ids);
			assert_int_equal(rf.len, sizeof(frame));
			assert_memory_equal(rx, frame, sizeof(frame));
		}
		assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
		xg_xenbus_switch(g.fe.xs, g.fe.fe_path,
				 XenbusStateInitialising);
		nfe_fini(&g.fe);
		assert_int_equal(nfe_init(&g.fe, g.dom, DEVID), 0);
	}
	assert_int_equal(xg_device_remove(sim, g.domid, "vif", "vif", DEVID),
			 0);
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 0);
	guest_down(&g);
}

/*
 * A memif server runs sandboxed by default; removal closes the port,
 * which unlinks its socket file under the filter: exit 0, no SIGSYS,
 * the socket gone (its directory is writable by the sandbox user here;
 * in a root-only directory the unlink fails with EACCES instead).
 * --no-sandbox keeps root and no filter.
 */
static void test_dpdk_memif_sandboxed(void **state)
{
	static const char *const args[] = { "--queues", "1", NULL };
	static const char *const unsandboxed[] = { "--queues", "1",
						   "--no-sandbox", NULL };
	char port[PATH_MAX + 224], dir[PATH_MAX + 32], sock[PATH_MAX + 64];
	char seccomp[32], uid[64];
	enum xenbus_state seen;
	struct stat sb;
	struct gfx g;

	snprintf(dir, sizeof(dir), "%s/memif-%d", harness.dir, (int)getpid());
	assert_int_equal(mkdir(dir, 0777), 0);
	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(chmod(harness.dir, 0755), 0);
	snprintf(sock, sizeof(sock), "%s/memif.sock", dir);
	snprintf(port, sizeof(port), "dpdk:net_memif_sbx0,role=server,"
		 "socket=%s,socket-abstract=no", sock);
	guest_up(&g, port, args);
	wait_sandboxed(&g);
	assert_int_equal(stat(sock, &sb), 0);
	assert_int_equal(xg_device_remove(sim, g.domid, "vif", "vif", DEVID),
			 0);
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 0);
	assert_int_equal(stat(sock, &sb), -1);
	guest_down(&g);

	guest_up(&g, port, unsandboxed);
	assert_int_equal(xg_xenbus_wait_state(xs0, g.be_path,
					      1u << XenbusStateInitWait,
					      TIMEOUT_MS, &seen), 0);
	proc_status(g.pid, "Seccomp", seccomp, sizeof(seccomp));
	assert_string_equal(seccomp, "0");
	proc_status(g.pid, "Uid", uid, sizeof(uid));
	assert_int_equal(strtoul(uid, NULL, 10), 0);
	assert_int_equal(xg_device_remove(sim, g.domid, "vif", "vif", DEVID),
			 0);
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 0);
	guest_down(&g);
	unlink(sock);
	rmdir(dir);
}
#endif

/* Carrier changes arrive through linkwatch: wait (bounded). */
static void wait_flag(const char *name, int flag, bool set)
{
	unsigned int waited;
	int f = 0;

	for (waited = 0; waited < 5000; waited += 10) {
		f = if_flags(name);
		if (f >= 0 && !!(f & flag) == set)
			return;
		msleep(10);
	}
	fail_msg("%s: flags %#x, want %#x %s", name, f, flag,
		 set ? "set" : "clear");
}

static void test_tap_runs_sandboxed(void **state)
{
	struct nfe_config c = { .sg = true, .nr_queues = 2 };
	struct gfx g;
	int round;

	guest_up(&g, "tap", NULL);
	wait_sandboxed(&g);
	/* Up since open, without carrier until a frontend connects. */
	assert_true(if_flags(g.ifname) & IFF_UP);
	wait_flag(g.ifname, IFF_RUNNING, false);
	for (round = 0; round < 2; round++) {
		assert_int_equal(nfe_connect(&g.fe, &c, TIMEOUT_MS), 0);
		wait_flag(g.ifname, IFF_RUNNING, true);
		assert_int_equal(nfe_disconnect(&g.fe, TIMEOUT_MS), 0);
		wait_flag(g.ifname, IFF_RUNNING, false);
		assert_true(if_flags(g.ifname) & IFF_UP);
		/* A fresh frontend instance for the next round. */
		assert_int_equal(xg_xenbus_switch(g.fe.xs, g.fe.fe_path,
						  XenbusStateInitialising), 0);
		nfe_fini(&g.fe);
		assert_int_equal(nfe_init(&g.fe, g.dom, DEVID), 0);
	}
	assert_int_equal(xg_device_remove(sim, g.domid, "vif", "vif", DEVID),
			 0);
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 0);
	/* Its fds were the device's only holders. */
	assert_int_equal(if_flags(g.ifname), -1);
	guest_down(&g);
}

static void test_no_sandbox_stays_root(void **state)
{
	char seccomp[32], uid[64];
	struct gfx g;

	guest_up(&g, "tap", (const char *const[]){ "--no-sandbox", NULL });
	msleep(300);
	proc_status(g.pid, "Seccomp", seccomp, sizeof(seccomp));
	proc_status(g.pid, "Uid", uid, sizeof(uid));
	assert_string_equal(seccomp, "0");
	assert_true(strtoul(uid, NULL, 10) == 0);
	/* The privileged behaviour: down until a frontend connects. */
	assert_int_equal(if_flags(g.ifname) & IFF_UP, 0);
	guest_down(&g);
}

/* uback-net on @port with @args exits by itself with @status
 * (backend_wait's: 128 + signal when killed). */
static void expect_exit(const char *port, const char *const *args,
			int status)
{
	struct gfx g;

	guest_up(&g, port, args);
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), status);
	guest_down(&g);
}

static void test_forbidden_syscall_kills(void **state)
{
	expect_exit("loop", (const char *const[]){
			    "--debug-forbidden-syscall", "execve", NULL },
		    128 + SIGSYS);
	/* Unsandboxed the same execve works (it runs /bin/true). */
	expect_exit("loop", (const char *const[]){
			    "--no-sandbox", "--debug-forbidden-syscall",
			    "execve", NULL },
		    0);
}

static void test_tunsetpersist_kills(void **state)
{
	struct gfx g;

#ifdef SANITIZED
	/* Sanitizer builds allow every ioctl (the runtimes use some). */
	skip();
#endif
	guest_up(&g, "tap", (const char *const[]){
			 "--debug-forbidden-syscall", "tunsetpersist", NULL });
	assert_int_equal(backend_wait(&g, TIMEOUT_MS), 128 + SIGSYS);
	assert_int_equal(if_flags(g.ifname), -1);   /* not persistent */
	guest_down(&g);

	/* Unsandboxed the ioctl returns (clearing persist: a no-op) and
	 * uback-net exits with its error status. */
	expect_exit("tap", (const char *const[]){
			    "--no-sandbox", "--debug-forbidden-syscall",
			    "tunsetpersist", NULL },
		    1);
}

#if NET_SANDBOX_HAVE_DPDK
/* A DPDK port may open unix sockets (memif reconnects) but no other
 * family: the filter checks socket()'s first argument. */
static void test_dpdk_inet_socket_kills(void **state)
{
	expect_exit("dpdk:net_ring_sbx1", (const char *const[]){
			    "--debug-forbidden-syscall", "socket-inet", NULL },
		    128 + SIGSYS);
	/* AF_UNIX passes: uback-net logs the fd and exits with its error
	 * status, not SIGSYS. */
	expect_exit("dpdk:net_ring_sbx1", (const char *const[]){
			    "--debug-forbidden-syscall", "socket-unix", NULL },
		    1);
	expect_exit("dpdk:net_ring_sbx1", (const char *const[]){
			    "--no-sandbox", "--debug-forbidden-syscall",
			    "socket-inet", NULL },
		    1);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_runs_sandboxed),
		cmocka_unit_test(test_tap_runs_sandboxed),
		cmocka_unit_test(test_no_sandbox_stays_root),
		cmocka_unit_test(test_forbidden_syscall_kills),
		cmocka_unit_test(test_tunsetpersist_kills),
#if NET_SANDBOX_HAVE_DPDK
		cmocka_unit_test(test_dpdk_runs_sandboxed),
		cmocka_unit_test(test_dpdk_memif_sandboxed),
		cmocka_unit_test(test_dpdk_inet_socket_kills),
#endif
	};

	if (getuid() != 0) {
		fprintf(stderr, "SKIP: the sandbox tests need root\n");
		return 77;
	}
	/* Tap devices live in a namespace of our own, gone with us. */
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "SKIP: no network namespace: %s\n",
			strerror(errno));
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
