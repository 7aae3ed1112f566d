#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""goodnet: campaign_net's well-behaved guest, real traffic.

Joins the campaign's running xensim with scripts/netlab.py's topology
(guest, host and peer namespaces; uback-netfront giving the guest's kernel
an eth0; uback-net --port tap on a bridge; a veth to the peer; only
198.18.0.0/15), and then answers one command per stdin line with one
stdout line:

  up                -> "ok <uback-net pid>" | "error <why>"
  iperf SECONDS     -> "iperf <bits/s received> <retransmits>" | "error .."
                       (iperf3 TCP, guest -> peer, one stream)
  verify MIB        -> "verify ok <sha256>" | "verify mismatch .." |
                       "error .."  (MIB MiB of random bytes guest -> peer
                       over TCP, sha256 compared on both ends)
  down              -> "down <uback-netfront status> <uback-net status>"

EOF or down removes everything it created (also after a failure).

usage: goodnet.py --sim-dir DIR --uback-net BIN --netfront BIN [--domid N]
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import netlab  # noqa: E402

PORT_IPERF = 5201
PORT_VERIFY = 5202

SINK = r"""
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1)
print("listening", flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b); n += len(b)
c.sendall(b"x"); c.close()
print(n, h.hexdigest(), flush=True)
"""

SOURCE = r"""
import hashlib, os, socket, sys, time
n = int(sys.argv[3]) << 20
h = hashlib.sha256()
for _ in range(50):
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)
        break
    except OSError:
        time.sleep(0.1)
left = n
while left:
    b = os.urandom(min(left, 1 << 16)); h.update(b); s.sendall(b)
    left -= len(b)
s.shutdown(socket.SHUT_WR); s.recv(1); s.close()
print(n, h.hexdigest(), flush=True)
"""


def reply(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def wait_listening(lab, port, timeout=15):
    """Until the peer's server listens (a client started before it would
    be refused: seen in CI under load)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = lab.peer(["ss", "-Hltn", "sport = :%d" % port], check=False)
        if r.returncode == 0 and r.stdout.strip():
            return
        time.sleep(0.1)
    raise RuntimeError("the peer's iperf3 server is not listening on %d "
                       "after %d s" % (port, timeout))


def iperf(lab, seconds):
    r = lab.guest(["iperf3", "-c", lab.peer_ip, "-p", str(PORT_IPERF),
                   "-t", str(seconds), "-J"], check=False,
                  timeout=seconds + 30)
    try:
        j = json.loads(r.stdout)
        end = j["end"]
        return "iperf %d %d" % (int(end["sum_received"]["bits_per_second"]),
                                int(end["sum_sent"].get("retransmits", 0)))
    except (ValueError, KeyError, TypeError):
        return "error iperf3 exit %d: %s" % (
            r.returncode, (r.stderr or r.stdout)[-300:].replace("\n", " "))


def verify(lab, mib):
    sink = subprocess.Popen(["ip", "netns", "exec", lab.ns_peer, "python3",
                             "-c", SINK, lab.peer_ip, str(PORT_VERIFY)],
                            stdout=subprocess.PIPE, text=True)
    try:
        sink.stdout.readline()          # listening
        src = lab.guest(["python3", "-c", SOURCE, lab.peer_ip,
                         str(PORT_VERIFY), str(mib)], check=False,
                        timeout=120)
        got = sink.communicate(timeout=30)[0].split()
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    sent = src.stdout.split()
    if len(sent) != 2 or len(got) != 2:
        return "error verify: sent %r received %r" % (sent, got)
    if sent != got:
        return "verify mismatch sent %s received %s" % (" ".join(sent),
                                                        " ".join(got))
    return "verify ok " + sent[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim-dir", required=True)
    ap.add_argument("--uback-net", required=True)
    ap.add_argument("--netfront", required=True)
    ap.add_argument("--domid", type=int, default=50)
    a = ap.parse_args()
    lab = netlab.NetLab(None, a.uback_net, a.netfront, simdir=a.sim_dir,
                        domid=a.domid, tag="cn%d" % os.getpid())
    try:
        for line in sys.stdin:
            w = line.split()
            if not w:
                continue
            try:
                if w[0] == "up":
                    lab.up()
                    lab.popen(lab.ns_peer, ["iperf3", "-s", "-p",
                                            str(PORT_IPERF)], "iperf3-s")
                    wait_listening(lab, PORT_IPERF)
                    reply("ok %d" % lab.procs["uback-net"].pid)
                elif w[0] == "iperf":
                    reply(iperf(lab, int(w[1])))
                elif w[0] == "verify":
                    reply(verify(lab, int(w[1])))
                elif w[0] == "down":
                    break
                else:
                    reply("error unknown command " + w[0])
            except Exception as e:     # reported, the lab stays up
                reply("error %s" % str(e).replace("\n", " ")[-500:])
    finally:
        st = lab.down()
        reply("down %s %s" % (st.get("uback-netfront"), st.get("uback-net")))


if __name__ == "__main__":
    main()
