"""A peer's log: events on stderr through stdlib logging, as text for people or as JSON lines
for machines (`convex peer start --log-format json --log-level info`).

    log.configure("json", "info", peer="0")          # once, when the process starts
    log.event("0", "goodbye", peer_key="0x12ab...", reason="shutdown")
    log.event(None, "halted", "consensus safety violated: ...", level="error", why=...)

A JSON line is {"time", "level", "peer", "event", "message"?, ...fields}; a text line is
`convex peer[ NAME]: message` (or `event key=value ...` when there is no message), NAME
when the caller gave one (several peers in one process), not the process's own. Both go
to the stderr of the moment (tests swap it), and a closed stderr silences the log instead of
failing the peer.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Optional

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
_logger = logging.getLogger("convex.peer")
_logger.propagate = False             # the process's root logging is not ours to feed
_default_peer: Optional[str] = None


class _Formatter(logging.Formatter):
    def __init__(self, fmt: str):
        super().__init__()
        self.kind = fmt

    def format(self, record: logging.LogRecord) -> str:
        peer = getattr(record, "peer", None)
        name = getattr(record, "event", None) or "log"
        message = record.getMessage() or None
        fields = getattr(record, "fields", {})
        if self.kind == "json":
            t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            line = {"time": f"{t}.{int(record.msecs):03d}Z", "level": record.levelname.lower(),
                    "peer": peer, "event": name}
            if message is not None:
                line["message"] = message
            for k, v in fields.items():
                line.setdefault(k, v)
            return json.dumps(line, default=str, ensure_ascii=False)
        named = getattr(record, "named", None)     # text names only a peer the caller named
        head = "convex peer" + (f" {named}" if named is not None else "")
        if message is not None:         # the message says it for people
            return f"{head}: {message}"
        return head + ": " + name + "".join(f" {k}={v}" for k, v in fields.items())


class _Stderr(logging.Handler):
    """Writes to whatever sys.stderr is when the record is emitted."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):   # no stderr left: nothing to tell
            pass


_handler = _Stderr()
_handler.setFormatter(_Formatter("text"))
_logger.addHandler(_handler)
_logger.setLevel(logging.INFO)


def configure(fmt: str = "text", level: str = "info", peer: Optional[str] = None) -> None:
    """Choose the format (FORMATS), the least level logged (LEVELS) and the name events
    carry when their caller names none; a bad choice is a ValueError naming the choices."""
    global _default_peer
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: expected one of {', '.join(LEVELS)}")
    _handler.setFormatter(_Formatter(fmt))
    _logger.setLevel(getattr(logging, level.upper()))
    if peer is not None:
        _default_peer = peer


def name_peer(name: Optional[str]) -> None:
    """The name events of this process carry when their caller names none."""
    global _default_peer
    _default_peer = name


def event(peer: Optional[str], name: str, message: Optional[str] = None,
          level: str = "info", **fields: Any) -> None:
    """Log event `name` of peer `peer` (None: the process's peer, see configure) at `level`,
    with an optional human message and any JSON-able fields."""
    lv = getattr(logging, level.upper(), logging.INFO)
    if not _logger.isEnabledFor(lv):
        return
    _logger.log(lv, "%s", message or "", extra={
        "peer": peer if peer is not None else _default_peer, "named": peer, "event": name,
        "fields": fields})


__all__ = ["configure", "event", "name_peer", "FORMATS", "LEVELS"]
