"""The binary peer protocol (shared/spec/peer-protocol.md): frames, multi-cell messages and
one TCP connection with request/reply correlation.

A frame is a VLQ length then a message: the top cell's CAD3 encoding followed by branch cells
(each a VLQ length and an encoding). A connection sends beliefs with novelty only: it
remembers the cells it has sent and leaves them out next time; the receiver resolves them
from the cells it holds, or asks for them with DATA_REQUEST.

Requests are vectors headed by a keyword ([:Q id form addr], [:TX id signed], [:SR id],
[:DR id h...], [:CH id signed], [:PING id], [:BYE]); replies are Result records carrying the
request's id. Either side of a connection may send requests: `Connection.request` waits for
the Result with its id, everything else goes to the connection's handler. `Client` is the
client side (as the reference's ConvexRemote); it answers the challenges a peer sends it.

Bounds: a frame is at most `max_frame` bytes (MAX_FRAME), taking memory as it arrives (a
big one in an anonymous mapping, given back to the system when dropped), never up front; the bytes of frames being received or handled on all connections share
a FrameBudget (FRAME_BUDGET). A frame over either is refused with a Result (:FORMAT, :LOAD)
and the connection closed.
"""
from __future__ import annotations

import collections
import hashlib
import itertools
import mmap
import os
import socket
import threading
import time
from typing import Any, Callable, Optional

from kernel.data.blobs import Blob, String
from kernel.data.cell import BranchRef, Cell, DecodeError, encoding, is_branch, read_vlq, vlq
from kernel.data.decoding import Decoder, _branch_hashes
from kernel.data.records import Signed
from kernel.data.scalars import Keyword
from kernel.state.transactions import Result, sign, verify
from kernel.data.vectors import Vector

from convex_repl.peer.peer import log_event
from convex_repl.peer.store import novelty

K = Keyword
MAX_FRAME = 50_000_000          # the reference's limit on one message (per connection)
FRAME_BUDGET = 100_000_000      # bytes of frames being received or handled, all connections
IDLE_TIMEOUT = 300.0            # an incoming connection silent this long is closed
FRAME_TIMEOUT = 30.0            # a frame must arrive whole within this once begun
MAX_SENT = 500_000              # cell hashes remembered per connection for novelty
MAX_ORDERED = 500               # replies waiting their turn on one connection (send_in_order)
CHUNK = 65536


class ProtocolError(Exception):
    """A frame the peer refuses: the error code and message of the Result sent back before
    the connection is closed."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class FrameBudget:
    """Bytes of incoming frames held at once, shared by connections: a peer flooded with
    partial frames stays within `limit` and refuses what would go past it."""

    def __init__(self, limit: int = FRAME_BUDGET):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self._lock:
            if self.used + n > self.limit:
                return False
            self.used += n
            return True

    def give(self, n: int) -> None:
        with self._lock:
            self.used -= n


SHARED_BUDGET = FrameBudget()   # for connections made without a budget of their own


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


# CHALLENGE, as the reference's Message.signChallenge / answerChallenge /
# verifyChallengeResponse: [:CH id Signed([token target context?])], the token 32 random
# bytes, the target the key expected to answer (nil: any key), the context optional (peers
# use the network ID). The answer is a Result whose value is Signed([token challenger
# context?]) by the one challenged, the context echoed when there was one.
TOKEN_BYTES = 32


def _cell(x: Any) -> Any:
    return Blob(bytes(x)) if isinstance(x, (bytes, bytearray)) else x


def challenge(key: Any, target: Optional[bytes] = None, context: Any = None) -> tuple:
    """(Signed([token target context?]) signed by `key`, the token to expect back). `target`
    is the key expected to answer (None: any key); `context` is left out when None."""
    token = Blob(os.urandom(TOKEN_BYTES))
    t = None if target is None else Blob(bytes(target))
    v = Vector.of(token, t) if context is None else Vector.of(token, t, _cell(context))
    return sign(key, v), token


def answer_challenge(key: Any, signed: Any,
                     context_ok: Optional[Callable[[Any], bool]] = None) -> Result:
    """The Result answering a challenge aimed at `key` (a nacl SigningKey): its value
    Signed([token challenger context?]) by `key`, or an error (:FORMAT, :TRUST) saying why
    not. A nil target means any key; `context_ok`, when given, must accept the context
    (nil when there is none)."""
    def refuse(code: str, msg: str) -> Result:
        return Result.create(None, String.of(msg), K(code))
    if key is None:
        return refuse("TRUST", "No signing key")
    if type(signed) is not Signed:
        return refuse("FORMAT", "Missing signed data")
    if not verify(signed):
        return refuse("TRUST", "Invalid challenge signature")
    v = signed.value
    if not isinstance(v, Vector):
        return refuse("FORMAT", "Invalid challenge data")
    n = len(v)
    if n < 2 or n > 3 or type(v[0]) is not Blob or len(v[0]) != TOKEN_BYTES:
        return refuse("FORMAT", "Invalid challenge elements")
    target = v[1]
    if target is not None and (type(target) is not Blob
                               or target.data != bytes(key.verify_key)):
        return refuse("TRUST", "Wrong target key")
    context = v[2] if n == 3 else None
    if context_ok is not None and not context_ok(context):
        return refuse("TRUST", "Context mismatch")
    challenger = Blob(signed.public_key)
    answer = (Vector.of(v[0], challenger) if context is None
              else Vector.of(v[0], challenger, context))
    return Result.create(None, sign(key, answer))


def respond_to_challenge(key: Any, msg: Any,
                         context_ok: Optional[Callable[[Any], bool]] = None) -> Optional[Result]:
    """The Result to send back for a [:CH id signed] message (with its id), or None when it
    carries no integer id to answer to (the reference sends nothing then either)."""
    mid = msg[1] if isinstance(msg, Vector) and len(msg) >= 2 else None
    if type(mid) is not int:
        return None
    if len(msg) != 3:
        r = Result.create(None, String.of("Invalid challenge format"), K("FORMAT"))
    else:
        r = answer_challenge(key, msg[2], context_ok)
    return r.with_id(mid)


def check_response(resp: Any, token: Blob, own: bytes, context: Any = None,
                   expected: Optional[bytes] = None) -> Optional[bytes]:
    """The key that answered our challenge, if `resp` (a Result, or its value) is a valid
    answer: signed by `expected` when given, [token own-key] or [token own-key context]
    exactly; else None."""
    if isinstance(resp, Result):
        if resp.error is not None:
            return None
        resp = resp.value
    if type(resp) is not Signed or not verify(resp):
        return None
    if expected is not None and resp.public_key != bytes(expected):
        return None
    v = resp.value
    if not isinstance(v, Vector) or len(v) != (2 if context is None else 3):
        return None
    if v[0] != token or v[1] != Blob(bytes(own)):
        return None
    if context is not None and v[2] != _cell(context):
        return None
    return resp.public_key


# --- a connection ------------------------------------------------------------------------------

class Connection:
    """One TCP connection: framed messages in and out, replies matched to requests by id,
    and the cells already sent (for novelty-only beliefs)."""

    _ids = itertools.count(1)

    def __init__(self, sock: socket.socket, outgoing: bool = False, address: Any = None,
                 max_frame: int = MAX_FRAME, budget: Optional[FrameBudget] = None):
        self.sock = sock
        self.outgoing = outgoing
        self.address = address
        self.max_frame = max_frame
        self.budget = SHARED_BUDGET if budget is None else budget
        self.held = 0                             # bytes of the budget this frame holds
        self.ended = ""                           # why reading stopped (read_frame: None)
        self.partial: Optional[tuple] = None      # (bytes, of n) of a frame cut short
        self.sent: set = set()
        self.lock = threading.Lock()
        self.closed = False
        self.peer_key: Optional[bytes] = None     # set once the other side proved its key
        self.last_heard = time.monotonic()
        self.wants_beliefs = False                # a proven peer: beliefs go out on it
        self._waiting: dict = {}
        self._ordered: collections.deque = collections.deque()   # (make-reply) in order
        self._ordered_cv = threading.Condition()
        self._replying = False
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:                           # already reset: reads will end it
            pass

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

    def send_in_order(self, reply: Callable[[], Any]) -> None:
        """Send reply() once every reply queued before it on this connection is sent, from
        a responder thread of the connection (started when needed, gone when idle): the
        caller goes on at once, so a reader keeps reading while transactions wait for their
        blocks. Past MAX_ORDERED waiting replies the caller waits (backpressure)."""
        with self._ordered_cv:
            while len(self._ordered) >= MAX_ORDERED and not self.closed:
                self._ordered_cv.wait(0.5)
            self._ordered.append(reply)
            if self._replying:
                return
            self._replying = True
        threading.Thread(target=self._reply_loop, name="replies", daemon=True).start()

    def _reply_loop(self) -> None:
        while True:
            with self._ordered_cv:
                if not self._ordered:
                    self._replying = False
                    return
                reply = self._ordered[0]
            try:
                v = reply()
                if not self.closed:
                    self.send(v)
            except Exception as e:          # a bug: that reply is lost, not the connection
                log_event("reply", f"reply on {self.address} failed: {type(e).__name__}: {e}")
            with self._ordered_cv:
                self._ordered.popleft()
                self._ordered_cv.notify_all()

    def deliver(self, msg: Any) -> bool:
        """Hand a Result to the request waiting for it; False if nobody waits for it."""
        if isinstance(msg, Result) and type(msg.id) is int and msg.id in self._waiting:
            slot = self._waiting[msg.id]
            slot[1] = msg
            slot[0].set()
            return True
        return False

    def read_frame(self) -> Optional[bytes]:
        """The next frame's bytes; None at end of stream or timeout. Incoming connections
        may idle IDLE_TIMEOUT; a begun frame has FRAME_TIMEOUT to arrive whole. A bad or too
        long frame length raises ProtocolError(:FORMAT), a frame past the budget
        ProtocolError(:LOAD). The frame holds its bytes of the budget until release()."""
        self.release()
        try:
            self.sock.settimeout(None if self.outgoing else IDLE_TIMEOUT)
        except OSError:
            return None
        hdr = b""
        deadline = 0.0
        while True:
            b = self._recv(1)
            if b is None:
                if not hdr and self.ended == "timeout":
                    self.ended = "idle"
                return None
            if not hdr:
                deadline = time.monotonic() + FRAME_TIMEOUT
            hdr += b
            if not b[0] & 0x80:
                break
            if len(hdr) > 9:
                raise ProtocolError("FORMAT", "Frame length too long")
            if not self._until(deadline):
                self.ended = "timeout"
                return None
        if hdr[0] == 0x80:
            raise ProtocolError("FORMAT", "Non-minimal frame length")
        n, _ = read_vlq(hdr, 0)
        if n == 0:
            raise ProtocolError("FORMAT", "Empty frame")
        if n > self.max_frame:
            raise ProtocolError("FORMAT", f"Frame of {n} bytes: at most {self.max_frame}")
        # A big frame is received into an anonymous mapping: its pages become memory only as
        # bytes arrive (a header claiming 50 MB costs nothing), and go back to the system
        # the moment it is dropped, whatever the allocator's thresholds.
        buf = bytearray(n) if n <= CHUNK else mmap.mmap(-1, n)
        view = memoryview(buf)
        got = 0
        try:
            while got < n:
                if not self._until(deadline):
                    self.ended = "timeout"
                if not self.budget.take(min(CHUNK, n - got)):
                    raise ProtocolError("LOAD", "Peer busy: too much data being received, "
                                        "try again later")
                k = 0 if self.ended else self._recv_into(view[got:got + CHUNK])
                self.budget.give(min(CHUNK, n - got) - k)
                self.held += k
                if not k:
                    self.partial = (got, n)
                    return None
                got += k
            self.last_heard = time.monotonic()
            return bytes(view)
        finally:
            view.release()
            if n > CHUNK:
                buf.close()

    def _until(self, deadline: float) -> bool:
        """Let the next read wait only until `deadline`; False once it has passed."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            self.sock.settimeout(left)
        except OSError:
            return False
        return True

    def release(self) -> None:
        """Give back the budget the last frame held (once it has been handled)."""
        if self.held:
            self.budget.give(self.held)
            self.held = 0

    def _recv_into(self, view: memoryview) -> int:
        """Bytes read into view; 0 when the stream ends (`ended` saying how, as _recv)."""
        try:
            k = self.sock.recv_into(view)
        except TimeoutError:
            self.ended = "timeout"
            return 0
        except OSError as e:
            self.ended = f"reset ({type(e).__name__})"
            return 0
        if not k:
            self.ended = "eof"
        return k

    def _recv(self, n: int) -> Optional[bytes]:
        """n bytes at most; None when the stream ends, `ended` saying how: "eof", "reset" or
        "timeout"."""
        try:
            b = self.sock.recv(n)
        except TimeoutError:
            self.ended = "timeout"
            return None
        except OSError as e:
            self.ended = f"reset ({type(e).__name__})"
            return None
        if not b:
            self.ended = "eof"
        return b or None

    def describe_end(self) -> Optional[str]:
        """How the other side ended a connection, for the log; None when we closed it."""
        if self.closed or not self.ended:
            return None
        how = self.ended
        part = "" if self.partial is None else f" ({self.partial[0]} of {self.partial[1]} bytes)"
        if how == "idle":
            return f"closed: silent for {IDLE_TIMEOUT:g} s"
        if how == "timeout":
            return f"closed: frame not received whole within {FRAME_TIMEOUT:g} s{part}"
        out = "disconnected"
        if how != "eof":
            out += " by " + how
        if part:
            out += " in the middle of a frame" + part
        unsent = len(self._ordered)
        if unsent:
            out += f" with {unsent} answers unsent (its transactions still run)"
        return out

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.release()
        for slot in list(self._waiting.values()):
            slot[0].set()
        with self._ordered_cv:
            self._ordered_cv.notify_all()
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
    """Read frames until the connection ends. A refused frame is answered with a Result
    (:FORMAT, :LOAD) and ends the connection; a client disconnecting or timed out, and a
    failing handler, end it too. Each is one line on stderr, never a traceback (nothing when
    we closed it, or for our own connections to other peers)."""
    try:
        while not c.closed:
            try:
                data = c.read_frame()
            except ProtocolError as e:
                log_event("frame-" + e.code, f"closed protocol connection from "
                          f"{peer_address(c)}: {e} (:{e.code})")
                c.send(Result.create(None, String.of(str(e)), K(e.code)))
                break
            if data is None:
                how = c.describe_end()
                if how is not None and not c.outgoing:
                    log_event("protocol-" + how.split()[0],
                              f"protocol client {peer_address(c)} {how}")
                break
            try:
                handle(c, data)
            finally:
                c.release()
    except Exception as e:
        log_event("handler", f"closed protocol connection from {peer_address(c)}: "
                  f"{type(e).__name__}: {e}")
    finally:
        c.close()
        on_close(c)


def peer_address(c: Connection) -> str:
    a = c.address
    return f"{a[0]}:{a[1]}" if isinstance(a, tuple) and len(a) >= 2 else str(a)


# --- a client -----------------------------------------------------------------------------------

class Client:
    """A client of a peer over the binary protocol, as the reference's ConvexRemote: QUERY,
    TRANSACT, STATUS, DATA_REQUEST and PING, each Result matched to its request by id. Like
    the reference's client (AConvexConnected's message handler) it answers a CHALLENGE the
    peer sends it, signed with its own key (`key`, a nacl SigningKey) and whatever the
    context; without a key it leaves challenges unanswered.

        with Client(("127.0.0.1", 18888), key) as c:
            c.query(read("(+ 1 2)"), 13).value      # 3
            c.transact(signed).error                # None once its block has run
    """

    MAX_CELLS = 100_000             # received cells kept to complete later messages

    def __init__(self, address: Any, key: Any = None, timeout: float = 30.0):
        sock = socket.create_connection(tuple(address), timeout=timeout)
        sock.settimeout(None)
        self.key = key
        self.timeout = timeout
        self.cells: dict = {}
        self.challenges_answered = 0
        self.conn = Connection(sock, outgoing=True, address=tuple(address))
        threading.Thread(target=serve_connection, args=(self.conn, self._handle),
                         name="protocol-client", daemon=True).start()

    def _handle(self, c: Connection, data: bytes) -> None:
        if len(self.cells) > self.MAX_CELLS:
            self.cells = {}
        try:
            msg = decode_message(data, self.cells)
        except Exception:               # a frame we can't read: nobody waits for it
            return
        if c.deliver(msg) or isinstance(msg, Result):
            return
        if not isinstance(msg, Vector) or len(msg) < 1:
            return
        if msg[0] == K("CH") and self.key is not None:
            r = respond_to_challenge(self.key, msg)
            if r is not None:
                self.challenges_answered += 1
                c.send(r)
        elif msg[0] == K("BYE"):
            c.close()

    def request(self, kind: str, *args: Any, timeout: Optional[float] = None) -> Result:
        """Send [:kind id args...] and wait for its Result (a :TIMEOUT Result if none comes,
        :CONNECT once the connection is closed)."""
        if self.conn.closed:
            return Result.create(None, String.of("Connection closed"), K("CONNECT"))
        r = self.conn.request(kind, *args, timeout=self.timeout if timeout is None else timeout)
        if r is None:
            code, msg = (("CONNECT", "Connection closed") if self.conn.closed
                         else ("TIMEOUT", "No answer in time"))
            return Result.create(None, String.of(msg), K(code))
        return r

    def query(self, form: Any, address: Any = None) -> Result:
        return self.request("Q", form, address)

    def transact(self, signed: Signed) -> Result:
        return self.request("TX", signed)

    def status(self) -> Result:
        return self.request("SR")

    def data(self, *hashes: bytes) -> Result:
        return self.request("DR", *[Blob(bytes(h)) for h in hashes])

    def ping(self) -> Result:
        return self.request("PING")

    def verify_peer(self, expected: Optional[bytes] = None, context: Any = None) -> Optional[bytes]:
        """Challenge the peer to prove its key (any key unless `expected`): the key, or None
        (the reference's Convex.verifyPeer). Needs the client's key to sign with."""
        if self.key is None:
            raise ValueError("verify_peer needs a key to sign the challenge")
        ch, token = challenge(self.key, expected, context)
        return check_response(self.request("CH", ch), token, bytes(self.key.verify_key),
                              context, expected)

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.send(request("BYE"))
        self.conn.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["MAX_FRAME", "FRAME_BUDGET", "Connection", "FrameBudget", "ProtocolError", "frame",
           "encode_message", "decode_message", "missing_cells", "request", "challenge",
           "answer_challenge", "respond_to_challenge", "check_response", "serve_connection",
           "Client", "TOKEN_BYTES"]
