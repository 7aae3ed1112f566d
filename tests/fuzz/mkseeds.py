#!/usr/bin/env python3
"""Write the seed corpora of the libFuzzer harnesses (tests/fuzz/corpus/).

Seeds are well-formed inputs each harness's format describes (see the
comment at the top of each fuzz_*.c); the fuzzer mutates from there.
Run it again after changing an input format; commit its output.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = 4096

# ---- fuzz_blkif_req -------------------------------------------------------
READ, WRITE, BARRIER, FLUSH, DISCARD, INDIRECT = 0, 1, 2, 3, 5, 6


def seg(gref, first=0, last=7):
    return struct.pack("<IBBH", gref, first, last, 0)


def req64(op, segs, sector=0, rid=1):
    b = struct.pack("<BBHIQQ", op, len(segs), 0, 0, rid, sector)
    b += b"".join(segs)
    return b.ljust(112, b"\0")


def req32(op, segs, sector=0, rid=1):
    b = struct.pack("<BBHQQ", op, len(segs), 0, rid, sector)
    b += b"".join(segs)
    return b.ljust(108, b"\0")


def discard64(sector, n, flag=0):
    return struct.pack("<BBHIQQQ", DISCARD, flag, 0, 0, 9, sector,
                       n).ljust(112, b"\0")


def discard32(sector, n, flag=0):
    return struct.pack("<BBHQQQ", DISCARD, flag, 0, 9, sector,
                       n).ljust(108, b"\0")


def indirect64(op, nsegs, grefs, sector=0):
    b = struct.pack("<BBHIQQHH", INDIRECT, op, nsegs, 0, 5, sector, 0, 0)
    b += b"".join(struct.pack("<I", g) for g in grefs).ljust(32, b"\0")
    return b.ljust(112, b"\0")


def indirect32(op, nsegs, grefs, sector=0):
    b = struct.pack("<BBHQQHH", INDIRECT, op, nsegs, 5, sector, 0, 0)
    b += b"".join(struct.pack("<I", g) for g in grefs).ljust(32, b"\0")
    return b.ljust(108, b"\0")


def ring(slots, prod=None, rsp_prod=0):
    prod = len(slots) if prod is None else prod
    hdr = struct.pack("<IIII", prod, 1, rsp_prod, 1).ljust(64, b"\0")
    return (hdr + b"".join(slots)).ljust(PAGE, b"\0")


def seg_page(n, first=0, last=7):
    return b"".join(seg(100 + i, first, last) for i in range(n)).ljust(
        PAGE, b"\0")


def blkif_seeds():
    # byte 0: bit0 x86_32, bit1 ro, bit2 flush+barrier, bit3 discard,
    # bit4 secure, bits5-6 indirect (0, 32, 256, 4096); byte 1: log2 size
    rw = 0x04 | 0x08 | (3 << 5)
    size = 20
    s = {}
    s["rw64"] = bytes([rw, size]) + ring([
        req64(READ, [seg(1)]), req64(WRITE, [seg(2, 1, 6)] * 11, 64),
        req64(FLUSH, []), req64(BARRIER, [seg(3)]), discard64(8, 64, 1)])
    s["rw32"] = bytes([rw | 1, size]) + ring([
        req32(READ, [seg(1)]), req32(WRITE, [seg(2)] * 3, 16),
        req32(FLUSH, [seg(4)]), discard32(0, 8)])
    s["indirect64"] = bytes([rw, size]) + ring([
        indirect64(READ, 600, [0, 1]), indirect64(WRITE, 8, [1])]) + \
        seg_page(512) + seg_page(88, 2, 5)
    s["indirect32"] = bytes([rw | 1, size]) + ring([
        indirect32(WRITE, 1024, [0, 1]), indirect32(READ, 3, [0])]) + \
        seg_page(512) + seg_page(512)
    s["bad"] = bytes([0x02, 4]) + ring([
        req64(42, [seg(1)]), req64(READ, []), req64(WRITE, [seg(1)]),
        req64(READ, [seg(1, 7, 0)]), req64(READ, [seg(1)], 1 << 40),
        indirect64(READ, 5000, list(range(8)))])
    s["impossible_prod"] = bytes([rw, size]) + ring([req64(READ, [seg(1)])],
                                                    prod=1000)
    s["wrapped"] = bytes([rw, size]) + ring([req64(READ, [seg(1)])] * 2,
                                            prod=0xffffffff,
                                            rsp_prod=0xfffffffe)
    return s


# ---- fuzz_blk_fekeys ------------------------------------------------------
def fekeys_seeds():
    def kv(lim, pairs):
        return bytes([lim]) + "".join(
            f"{k}={v}\n" for k, v in pairs).encode()
    lim = 15 | (4 << 4)   # 16 queues, ring order 4
    s = {}
    s["minimal"] = kv(lim, [("ring-ref", 8), ("event-channel", 5)])
    s["full"] = kv(lim, [("multi-queue-num-queues", 1),
                         ("ring-page-order", 0),
                         ("protocol", "x86_32-abi"),
                         ("feature-persistent", 1),
                         ("ring-ref", 8), ("event-channel", 5)])
    mq = [("multi-queue-num-queues", 2), ("ring-page-order", 2),
          ("protocol", "x86_64-abi")]
    for q in range(2):
        mq += [(f"queue-{q}/ring-ref{i}", 10 + 4 * q + i) for i in range(4)]
        mq.append((f"queue-{q}/event-channel", 20 + q))
    s["multiqueue"] = kv(lim, mq)
    s["paths"] = bytes([lim]) + \
        b"/local/domain/0/backend/vbd/3/51712\nring-ref=1\nevent-channel=2\n"
    s["fepath"] = bytes([3]) + \
        b"/local/domain/3/device/vbd/51712\nring-ref=4294967295\n" \
        b"event-channel=4294967296\n"
    s["bad"] = kv(lim, [("multi-queue-num-queues", 0), ("ring-ref", "+1"),
                        ("protocol", "x86_64-abi\0x")])
    return s


# ---- fuzz_xs_wire -------------------------------------------------------
(XS_CONTROL, XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_WATCH, XS_UNWATCH,
 XS_TX_START, XS_TX_END, XS_INTRODUCE, XS_RELEASE, XS_GET_DOMAIN_PATH,
 XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS) = range(15)
XS_IS_DOMAIN_INTRODUCED, XS_RESET_WATCHES, XS_DIRECTORY_PART = 17, 21, 22


def msg(typ, *parts, tx=0, rid=1, raw=None):
    payload = raw if raw is not None else b"".join(
        p.encode() + b"\0" for p in parts)
    return struct.pack("<IIII", typ, rid, tx, len(payload)) + payload


def xs_seeds():
    s = {}
    s["dom0_basic"] = b"\0" + b"".join([
        msg(XS_WRITE, raw=b"/local/domain/1/data/x\0hello"),
        msg(XS_READ, "/local/domain/1/data/x"),
        msg(XS_DIRECTORY, "/local/domain/1"),
        msg(XS_MKDIR, "/local/domain/2/device/vbd/51712"),
        msg(XS_GET_PERMS, "/local/domain/2/device"),
        msg(XS_SET_PERMS, "/local/domain/2/device", "n2", "r0"),
        msg(XS_WATCH, "/local/domain/2", "tok"),
        msg(XS_RM, "/local/domain/2/device/vbd"),
        msg(XS_UNWATCH, "/local/domain/2", "tok"),
        msg(XS_GET_DOMAIN_PATH, "1"),
        msg(XS_IS_DOMAIN_INTRODUCED, "2"),
        msg(XS_DIRECTORY_PART, "/local/domain", "0"),
        msg(XS_WATCH, "@releaseDomain", "rel"),
        msg(XS_RESET_WATCHES)])
    s["dom0_tx"] = b"\0" + b"".join([
        msg(XS_TX_START, ""),
        msg(XS_WRITE, raw=b"/tool/a\0" + b"v" * 100, tx=1),
        msg(XS_READ, "/tool/a", tx=1),
        msg(XS_TX_END, "T", tx=1),
        msg(XS_TX_START, ""),
        msg(XS_RM, "/tool", tx=2),
        msg(XS_TX_END, "F", tx=2)])
    s["guest1"] = b"\x01" + b"".join([
        msg(XS_READ, "domid"),
        msg(XS_WRITE, raw=b"device/vbd/51712/state\x001"),
        msg(XS_READ, "/local/domain/2/name"),
        msg(XS_WRITE, raw=b"/local/domain/0/backend\0x"),
        msg(XS_WATCH, "device", "t"),
        msg(XS_SET_PERMS, "device/vbd/51712", "n1", "r0"),
        msg(XS_INTRODUCE, "3", "0", "0")])
    s["guest2_bad"] = b"\x02" + b"".join([
        msg(XS_READ, raw=b""),
        msg(XS_WRITE, raw=b"noslash"),
        msg(99, "x"),
        msg(XS_CONTROL, "log", "on"),
        struct.pack("<IIII", XS_READ, 1, 0, 5000)])
    return s


def write(name, seeds):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    for k, v in seeds.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)


def main():
    write("fuzz_blkif_req", blkif_seeds())
    write("fuzz_blk_fekeys", fekeys_seeds())
    write("fuzz_xs_wire", xs_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
