/* SPDX-License-Identifier: MIT */
/*
 * uback-netfront: a simulated PV guest's network interface. Against a
 * running xensim it plays the toolstack (creates the guest domain and its
 * vif device in xenstore as libxl does) and the guest (netfront), and
 * exposes the guest's NIC as a tap device inside the network namespace
 * the caller created, so the guest's traffic is the kernel's own TCP/IP
 * stack in that namespace. Runs until SIGTERM/SIGINT, then disconnects,
 * removes the device and destroys the domain.
 *
 * hotplug-status: libxl runs the vif hotplug script after the backend
 * reaches InitWait and the script writes hotplug-status=connected (Linux
 * netback waits for it before Connected). No script runs under xensim, so
 * by default this program writes hotplug-status=connected itself at that
 * point, standing in for the script (--hotplug-status none: write
 * nothing, for a backend that bridges on its own and does not wait).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <uback/log.h>
#include <uback/ring.h>
#include <uback/xs.h>
#include <xensim/guest.h>

#include "app.h"
#include "netfront_raw.h"

struct opts {
	const char *sim_dir;
	unsigned int domid, devid, backend_domid;
	const char *netns, *ifname, *bridge, *vifname, *rate, *script;
	const char *stats, *mac_str;
	unsigned int spin_us;
	unsigned int gen_secs, gen_len;
	unsigned int mtu;
	bool hotplug_connected;
	struct netfront_config nc;
	bool hash;
	int timeout_ms;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: uback-netfront --sim-dir DIR [options]\n"
"  --domid N            guest domain id to create (0: xensim picks)\n"
"  --devid N            vif device id (0)\n"
"  --backend-domid N    backend domain (0; only 0 is supported)\n"
"  --netns NAME         create the NIC in /var/run/netns/NAME\n"
"  --ifname NAME        NIC name in the guest namespace (eth0)\n"
"  --mac MAC            guest MAC (00:16:3e:xx:xx:xx from domid/devid)\n"
"  --mtu N              NIC MTU and the `mtu` keys (default 1500)\n"
"  --bridge NAME        backend key `bridge` (xenbr0)\n"
"  --vifname NAME       backend key `vifname`\n"
"  --rate SPEC          backend key `rate` (\"<bytes>,<usec>\")\n"
"  --script PATH        backend key `script` (/etc/xen/scripts/vif-bridge)\n"
"  --hotplug-status connected|none   (connected)\n"
"  --queues N           multi-queue-num-queues (1)\n"
"  --split-evtchn       event-channel-tx/-rx\n"
"  --ctrl-ring          use the control ring; --hash configures Toeplitz\n"
"  --hash               Toeplitz hashing (IPv4/IPv6 + TCP) via ctrl ring\n"
"  --multicast-control  request-multicast-control\n"
"  --no-sg --no-gso --no-csum-offload --no-ipv6-csum\n"
"  --rx-fill N          RX requests kept posted per queue (256)\n"
"  --stats FILE         JSON counters, rewritten every second\n"
"  --timeout MS         each XenBus wait (30000)\n"
"  --spin-us N          poll N us before sleeping (0: never)\n"
"  --gen-secs S         no NIC: send frames as fast as the rings take them\n"
"                       for S seconds, print the count, exit (bench/net)\n"
"  --gen-len N          their size (60..1514, default 64)\n");
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6], i;
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	enum { O_DOMID = 256, O_DEVID, O_BEDOM, O_NETNS, O_IFNAME, O_MAC,
	       O_MTU, O_BRIDGE, O_VIFNAME, O_RATE, O_SCRIPT, O_HOTPLUG,
	       O_QUEUES, O_SPLIT, O_CTRL, O_HASH, O_MCAST, O_NOSG, O_NOGSO,
	       O_NOCSUM, O_NOV6, O_FILL, O_STATS, O_TIMEOUT, O_SIM, O_SPIN, O_GEN, O_GENLEN };
	static const struct option lo[] = {
		{ "sim-dir", 1, NULL, O_SIM }, { "domid", 1, NULL, O_DOMID },
		{ "devid", 1, NULL, O_DEVID },
		{ "backend-domid", 1, NULL, O_BEDOM },
		{ "netns", 1, NULL, O_NETNS }, { "ifname", 1, NULL, O_IFNAME },
		{ "mac", 1, NULL, O_MAC }, { "mtu", 1, NULL, O_MTU },
		{ "bridge", 1, NULL, O_BRIDGE },
		{ "vifname", 1, NULL, O_VIFNAME }, { "rate", 1, NULL, O_RATE },
		{ "script", 1, NULL, O_SCRIPT },
		{ "hotplug-status", 1, NULL, O_HOTPLUG },
		{ "queues", 1, NULL, O_QUEUES },
		{ "split-evtchn", 0, NULL, O_SPLIT },
		{ "ctrl-ring", 0, NULL, O_CTRL }, { "hash", 0, NULL, O_HASH },
		{ "multicast-control", 0, NULL, O_MCAST },
		{ "no-sg", 0, NULL, O_NOSG }, { "no-gso", 0, NULL, O_NOGSO },
		{ "no-csum-offload", 0, NULL, O_NOCSUM },
		{ "no-ipv6-csum", 0, NULL, O_NOV6 },
		{ "rx-fill", 1, NULL, O_FILL }, { "stats", 1, NULL, O_STATS },
		{ "timeout", 1, NULL, O_TIMEOUT }, { "help", 0, NULL, 'h' },
		{ "spin-us", 1, NULL, O_SPIN },
		{ "gen-secs", 1, NULL, O_GEN },
		{ "gen-len", 1, NULL, O_GENLEN },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->ifname = "eth0";
	o->bridge = "xenbr0";
	o->script = "/etc/xen/scripts/vif-bridge";
	o->hotplug_connected = true;
	o->mtu = 1500;
	o->nc.sg = o->nc.gso_tcpv4 = o->nc.gso_tcpv6 = o->nc.ipv6_csum = true;
	o->sim_dir = getenv("XENSIM_DIR");
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case O_SIM: o->sim_dir = optarg; break;
		case O_DOMID: o->domid = (unsigned int)atoi(optarg); break;
		case O_DEVID: o->devid = (unsigned int)atoi(optarg); break;
		case O_BEDOM:
			o->backend_domid = (unsigned int)atoi(optarg);
			break;
		case O_NETNS: o->netns = optarg; break;
		case O_IFNAME: o->ifname = optarg; break;
		case O_MAC: o->mac_str = optarg; break;
		case O_MTU: o->mtu = (unsigned int)atoi(optarg); break;
		case O_BRIDGE: o->bridge = optarg; break;
		case O_VIFNAME: o->vifname = optarg; break;
		case O_RATE: o->rate = optarg; break;
		case O_SCRIPT: o->script = optarg; break;
		case O_HOTPLUG:
			if (!strcmp(optarg, "none"))
				o->hotplug_connected = false;
			else if (strcmp(optarg, "connected"))
				return -EINVAL;
			break;
		case O_QUEUES:
			o->nc.nr_queues = (unsigned int)atoi(optarg);
			break;
		case O_SPLIT: o->nc.split_evtchn = true; break;
		case O_CTRL: o->nc.ctrl_ring = true; break;
		case O_HASH: o->hash = o->nc.ctrl_ring = true; break;
		case O_MCAST: o->nc.multicast_control = true; break;
		case O_NOSG: o->nc.sg = false; break;
		case O_NOGSO: o->nc.gso_tcpv4 = o->nc.gso_tcpv6 = false; break;
		case O_NOCSUM: o->nc.no_csum_offload = true; break;
		case O_NOV6: o->nc.ipv6_csum = false; break;
		case O_FILL: o->nc.rx_fill = (unsigned int)atoi(optarg); break;
		case O_STATS: o->stats = optarg; break;
		case O_TIMEOUT: o->timeout_ms = atoi(optarg); break;
		case O_SPIN: o->spin_us = (unsigned int)atoi(optarg); break;
		case O_GEN:
			/* the generator polls its TX completions */
			o->gen_secs = (unsigned int)atoi(optarg);
			o->nc.tx_poll = true;
			break;
		case O_GENLEN:
			o->gen_len = (unsigned int)atoi(optarg);
			break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind != argc || o->backend_domid != 0 ||
	    o->nc.nr_queues > NETFRONT_MAX_QUEUES || !o->sim_dir)
		return -EINVAL;
	o->nc.timeout_ms = o->timeout_ms;
	return 0;
}

/* As a vif hotplug script would after the backend's InitWait. */
static int hotplug_connected(struct xg_sim *sim, domid_t domid,
			     unsigned int devid, int timeout_ms)
{
	struct xs_handle *xs;
	enum xenbus_state st;
	char dir[128], path[160];
	int ret;

	ret = xg_sim_xs_open(sim, &xs);
	if (ret)
		return ret;
	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u/%u", domid,
		 devid);
	ret = xg_xenbus_wait_state(xs, dir, 1u << XenbusStateInitWait,
				   timeout_ms, &st);
	if (!ret) {
		snprintf(path, sizeof(path), "%s/hotplug-status", dir);
		ret = xb_xs_write(xs, XBT_NULL, path, "connected");
	}
	xs_close(xs);
	return ret;
}

static struct netfront_hash_config default_hash(unsigned int nq)
{
	/* The key of Microsoft's RSS verification suite. */
	static const uint8_t key[40] = {
		0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
		0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
		0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
		0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
	};
	struct netfront_hash_config h = {
		.flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
			 XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
			 XEN_NETIF_CTRL_HASH_TYPE_IPV6 |
			 XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP,
		.key_len = sizeof(key),
	};
	unsigned int i;

	memcpy(h.key, key, sizeof(key));
	if (nq > 1) {
		h.mapping_size = NETFRONT_HASH_MAP_MAX;
		for (i = 0; i < h.mapping_size; i++)
			h.mapping[i] = i % nq;
	}
	return h;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct xg_dom_config dc = { 0 };
	struct xg_sim *sim = NULL;
	struct xg_dom *dom = NULL;
	struct netfront *nf = NULL;
	struct netfront_info info;
	struct netfront_hash_config hash;
	struct nfa_tap_config tc = { 0 };
	int fds[NETFRONT_MAX_QUEUES], sfd = -1, ret, rc = 1;
	char ident[64], mac[20], mtu[12], handle[12], name[32];
	bool device = false;
	unsigned int i;
	sigset_t ss;

	if (parse(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	if (o.mac_str) {
		if (parse_mac(o.mac_str, tc.mac)) {
			fprintf(stderr, "bad --mac %s\n", o.mac_str);
			return 2;
		}
	}
	snprintf(ident, sizeof(ident), "uback-netfront[%u/%u]", o.domid,
		 o.devid);
	xb_log_set_ident(ident);
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	if (sfd < 0) {
		xb_err("signalfd: %s", strerror(errno));
		return 1;
	}

	ret = xg_sim_connect(o.sim_dir, &sim);
	if (ret) {
		xb_err("no xensim at %s: %s", o.sim_dir, strerror(-ret));
		goto out;
	}
	snprintf(name, sizeof(name), "netfront-guest-%u", o.domid);
	dc.domid = (domid_t)o.domid;
	dc.mem_pages = 16384 + 520u * (o.nc.nr_queues ? o.nc.nr_queues : 1);
	dc.nr_grants = 16384 + 520u * (o.nc.nr_queues ? o.nc.nr_queues : 1);
	dc.name = name;
	ret = xg_dom_create(sim, &dc, &dom);
	if (ret) {
		xb_err("xg_dom_create: %s", strerror(-ret));
		goto out;
	}
	o.domid = xg_dom_id(dom);
	if (!o.mac_str) {
		/* Xen's OUI, then the domain and device (as libxl's random
		 * MACs stay in 00:16:3e) */
		tc.mac[0] = 0x00; tc.mac[1] = 0x16; tc.mac[2] = 0x3e;
		tc.mac[3] = (uint8_t)(o.domid >> 8);
		tc.mac[4] = (uint8_t)o.domid;
		tc.mac[5] = (uint8_t)o.devid;
	}
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", tc.mac[0],
		 tc.mac[1], tc.mac[2], tc.mac[3], tc.mac[4], tc.mac[5]);
	snprintf(mtu, sizeof(mtu), "%u", o.mtu);
	snprintf(handle, sizeof(handle), "%u", o.devid);
	{
		const char *be_kv[20] = {
			"mac", mac, "bridge", o.bridge, "handle", handle,
			"type", "vif", "script", o.script, "mtu", mtu,
		};
		const char *fe_kv[] = {
			"mac", mac, "handle", handle, "mtu", mtu,
			"trusted", "1", NULL,
		};
		unsigned int n = 12;

		if (o.vifname) {
			be_kv[n++] = "vifname";
			be_kv[n++] = o.vifname;
		}
		if (o.rate) {
			be_kv[n++] = "rate";
			be_kv[n++] = o.rate;
		}
		be_kv[n] = NULL;
		ret = xg_device_create(sim, (domid_t)o.domid, "vif", "vif",
				       o.devid, be_kv, fe_kv);
		if (ret) {
			xb_err("xg_device_create: %s", strerror(-ret));
			goto out;
		}
		device = true;
		xb_info("domain %u, device vif/%u created; waiting for the "
			"backend", o.domid, o.devid);
	}
	if (o.hotplug_connected) {
		ret = hotplug_connected(sim, (domid_t)o.domid, o.devid,
					o.timeout_ms > 0 ? o.timeout_ms
							 : 30000);
		if (ret) {
			xb_err("backend never reached InitWait: %s",
			       strerror(-ret));
			goto out;
		}
	}
	o.nc.dom = dom;
	o.nc.devid = o.devid;
	if (o.hash) {
		hash = default_hash(o.nc.nr_queues);
		o.nc.hash = &hash;
	}
	ret = netfront_connect(&o.nc, &nf);
	if (ret) {
		xb_err("netfront_connect: %s", strerror(-ret));
		goto out;
	}
	netfront_get_info(nf, &info);
	xb_info("connected: %u queue(s), sg %d, gso v4 %d v6 %d, csum tx %d "
		"rx %d ipv6 %d, split %d, ctrl %d, hash %d, mcast %d",
		info.nr_queues, info.sg, info.gso_tcpv4, info.gso_tcpv6,
		info.tx_csum, info.rx_csum, info.ipv6_csum, info.split_evtchn,
		info.ctrl_ring, info.hash, info.multicast_control);

	if (o.gen_secs) {
		uint64_t sent = 0;

		ret = nfa_gen_run(nf, o.gen_secs, o.gen_len ? o.gen_len : 64,
				  tc.mac, &sent);
		printf("gen: sent %llu frames of %u bytes in %u s (%.3f Mpps)\n",
		       (unsigned long long)sent, o.gen_len ? o.gen_len : 64,
		       o.gen_secs, (double)sent / o.gen_secs / 1e6);
		fflush(stdout);
		rc = ret == -ENOTCONN ? 3 : ret ? 1 : 0;
		goto out;
	}
	tc.netns = o.netns;
	tc.ifname = o.ifname;
	tc.nr_queues = info.nr_queues;
	tc.offloads = (info.tx_csum ? NFA_OFF_CSUM : 0) |
		      (info.gso_tcpv4 ? NFA_OFF_TSO4 : 0) |
		      (info.gso_tcpv6 ? NFA_OFF_TSO6 : 0);
	tc.mtu = o.mtu;
	if (!info.sg && tc.mtu > 1500)
		tc.mtu = 1500;
	tc.up = true;
	ret = nfa_tap_open(&tc, fds);
	if (ret)
		goto out;
	xb_info("guest NIC %s%s%s up (offloads 0x%x, mtu %u)", o.ifname,
		o.netns ? " in netns " : "", o.netns ? o.netns : "",
		tc.offloads, tc.mtu);
	{
		struct nfa_pump_config pc = {
			.nf = nf, .tap_fds = fds, .stop_fd = sfd,
			.stats_path = o.stats, .spin_us = o.spin_us,
			.ifname = o.ifname,
		};

		ret = nfa_pump_run(&pc);
	}
	for (i = 0; i < info.nr_queues; i++)
		close(fds[i]);
	rc = ret && ret != -ENOTCONN ? 1 : 0;
	if (ret == -ENOTCONN)
		rc = 3;

out:
	if (nf) {
		netfront_close(nf);
		xb_info("disconnected");
	}
	if (device)
		xg_device_remove(sim, (domid_t)o.domid, "vif", "vif", o.devid);
	if (dom)
		xg_dom_destroy(dom);
	if (sim)
		xg_sim_disconnect(sim);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
