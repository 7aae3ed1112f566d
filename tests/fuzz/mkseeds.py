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


# ---- uback-net harnesses --------------------------------------------------
CSUM_BLANK, DATA_VALID, MORE_DATA, EXTRA_INFO = 1, 2, 4, 8
X_GSO, X_MCAST_ADD, X_MCAST_DEL, X_HASH = 1, 2, 3, 4


def txreq(gref, offset, flags, rid, size):
    return struct.pack("<IHHHH", gref, offset, flags, rid, size)


def txextra(typ, body, more=False):
    return struct.pack("<BB", typ, 1 if more else 0) + body.ljust(10, b"\0")


def gso(size=1448, typ=1):
    return struct.pack("<HBBH", size, typ, 0, 0)


def eth_ipv4_tcp(payload=64):
    eth = b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 20 + payload, 1, 0, 64,
                     6, 0, bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2]))
    tcp = struct.pack("!HHIIBBHHH", 1234, 5201, 1, 0, 0x50, 0x18, 512, 0, 0)
    return eth + ip + tcp + bytes(i & 0xff for i in range(payload))


def eth_ipv6_udp(payload=32):
    eth = b"\x02\0\0\0\0\x02" + b"\x33\x33\0\0\0\x01" + b"\x86\xdd"
    ip = struct.pack("!IHBB16s16s", 0x60000000, 8 + payload, 17, 64,
                     b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x01",
                     b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x02")
    udp = struct.pack("!HHHH", 53, 53, 8 + payload, 0)
    return eth + ip + udp + b"u" * payload


def vnet(flags=0, gso_type=0, hdr_len=0, gso_size=0, start=0, off=0):
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, start,
                       off)


def net_tx_seeds():
    # byte 0: limits (0: 18/18), byte 1: RX guest flags (sg gso4 gso6 csum
    # csum6 hash), a TX ring page (64-byte header, 12-byte slots), data.
    f4 = eth_ipv4_tcp(1000)
    s = {}
    s["simple"] = bytes([0, 0x1f]) + ring([
        txreq(1, 0, 0, 0, 60), txreq(2, 100, CSUM_BLANK, 1, 1054)]) + f4
    s["multislot_gso"] = bytes([3 | (2 << 3), 0x3f]) + ring([
        txreq(1, 0, CSUM_BLANK | MORE_DATA | EXTRA_INFO, 0, 6000),
        txextra(X_GSO, gso()),
        txreq(2, 0, MORE_DATA, 1, 4096), txreq(3, 0, 0, 2, 1000)]) + \
        vnet(1, 1, 54, 1448, 34, 16) + f4
    s["extras"] = bytes([0, 0x08]) + ring([
        txreq(1, 0, EXTRA_INFO, 0, 100),
        txextra(X_MCAST_ADD, b"\x01\0\x5e\0\0\x01", True),
        txextra(X_HASH, b"\x01\x12\x34\x56\x78"),
        txreq(2, 0, EXTRA_INFO, 1, 0),
        txextra(X_MCAST_DEL, b"\x01\0\x5e\0\0\x01"),
        txreq(3, 0, EXTRA_INFO, 2, 80), txextra(9, b"")]) + \
        vnet(0) + eth_ipv6_udp()
    s["too_many_slots"] = bytes([0, 0]) + ring(
        [txreq(1, 0, MORE_DATA, 0, 30 * 10)] +
        [txreq(i, 0, MORE_DATA, i, 10) for i in range(1, 29)] +
        [txreq(29, 0, 0, 29, 10)])
    s["unterminated"] = bytes([0, 0]) + ring(
        [txreq(1, 0, MORE_DATA, 0, 100), txreq(2, 0, MORE_DATA, 1, 50)])
    s["bad_sizes"] = bytes([0, 0]) + ring([
        txreq(1, 4000, 0, 0, 200), txreq(1, 0, 0, 1, 5),
        txreq(1, 0, MORE_DATA, 2, 10), txreq(2, 0, 0, 3, 4000),
        txreq(1, 0, EXTRA_INFO, 4, 60), txextra(X_GSO, gso(0, 7))])
    s["impossible_prod"] = bytes([0, 0]) + ring([txreq(1, 0, 0, 0, 60)],
                                                prod=5000)
    return s


def net_ctrl_seeds():
    def creq(rid, typ, d0=0, d1=0, d2=0):
        return struct.pack("<HHIII", rid, typ, d0, d1, d2)
    key = bytes(range(1, 41))
    mapping = b"".join(struct.pack("<I", i % 4) for i in range(128))
    s = {}
    s["configure"] = bytes([3]) + ring([
        creq(1, 7, 1), creq(2, 1), creq(3, 2, 0xf), creq(4, 3, 2, 40),
        creq(5, 4), creq(6, 5, 128), creq(7, 6, 2, 128, 0)]) + \
        (key + mapping).ljust(PAGE, b"\0") + eth_ipv4_tcp(20)
    s["bad"] = bytes([0]) + ring([
        creq(1, 7, 5), creq(2, 2, 0xff), creq(3, 3, 3, 41),
        creq(4, 3, 4, 40), creq(5, 5, 4096), creq(6, 6, 2, 64, 100),
        creq(7, 6, 2, 129, 0), creq(8, 8), creq(9, 9), creq(10, 0),
        creq(11, 99)]) + mapping.ljust(PAGE, b"\xff")
    s["ipv6"] = bytes([1]) + ring([
        creq(1, 7, 1), creq(2, 2, 0xc), creq(3, 3, 2, 40)]) + \
        key.ljust(PAGE, b"\0") + eth_ipv6_udp()
    s["impossible_prod"] = bytes([0]) + ring([creq(1, 7, 1)] * 4, prod=600)
    return s


def net_fekeys_seeds():
    def kv(lim, pairs, first=""):
        return bytes([lim]) + first.encode() + "".join(
            f"{k}={v}\n" for k, v in pairs).encode()
    base = [("request-rx-copy", 1), ("feature-sg", 1),
            ("feature-gso-tcpv4", 1), ("feature-gso-tcpv6", 1),
            ("feature-ipv6-csum-offload", 1), ("feature-rx-notify", 1),
            ("request-multicast-control", 1)]
    s = {}
    s["minimal"] = kv(3, [("request-rx-copy", 1), ("tx-ring-ref", 8),
                          ("rx-ring-ref", 9), ("event-channel", 5)])
    s["split"] = kv(3, base + [("tx-ring-ref", 8), ("rx-ring-ref", 9),
                               ("event-channel-tx", 5),
                               ("event-channel-rx", 6),
                               ("ctrl-ring-ref", 10),
                               ("event-channel-ctrl", 7)])
    mq = base + [("multi-queue-num-queues", 3)]
    for q in range(3):
        mq += [(f"queue-{q}/tx-ring-ref", 10 + 2 * q),
               (f"queue-{q}/rx-ring-ref", 11 + 2 * q),
               (f"queue-{q}/event-channel", 20 + q)]
    s["multiqueue"] = kv(15, mq)
    s["paths"] = kv(3, [("request-rx-copy", 1)],
                    "/local/domain/0/backend/vif/3/0\n")
    s["rate"] = kv(3, [("request-rx-copy", 1)], "125000,20000\n")
    s["bad"] = kv(3, [("request-rx-copy", 1), ("feature-sg", 2),
                      ("tx-ring-ref", "+1"), ("event-channel-tx", 4),
                      ("event-channel-rx", 4),
                      ("multi-queue-num-queues", 0)])
    s["no_rx_copy"] = kv(0, [("tx-ring-ref", 1)],
                         "/local/domain/3/device/vif/0\n")
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
    write("fuzz_net_tx", net_tx_seeds())
    write("fuzz_net_ctrl", net_ctrl_seeds())
    write("fuzz_net_fekeys", net_fekeys_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
