"""The binary peer protocol (shared/spec/peer-protocol.md): frames, multi-cell messages and
one TCP connection with request/reply correlation.

A frame is a VLQ length then a message: the top cell's CAD3 encoding followed by branch cells
(each a VLQ length and an encoding). A connection sends beliefs with novelty only: it
remembers the cells it has sent and leaves them out next time; the receiver resolves them
from the cells it holds, or asks for them with DATA_REQUEST.

Requests are vectors headed by a keyword ([:Q id form addr], [:TX id signed], [:SR id],
[:DR id h...], [:CH id signed], [:PING id], [:BYE]); replies are Result records carrying the
request's id. Either side of a connection may send requests: `Connection.request` waits for
the Result with its id, everything else goes to the connection's handler.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import socket
import threading
import time
from typing import Any, Callable, Optional

from kernel.blobs import Blob
from kernel.cell import BranchRef, Cell, DecodeError, encoding, is_branch, read_vlq, vlq
from kernel.decoding import Decoder, _branch_hashes
from kernel.records import Signed
from kernel.scalars import Keyword
from kernel.transactions import Result, sign, verify
from kernel.vectors import Vector

from .store import novelty

K = Keyword
MAX_FRAME = 50_000_000          # the reference's limit on one message
IDLE_TIMEOUT = 300.0            # an incoming connection silent this long is closed
FRAME_TIMEOUT = 30.0            # a frame must arrive whole within this once begun
MAX_SENT = 500_000              # cell hashes remembered per connection for novelty


def frame(msg: bytes) -> bytes:
    return vlq(len(msg)) + msg


def encode_message(v: Any, sent: Optional[set] = None) -> bytes:
    """Top cell then branch cells; with `sent`, only cells not sent before (and noted)."""
    known = sent if sent is not None else set()
    cells = novelty(v, known)
    top = encoding(v)
    parts = [top]
    th = hashlib.sha3_256(top).digest()
    for h, enc in cells:
        if h == th:
            continue
        parts.append(vlq(len(enc)))
        parts.append(enc)
        if sent is not None:
            sent.add(h)
    return b"".join(parts)


def decode_message(data: bytes, cells: dict) -> Any:
    """Decode a message whose missing branches may be in `cells` (hash -> value), adding the
    branch cells it carries to `cells`. Branches found nowhere stay BranchRefs."""
    data = bytes(data)
    _, pos = Decoder(data, cells).value(0)
    raw: dict = {}
    while pos < len(data):
        n, pos = read_vlq(data, pos)
        if n == 0 or pos + n > len(data):
            raise DecodeError("bad cell length")
        enc = data[pos:pos + n]
        raw[hashlib.sha3_256(enc).digest()] = enc
        pos += n
    done: set = set()

    def resolve(h: bytes) -> None:
        stack = [(h, False)]
        while stack:
            x, expanded = stack.pop()
            if expanded:
                v, end = Decoder(raw[x], cells).value(0)
                if end != len(raw[x]) or not is_branch(v):
                    raise DecodeError("invalid branch cell")
                cells[x] = v
                continue
            if x in done or x in cells or x not in raw:
                continue
            done.add(x)
            stack.append((x, True))
            stack.extend((c, False) for c in _branch_hashes(raw[x]))
    for h in list(raw):
        resolve(h)
    v, _end = Decoder(data, cells).value(0)
    return v


def missing_cells(v: Any, limit: int = 1_000_000) -> Optional[list]:
    """The hashes of v's branches known only by reference ([] if v is complete), or None if
    v is too big to check."""
    stack, n, out = [v], 0, []
    while stack:
        c = stack.pop()
        n += 1
        if n > limit:
            return None
        if type(c) is BranchRef:
            out.append(c.value_id())
        elif isinstance(c, Cell):
            stack.extend(c.children())
    return out


# --- messages ---------------------------------------------------------------------------------

def request(kind: str, *args: Any) -> Vector:
    return Vector.of(K(kind), *args)


def challenge(key: Any, target: bytes, network: bytes) -> tuple:
    """A CHALLENGE payload proving nothing yet: ([:CH], the token to expect back)."""
    token = Blob(os.urandom(16))
    return sign(key, Vector.of(token, Blob(target), Blob(network))), token


def answer_challenge(key: Any, signed: Any, network: bytes) -> Optional[Signed]:
    """The response to a CHALLENGE aimed at `key`: Signed([token challenger context]) by us,
    or None when the challenge is not for us, not for our network or not validly signed."""
    if type(signed) is not Signed or not isinstance(signed.value, Vector):
        return None
    v = signed.value
    if len(v) < 2 or type(v[0]) is not Blob or type(v[1]) is not Blob:
        return None
    if v[1].data != bytes(key.verify_key):
        return None
    if len(v) > 2 and (type(v[2]) is not Blob or v[2].data != network):
        return None
    if not verify(signed):
        return None
    return sign(key, Vector.of(v[0], Blob(signed.public_key), Blob(network)))


def check_response(resp: Any, token: Blob, target: bytes, own: bytes) -> bool:
    """True if `resp` is the answer to our challenge from the peer with key `target`."""
    return (type(resp) is Signed and resp.public_key == target and isinstance(resp.value, Vector)
            and len(resp.value) >= 2 and resp.value[0] == token
            and type(resp.value[1]) is Blob and resp.value[1].data == own and verify(resp))


# --- a connection ------------------------------------------------------------------------------

class Connection:
    """One TCP connection: framed messages in and out, replies matched to requests by id,
    and the cells already sent (for novelty-only beliefs)."""

    _ids = itertools.count(1)

    def __init__(self, sock: socket.socket, outgoing: bool = False, address: Any = None):
        self.sock = sock
        self.outgoing = outgoing
        self.address = address
        self.sent: set = set()
        self.lock = threading.Lock()
        self.closed = False
        self.peer_key: Optional[bytes] = None     # set once the other side proved its key
        self.last_heard = time.monotonic()
        self.wants_beliefs = False                # a proven peer: beliefs go out on it
        self._waiting: dict = {}
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, v: Any, novelty_only: bool = False) -> bool:
        try:
            with self.lock:
                if len(self.sent) > MAX_SENT:      # start over: the next belief goes whole
                    self.sent = set()
                msg = encode_message(v, self.sent if novelty_only else None)
                self.sock.sendall(frame(msg))
            return True
        except OSError:
            self.close()
            return False

    def request(self, kind: str, *args: Any, timeout: float = 5.0) -> Optional[Result]:
        """Send [:kind id args...] and wait for its Result (None on timeout or close)."""
        rid = next(self._ids)
        slot: list = [threading.Event(), None]
        self._waiting[rid] = slot
        try:
            if not self.send(request(kind, rid, *args)):
                return None
            slot[0].wait(timeout)
            return slot[1]
        finally:
            self._waiting.pop(rid, None)

    def deliver(self, msg: Any) -> bool:
        """Hand a Result to the request waiting for it; False if nobody waits for it."""
        if isinstance(msg, Result) and type(msg.id) is int and msg.id in self._waiting:
            slot = self._waiting[msg.id]
            slot[1] = msg
            slot[0].set()
            return True
        return False

    def read_frame(self) -> Optional[bytes]:
        """The next frame's bytes; None at end of stream or timeout; DecodeError for a bad
        length. Incoming connections may idle IDLE_TIMEOUT; a begun frame has FRAME_TIMEOUT."""
        try:
            self.sock.settimeout(None if self.outgoing else IDLE_TIMEOUT)
        except OSError:
            return None
        hdr = b""
        while True:
            b = self._recv(1)
            if b is None:
                return None
            if not hdr:
                try:
                    self.sock.settimeout(FRAME_TIMEOUT)
                except OSError:
                    return None
            hdr += b
            if not b[0] & 0x80:
                break
            if len(hdr) > 9:
                raise DecodeError("frame length too long")
        if hdr[0] == 0x80:
            raise DecodeError("non-minimal frame length")
        n, _ = read_vlq(hdr, 0)
        if n == 0 or n > MAX_FRAME:
            raise DecodeError(f"bad frame length {n}")
        data = bytearray()
        deadline = time.monotonic() + FRAME_TIMEOUT
        while len(data) < n:
            if time.monotonic() > deadline:
                return None
            chunk = self._recv(min(65536, n - len(data)))
            if chunk is None:
                return None
            data += chunk
        self.last_heard = time.monotonic()
        return bytes(data)

    def _recv(self, n: int) -> Optional[bytes]:
        try:
            b = self.sock.recv(n)
        except OSError:
            return None
        return b or None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for slot in list(self._waiting.values()):
            slot[0].set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def serve_connection(c: Connection, handle: Callable[[Connection, bytes], None],
                     on_close: Callable[[Connection], None] = lambda c: None) -> None:
    """Read frames until the connection ends; a bad frame length ends it too."""
    try:
        while not c.closed:
            try:
                data = c.read_frame()
            except DecodeError:
                break
            if data is None:
                break
            handle(c, data)
    finally:
        c.close()
        on_close(c)


__all__ = ["MAX_FRAME", "Connection", "frame", "encode_message", "decode_message",
           "missing_cells", "request", "challenge", "answer_challenge", "check_response",
           "serve_connection"]
