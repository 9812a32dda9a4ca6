"""The REPL without a terminal: inputs read from stdin (each complete group of forms), results
printed without prompts. `convex` with piped input runs it (cli/launch.py, without importing
the command-line machinery; cli/session.py for the other cases)."""
from __future__ import annotations

import sys
from typing import Any

EXIT_OK, EXIT_FAILED = 0, 1      # as convex_repl.cli.base


def run_plain(ws: Any, color: bool, repl: Any = None) -> int:
    """Evaluate stdin's inputs in `ws` (or in `repl`); exit code 1 if any evaluation failed."""
    from convex_repl.repl.app import Repl
    from convex_repl.repl.commands import Quit
    from convex_repl.repl.forms import is_complete
    from convex_repl.repl.render import Printer
    if repl is None:
        repl = Repl(ws, Printer(color=color))
    buf = ""
    for line in sys.stdin:
        buf += line
        if not is_complete(buf):
            continue
        text, buf = buf, ""
        try:
            repl.handle(text)
        except Quit:
            buf = ""
            break
    if buf.strip():
        try:
            repl.handle(buf)
        except Quit:
            pass
    return EXIT_FAILED if repl.errors else EXIT_OK
