#!/usr/bin/python3
"""hostile.py: an authorized neighbour that attacks, written apart from the C
code (pyzmq with CURVE, bindings that Google's protoc generates from proto/,
Ed25519 and X25519 keys read from the node directory's PKCS#8 PEM files).
tests/e2e/test_hostile_py.sh sets up a CA, the target, an honest peer, an
honest origin and this peer's node directory (certificate signed by the CA,
listed by the target as a peer), and runs one scenario at a time:

  hostile.py --build DIR --pb DIR --ca DIR --target DIR --honest DIR
             --hostile DIR --origin DIR --scenario NAME|all
             [--expect-fixed NAME,NAME...]

Each scenario is an attack of issue 11. After it, every scenario checks the
"base" guarantees that must hold whether or not the attack is defended:
the target is alive and `hutong status` answers, the target and the honest
peer converge again (a record submitted at each reaches the other, equal
digests), and `hutong verify` is clean on both. The "fixed" checks are what
the target must do once issue 11 is fixed: a log line and a counter (see
EXPECT below, one entry per check). For a scenario named in --expect-fixed
they count; otherwise they are printed as "todo - ..." with what today's code
did, and do not count.

Output: "ok - ...", "not ok - ...", "todo - ..." lines, "  ..." notes, then
"N passed, N failed". Exit status 0 when nothing failed.

The harness plays both roles of a link (proto/sync.proto): as a sender its
DEALER is the CurveZMQ client of the target's ROUTER (the target's ZAP
handler admits our link key because our certificate is in its peers/), and
as a receiver its ROUTER binds our own listen endpoint, where the target's
DEALER connects because its [peer hostile] section points there.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import time

import zmq
import zmq.utils.monitor
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

hutong_pb2 = sync_pb2 = None  # imported from --pb in main()

LINK_OID = "2.25.167838213686746949268345895283859279670.1"  # pki.h PKI_LINK_OID
WAIT = 20  # seconds allowed for anything that must happen
MAX_CLOCK_SKEW_S = 300  # the default max_clock_skew that issue 11 asks for
KIND = {"intel": 1, "org": 3, "genesis": 5, "rotation": 6, "revocation": 7,
        "receipt": 8}
SCOPE_NATIONAL = 1

# What each scenario expects of the target once issue 11 is fixed: a log
# line (a regular expression over the target's hutongd.log, {origin},
# {seq} and {hostile} filled in) and a counter from `hutong status --json`
# ("refusals.KEY", "links.KEY" or "peer.KEY" for the target's peers[]
# entry of the hostile peer) that must rise. The names of new counters and
# the wording of new reasons are this test's proposal: when a fix lands
# under other names, change them here, and only here.
EXPECT = {
    # Trust-carrying records relayed without their body are refused, with
    # their reason, one line per record (rotation, revocation, receipt).
    "body-strip.log": r'refused peer={hostile} origin={origin} seq={seq} '
                      r'id=[0-9a-f]+ reason="body: .*without (its|a) body',
    "body-strip.counter": "refusals.no_body",
    # Wants answered within the credit window and at most once per range
    # per interval; what goes beyond is counted and logged.
    "amplification.log": r'(want|ping)s? (limited|refused|ignored) peer={hostile}',
    "amplification.counter": "peer.wants_limited",
    # Connections over the per-peer or total limit are refused, logged and
    # counted; the daemon never aborts on EMFILE.
    "connections.log": r'connection refused peer=.*(limit|too many)',
    "connections.counter": "links.connections_refused",
    # A record created more than max_clock_skew ahead of the receiver's
    # clock, or before its predecessor in the chain, is refused.
    "clock.ahead.log": r'refused peer={hostile} origin={origin} seq={seq} '
                       r'.*reason="[^"]*(clock|ahead|future)',
    "clock.back.log": r'refused peer={hostile} origin={origin} seq={seq} '
                      r'.*reason="[^"]*(before|backwards|earlier)',
    "clock.counter": "refusals.clock_skew+refusals.backdated",
    # A lying receipt is kept as evidence against its signer: logged, and
    # listed by `hutong audit disputes` (or `audit forks`).
    "receipts.log": r'(dispute|receipt).*origin={origin}.*seq={seq}',
    "receipts.counter": "refusals.disputes",
    # A peer's record with a bad resident identity number is refused and
    # logged by field and reason class, never with the number's digits.
    # (A record that does not validate is refused before its header is
    # read, so the line names the peer and the size, not origin and seq.)
    "pii.log": r'refused peer={hostile} .*reason="[^"]*id_number[^"]*"',
    "pii.counter": "refusals.decode",
    # A frontier entry with a held seq and another head is fork evidence.
    "frontier-fork.log": r'fork peer={hostile} origin={origin} seq={seq}',
    "frontier-fork.counter": "peer.frontier_forks",
}


def now_ms():
    return int(time.time() * 1000)


def note(msg):
    print("  " + msg, flush=True)


# ---- node directories, keys, certificates ----

def read_conf(path):
    """key = value lines of a hutongd.conf (before any [peer] section)."""
    conf = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                break
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            v = re.split(r"(^|\s)#", v.strip(), maxsplit=1)[0].strip()
            conf[k.strip()] = v
    return conf


def pem_ders(path):
    """Every certificate of a PEM file, as DER, in file order."""
    with open(path, encoding="ascii") as f:
        text = f.read()
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                        text, re.S)
    return [base64.b64decode("".join(b.split())) for b in blocks]


def oid_der(dotted):
    """The DER encoding (tag, length, arcs) of an object identifier."""
    arcs = [int(x) for x in dotted.split(".")]
    body = b""
    for v in [40 * arcs[0] + arcs[1]] + arcs[2:]:
        enc = [v & 0x7F]
        while v > 0x7F:
            v >>= 7
            enc.append(0x80 | (v & 0x7F))
        body += bytes(reversed(enc))
    return bytes([0x06, len(body)]) + body


def link_key_of_cert(path):
    """The 32-byte X25519 link key in a node certificate's extension: an
    OCTET STRING of 32 bytes inside the extension's OCTET STRING. Found in
    the DER by hand: cryptography's parser refuses an arc this large."""
    der = pem_ders(path)[0]
    oid = oid_der(LINK_OID)
    at = der.find(oid)
    m = re.compile(rb"(?:\x01\x01[\x00\xff])?\x04\x22\x04\x20(.{32})", re.S)
    hit = m.match(der, at + len(oid)) if at >= 0 else None
    if hit is None:
        raise ValueError(f"{path}: no link key extension {LINK_OID}")
    return hit.group(1)


class Node:
    """A node directory: its names, endpoints, keys and certificate."""

    def __init__(self, d):
        self.dir = d
        conf = read_conf(os.path.join(d, "hutongd.conf"))
        self.name, self.region, self.listen = conf["name"], conf["region"], conf.get("listen", "")
        self.certs = pem_ders(os.path.join(d, "node.crt"))
        self.server_pk = link_key_of_cert(os.path.join(d, "node.crt"))
        self._key = None

    def key(self):
        """The Ed25519 identity key (node.key, PKCS#8 PEM); re-read on each
        call, since `hutong rotate --key` replaces it."""
        with open(os.path.join(self.dir, "node.key"), "rb") as f:
            k = serialization.load_pem_private_key(f.read(), None)
        assert isinstance(k, ed25519.Ed25519PrivateKey)
        return k

    def link_keys(self):
        """(public, secret) of the X25519 link key (link.key, PKCS#8 PEM)."""
        with open(os.path.join(self.dir, "link.key"), "rb") as f:
            k = serialization.load_pem_private_key(f.read(), None)
        assert isinstance(k, x25519.X25519PrivateKey)
        pub = k.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)
        sec = k.private_bytes(serialization.Encoding.Raw,
                              serialization.PrivateFormat.Raw,
                              serialization.NoEncryption())
        return pub, sec

    def pid(self):
        try:
            with open(os.path.join(self.dir, ".e2e.pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    def log_path(self):
        return os.path.join(self.dir, "hutongd.log")


# ---- records ----

def build_record(key, region, name, seq, prev, created_ms, kind, body,
                 author="hostile"):
    """Envelope bytes (and the record id) of a record signed with key:
    canonical header (Google's encoder writes fields in number order and
    omits defaults, as record.c requires), body hash, Ed25519 signature
    over the header bytes; the id is SHA-256 of the header bytes."""
    body_bytes = body.SerializeToString()
    h = hutong_pb2.Header(origin_region=region, origin_node=name, seq=seq,
                          prev_id=prev or b"", created_ms=created_ms,
                          author=author, kind=kind, scope=SCOPE_NATIONAL,
                          body_hash=hashlib.sha256(body_bytes).digest())
    hb = h.SerializeToString()
    env = hutong_pb2.Envelope(header=hb, signature=key.sign(hb), body=body_bytes)
    return env.SerializeToString(), hashlib.sha256(hb).digest()


def intel_body(summary):
    return hutong_pb2.Body(intelligence=hutong_pb2.Intelligence(summary=summary))


def receipt_body(entries):
    """entries: [(origin, seq, head)], sorted by origin here."""
    return hutong_pb2.Body(receipt=hutong_pb2.Receipt(entries=[
        hutong_pb2.ReceiptEntry(origin=o, seq=s, head=h) for o, s, h in sorted(entries)]))


def strip_body(env_bytes):
    """The envelope with its body field emptied: header and signature
    unchanged, so it still verifies and keeps its record id."""
    e = hutong_pb2.Envelope()
    e.ParseFromString(env_bytes)
    return hutong_pb2.Envelope(header=e.header, signature=e.signature).SerializeToString()


def header_of(env_bytes):
    e = hutong_pb2.Envelope()
    e.ParseFromString(env_bytes)
    h = hutong_pb2.Header()
    h.ParseFromString(e.header)
    return h


class Chain:
    """This peer's own chain as an origin: continues where the target's
    frontier says it is."""

    def __init__(self, node):
        self.node = node
        self.seq, self.head, self.created = 0, b"", 0

    def sync_from(self, frontier, created_hint=0):
        seq, head = frontier.get(self.node.region, (0, b""))
        self.seq, self.head = seq, head
        self.created = max(self.created, created_hint)

    def next(self, body, kind, created_ms=None, author="hostile"):
        created = created_ms if created_ms is not None else max(now_ms(), self.created + 1)
        env, rid = build_record(self.node.key(), self.node.region, self.node.name,
                                self.seq + 1, self.head if self.seq else b"",
                                created, kind, body, author)
        self.seq, self.head, self.created = self.seq + 1, rid, created
        return env

    def genesis(self):
        body = hutong_pb2.Body(genesis=hutong_pb2.Genesis(
            public_key=self.node.key().public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw),
            certificates=self.node.certs))
        return self.next(body, KIND["genesis"], author="node")


# ---- the two roles on the wire ----

def sync_msg(**kw):
    return sync_pb2.SyncMessage(**kw).SerializeToString()


def frontier_dict(entries):
    return {e.origin: (e.seq, e.head) for e in entries}


class Sender:
    """Our DEALER to the target's ROUTER (we are the CurveZMQ client)."""

    def __init__(self, ctx, me, target, monitor=True):
        pub, sec = me.link_keys()
        self.me, self.s = me, ctx.socket(zmq.DEALER)
        self.s.linger = 0
        self.s.setsockopt(zmq.MAXMSGSIZE, -1)
        self.s.curve_serverkey = target.server_pk
        self.s.curve_publickey = pub
        self.s.curve_secretkey = sec
        self.mon = self.s.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED) if monitor else None
        self.up = self.down = False
        self.frontier, self.welcomes, self.acks, self.acked = {}, 0, 0, 0
        self.bytes_in = self.bytes_out = 0
        self.s.connect("tcp://" + target.listen.split("://", 1)[1])

    def close(self):
        if self.mon is not None:
            self.s.disable_monitor()
            self.mon.close()
        self.s.close()

    def send(self, buf):
        self.bytes_out += len(buf)
        self.s.send(buf)

    def pump(self, secs, until=None):
        """Take what arrives for secs seconds, or until until() holds."""
        end = time.monotonic() + secs
        poller = zmq.Poller()
        poller.register(self.s, zmq.POLLIN)
        if self.mon is not None:
            poller.register(self.mon, zmq.POLLIN)
        while True:
            if until is not None and until():
                return True
            left = end - time.monotonic()
            if left <= 0:
                return until is not None and until()
            for sock, _ in poller.poll(min(left, 0.05) * 1000):
                if sock is self.mon:
                    ev = zmq.utils.monitor.recv_monitor_message(self.mon)["event"]
                    self.up |= ev == zmq.EVENT_HANDSHAKE_SUCCEEDED
                    self.down |= ev == zmq.EVENT_DISCONNECTED
                else:
                    self._take(self.s.recv())

    def _take(self, buf):
        self.bytes_in += len(buf)
        m = sync_pb2.SyncMessage()
        m.ParseFromString(buf)
        which = m.WhichOneof("msg")
        if which == "welcome":
            self.welcomes += 1
            self.frontier = frontier_dict(m.welcome.frontier)
        elif which == "ack":
            self.acks += 1
            self.acked += m.ack.count
            self.frontier.update(frontier_dict(m.ack.frontier))

    def hello(self, frontier=()):
        """Handshake, Hello (our chain, the given frontier), Welcome."""
        if not self.pump(5, lambda: self.up):
            raise RuntimeError("no CURVE handshake with the target")
        self.welcomes = 0
        fr = [sync_pb2.FrontierEntry(origin=o, seq=s, head=h) for o, s, h in frontier]
        self.send(sync_msg(hello=sync_pb2.Hello(version=1, certificates=self.me.certs,
                                                frontier=fr)))
        if not self.pump(5, lambda: self.welcomes > 0):
            raise RuntimeError("no Welcome from the target")
        return self.frontier

    def ping(self, wait=True):
        self.welcomes = 0
        self.send(sync_msg(ping=sync_pb2.Ping()))
        if wait:
            self.pump(3, lambda: self.welcomes > 0)
        return self.frontier

    def records(self, envs, wait=True):
        """Send envelopes (frames of at most 256); wait for their acks."""
        acks = self.acks
        frames = 0
        for i in range(0, len(envs), 256):
            self.send(sync_msg(records=sync_pb2.Records(envelopes=envs[i:i + 256])))
            frames += 1
        if wait:
            self.pump(WAIT, lambda: self.acks - acks >= frames)
        return self.acks - acks >= frames

    def await_seq(self, region, seq, secs=WAIT):
        """Ping until the target's frontier has region at seq or beyond."""
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if self.ping().get(region, (0, b""))[0] >= seq:
                return True
            self.pump(0.2)
        return False


class Receiver:
    """Our ROUTER on our own listen endpoint: the target's DEALER connects
    to it and pushes its records to us (we are the CurveZMQ server)."""

    def __init__(self, ctx, me):
        pub, sec = me.link_keys()
        self.me, self.s = me, ctx.socket(zmq.ROUTER)
        self.s.linger = 0
        self.s.setsockopt(zmq.MAXMSGSIZE, -1)
        self.s.curve_server = True
        self.s.curve_secretkey = sec
        self.s.bind(me.listen)
        self.rid, self.hellos, self.received, self.unacked = None, 0, 0, 0
        self.bytes_in = self.bytes_out = 0
        self.target_frontier = {}

    def close(self):
        self.s.close()

    def send(self, buf):
        if self.rid is None:
            return
        self.bytes_out += len(buf)
        self.s.send_multipart([self.rid, buf])

    def pump(self, secs, until=None, on_hello=None):
        end = time.monotonic() + secs
        while True:
            if until is not None and until():
                return True
            left = end - time.monotonic()
            if left <= 0:
                return until is not None and until()
            if self.s.poll(min(left, 0.05) * 1000):
                rid, buf = self.s.recv_multipart()
                self.rid = rid
                self._take(buf, on_hello)

    def _take(self, buf, on_hello):
        self.bytes_in += len(buf)
        m = sync_pb2.SyncMessage()
        m.ParseFromString(buf)
        which = m.WhichOneof("msg")
        if which == "hello":
            self.hellos += 1
            self.target_frontier = frontier_dict(m.hello.frontier)
            if on_hello is not None:
                on_hello(self, m.hello)
        elif which == "records":
            self.received += len(m.records.envelopes)
            self.unacked += len(m.records.envelopes)

    def welcome(self, frontier, window=2048):
        fr = [sync_pb2.FrontierEntry(origin=o, seq=s, head=h)
              for o, (s, h) in sorted(frontier.items())]
        self.send(sync_msg(welcome=sync_pb2.Welcome(
            version=1, certificates=self.me.certs, frontier=fr, window=window)))

    def ack(self):
        n = min(self.unacked, 2048)
        if n:
            self.send(sync_msg(ack=sync_pb2.Ack(count=n)))
            self.unacked -= n

    def want(self, origin, from_seq):
        self.send(sync_msg(want=sync_pb2.Want(origin=origin, from_seq=from_seq)))


# ---- the test around the attacks ----

class Harness:
    def __init__(self, a):
        self.a = a
        self.hutong = os.path.join(a.build, "hutong")
        self.target, self.honest = Node(a.target), Node(a.honest)
        self.me, self.origin = Node(a.hostile), Node(a.origin)
        self.ctx = zmq.Context()
        self.ctx.set(zmq.MAX_SOCKETS, 8192)
        self.passed = self.failed = 0
        self.fixed = set()
        self.scenario = ""
        self.log_from = {}

    # -- reporting --

    def check(self, name, cond, fixed=False):
        label = f"{self.scenario}: {name}"
        if fixed and self.scenario not in self.fixed:
            print(f"todo - {label} (after the fix; today: {'holds' if cond else 'does not hold'})",
                  flush=True)
            return cond
        if cond:
            self.passed += 1
            print(f"ok - {label}", flush=True)
        else:
            self.failed += 1
            print(f"not ok - {label}", flush=True)
        return cond

    # -- the target and its peers, from outside --

    def cli(self, node, *args, check=False, binary=False, timeout=20):
        r = subprocess.run([self.hutong, "-d", node.dir, *args], capture_output=True,
                           timeout=timeout, check=False)
        if check and r.returncode != 0:
            raise RuntimeError(f"hutong {' '.join(args)}: {r.stderr.decode(errors='replace')}")
        return r if binary else subprocess.CompletedProcess(
            r.args, r.returncode, r.stdout.decode(errors="replace"),
            r.stderr.decode(errors="replace"))

    def status(self, node):
        try:
            r = self.cli(node, "status", "--json", timeout=10)
        except subprocess.TimeoutExpired:
            return None
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def counter(self, node, path):
        """refusals.KEY, links.KEY, or peer.KEY (the hostile peer's
        peers[] entry); 0 when absent."""
        if "+" in path:  # a sum: "refusals.clock_skew+refusals.backdated"
            return sum(self.counter(node, p) for p in path.split("+"))
        st = self.status(node) or {}
        part, key = path.split(".", 1)
        if part == "peer":
            for p in st.get("peers", []):
                if p.get("name") == self.me.name:
                    return int(p.get(key, 0) or 0)
            return 0
        return int((st.get(part) or {}).get(key, 0) or 0)

    def alive(self, node):
        pid = node.pid()
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        st = self.status(node)
        return bool(st and st.get("running"))

    def origin_seq(self, node, region):
        st = self.status(node) or {}
        return int(((st.get("origins") or {}).get(region) or {}).get("seq", 0))

    def submit(self, node, summary):
        r = self.cli(node, "submit", "intel", "--author", "e2e", "--summary", summary)
        return r.stdout.strip() if r.returncode == 0 else ""

    def holds(self, node, rid):
        return self.cli(node, "show", rid).returncode == 0

    def show_json(self, node, rid):
        r = self.cli(node, "show", rid, "--json")
        if r.returncode != 0:
            return None
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def list_ids(self, node, *filters):
        """Ids of `hutong list FILTERS --json` (one JSON object a line)."""
        out = self.cli(node, "list", *filters, "--json").stdout
        return [json.loads(line)["id"] for line in out.splitlines() if line.strip()]

    def hup(self, node):
        os.kill(node.pid(), 1)

    def log_mark(self):
        for n in (self.target, self.honest):
            try:
                self.log_from[n.dir] = os.path.getsize(n.log_path())
            except OSError:
                self.log_from[n.dir] = 0

    def log_since(self, node):
        with open(node.log_path(), "rb") as f:
            f.seek(self.log_from.get(node.dir, 0))
            return f.read().decode(errors="replace")

    def logged(self, node, key, secs=2, **kw):
        fill = {"hostile": re.escape(self.me.name)}
        fill.update({k: re.escape(str(v)) for k, v in kw.items()})
        pat = re.compile(EXPECT[key].format(**fill))
        return until(secs, lambda: pat.search(self.log_since(node)) is not None)

    # -- what every scenario leaves --

    def converged(self, tag):
        """A record submitted at each honest node reaches the other, and
        their digests are equal."""
        a, b = self.submit(self.honest, f"from honest {tag}"), self.submit(self.target, f"from target {tag}")
        if not a or not b:
            return False
        if not until(WAIT, lambda: self.holds(self.target, a) and self.holds(self.honest, b)):
            return False

        def same():
            x, y = self.status(self.target), self.status(self.honest)
            return bool(x and y and x.get("digest") == y.get("digest"))
        return until(WAIT, same)

    def verify_clean(self, node):
        r = self.cli(node, "verify", timeout=60)
        if r.returncode != 0:
            note(f"verify on {node.name}: {r.stderr.strip()[:400]}")
        return r.returncode == 0

    def base(self):
        up = self.check("target alive, status answers", self.alive(self.target))
        if up:
            self.check("target and honest peer converge (both ways, equal digests)",
                       self.converged(self.scenario))
            self.check("verify clean on the target", self.verify_clean(self.target))
        self.check("verify clean on the honest peer", self.verify_clean(self.honest))

    def sender(self, frontier=()):
        s = Sender(self.ctx, self.me, self.target)
        s.hello(frontier)
        return s


def until(secs, fn, step=0.2):
    end = time.monotonic() + secs
    while True:
        if fn():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


# ---- scenarios ----

def sc_body_strip(h):
    """1. Body stripping. The honest origin (not linked to anyone yet)
    writes an alert, a key rotation, a revocation and a receipt, then a lead
    signed with its new key. We relay its chain to the target one record at
    a time, every body but the genesis's removed (a stripped record the
    target refuses is sent again whole), then link the origin to the honest
    peer, so the full copy reaches the target through it.
    Today: the stripped rotation is stored, its key never installed, and
    every later record of the origin is refused ("signature: does not
    verify with origin 420100's key"), at the target and, after it relayed
    the stripped rotation, at the honest peer too, even from the origin
    directly; verify says OK. The scenario's own checks fail (the honest
    peer and the target never hold the whole chain).
    After the fix (EXPECT body-strip.*): the rotation, revocation and
    receipt are refused without their body (a log line each, counter
    refusals.bodiless +3), the stripped alert is taken and filled in when
    the full copy arrives (`show ID --json` has its body), every node holds
    the whole chain."""
    o, hut = h.origin, h.cli
    ca = h.a.ca
    org = hut(o, "submit", "org", "--author", "o1", "--org-id", "ORG-STRIP", "--name",
              "Stripped Trading", "--seen-region", o.region, "--level", "critical",
              check=True).stdout.strip()
    # a key rotation: a new key, its certificate from the CA, `rotate`
    tmp = os.path.join(h.a.work, "rot")
    os.makedirs(tmp, exist_ok=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out",
                    f"{tmp}/new.key"], check=True, capture_output=True)
    os.chmod(f"{tmp}/new.key", 0o600)
    hut(o, "csr", "--key", f"{tmp}/new.key", "--out", f"{tmp}/new.csr", check=True)
    subprocess.run([h.hutong, "ca", "sign", "--dir", ca, f"{tmp}/new.csr", "--out",
                    f"{tmp}/new.crt"], check=True, capture_output=True)
    rot = hut(o, "rotate", "--key", f"{tmp}/new.key", "--cert", f"{tmp}/new.crt",
              check=True).stdout.strip()
    # a revocation: the CA revokes a spare node's certificate, relayed
    spare = os.path.join(h.a.work, "spare")
    subprocess.run([h.hutong, "init", "--dir", spare, "--name", "spare", "--region",
                    "510100"], check=True, capture_output=True)
    subprocess.run([h.hutong, "ca", "sign", "--dir", ca, f"{spare}/node.csr", "--out",
                    f"{spare}/node.crt"], check=True, capture_output=True)
    subprocess.run([h.hutong, "ca", "revoke", "--dir", ca, "--cert", f"{spare}/node.crt",
                    "--reason", "keyCompromise"], check=True, capture_output=True)
    rev = hut(o, "submit", "revocation", os.path.join(ca, "crl.pem"), check=True).stdout.strip()
    # a receipt (the origin's receipt_interval is 1s in this test)
    def receipt_id():
        m = h.list_ids(o, "--kind", "receipt")
        return m[-1] if m else ""
    until(10, lambda: receipt_id() != "")
    rcp = receipt_id()
    after = hut(o, "submit", "intel", "--author", "o1", "--summary",
                "signed with the rotated key", check=True).stdout.strip()
    # the origin stops writing receipts for the rest (its chain is fixed)
    ids = h.list_ids(o, "--origin", o.region)
    envs = {}
    for rid in ids:
        raw = hut(o, "show", rid, "--raw", binary=True).stdout
        envs[header_of(raw).seq] = (rid, raw)
    chain = [envs[s] for s in sorted(envs)]
    seq_of = {rid: header_of(raw).seq for rid, raw in chain}
    note(f"origin {o.region}: {len(chain)} records; org seq {seq_of.get(org)}, rotation "
         f"seq {seq_of.get(rot)}, revocation seq {seq_of.get(rev)}, receipt seq "
         f"{seq_of.get(rcp)}, lead after rotation seq {seq_of.get(after)}")
    if not all(x in seq_of for x in (org, rot, rev, rcp, after)):
        h.check("the origin's records are all in its chain", False)
        return
    before = h.counter(h.target, EXPECT["body-strip.counter"])
    s = h.sender()
    # One record at a time, genesis whole, the others stripped; when the
    # target refuses a stripped one we send it whole (as the honest copy
    # would come), so that each kind meets the target's check on its own.
    taken = {}
    for rid, raw in chain:
        sq = header_of(raw).seq
        s.records([raw if sq == 1 else strip_body(raw)])
        taken[rid] = s.await_seq(o.region, sq, 1)
        if not taken[rid]:
            s.records([raw])
            s.await_seq(o.region, sq, 2)
    s.close()
    for kind, rid in (("rotation", rot), ("revocation", rev), ("receipt", rcp)):
        h.check(f"stripped {kind} not taken", not taken[rid], fixed=True)
        h.check(f"stripped {kind} refused without its body, logged",
                h.logged(h.target, "body-strip.log", origin=o.region, seq=seq_of[rid]),
                fixed=True)
    h.check(f"stripped records counted ({EXPECT['body-strip.counter']} +3)",
            h.counter(h.target, EXPECT["body-strip.counter"]) >= before + 3, fixed=True)
    h.check("the stripped alert is taken (its body may come later)", taken[org])
    # now the honest copy: link the origin to the honest peer
    for a, b in ((o, h.honest), (h.honest, o)):
        hut(a, "peer", "add", "--dir", a.dir, "--cert", os.path.join(b.dir, "node.crt"),
            "--endpoint", b.listen, check=True)
        h.hup(a)
    top = max(seq_of.values())
    h.check("the honest peer takes the origin's whole chain",
            until(10, lambda: h.origin_seq(h.honest, o.region) >= top))
    h.check("the target holds the whole chain",
            until(10, lambda: h.origin_seq(h.target, o.region) >= top))

    def has_body(rid):
        j = h.show_json(h.target, rid)
        return bool(j and j.get("body"))
    for kind, rid in (("alert", org), ("rotation", rot), ("revocation", rev), ("receipt", rcp)):
        h.check(f"the target holds the {kind} with its body",
                # the missing body is fetched from a neighbour on a 5 s timer
                until(15, lambda rid=rid: has_body(rid)), fixed=(kind == "alert"))
    h.check("the lead signed with the rotated key is stored at the target",
            until(3, lambda: h.holds(h.target, after)))


def sc_amplification(h):
    """2. Amplification. We preload the target with 600 records of our own
    chain, then play its receiver: Welcome naming everything it holds (so a
    legitimate session sends nothing), then (A) Want(our origin, 1) with
    Acks every 250 ms for 4 s, (B) one Want with no Acks, (C) 200 Pings on
    our sender link. We count the bytes each way.
    Today: each Want resends the whole chain (ratios in the thousands), and
    every Ping gets the full frontier. After the fix (EXPECT
    amplification.*): the target sends at most AMP_MAX_RATIO bytes per byte
    we send in A and B, answers at most AMP_MAX_WELCOMES of the 200 Pings,
    logs the limited requests and counts them (peer.limited)."""
    AMP_MAX_RATIO, AMP_MAX_WELCOMES = 100, 20
    s = h.sender()
    chain = Chain(h.me)
    chain.sync_from(s.frontier)
    envs = [] if chain.seq else [chain.genesis()]
    pad = "x" * 900
    envs += [chain.next(intel_body(f"amplification {i} {pad}"), KIND["intel"]) for i in range(600)]
    h.check("the target takes our 600 records", s.records(envs) and s.await_seq(h.me.region, chain.seq))
    chain_bytes = sum(len(e) for e in envs)
    before = h.counter(h.target, EXPECT["amplification.counter"])
    h.log_mark()
    r = Receiver(h.ctx, h.me)
    try:
        def on_hello(rx, _hello):
            rx.welcome(s.ping())
        ok = r.pump(15, lambda: r.hellos > 0, on_hello)
        h.check("the target dials us and says Hello; we answer Welcome", ok)
        if not ok:
            return
        r.pump(2)
        # (A) Want from 1 with Acks, every 250 ms, for 4 s
        r.ack()
        in0, out0 = r.bytes_in, r.bytes_out
        end = time.monotonic() + 4
        while time.monotonic() < end:
            r.want(h.me.region, 1)
            r.pump(0.25)
            r.ack()
        r.pump(1)
        a_in, a_out = r.bytes_in - in0, r.bytes_out - out0
        note(f"A: wants with acks: we sent {a_out} bytes, the target sent {a_in} "
             f"({a_in / max(a_out, 1):.0f}x; our chain is {chain_bytes} bytes)")
        # (B) one Want, no Acks
        r.pump(1)
        r.unacked = 0
        in0, out0 = r.bytes_in, r.bytes_out
        r.want(h.me.region, 1)
        r.pump(3)
        b_in, b_out = r.bytes_in - in0, r.bytes_out - out0
        note(f"B: one want, no acks: we sent {b_out} bytes, the target sent {b_in} "
             f"({b_in / max(b_out, 1):.0f}x)")
        # (C) Ping flood on the sender link
        in0, out0 = s.bytes_in, s.bytes_out
        s.welcomes = 0
        for _ in range(200):
            s.send(sync_msg(ping=sync_pb2.Ping()))
        s.pump(2)
        c_in, c_out, welcomes = s.bytes_in - in0, s.bytes_out - out0, s.welcomes
        note(f"C: 200 pings: we sent {c_out} bytes, the target sent {c_in} in {welcomes} "
             f"Welcomes ({c_in / max(c_out, 1):.0f}x)")
        h.check(f"A: repeated Wants: at most {AMP_MAX_RATIO} bytes back per byte",
                a_in <= AMP_MAX_RATIO * a_out, fixed=True)
        h.check(f"B: one Want without Acks: at most {AMP_MAX_RATIO} bytes back per byte",
                b_in <= AMP_MAX_RATIO * b_out, fixed=True)
        h.check(f"C: Ping flood: at most {AMP_MAX_WELCOMES} Welcomes for 200 Pings",
                welcomes <= AMP_MAX_WELCOMES, fixed=True)
        h.check("limited requests logged", h.logged(h.target, "amplification.log"), fixed=True)
        h.check(f"limited requests counted ({EXPECT['amplification.counter']})",
                h.counter(h.target, EXPECT["amplification.counter"]) > before, fixed=True)
    finally:
        r.close()
        s.close()


def sc_connections(h):
    """3. Connections. 1,100 authorized CurveZMQ connections at once (the
    target runs with a soft RLIMIT_NOFILE of 1024: test_hostile_py.sh), then
    `hutong status`. Today: hutongd aborts ("Too many open files"): base
    checks fail. After the fix (EXPECT connections.*): connections beyond
    the per-peer and total limits are refused, logged and counted
    (links.refused_connections); the target never aborts."""
    N = 1100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4 * N + 256) if hard != resource.RLIM_INFINITY else 4 * N + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    before = h.counter(h.target, EXPECT["connections.counter"])
    socks = []
    try:
        for _ in range(N):
            socks.append(Sender(h.ctx, h.me, h.target, monitor=False))
        time.sleep(3)  # the handshakes
        t0 = time.monotonic()
        st = h.status(h.target)
        answered = bool(st and st.get("running"))  # not the CLI's offline view
        note(f"{len(socks)} connections open; the daemon answered status: {answered} "
             f"({time.monotonic() - t0:.1f} s)")
        h.check(f"the daemon answers status with {N} connections open", answered)
    finally:
        for x in socks:
            x.close()
    time.sleep(1)
    h.check("refused connections logged", h.logged(h.target, "connections.log"), fixed=True)
    h.check(f"refused connections counted ({EXPECT['connections.counter']})",
            h.counter(h.target, EXPECT["connections.counter"]) > before, fixed=True)
    if not h.alive(h.target):
        tail = h.log_since(h.target).strip().splitlines()[-3:]
        note("target died; its log ends: " + " | ".join(tail))


def sc_lying_clock(h):
    """4. A lying clock, in our own chain signed with our own key: a record
    created max_clock_skew + 10 s ahead (taken once it no longer is), a
    record created a minute before its predecessor, a record created 300
    days ahead. Today: all three are stored at once. After the fix (EXPECT
    clock.*): the first is refused ("clock" / "ahead" in the reason) and
    taken when we send it again 11 s later, the second refused ("before"
    / "backwards"), the third refused; refusals.clock counts them."""
    s = h.sender()
    chain = Chain(h.me)
    chain.sync_from(s.frontier)
    if not chain.seq:
        s.records([chain.genesis()])
    before = h.counter(h.target, EXPECT["clock.counter"])
    # (a) max_clock_skew + 10 s ahead
    ahead_ms = now_ms() + (MAX_CLOCK_SKEW_S + 10) * 1000
    ahead = chain.next(intel_body("created 310 s ahead"), KIND["intel"], created_ms=ahead_ms)
    seq_a = chain.seq
    s.records([ahead])
    stored_at_once = s.await_seq(h.me.region, seq_a, 2)
    h.check("a record max_clock_skew+10 s ahead: refused at first", not stored_at_once, fixed=True)
    h.check("... logged with the clock skew as reason",
            h.logged(h.target, "clock.ahead.log", 1, origin=h.me.region, seq=seq_a), fixed=True)
    wait = ahead_ms - MAX_CLOCK_SKEW_S * 1000 - now_ms() + 1000
    if not stored_at_once and wait > 0:
        time.sleep(wait / 1000)
    s.records([ahead])
    h.check("... and taken once it is no longer ahead", s.await_seq(h.me.region, seq_a, 5))
    # (b) created before its predecessor
    s.ping()
    chain.sync_from(s.frontier)
    # a minute before it: still within the certificate's validity and the
    # clock skew, so time going backwards is the only thing wrong with it
    back = chain.next(intel_body("created before its predecessor"), KIND["intel"],
                      created_ms=chain.created - 60 * 1000)
    seq_b = chain.seq
    s.records([back])
    stored = s.await_seq(h.me.region, seq_b, 2)
    h.check("a record created before its predecessor: refused", not stored, fixed=True)
    h.check("... logged, time going backwards as reason",
            h.logged(h.target, "clock.back.log", 1, origin=h.me.region, seq=seq_b), fixed=True)
    # (c) 300 days ahead, after whatever the target holds now
    s.ping()
    chain.sync_from(s.frontier)
    far = chain.next(intel_body("created 300 days ahead"), KIND["intel"],
                     created_ms=now_ms() + 300 * 86400 * 1000)
    seq_c = chain.seq
    s.records([far])
    stored = s.await_seq(h.me.region, seq_c, 2)
    h.check("a record 300 days ahead: refused", not stored, fixed=True)
    h.check("... logged with the clock skew as reason",
            h.logged(h.target, "clock.ahead.log", 1, origin=h.me.region, seq=seq_c), fixed=True)
    h.check(f"clock refusals counted ({EXPECT['clock.counter']} +3)",
            h.counter(h.target, EXPECT["clock.counter"]) >= before + 3, fixed=True)
    s.close()


def sc_lying_receipts(h):
    """5. Lying receipts, signed by us in our own chain: one dated before
    the record it covers, one claiming 1000 seqs beyond the honest origin's
    head, one naming another head at a seq the target holds. Today they are
    stored and relayed, and the last makes `verify` fail on the target and
    the honest peer ("receipt names ... but this ledger holds ..."): base
    checks fail. After the fix (EXPECT receipts.*): each is kept as
    evidence against us, logged, listed by `hutong audit disputes` (or
    `audit forks`) naming our region, and verify stays clean."""
    s = h.sender()
    chain = Chain(h.me)
    chain.sync_from(s.frontier)
    if not chain.seq:
        s.records([chain.genesis()])
    time.sleep(2.5)  # the honest record comes well after our last one
    hon = h.honest.region
    rid = h.submit(h.honest, "covered by a lying receipt")
    until(WAIT, lambda: h.holds(h.target, rid))
    seq, head = s.ping().get(hon, (0, b""))
    if not seq:
        h.check("the target holds the honest origin", False)
        return
    before = h.counter(h.target, EXPECT["receipts.counter"])
    early = chain.next(receipt_body([(hon, seq, head)]), KIND["receipt"],
                       created_ms=chain.created + 1, author="node")
    # dated, like `early`, before the honest origin's record at seq: its
    # chain cannot have reached seq + 1000 then
    beyond = chain.next(receipt_body([(hon, seq + 1000, hashlib.sha256(b"beyond").digest())]),
                        KIND["receipt"], created_ms=chain.created, author="node")
    other = chain.next(receipt_body([(hon, seq, hashlib.sha256(b"another head").digest())]),
                       KIND["receipt"], author="node")
    s.records([early, beyond, other])
    s.await_seq(h.me.region, chain.seq, 5)
    for what, sq in (("dated before the record it covers", seq),
                     ("claiming seqs beyond the origin's head", seq + 1000),
                     ("naming a contradicting head", seq)):
        h.check(f"a receipt {what}: logged as a dispute",
                h.logged(h.target, "receipts.log", 2, origin=hon, seq=sq), fixed=True)
    h.check(f"disputes counted ({EXPECT['receipts.counter']})",
            h.counter(h.target, EXPECT["receipts.counter"]) >= before + 3, fixed=True)

    def listed(node):
        for sub in (("audit", "disputes"), ("audit", "forks")):
            r = h.cli(node, *sub)
            if r.returncode == 0 and h.me.region in r.stdout:
                return True
        return False
    h.check("audit disputes (or forks) at the target names us", until(5, lambda: listed(h.target)),
            fixed=True)
    h.check("... and at the honest peer", until(5, lambda: listed(h.honest)), fixed=True)
    s.close()


def sc_frontier_fork(h):
    """6. A fork by frontier: our Hello, and our Welcome when the target
    dials us, name the honest origin at the seq the target holds, with
    another head. Today nothing notices (the frontier exchange compares seq
    only). After the fix (EXPECT frontier-fork.*): the target logs fork
    evidence for that origin and seq and counts it (peer.forks)."""
    hon = h.honest.region
    rid = h.submit(h.honest, "its head will be contradicted")
    until(WAIT, lambda: h.holds(h.target, rid))
    s0 = h.sender()
    seq, _ = s0.frontier.get(hon, (0, b""))
    s0.close()
    if not seq:
        h.check("the target holds the honest origin", False)
        return
    before = h.counter(h.target, EXPECT["frontier-fork.counter"])
    lie = hashlib.sha256(b"a head the origin never signed").digest()
    s = h.sender([(hon, seq, lie)])
    s.pump(1)
    r = Receiver(h.ctx, h.me)
    try:
        def on_hello(rx, _hello):
            fr = dict(s.frontier)
            fr[hon] = (seq, lie)
            rx.welcome(fr)
        h.check("the target dials us and says Hello; we answer Welcome",
                r.pump(15, lambda: r.hellos > 0, on_hello))
        r.pump(1)
    finally:
        r.close()
        s.close()
    h.check("fork evidence logged for the honest origin",
            h.logged(h.target, "frontier-fork.log", 3, origin=hon, seq=seq), fixed=True)
    h.check(f"fork evidence counted ({EXPECT['frontier-fork.counter']})",
            h.counter(h.target, EXPECT["frontier-fork.counter"]) > before, fixed=True)


def gb11643(first17):
    """first17 with its GB 11643 check character."""
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(c) * x for c, x in zip(first17, w)) % 11]


def sc_pii(h):
    """7. Personal data in the target's log (issue 12): our own records
    naming a person by a resident identity number with a wrong check
    character, and by one with month 13 (its check character right). Each
    is refused, and the refusal is logged with the field and the reason's
    class only: the target's log holds neither number, nor its date of
    birth."""
    s = h.sender()
    chain = Chain(h.me)
    chain.sync_from(s.frontier)
    if not chain.seq:
        s.records([chain.genesis()])
    good = gb11643("45010219900307001")
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    month13 = gb11643("45010219901307001")
    before = h.counter(h.target, EXPECT["pii.counter"])
    for num, why in ((wrong_check, "wrong check character"), (month13, "month 13")):
        body = hutong_pb2.Body(intelligence=hutong_pb2.Intelligence(
            summary="a lead naming an informant",
            people=[hutong_pb2.Person(name="informant", id_number=num)]))
        env = chain.next(body, KIND["intel"])
        seq = chain.seq
        s.records([env])
        h.check(f"{why}: refused", not s.await_seq(h.me.region, seq, 2))
        h.check(f"... logged with the field", h.logged(h.target, "pii.log", 2,
                                                      origin=h.me.region, seq=seq))
        chain.seq, chain.head = seq - 1, header_of(env).prev_id
    log = h.log_since(h.target)
    for secret in (wrong_check, month13, "19900307", "19901307"):
        h.check(f"the log does not hold {secret}", secret not in log)
    h.check(f"refusals counted ({EXPECT['pii.counter']} +2)",
            h.counter(h.target, EXPECT["pii.counter"]) >= before + 2)
    s.close()


SCENARIOS = {
    "body-strip": sc_body_strip,
    "amplification": sc_amplification,
    "connections": sc_connections,
    "lying-clock": sc_lying_clock,
    "lying-receipts": sc_lying_receipts,
    "frontier-fork": sc_frontier_fork,
    "pii": sc_pii,
}


def main():
    global hutong_pb2, sync_pb2
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for opt in ("build", "pb", "ca", "target", "honest", "hostile", "origin", "work"):
        p.add_argument("--" + opt, required=opt != "work")
    p.add_argument("--scenario", required=True, help="|".join(SCENARIOS) + "|all")
    p.add_argument("--expect-fixed", default="", help="scenarios whose fixed checks count")
    a = p.parse_args()
    a.work = a.work or os.path.dirname(os.path.abspath(a.hostile))
    sys.path.insert(0, a.pb)
    import hutong_pb2 as hp  # noqa: E402 (generated at test time)
    import sync_pb2 as sp  # noqa: E402
    hutong_pb2, sync_pb2 = hp, sp
    names = list(SCENARIOS) if a.scenario == "all" else a.scenario.split(",")
    for n in names:
        if n not in SCENARIOS:
            p.error(f"unknown scenario {n}")
    h = Harness(a)
    h.fixed = {x for x in re.split(r"[,\s]+", a.expect_fixed) if x}
    for n in names:
        h.scenario = n
        h.log_mark()
        t0 = time.monotonic()
        try:
            SCENARIOS[n](h)
        except Exception as e:  # a harness failure is a failed check
            h.check(f"harness error: {type(e).__name__}: {e}", False)
        h.base()
        note(f"{n}: {time.monotonic() - t0:.1f} s")
    h.ctx.destroy(linger=0)
    print(f"{h.passed} passed, {h.failed} failed")
    return 0 if h.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
