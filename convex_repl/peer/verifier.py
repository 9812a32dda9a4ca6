"""The peer's signature stage: submitted transactions' signatures checked in worker processes.

In one process, threads verifying with pynacl release the interpreter lock only inside
libsodium; each must take it back between signatures, and while the block producer runs
Python it hands the lock over only every switch interval (5 ms), so verification stalled
whenever blocks were being made. Worker processes (convex_repl/peer/sigworker.py, one per
core) verify under their own locks; here one thread sends them what is queued in chunks and
another reads their answers with the lock released and passes the transactions on in the
order they came (a client's transactions keep their sequence order) or rejects them.

Invariant: every ticket put here is handed on or answered exactly once, also when a worker
dies (its part is verified here instead and the worker restarted) or the stage stops
(`close` drains what is queued first).
"""
from __future__ import annotations

import atexit
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from typing import Any, Callable, Optional

from kernel.state.transactions import mark_verified, signature_parts, verify

CHUNK = 128                     # signatures sent to a worker at once (<= sigworker.MAX_BATCH)
DEPTH = 2                       # chunks in flight per worker


class _Worker:
    """One sigworker process and its pipes."""

    def __init__(self) -> None:
        self.load = 0                   # chunks sent and not yet answered
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "convex_repl.peer.sigworker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, env=_worker_env())

    def send(self, parts: list) -> None:
        """Write a batch (a dead worker's failure shows when its answers are read)."""
        body = b"".join(parts[1:])
        try:
            self.proc.stdin.write(parts[0] + len(body).to_bytes(4, "big") + body)
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass

    def receive(self, n: int) -> Optional[bytes]:
        try:
            out = self.proc.stdout.read(n)
        except (OSError, ValueError):
            return None
        return out if len(out) == n else None

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc.stdout.close()


def _worker_env() -> dict:
    """The parent's environment, with the source tree importable (tests run from it)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=root if not path else root + os.pathsep + path)


def _encode(signed: Any) -> list:
    """A signature's record in a batch (an empty one, which fails, if the value can't be
    encoded or its key or signature has the wrong length)."""
    try:
        pk, sig, msg = signature_parts(signed)
    except Exception:
        pk = sig = msg = b""
    if len(pk) != 32 or len(sig) != 64:
        pk = sig = msg = b""
    return [bytes((len(pk),)), pk, bytes((len(sig),)), sig, len(msg).to_bytes(4, "big"), msg]


class SignatureStage:
    """Checks each ticket's signature off the interpreter lock, then calls its `forward`
    (valid) or `reject` (invalid), in the order the tickets were put.

    A sender thread takes what is queued in chunks and writes each to the least loaded
    worker (at most DEPTH chunks in flight per worker, so a worker starts the next while
    its last answer is read); a receiver thread reads the answers in the order the chunks
    were sent and hands the tickets on. Neither waits for the other: a ticket put while
    answers are awaited goes out at once."""

    def __init__(self, workers: Optional[int] = None):
        n = workers if workers is not None else max(1, os.cpu_count() or 1)
        self._workers = [_Worker() for _ in range(n)]
        self._queue: "queue.SimpleQueue" = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)    # notified as each chunk is handed on
        self._sent = threading.Condition(threading.Lock())   # inflight and worker loads
        self._inflight: "deque" = deque()     # (worker, chunk), oldest first; None: stop
        self._threads = [threading.Thread(target=f, name=f"signatures-{f.__name__[1:]}",
                                          daemon=True) for f in (self._send, self._receive)]
        for t in self._threads:
            t.start()

    def put(self, ticket: Any, forward: Callable[[Any], None],
            reject: Callable[[Any], None]) -> None:
        """Check `ticket.signed`'s signature, then call forward(ticket) or reject(ticket)."""
        with self._lock:
            self._pending += 1
        self._queue.put((ticket, forward, reject))

    def idle(self) -> bool:
        """True when no ticket is queued or being checked: none is about to be handed on."""
        return self._pending == 0

    def wait_handed(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the next chunk to be handed on: False at once
        when nothing is queued or being checked, or if none was handed on in time."""
        with self._idle:
            return self._pending > 0 and self._idle.wait(timeout)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every ticket put so far has been handed on or answered."""
        with self._idle:
            self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self) -> None:
        """Hand on what is queued, then stop the threads and the workers."""
        self._queue.put(None)
        for t in self._threads:
            t.join(30)
        for w in self._workers:
            w.close()

    # --- the two threads ----------------------------------------------------------------------
    def _send(self) -> None:
        while True:
            chunk, stop = self._take()
            if chunk:
                with self._sent:
                    self._sent.wait_for(lambda: min(w.load for w in self._workers) < DEPTH)
                    w = min(self._workers, key=lambda x: x.load)
                    w.load += 1
                w.send(_batch(chunk))
                with self._sent:
                    self._inflight.append((w, chunk))
                    self._sent.notify_all()
            if stop:
                with self._sent:
                    self._inflight.append(None)
                    self._sent.notify_all()
                return

    def _receive(self) -> None:
        while True:
            with self._sent:
                self._sent.wait_for(lambda: self._inflight)
                item = self._inflight[0]
            if item is None:
                return
            w, chunk = item
            answers = w.receive(len(chunk))
            with self._sent:
                self._inflight.popleft()
                w.load -= 1
                if answers is None and w in self._workers:      # died: start another
                    self._workers[self._workers.index(w)] = _Worker()
                    w.close()
                self._sent.notify_all()
            self._hand_on(chunk, answers)

    def _take(self) -> tuple:
        """(queued items for one chunk, whether the stop mark came): a share of what is
        queued, so a few signatures are split between the workers too, at most CHUNK."""
        q = self._queue
        limit = min(CHUNK, max(1, -(-q.qsize() // len(self._workers))))
        chunk: list = []
        try:
            item = q.get()
            while item is not None:
                chunk.append(item)
                if len(chunk) >= limit:
                    break
                item = q.get_nowait()
            else:
                return chunk, True
        except queue.Empty:
            pass
        return chunk, False

    def _hand_on(self, chunk: list, answers: Optional[bytes]) -> None:
        """Forward or reject a chunk's tickets by the workers' answers (None: check here)."""
        for k, (ticket, forward, reject) in enumerate(chunk):
            ok = verify(ticket.signed) if answers is None else answers[k]
            if ok:
                if answers is not None:
                    mark_verified(ticket.signed)
                forward(ticket)
            else:
                reject(ticket)
        with self._idle:
            self._pending -= len(chunk)
            self._idle.notify_all()         # drain() and wait_handed() look again


def _batch(chunk: list) -> list:
    parts = [len(chunk).to_bytes(4, "big")]
    for item in chunk:
        parts.extend(_encode(item[0].signed))
    return parts


_STAGE: Optional[SignatureStage] = None
_STAGE_LOCK = threading.Lock()


def signature_stage() -> SignatureStage:
    """This process's signature stage (its workers start on first use; every peer in the
    process shares them: a test starting several peers starts no more processes)."""
    global _STAGE
    with _STAGE_LOCK:
        if _STAGE is None:
            _STAGE = SignatureStage()
            atexit.register(_STAGE.close)
        return _STAGE
