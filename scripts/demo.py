#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The body of scripts/demo (run that instead: it installs and builds)."""
import argparse
import os
import shutil
import sys
import tempfile

from ubacksim import fio_json, read_stats, start_xensim, stop_xensim

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
        print("uback demo: all jobs completed, data verified "
              "(numbers on this shared machine are indicative; "
              "bench/blk compares with fio direct on the same file)")
    finally:
        stop_xensim(sim)
        if os.path.exists(image):
            os.unlink(image)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
