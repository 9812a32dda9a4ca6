"""A submitted transaction's ticket, and the error Results a peer answers with.

Owns Ticket and error_result; imports kernel data only (the peer modules import it).
"""
from __future__ import annotations

import _thread
from typing import Any, Optional

from kernel.data.blobs import Blob, String
from kernel.data.hashmaps import Map
from kernel.data.records import Signed
from kernel.data.scalars import Keyword
from kernel.state.transactions import Result

K = Keyword
PEER = K("PEER")


def error_result(code: str, message: str, source: Keyword = PEER, info: Any = None) -> Result:
    m = Map.from_pairs([(K("source"), source)])
    if info:
        for k, v in info.items():
            m = m.assoc(K(k), v)
    return Result.create(None, String.of(message), K(code), None, m)


def bad_signature(signed: Signed) -> Result:
    return error_result("SIGNATURE", "Bad signature", info={"tx": Blob(signed.value_id())})


def reject_signature(p: "Ticket") -> None:
    p.answer(bad_signature(p.signed))


class Ticket:
    """A submitted transaction: its Result arrives once its block has run (`wait`).

    A C-level lock held until the answer comes, not a threading.Event: an Event builds a
    Python Condition per transaction, which under load cost a client more than its
    pre-checks."""

    __slots__ = ("signed", "form", "_unanswered", "result", "queued", "unchecked", "forged")

    def __init__(self, signed: Optional[Signed] = None, form: Any = None,
                 result: Optional[Result] = None):
        self.signed = signed
        self.form = form            # for the faucet: a command run as the faucet account
        self._unanswered = _thread.allocate_lock()
        self.result: Optional[Result] = result
        self.queued = result is not None    # handed to the producer (or answered already)
        self.unchecked = False      # its signature is left to the producer (side_checks.py)
        self.forged = False         # ... which found it bad
        if result is None:
            self._unanswered.acquire()

    @property
    def answered(self) -> bool:
        return not self._unanswered.locked()

    def answer(self, result: Result) -> None:
        """Give the Result and wake whoever waits; the first answer stands."""
        if self._unanswered.locked():
            self.result = result
            try:
                self._unanswered.release()
            except RuntimeError:        # answered by another thread meanwhile
                pass

    def wait(self, timeout: float = 60.0) -> Result:
        if not self._unanswered.acquire(timeout=timeout):
            return error_result("TIMEOUT", "Transaction not confirmed in time", K("SERVER"))
        self._unanswered.release()      # answered for good: later waits return at once
        return self.result


__all__ = ["Ticket", "bad_signature", "error_result", "reject_signature"]
