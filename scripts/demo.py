#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The body of scripts/demo (run that instead: it installs and builds)."""
import argparse
import os
import shutil
import sys
import tempfile

from ubacksim import fio_json, read_stats, start_xensim, stop_xensim

import json
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_MB = 256


def fail(msg):
    print("demo: FAILED: " + msg, file=sys.stderr)
    sys.exit(1)


def run_fio(engine, simdir, image, uback, stats, job):
    args = ["--name=" + job["name"],
           "--ioengine=external:" + engine, "--xensim_dir=" + simdir,
           "--image=" + image, "--uback_blk=" + uback,
           "--backend_cmd=%%u --hv sim --log warn --stats %s %%b" % stats,
           "--size=%dm" % IMAGE_MB, "--persistent=1", "--indirect=256",
           "--ring_order=2"] + job["args"]
    try:
        return fio_json(args)
    except RuntimeError as e:
        fail("fio job %s: %s" % (job["name"], e))


def iperf3(lab, reverse, secs=3):
    """iperf3 TCP between the guest (client) and the peer (server);
    @reverse: peer->guest. Returns Gbit/s."""
    lab.popen(lab.ns_peer, ["iperf3", "-s", "-1", "-B", lab.peer_ip],
              "iperf3-server")
    time.sleep(0.3)
    cmd = ["iperf3", "-c", lab.peer_ip, "-t", str(secs), "-J"]
    if reverse:
        cmd.append("-R")
    r = lab.guest(cmd, check=False)
    srv = lab.procs.pop("iperf3-server", None)
    if srv is not None:
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
    if r.returncode != 0:
        fail("iperf3 %s: %s" % ("peer->guest" if reverse else "guest->peer",
                                (r.stderr or r.stdout)[-500:]))
    res = json.loads(r.stdout)
    return res["end"]["sum_received"]["bits_per_second"] / 1e9


def net_demo(b):
    """A simulated guest NIC: the guest namespace's kernel TCP/IP stack ->
    uback-netfront (the guest's netfront) -> xensim rings -> uback-net
    --port tap -> bridge -> veth -> a peer namespace."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import netlab
    uback_net = os.path.join(b, "netback", "uback-net")
    netfront = os.path.join(b, "tools", "netfront", "uback-netfront")
    for p in (uback_net, netfront):
        if not os.path.exists(p):
            fail("missing %s (build first: scripts/demo does)" % p)
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        fail("the network half needs root and /dev/net/tun (namespaces, "
             "tap devices)")
    xensim = os.path.join(b, "tools", "xensim", "xensim")
    print("uback demo: guest NIC: netns guest %s <-> uback-netfront <-> "
          "xensim <-> uback-net (tap vif7.0 on a bridge) <-> peer %s" %
          (netlab.GUEST_IP, netlab.PEER_IP))
    print()
    with netlab.NetLab(xensim, uback_net, netfront,
                       tag="ubdemo%d" % os.getpid()) as lab:
        ping = lab.guest(["ping", "-c", "5", "-i", "0.2", "-q",
                          lab.peer_ip], check=False)
        if ping.returncode != 0:
            fail("ping guest->peer: " + ping.stdout[-300:])
        rtt = ping.stdout.strip().splitlines()[-1]
        g2p = iperf3(lab, False)
        p2g = iperf3(lab, True)
        time.sleep(1.2)   # one more --stats interval
        st = read_stats(lab.stats_backend)
    hdr = "%-22s %-44s %10s  %s" % ("job", "what", "Gbit/s",
                                    "uback-net, both runs: guest tx/rx packets, errors")
    print(hdr)
    print("-" * len(hdr))
    errs = sum(v for k, v in st.items()
               if k.startswith(("tx_err_", "rx_drop_")) and
               k not in ("tx_err_none", "rx_drop_none"))
    served = "%d / %d, %d" % (st.get("tx_packets", 0),
                              st.get("rx_packets", 0), errs)
    print("%-22s %-44s %10.2f  %s" % ("tcp guest->peer",
                                      "iperf3, 1 stream, 3 s", g2p, served))
    print("%-22s %-44s %10.2f" % ("tcp peer->guest",
                                  "iperf3 -R, 1 stream, 3 s", p2g))
    print("%-22s %s" % ("ping guest->peer", rtt))
    print()
    if not st.get("tx_packets") or not st.get("rx_packets"):
        fail("uback-net's counters show no traffic: %r" % st)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    b = os.path.abspath(args.builddir)
    xensim = os.path.join(b, "tools", "xensim", "xensim")
    uback = os.path.join(b, "blkback", "uback-blk")
    engine = os.path.join(b, "tools", "fio", "fio-uback-blkfront.so")
    for p in (xensim, uback, engine):
        if not os.path.exists(p):
            fail("missing %s (build first: scripts/demo does)" % p)

    imgdir = os.environ.get("UBACK_DEMO_IMAGE_DIR", "/dev/shm")
    tmp = tempfile.mkdtemp(prefix="uback-demo-")
    image = os.path.join(imgdir, "uback-demo-%d.img" % os.getpid())
    sim = None
    jobs = [
        {"name": "write+verify", "rw": "write",
         "what": "4k random writes, QD16, then read back, crc32c verify",
         "args": ["--rw=randwrite", "--bs=4k", "--iodepth=16",
                  "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
                  "--verify_state_save=0"]},
        {"name": "randread", "rw": "read",
         "what": "4k random reads, QD32, 5 s",
         "args": ["--rw=randread", "--bs=4k", "--iodepth=32",
                  "--runtime=5", "--time_based"]},
        {"name": "seqread", "rw": "read",
         "what": "1M sequential reads, QD8, 2 queues",
         "args": ["--rw=read", "--bs=1m", "--iodepth=8", "--queues=2",
                  "--runtime=3", "--time_based"]},
    ]
    try:
        with open(image, "wb") as f:
            f.truncate(IMAGE_MB << 20)
        try:
            sim, simdir = start_xensim(xensim, tmp)
        except RuntimeError as e:
            fail(str(e))
        print("uback demo: xensim at %s; guest disk %s (%d MiB) served by "
              "uback-blk with io_uring" % (simdir, image, IMAGE_MB))
        print()
        rows = []
        for job in jobs:
            stats = os.path.join(tmp, job["name"] + ".stats")
            res = run_fio(engine, simdir, image, uback, stats, job)
            j = res["jobs"][0]
            verify_errs = j.get("error", 0)
            side = j["write"] if job["rw"] == "write" else j["read"]
            rd = j["read"]
            p50 = side.get("clat_ns", {}).get("percentile", {}).get(
                "50.000000")
            st = read_stats(stats)
            rows.append((job["name"], job["what"], side["iops"],
                         side["bw_bytes"] / 1048576.0,
                         (p50 or 0) / 1000.0,
                         rd["io_bytes"] >> 20 if job["rw"] == "write" else None,
                         verify_errs, st))
        hdr = "%-13s %-50s %9s %8s %7s  %-21s %s" % (
            "job", "what", "IOPS", "MiB/s", "p50 us", "result",
            "uback-blk: requests, errors, persistent hits")
        print(hdr)
        print("-" * len(hdr))
        bad = 0
        for name, what, iops, mibs, p50, verified, err, st in rows:
            if err:
                bad += 1
                res = "ERROR %d" % err
            elif verified is not None:
                res = "ok, %d MiB verified" % verified
            else:
                res = "ok"
            served = "%d, %d, %d" % (
                st.get("rsp_okay", 0) + st.get("rsp_error", 0) +
                st.get("rsp_eopnotsupp", 0),
                st.get("rsp_error", 0) + st.get("rsp_eopnotsupp", 0),
                st.get("persist_hits", 0))
            if st.get("rsp_error", 0) + st.get("rsp_eopnotsupp", 0):
                bad += 1
            print("%-13s %-50s %9.0f %8.1f %7.1f  %-21s %s" % (
                name, what, iops, mibs, p50, res, served))
        print()
        if bad:
            fail("%d job(s) reported errors" % bad)
    finally:
        stop_xensim(sim)
        if os.path.exists(image):
            os.unlink(image)
        shutil.rmtree(tmp, ignore_errors=True)
    net_demo(b)
    print("uback demo: all jobs completed, data verified "
          "(numbers on this shared machine are indicative; bench/blk and "
          "bench/net compare with the direct paths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
