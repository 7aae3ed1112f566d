#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""netlab: the network topology for uback-net end-to-end runs (tests,
bench/net, the demo).

    peer ns            host ns                            guest ns
    vp0 198.18.0.2 ==  vh0 -- br0 -- vif<d>.<n> (tap)     eth0 198.18.0.1
                       uback-net --port tap  <-xensim->   uback-netfront

Three network namespaces with unique names (prefix + pid), a bridge and a
veth in the host namespace, a private xensim, uback-net with its tap port
joining the bridge (the vif's `bridge` key), and uback-netfront creating
the guest's eth0 inside the guest namespace. Only 198.18.0.0/15 addresses;
IPv6 is disabled in the namespaces so no other address appears.
Everything is removed by down(), which is safe to call at any point of a
failed up() and more than once. With simdir=, the lab joins a running
xensim (another test's simulated host) instead of starting its own.

    with NetLab(xensim=..., uback_net=..., netfront=...) as lab:
        lab.guest(["ping", "-c1", lab.peer_ip])

CLI (for shell users): netlab.py up --state FILE [options]; netlab.py
down --state FILE. `up` prints the state JSON (namespace names, pids).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ubacksim  # noqa: E402

GUEST_IP = "198.18.0.1"
PEER_IP = "198.18.0.2"
PREFIX_LEN = 24


def run(cmd, check=True, **kw):
    """Run a command; raise RuntimeError with its output on failure."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                (p.stderr or p.stdout)[-2000:]))
    return p


def stop(proc, timeout=10):
    """SIGTERM one of our processes, SIGKILL if it lingers; its status."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class NetLab:
    def __init__(self, xensim, uback_net, netfront, tag=None, queues=1,
                 backend_queues=None, netfront_args=(), backend_args=(),
                 mtu=1500, domid=7, devid=0, workdir=None, log=None,
                 simdir=None):
        tag = tag or "nl%d" % os.getpid()
        self.ns_host = tag + "h"
        self.ns_guest = tag + "g"
        self.ns_peer = tag + "p"
        self.xensim, self.uback_net, self.netfront = xensim, uback_net, netfront
        self.queues = queues
        self.backend_queues = backend_queues or max(queues, 1)
        self.netfront_args = list(netfront_args)
        self.backend_args = list(backend_args)
        self.mtu = mtu
        self.domid, self.devid = domid, devid
        self.guest_ip, self.peer_ip = GUEST_IP, PEER_IP
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="netlab-")
        self.log = log or (lambda msg: None)
        self.procs = {}
        self.namespaces = []
        # A running xensim to join (its directory), else up() starts one.
        self.simdir = simdir
        self.own_sim = simdir is None
        self.stats_guest = os.path.join(self.workdir, "netfront-stats.json")
        self.stats_backend = os.path.join(self.workdir, "uback-net-stats.json")

    # -- helpers ---------------------------------------------------------
    def ns(self, ns, cmd, **kw):
        return run(["ip", "netns", "exec", ns] + list(cmd), **kw)

    def guest(self, cmd, **kw):
        return self.ns(self.ns_guest, cmd, **kw)

    def peer(self, cmd, **kw):
        return self.ns(self.ns_peer, cmd, **kw)

    def popen(self, ns, cmd, name, **kw):
        out = open(os.path.join(self.workdir, name + ".log"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns] + list(cmd),
                             stdout=out, stderr=subprocess.STDOUT, **kw)
        self.procs[name] = p
        return p

    def start_backend(self):
        """(Re)start uback-net as up() did (a test killing it plays
        ubackd); its log is appended to."""
        out = open(os.path.join(self.workdir, "uback-net.log"), "a")
        self.procs["uback-net"] = subprocess.Popen(
            ["ip", "netns", "exec", self.ns_host] + self.backend_cmd,
            stdout=out, stderr=subprocess.STDOUT)
        return self.procs["uback-net"]

    def logfile(self, name):
        try:
            with open(os.path.join(self.workdir, name + ".log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def _netns_add(self, name):
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self.ns(name, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
                check=False)
        self.ns(name, ["sysctl", "-qw",
                       "net.ipv6.conf.default.disable_ipv6=1"], check=False)
        self.ns(name, ["ip", "link", "set", "lo", "up"])

    def _wait(self, what, pred, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred():
                return
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError("%s exited (%s) while waiting for %s:"
                                       "\n%s" % (name, p.returncode, what,
                                                 self.logfile(name)))
            time.sleep(0.05)
        raise RuntimeError("timed out waiting for " + what)

    # -- lifecycle -------------------------------------------------------
    def up(self):
        for n in (self.ns_host, self.ns_guest, self.ns_peer):
            self._netns_add(n)
        h, p = self.ns_host, self.ns_peer
        self.ns(h, ["ip", "link", "add", "br0", "type", "bridge"])
        self.ns(h, ["ip", "link", "set", "br0", "mtu", str(self.mtu), "up"])
        self.ns(h, ["ip", "link", "add", "vh0", "mtu", str(self.mtu), "type",
                    "veth", "peer", "name", "vp0", "mtu", str(self.mtu),
                    "netns", p])
        self.ns(h, ["ip", "link", "set", "vh0", "master", "br0", "up"])
        self.ns(p, ["ip", "addr", "add", "%s/%d" % (self.peer_ip, PREFIX_LEN),
                    "dev", "vp0"])
        self.ns(p, ["ip", "link", "set", "vp0", "up"])

        if self.own_sim:
            sim, self.simdir = ubacksim.start_xensim(self.xensim,
                                                     self.workdir)
            self.procs["xensim"] = sim
        self.log("xensim at %s" % self.simdir)
        nf = [self.netfront, "--sim-dir", self.simdir, "--domid",
              str(self.domid), "--devid", str(self.devid), "--netns",
              self.ns_guest, "--bridge", "br0", "--mtu", str(self.mtu),
              "--stats", self.stats_guest]
        if self.queues > 1:
            nf += ["--queues", str(self.queues)]
        # uback-netfront (the toolstack role) creates the domain and the
        # vif device; uback-net is started once they exist, as a backend
        # daemon attached to that device.
        self.popen(self.ns_host, nf + self.netfront_args, "uback-netfront")
        self._wait("the vif device in xenstore",
                   lambda: "created; waiting" in
                   self.logfile("uback-netfront"))
        self.backend_cmd = [self.uback_net, "--hv", "sim", "--sim-dir",
                            self.simdir, "--port", "tap", "--domid",
                            str(self.domid), "--devid", str(self.devid),
                            "--queues", str(self.backend_queues), "--log",
                            "info", "--stats", self.stats_backend] + \
            self.backend_args
        self.start_backend()

        def has_eth0():
            r = self.guest(["ip", "-o", "link", "show", "eth0"], check=False)
            return r.returncode == 0 and "UP" in r.stdout
        self._wait("the guest's eth0", has_eth0)
        self.guest(["ip", "addr", "add", "%s/%d" % (self.guest_ip,
                                                    PREFIX_LEN), "dev",
                    "eth0"])
        vif = "vif%d.%d" % (self.domid, self.devid)

        def vif_up():
            r = self.ns(h, ["ip", "-o", "link", "show", vif], check=False)
            return r.returncode == 0 and "master br0" in r.stdout and \
                "LOWER_UP" in r.stdout
        self._wait(vif + " on br0", vif_up)

        def reach():
            return self.guest(["ping", "-c", "1", "-W", "1", self.peer_ip],
                              check=False).returncode == 0
        self._wait("the peer to answer ping", reach)
        self.log("lab up: guest %s (%s) <-> peer %s (%s)" % (
            self.guest_ip, self.ns_guest, self.peer_ip, self.ns_peer))
        return self

    def down(self):
        """Stop what we started (netfront first: it disconnects cleanly),
        delete the namespaces and the work directory. Returns the exit
        statuses of uback-netfront and uback-net."""
        st = {}
        for name in ("uback-netfront", "uback-net", "xensim"):
            p = self.procs.pop(name, None)
            if name == "xensim":
                ubacksim.stop_xensim(p)
                st[name] = p.returncode if p else None
            else:
                st[name] = stop(p)
        for name, p in list(self.procs.items()):
            stop(p)
            self.procs.pop(name)
        for n in reversed(self.namespaces):
            run(["ip", "netns", "del", n], check=False)
        self.namespaces = []
        if self.own_workdir and os.path.isdir(self.workdir) and \
                not os.environ.get("NETLAB_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
        return st

    def state(self):
        return {"ns_host": self.ns_host, "ns_guest": self.ns_guest,
                "ns_peer": self.ns_peer, "guest_ip": self.guest_ip,
                "peer_ip": self.peer_ip, "workdir": self.workdir,
                "simdir": self.simdir,
                "stats_guest": self.stats_guest,
                "stats_backend": self.stats_backend,
                "pids": {k: p.pid for k, p in self.procs.items()}}

    def __enter__(self):
        try:
            return self.up()
        except BaseException:
            self.down()
            raise

    def __exit__(self, *exc):
        self.down()
        return False


class DirectPair:
    """The baseline for bench/net: two namespaces joined by one veth pair
    (guest side 198.18.0.1, peer side 198.18.0.2, MTU @mtu), no uback in
    between. Same helpers as NetLab (guest(), peer(), ns()) so a benchmark
    drives both alike; down() removes the namespaces (safe to repeat)."""

    def __init__(self, tag=None, mtu=1500):
        tag = tag or "dp%d" % os.getpid()
        self.ns_guest = tag + "g"
        self.ns_peer = tag + "p"
        self.guest_ip, self.peer_ip = GUEST_IP, PEER_IP
        self.mtu = mtu
        self.namespaces = []
        self.procs = {}

    ns = NetLab.ns
    guest = NetLab.guest
    peer = NetLab.peer
    _netns_add = NetLab._netns_add

    def up(self):
        g, p = self.ns_guest, self.ns_peer
        for n in (g, p):
            self._netns_add(n)
        self.ns(g, ["ip", "link", "add", "eth0", "mtu", str(self.mtu),
                    "type", "veth", "peer", "name", "vp0", "mtu",
                    str(self.mtu), "netns", p])
        self.ns(g, ["ip", "addr", "add", "%s/%d" % (self.guest_ip,
                                                    PREFIX_LEN),
                    "dev", "eth0"])
        self.ns(g, ["ip", "link", "set", "eth0", "up"])
        self.ns(p, ["ip", "addr", "add", "%s/%d" % (self.peer_ip, PREFIX_LEN),
                    "dev", "vp0"])
        self.ns(p, ["ip", "link", "set", "vp0", "up"])
        return self

    def down(self):
        for n in reversed(self.namespaces):
            run(["ip", "netns", "del", n], check=False)
        self.namespaces = []

    def __enter__(self):
        try:
            return self.up()
        except BaseException:
            self.down()
            raise

    def __exit__(self, *exc):
        self.down()
        return False


def _cli():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up")
    u.add_argument("--state", required=True)
    u.add_argument("--builddir", default="build")
    u.add_argument("--queues", type=int, default=1)
    u.add_argument("--mtu", type=int, default=1500)
    u.add_argument("--netfront-arg", action="append", default=[])
    u.add_argument("--backend-arg", action="append", default=[])
    d = sub.add_parser("down")
    d.add_argument("--state", required=True)
    a = ap.parse_args()
    if a.cmd == "up":
        b = a.builddir
        lab = NetLab(os.path.join(b, "tools/xensim/xensim"),
                     os.path.join(b, "netback/uback-net"),
                     os.path.join(b, "tools/netfront/uback-netfront"),
                     queues=a.queues, mtu=a.mtu,
                     netfront_args=a.netfront_arg,
                     backend_args=a.backend_arg,
                     workdir=tempfile.mkdtemp(prefix="netlab-"))
        try:
            lab.up()
        except BaseException:
            lab.down()
            shutil.rmtree(lab.workdir, ignore_errors=True)
            raise
        # The processes outlive this CLI: `down` signals them by pid.
        with open(a.state, "w") as f:
            json.dump(lab.state(), f, indent=1)
        print(json.dumps(lab.state(), indent=1))
        os._exit(0)
    with open(a.state) as f:
        s = json.load(f)
    for name in ("uback-netfront", "uback-net", "xensim"):
        pid = s["pids"].get(name)
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
                time.sleep(0.5)
            except ProcessLookupError:
                pass
    for n in (s["ns_guest"], s["ns_peer"], s["ns_host"]):
        run(["ip", "netns", "del", n], check=False)
    shutil.rmtree(s["workdir"], ignore_errors=True)
    os.unlink(a.state)


if __name__ == "__main__":
    _cli()
