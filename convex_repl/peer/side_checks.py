"""Signatures of the block being gathered, checked by the block producer and one helper
thread side by side.

With clients that each wait for their result, a round is: answers go out, the clients wake
and submit again, their signatures are checked, the block runs. Checked in each submitting
thread, every submission took the interpreter lock three times (on waking, and before and
after the check, which releases it), and each hand-over of the lock between threads costs a
thread wake-up (~20 us on a VM): the clients' checks queued behind each other's wake-ups.
Here a client only queues its transaction (one turn of the lock); the producer checks
signatures while it gathers the block, so the checks of early arrivals overlap the later
arrivals, and one helper thread, woken once per burst, checks on the second core beside it
(libsodium runs without the lock). Under load the signature stage (verifier.py) takes over.

Invariant: every ticket added is checked exactly once (by whichever thread takes it from the
shared deque first), and `finish` returns only when all of them are.
"""
from __future__ import annotations

import _thread
import threading
from collections import deque
from typing import Any

from kernel.state.transactions import verify


class SideChecks:
    """The producer's work list of unchecked tickets (each with `.signed`; a check sets
    `.forged`) and the helper thread that shares it. Only the producer calls its methods,
    and closes it when it ends."""

    def __init__(self) -> None:
        self._work: deque = deque()
        self._go = _thread.allocate_lock()      # released to wake the helper
        self._go.acquire()
        self._busy = _thread.allocate_lock()    # held while the helper is checking
        self._closed = False
        threading.Thread(target=self._help, name="signatures-beside", daemon=True).start()

    def add(self, ticket: Any) -> None:
        self._work.append(ticket)

    def kick(self) -> None:
        """Wake the helper if it is idle and there is work (if busy, it takes the new work
        itself, or the producer does)."""
        if self._work and not self._closed and self._busy.acquire(False):
            self._go.release()

    def check_one(self) -> bool:
        """Check the next waiting signature here: False if none was waiting."""
        try:
            ticket = self._work.popleft()
        except IndexError:
            return False
        try:
            ticket.forged = not verify(ticket.signed)
        except Exception:       # malformed: refused, and neither thread dies of it
            ticket.forged = True
        return True

    def finish(self) -> None:
        """Check what is waiting here, then wait for the helper's last check."""
        while self.check_one():
            pass
        self._busy.acquire()
        self._busy.release()

    def close(self) -> None:
        """Let the helper end (once its checks in hand are done); finish still works."""
        self._closed = True
        if self._busy.acquire(False):
            self._go.release()

    def _help(self) -> None:
        while True:
            self._go.acquire()
            if not self._closed:
                while self.check_one():
                    pass
            self._busy.release()
            if self._closed:        # (closed while it was checking: nothing wakes it again)
                return


__all__ = ["SideChecks"]
