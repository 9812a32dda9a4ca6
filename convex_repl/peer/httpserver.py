"""The HTTP/1.1 server side of the REST API (rest.py has the routes), on the standard
library's ThreadingHTTPServer: connections, request heads and bodies, responses, and the
bounds that keep a peer up whatever clients do. Kept apart from the routes because none of
it knows what the API means: a Handler subclass supplies `_route`.

Bounds: a request body of at most MAX_BODY bytes (413, before it is read); at most
`max_connections` connections at once (REST_MAX_CONNECTIONS: when full, the one that has
waited longest for a request is closed to make room, or the newcomer gets 503 if every one
is being served; newcomers wait in a threadless lobby meanwhile); a request must arrive
whole within `timeout` seconds of its first byte (REST_TIMEOUT, else 408 or close) and a
keep-alive connection may idle REST_IDLE_TIMEOUT. A BadRequest raised while serving is a
4xx with `{"error": message}`; anything else a 500. A client going away costs no log line.
"""
from __future__ import annotations

import io
import json
import queue
import selectors
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from convex_repl.peer import log
from convex_repl.peer.peer import log_event

MAX_BODY = 5_000_000
REST_MAX_CONNECTIONS = 256      # connections (threads) at once
REST_TIMEOUT = 10.0             # seconds for a request to arrive whole once begun
REST_IDLE_TIMEOUT = 30.0        # seconds a keep-alive connection may wait for its next request
LOBBY_GRACE = 2.0               # seconds a newcomer may take to send its request when full


class BadRequest(Exception):
    """A request the server refuses: answered with `status` and {"error": message, **extra},
    having changed nothing."""

    def __init__(self, message: str, status: int = 400, extra: Optional[dict] = None):
        super().__init__(message)
        self.status, self.extra = status, extra or {}


class ClientGone(Exception):
    """The client closed its connection (or was closed) before its request was whole."""


def _busy_response(message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


class _TimedReader(io.RawIOBase):
    """A connection's request stream: while idle it waits at most REST_IDLE_TIMEOUT for a
    request, and a request must arrive whole within the server's timeout of its first
    byte, however slowly it trickles in (slowloris)."""

    def __init__(self, handler: "Handler", pre: bytes = b""):
        self.h = handler
        self.pre = pre                      # what the lobby read already

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        h = self.h
        if self.pre:
            n = min(len(b), len(self.pre))
            b[:n], self.pre = self.pre[:n], self.pre[n:]
            if h.phase == "idle":
                h.server.enter(h, "reading")
            return n
        if h.phase == "idle":
            left = h.server.idle_timeout
        else:
            left = h.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("request not received in time")
        h.connection.settimeout(left)
        n = h.connection.recv_into(b)
        if n and h.phase == "idle":
            h.server.enter(h, "reading")
        return n


class Handler(BaseHTTPRequestHandler):
    """One connection of a Server: its requests read within the bounds, dispatched to
    `_route` (which a subclass defines), answered as JSON."""

    server_version = "convex-repl-peer/0.1"
    protocol_version = "HTTP/1.1"
    phase = "idle"          # idle (between requests), reading (a request), busy, evicted
    since = 0.0             # when it entered its phase
    deadline = 0.0          # when the request being read must be whole

    def setup(self) -> None:
        super().setup()
        self.rfile.close()                  # the socket's own file: ours times requests
        self.rfile = io.BufferedReader(_TimedReader(self, self.server.register(self)))

    def handle_one_request(self) -> None:
        if not self.server.enter(self, "idle"):
            self.close_connection = True
            return
        super().handle_one_request()

    def log_message(self, fmt: str, *args: Any) -> None:   # quiet by default
        """--verbose: each request (and the server's own messages) in the peer's log."""
        if getattr(self.server, "verbose", False):
            log.event(None, "request", f"{self.address_string()} {fmt % args}",
                      client=self.address_string(), request=getattr(self, "requestline", None))

    def _send(self, status: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.connection.settimeout(self.server.read_timeout)     # a client must read its answer
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _body(self) -> bytes:
        n = self.headers.get("Content-Length")
        if n is None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                self.close_connection = True
                raise BadRequest("Chunked bodies are not supported", 411)
            return b""
        try:
            n = int(n)
        except ValueError:
            self.close_connection = True
            raise BadRequest("Invalid Content-Length") from None
        if n < 0:
            self.close_connection = True
            raise BadRequest("Invalid Content-Length")
        if n > MAX_BODY:
            self.close_connection = True
            raise BadRequest(f"Request body too large ({n} bytes, at most {MAX_BODY})", 413)
        try:
            data = self.rfile.read(n)
        except TimeoutError:
            self.close_connection = True
            raise BadRequest(f"Request body not received within {self.server.read_timeout:g} s",
                             408) from None
        except OSError:
            raise ClientGone() from None
        if len(data) < n:
            raise ClientGone()
        return data

    def _json(self, raw: bytes) -> dict:
        if not raw.strip():
            raise BadRequest("Empty request body: expected a JSON object")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise BadRequest(f"Invalid JSON: {e}") from None
        if not isinstance(body, dict):
            raise BadRequest("Expected a JSON object")
        return body

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            raw = self._body() if method == "POST" else b""
            if not self.server.enter(self, "busy"):
                raise ClientGone()
            status, body = self._route(method, raw)
        except ClientGone:
            self.close_connection = True
            if self.phase != "evicted":
                self.server.client_gone(self, "in the middle of its request")
            return
        except BadRequest as e:
            status, body = e.status, {"error": str(e), **e.extra}
        except Exception as e:              # a bug: 500, plain text, the server carries on
            status, body = 500, (f"Internal error: {type(e).__name__}: {e}".encode(),
                                 "text/plain; charset=utf-8")
        try:
            if isinstance(body, tuple):          # (bytes, content type)
                self._send(status, body[0], body[1])
            else:
                self._send(status, body)
        except OSError as e:                # gone, or not reading its answer
            self.close_connection = True
            self.server.client_gone(self, f"before its answer ({type(e).__name__})")

    def _route(self, method: str, raw: bytes) -> tuple:
        """(status, body) for the request: body a JSON value or (bytes, content type)."""
        raise NotImplementedError("a Handler subclass routes requests")


class Server(ThreadingHTTPServer):
    """Bounded: at most `max_connections` connections (threads) at once. When full, a new
    connection whose request has arrived whole makes room by closing the one that has
    waited longest for a request (idle or still reading one: a served request is never
    cut); it gets 503 if every one is being served, and so does one whose request is not
    there yet."""

    daemon_threads = True
    block_on_close = False              # stop() closes connections instead of waiting
    allow_reuse_address = True
    request_queue_size = 128
    verbose = False

    def __init__(self, address: tuple, handler: type, max_connections: int, timeout: float,
                 idle_timeout: float = REST_IDLE_TIMEOUT):
        self.max_connections = max_connections
        self.read_timeout = timeout
        self.idle_timeout = idle_timeout
        self.count = 0                  # connections being served (threads)
        self.live: dict = {}            # socket -> its Handler, once set up
        self.preread: dict = {}         # socket -> request bytes the lobby read
        self.lock = threading.Lock()
        super().__init__(address, handler)
        self.lobby = _Lobby(self, 4 * max_connections, min(timeout, LOBBY_GRACE))

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            room = self.count < self.max_connections
            if room:
                self.count += 1
        if room:
            self._serve(request, client_address)
        elif not self.lobby.add(request, client_address):
            self.refuse(request, client_address)

    def admit(self, request: Any, client_address: Any, pre: bytes) -> None:
        """A newcomer whose request head has arrived (`pre`, read by the lobby) while the
        server was full: it takes the place of the connection waiting longest."""
        with self.lock:
            room = self.count < self.max_connections or self._evict()
            if room:
                self.count += 1
                self.preread[request] = pre
        if room:
            self._serve(request, client_address)
        else:
            self.refuse(request, client_address)

    def refuse(self, request: Any, client_address: Any, why: str = "") -> None:
        log_event("rest-connections", f"refused a REST connection from {client_address[0]}: "
                  f"{why or f'{self.max_connections} connections busy'}")
        _send_quietly(request, _busy_response("Server busy: too many connections"))
        self.shutdown_request(request)

    def _serve(self, request: Any, client_address: Any) -> None:
        """A thread for the connection (counted already)."""
        try:
            super().process_request(request, client_address)
        except Exception as e:          # no thread for it: it is not served
            self._done(request)
            self.refuse(request, client_address, f"{type(e).__name__}: {e}")

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._done(request)

    def _done(self, request: Any) -> None:
        with self.lock:
            self.count -= 1
            self.live.pop(request, None)
            self.preread.pop(request, None)

    def register(self, h: Handler) -> bytes:
        """Track h; the bytes of its request the lobby read already."""
        with self.lock:
            self.live[h.request] = h
            h.since = time.monotonic()
            return self.preread.pop(h.request, b"")

    def enter(self, h: Handler, phase: str) -> bool:
        """Move h to `phase`; False if it was closed to make room meanwhile."""
        with self.lock:
            if h.phase == "evicted":
                return False
            h.phase, h.since = phase, time.monotonic()
            if phase == "reading":
                h.deadline = h.since + self.read_timeout
            return True

    def _evict(self) -> bool:
        """Close the connection waiting longest for its request (under self.lock)."""
        waiting = [h for h in self.live.values() if h.phase in ("idle", "reading")]
        if not waiting:
            return False
        h = min(waiting, key=lambda x: x.since)
        log_event("rest-evicted", f"closed a REST connection from {h.client_address[0]} that "
                  f"had waited {time.monotonic() - h.since:.1f} s for its request: "
                  f"{self.max_connections} connections open")
        if h.phase == "reading":
            _send_quietly(h.request, _busy_response(
                "Server busy: request not received in time, connection closed"))
        h.phase = "evicted"                # its thread ends at once, and _done forgets it
        try:
            h.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def close_all(self) -> None:
        self.lobby.stop()
        with self.lock:
            for h in self.live.values():
                h.phase = "evicted"
                try:
                    h.request.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def client_gone(self, h: Handler, when: str) -> None:
        """One line for a client that disconnected before it had its answer."""
        a = h.client_address
        log_event("rest-gone", f"REST client {a[0]}:{a[1]} disconnected {when}")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """What escaped a handler is one line, never a traceback: a client disconnecting
        (reset) or a bug."""
        e = sys.exc_info()[1]
        if isinstance(e, OSError):
            with self.lock:
                h = self.live.get(request)
            if isinstance(e, TimeoutError):
                log_event("rest-timeout", f"closed a REST connection from {client_address[0]}: "
                          f"request not received within {self.read_timeout:g} s")
            elif h is None or h.phase != "evicted":
                log_event("rest-gone", f"REST client {client_address[0]}:{client_address[1]} "
                          f"disconnected ({type(e).__name__})")
            return
        log_event("rest-error", f"REST request from {client_address[0]} failed: "
                  f"{type(e).__name__}: {e}")


class _Lobby:
    """Where newcomers wait, without a thread, while every connection is taken: one whose
    request head (up to the blank line) arrives within `grace` seconds is admitted, making
    room by closing the connection waiting longest; one trickling its request in
    (slowloris) gets 503 once `grace` has passed, and never a thread. At most `capacity`
    wait; past that a newcomer gets 503 at once. One thread, started when first needed."""

    HEAD = 16384                        # bytes of request head read here at most

    def __init__(self, server: "Server", capacity: int, grace: float):
        self.server, self.capacity, self.grace = server, capacity, grace
        self.incoming: queue.SimpleQueue = queue.SimpleQueue()
        self.n = 0                      # waiting, or on their way in
        self.lock = threading.Lock()
        self.thread: Optional[threading.Thread] = None
        self.stopped = False

    def add(self, sock: Any, addr: Any) -> bool:
        with self.lock:
            if self.stopped or self.n >= self.capacity:
                return False
            self.n += 1
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="rest-lobby",
                                               daemon=True)
                self.thread.start()
        self.incoming.put((sock, addr))
        return True

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
        self.incoming.put(None)

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        waiting: dict = {}              # socket -> [address, deadline, bytes so far]

        def drop(sock: Any, refuse: str = "") -> None:
            addr = waiting.pop(sock)[0]
            sel.unregister(sock)
            with self.lock:
                self.n -= 1
            if refuse:
                self.server.refuse(sock, addr, refuse)
            else:
                self.server.shutdown_request(sock)

        while True:
            try:
                item = self.incoming.get(timeout=0.5) if not waiting else \
                    self.incoming.get_nowait()
            except queue.Empty:
                item = ()
            while item != ():
                if item is None:
                    for sock in list(waiting):
                        drop(sock)
                    return
                sock, addr = item
                sock.setblocking(False)
                waiting[sock] = [addr, time.monotonic() + self.grace, b""]
                sel.register(sock, selectors.EVENT_READ)
                try:
                    item = self.incoming.get_nowait()
                except queue.Empty:
                    item = ()
            for key, _ in (sel.select(0.02) if waiting else ()):
                sock = key.fileobj
                w = waiting[sock]
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    drop(sock)
                    continue
                w[2] += data
                if b"\r\n\r\n" in w[2]:
                    waiting.pop(sock)
                    sel.unregister(sock)
                    with self.lock:
                        self.n -= 1
                    sock.setblocking(True)
                    self.server.admit(sock, w[0], w[2])
                elif len(w[2]) > self.HEAD:
                    drop(sock, "request head too long")
            now = time.monotonic()
            for sock in [s for s, w in waiting.items() if w[1] <= now]:
                drop(sock, f"{self.server.max_connections} connections busy, and its "
                           f"request not there within {self.grace:g} s")


def _send_quietly(sock: Any, data: bytes) -> None:
    """Send a short answer without waiting: a client that does not read it gets nothing."""
    try:
        sock.send(data, socket.MSG_DONTWAIT)
    except OSError:
        pass


__all__ = ["Server", "Handler", "BadRequest", "ClientGone", "MAX_BODY",
           "REST_MAX_CONNECTIONS", "REST_TIMEOUT", "REST_IDLE_TIMEOUT", "LOBBY_GRACE"]
