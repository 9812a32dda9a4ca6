"""Stopping a peer process cleanly on Ctrl-C or SIGTERM."""
from __future__ import annotations

import signal
import threading
from typing import Any


def on_stop_signals(stop: threading.Event) -> dict:
    """Make SIGINT and SIGTERM set `stop`, whatever their disposition was (a process started
    with SIGINT ignored, as under nohup, still stops on Ctrl-C); the old handlers."""
    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
    return {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}


def restore_signals(old: dict) -> None:
    for s, h in old.items():
        signal.signal(s, h if h is not None else signal.SIG_DFL)
