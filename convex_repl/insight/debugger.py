"""The step debugger: forms run traced in a worker thread that stops before ops, and the
caller steps it: in (the next op), over (past the current op and all it runs), out (until
the current function returns), continue (to the next breakpoint, or the end). A breakpoint
is a function name: the run stops at the first op of its body each time it is called.

At each stop the caller sees the op about to run, the function it is in and the calls that
led there, the locals (`%n` as ops print them, named after the function's parameters where
they are its own) and the juice left. The run is a query on the state given (the local
session's, or a copy of a peer's): nothing it does is kept. Juice is as untraced.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

from kernel.cvm.trace import Recorder, tracing


class _Quit(BaseException):
    """Ends the debugged run from inside it (not a CVM error: nothing catches it)."""


@dataclass
class Stop:
    op: Any                      # the op about to run
    depth: int                   # frames below it (ops and function bodies)
    function: Optional[str]      # the function it is in, None at the top level
    stack: list                  # names of the calls that led here, outermost first
    locals: list                 # (position, name or None, value)
    juice_left: int
    juice_used: int
    breakpoint: Optional[str] = None     # the breakpoint that stopped here, if any
    at: Optional[str] = None             # file:line:col of the op, when its source is known


@dataclass
class Done:
    result: Any                  # convex_repl.api.Result (None if quit)
    quit: bool = False
    calls: list = field(default_factory=list)


class Debugger(Recorder):
    """`start()` runs to the first op and returns a Stop (or Done); `step(cmd)` with "in",
    "over", "out" or "continue" returns the next; `quit()` ends the run."""

    def __init__(self, state: Any, address: int, forms: list, juice_limit: int,
                 breakpoints: Optional[set] = None, smap: Any = None):
        super().__init__()
        self.smap = smap            # coverage.SourceMap of the forms' text: stops say where
        self.state, self.address, self.forms, self.juice_limit = state, address, forms, \
            juice_limit
        self.breakpoints = set(breakpoints or ())
        self._to_ui: "queue.Queue" = queue.Queue()
        self._to_run: "queue.Queue" = queue.Queue()
        self._mode, self._level = "in", 0
        self._hit: Optional[str] = None
        self._abort = False
        self._thread: Optional[threading.Thread] = None
        self.finished: Optional[Done] = None

    # --- the worker -------------------------------------------------------------------------
    def _work(self) -> None:
        from kernel.cvm.context import Context
        from convex_repl.insight.run import run_forms
        ctx = Context(self.state, self.address, juice_limit=self.juice_limit)
        try:
            with tracing(self):
                r = run_forms(ctx, self.forms, [], self.smap)
            self._to_ui.put(Done(r, calls=self.root.calls))
        except _Quit:
            self._to_ui.put(Done(None, quit=True))
        except BaseException as e:      # never leave the UI waiting
            from convex_repl.api import Result
            self._to_ui.put(Done(Result(error="UNEXPECTED", message=f"{type(e).__name__}: "
                                        f"{e}")))

    def _open(self, name: str, address: Optional[int], args: list) -> Any:
        node = super()._open(name, address, args)
        if name in self.breakpoints and not self.quiet:
            self._hit = name
        return node

    def pause(self, op: Any, ctx: Any, env: list, d: int) -> None:  # type: ignore[override]
        if self._abort:
            raise _Quit()
        if self.quiet:
            return                      # inside macro expansion: not the user's code
        depth = len(self._frames)
        hit, self._hit = self._hit, None
        mode = self._mode
        if hit is None:
            if mode == "continue":
                return
            if mode == "over" and depth > self._level:
                return
            if mode == "out" and depth >= self._level:
                return
        self._to_ui.put(self._stop(op, ctx, env, depth, hit))
        cmd = self._to_run.get()
        if cmd == "quit":
            raise _Quit()
        self._mode = cmd
        if cmd == "over":
            self._level = depth
        elif cmd == "out":
            bodies = [i for i, f in enumerate(self._frames) if f[0] is None]
            self._level = bodies[-1] if bodies else -1      # leave the innermost body

    def _stop(self, op: Any, ctx: Any, env: list, depth: int, hit: Optional[str]) -> Stop:
        calls = self._calls[1:]
        names = self._names_of_locals(calls[-1]._fn_value if calls else None)
        return Stop(op=op, depth=depth, function=calls[-1].fn if calls else None,
                    stack=[c.fn for c in calls], juice_left=ctx.limit - ctx.juice,
                    juice_used=ctx.juice,
                    locals=[(i, names.get(i), v) for i, v in enumerate(env)],
                    breakpoint=hit, at=None if self.smap is None else self.smap.where(op))

    def _names_of_locals(self, f: Any) -> dict:
        """position -> name of the locals in scope: the running function's parameters, then
        what each `let` or `loop` entered since bound (at the positions it started from)."""
        from kernel.cvm.binding import binding_symbols
        from kernel.cvm.ops import Let
        names: dict = {}

        def bind(pos: int, forms: Any) -> None:
            try:
                for form in forms:
                    for sym in binding_symbols(form):
                        names[pos] = sym.name
                        pos += 1
            except Exception:       # a binding form the compiler would refuse: no names
                pass
        if f is not None and getattr(f, "params", None) is not None:
            bind(len(getattr(f, "env", ())), [f.params])
        frames = self._frames
        start = max((i for i, fr in enumerate(frames) if fr[0] is None), default=-1) + 1
        for fr in frames[start:]:
            if type(fr[0]) is Let:
                bind(fr[3], fr[0].bindings)
        return names

    # --- the caller's side ------------------------------------------------------------------
    def _next(self) -> Any:
        ev = self._to_ui.get()
        if isinstance(ev, Done):
            self.finished = ev
            if self._thread is not None:
                self._thread.join()
        return ev

    def start(self, mode: str = "in") -> Any:
        """Start the run, stopping at the first op ("in") or the first breakpoint
        ("continue")."""
        self._mode = mode
        self._thread = threading.Thread(target=self._work, name="convex-debugger",
                                        daemon=True)
        self._thread.start()
        return self._next()

    def step(self, cmd: str) -> Any:
        if cmd not in ("in", "over", "out", "continue"):
            raise ValueError(f"not a step: {cmd}")
        if self.finished is not None:
            return self.finished
        self._to_run.put(cmd)
        return self._next()

    def abort(self, timeout: float = 5.0) -> None:
        """Stop the run from any thread (Ctrl-C while it runs): at its next op, or now if
        it is waiting at a stop."""
        self._abort = True
        self._to_run.put("quit")
        if self._thread is not None:
            self._thread.join(timeout)

    def quit(self) -> Done:
        if self.finished is None:
            self._to_run.put("quit")
            return self._next()
        return self.finished


__all__ = ["Debugger", "Stop", "Done"]
