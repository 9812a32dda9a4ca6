"""The REPL itself, independent of the terminal: `Repl.handle(text)` does everything for one
submitted input (a Convex Lisp transaction in the current mode, or a `:command`), shows the
result or error with its cost badge and keeps *1 *2 *3 *e. The CLI drives it with piped
input, the tutor and the lesson doctest with recorded output, prompt.py with a terminal.

The workspace is anything implementing interface.WorkspaceAPI: the local CVM, a peer, a
local network. What one can't do (interface.Unsupported) is one line, and the session goes
on."""
from __future__ import annotations

from typing import Any, Callable, Optional

from convex_repl.repl.background import Pending
from convex_repl.repl.commands import COMMANDS
from convex_repl.repl.interface import Unsupported, WorkspaceAPI
from convex_repl.repl.render import Printer


class Repl:
    """Everything one input does, independent of the terminal. `workspace` may be a Pending
    one, still loading."""

    def __init__(self, workspace: Any, printer: Optional[Printer] = None,
                 mode: str = "transact", address: int = 13):
        self._ws = workspace
        self._address = address
        self.out = printer or Printer()
        self.mode = mode
        self.results: list = []          # *1 *2 *3, newest first
        self.last_error: Any = None      # *e
        self.last_value: Any = None
        self.has_last = False
        self.errors = 0                  # evaluations that failed
        self.editing_mode: Optional[Callable[[str], None]] = None
        self.tutor: Any = None           # a tutor.Tutor while a lesson is on
        self.insert = ""                 # text to put on the next prompt (:next)

    @property
    def ws(self) -> WorkspaceAPI:
        if isinstance(self._ws, Pending):
            self._ws = self._ws.get()
            for w in self._ws.warnings:
                self.out.warn(w)
            self.show_notices()
        return self._ws

    def show_notices(self) -> None:
        """The workspace's notices (a restored session), each once."""
        notices = getattr(self._ws, "notices", None)
        while notices:
            try:
                line = notices.pop(0)
            except IndexError:          # shown by another thread meanwhile
                break
            self.out.dim(line)

    @property
    def ready(self) -> bool:
        return not isinstance(self._ws, Pending)

    @property
    def session(self):
        return self.ws.session

    def prompt(self) -> str:
        tag = "" if self.mode == "transact" else f" {self.mode}"
        addr = self._ws.address if self.ready else self._address
        return f"convex #{addr}{tag}> "

    def bindings(self) -> dict:
        b = {}
        for i, v in enumerate(self.results[:3]):
            b[f"*{i + 1}"] = v
        if self.last_error is not None:
            b["*e"] = self.last_error
        return b

    # --- one input ----------------------------------------------------------------------
    def handle(self, text: str) -> None:
        """Handle one submitted input; raises Quit to end the REPL. During a tutorial the
        tutor sees it first (it checks the lesson's steps)."""
        if self.tutor is not None:
            self.tutor.handle(text)
        else:
            self.dispatch(text)

    def take_insert(self) -> str:
        text, self.insert = self.insert, ""
        return text

    def dispatch(self, text: str) -> None:
        """Run one input: a :command, or Convex Lisp in the current mode. A peer that can't
        be reached (after :connect or :local start) is one line, not the end of the REPL."""
        stripped = text.strip()
        if not stripped:
            return
        try:
            if stripped.startswith(":"):
                name, _, rest = stripped[1:].partition(" ")
                if not name[:1].isspace() and name in COMMANDS:
                    COMMANDS[name][0](self, rest.strip())
                    return
            self.evaluate(text)
        except Unsupported as e:
            self.out.warn(str(e))
        except Exception as e:
            if type(e).__name__ != "RemoteError":   # convex_repl.client.remote, not imported here
                raise
            self.out.warn(f"{e} (:disconnect goes back to the local CVM)")

    def evaluate(self, source: str) -> Any:
        """Run input in the current mode: transact (a signed transaction, with fees),
        eval (unsigned development mode) or query (no state change kept)."""
        try:
            if self.mode == "query":
                r = self.ws.query(source, self.bindings())
            else:
                r = self.ws.transact(source, self.bindings(), signed=self.mode == "transact")
        except KeyboardInterrupt:
            self.out.warn("Interrupted: the evaluation was cancelled; the session is unchanged.")
            return None
        self.show(r, source)
        return r

    def show_where(self, source: str, r: Any) -> None:
        """Where in the input the error is: the bracket or token that doesn't read, or the
        failing call (found from the trace), as `<input>:line:col` with a caret."""
        from lisp import ReaderError
        from lisp.source import Source, excerpt, location
        try:
            src = Source(source, "<input>")
        except ReaderError as e:
            self.out.located(f"at {location('<input>', e.line, e.column)}",
                             excerpt(source, e.line, e.column))
            return
        except Exception:
            return
        call = src.call_in(-1, r.trace)
        if call is not None:
            self.out.located(f"at {location('<input>', *call)}", excerpt(source, *call))

    def show(self, r: Any, source: Optional[str] = None) -> None:
        if r.ok:
            self.results.insert(0, r.value)
            del self.results[3:]
            self.last_value, self.has_last = r.value, True
            self.out.value(r.value)
        else:
            self.last_error = _error_value(r)
            self.errors += 1
            self.out.error(self.session, r)
            if source is not None:
                self.show_where(source, r)
        self.out.badge(r)

    def form_arg(self, arg: str, what: str) -> Optional[str]:
        if not arg:
            self.out.warn(f"usage: :{what} form")
            return None
        return arg


def _error_value(r: Any) -> Any:
    from kernel.data.blobs import String
    from kernel.data.hashmaps import Map
    from kernel.data.scalars import Keyword
    from kernel.data.vectors import Vector
    pairs = [(Keyword("code"), r.error_value if r.error_value is not None
              else Keyword(r.error)),
             (Keyword("message"), String.of(r.message or "")),
             (Keyword("trace"), Vector.from_seq([String.of(t) for t in r.trace]))]
    return Map.from_pairs(pairs)
