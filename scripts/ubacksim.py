# SPDX-License-Identifier: MIT
"""Helpers shared by scripts/demo.py and bench/blk: run xensim, run fio
with JSON output, read uback-blk's --stats counters. Errors raise
RuntimeError with a message for the operator."""
import json
import os
import signal
import subprocess
import time


def start_xensim(xensim, tmp, timeout_s=10):
    """Start `xensim --dir TMP/sim`; return (process, its directory) once
    it printed its ready line. Its stdout/stderr go to TMP/xensim.*."""
    simdir = os.path.join(tmp, "sim")
    out_path = os.path.join(tmp, "xensim.out")
    log_path = os.path.join(tmp, "xensim.log")
    with open(out_path, "w") as out, open(log_path, "w") as log:
        proc = subprocess.Popen([xensim, "--dir", simdir], stdout=out,
                                stderr=log)
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        with open(out_path) as f:
            if "xensim: ready" in f.read():
                return proc, simdir
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    with open(log_path) as f:
        raise RuntimeError("xensim did not start: " + f.read()[-2000:])


def stop_xensim(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def fio_json(args):
    """Run `fio --output-format=json ARGS`; return the parsed result."""
    r = subprocess.run(["fio", "--output-format=json"] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError("fio exited %d: %s\n%s" % (
            r.returncode, " ".join(args), r.stderr[-3000:]))
    # The engine may print messages before fio's JSON object.
    return json.loads(r.stdout[r.stdout.index("{"):])


def read_stats(path):
    """uback-blk's --stats file: the device totals (total.<name>, returned
    under <name>) and the process CPU time (cpu_user_us, cpu_sys_us, and
    the main thread's cpu_main_us)."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                key, _, val = line.strip().partition("=")
                if not val.isdigit():
                    continue
                if key.startswith("total."):
                    out[key[len("total."):]] = int(val)
                elif key in ("cpu_user_us", "cpu_sys_us", "cpu_main_us"):
                    out[key] = int(val)
    except OSError:
        pass
    return out
