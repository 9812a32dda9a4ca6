"""The REPL's windows into execution (convex_repl.insight): `:trace FORM` (the calls it made,
with juice), `:explain FORM` (its op tree with per-op counts and juice, the hot path
highlighted), `:debug FORM` (the step debugger, at a `debug>` prompt of its own) and
`:break name` (breakpoints on functions). Each runs the form as a query on the session's
state, or, connected to a peer, on a copy of the peer's state taken then: nothing is kept.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Optional

from convex_repl.repl.commands import command

if TYPE_CHECKING:
    from convex_repl.repl.app import Repl

TRACE_CALLS = 300      # calls :trace records (the rest are counted): a screenful or so
DEBUG_HELP = ("s step in · n next (over) · o out · c continue · l locals · w where · "
              "b NAME break · q quit (Enter repeats)")


def _target(repl: Repl) -> tuple:
    """(state, address, juice limit, note): the local session's state, or a copy of the
    peer's (then the note says so)."""
    ws = repl.ws
    if not getattr(ws, "remote", False):
        s = ws.session
        return s.state, s.address, s.juice_limit, None
    from convex_repl.api import DEFAULT_JUICE_LIMIT
    from convex_repl.client.remote import Remote
    from convex_repl.insight.remote import fetch_state
    peer = getattr(ws, "peer", None)
    state = fetch_state(peer if isinstance(peer, Remote) else Remote(ws.url))
    return state, ws.address, DEFAULT_JUICE_LIMIT, f"ran on a copy of {ws.describe()}'s state"


def _forms(repl: Repl, arg: str) -> tuple:
    """(the forms of `arg` with *1 *2 *3 *e substituted, a coverage.SourceMap of `<input>`
    to say where ops come from); (None, None), said why, if they don't read."""
    from lisp import ReaderError
    from lisp.source import Source, location
    from convex_repl.insight.coverage import SourceMap
    from convex_repl.repl.workspace import substitute
    try:
        src = Source(arg, "<input>")
    except ReaderError as e:
        repl.out.warn(f"{location('<input>', e.line, e.column)}: {e.message}")
        return None, None
    return substitute(src.forms, repl.bindings())[0], SourceMap(src)


def _traced(repl: Repl, arg: str, what: str, rec: Any = None) -> Any:
    if not repl.form_arg(arg, what):
        return None
    forms, smap = _forms(repl, arg)
    if forms is None:
        return None
    from convex_repl.insight.run import run_traced
    state, addr, limit, note = _target(repl)
    try:
        t = run_traced(state, addr, forms, rec, limit, smap=smap)
    except KeyboardInterrupt:
        repl.out.warn("Interrupted.")
        return None
    if note:
        repl.out.dim(note)
    if not t.result.ok:
        repl.show_where(arg, t.result)
    return t


@command("trace", ":trace [-d N] form", "run the form (as a query) and show the calls it "
         "made (N levels deep), with arguments, results and juice")
def _trace(repl: Repl, arg: str) -> None:
    from kernel.cvm.trace import Recorder
    depth = None
    if arg.startswith("-d"):
        n, _, rest = arg[2:].strip().partition(" ")
        if not n.isdigit():
            repl.out.warn("usage: :trace [-d N] form")
            return
        depth, arg = int(n), rest.strip()
    t = _traced(repl, arg, "trace", Recorder(max_depth=depth, max_calls=TRACE_CALLS))
    if t is not None:
        from convex_repl.insight.calls import trace_tree
        repl.out.rich(trace_tree(t, repl.ws.address, None,
                                 None if t.smap is None else t.smap.where))


@command("explain", ":explain form", "run the form (as a query) and show its op tree: "
         "times each op ran, its juice, the hot path")
def _explain(repl: Repl, arg: str) -> None:
    t = _traced(repl, arg, "explain")
    if t is not None:
        from convex_repl.insight.explain import explain_tree
        repl.out.rich(explain_tree(t))


def breakpoints(repl: Repl) -> set:
    bp = getattr(repl, "breakpoints", None)
    if bp is None:
        bp = repl.breakpoints = set()
    return bp


@command("break", ":break [name | -name | clear]", "breakpoints of :debug on functions: "
         "add, remove, clear or list")
def _break(repl: Repl, arg: str) -> None:
    bp = breakpoints(repl)
    if arg == "clear":
        bp.clear()
    elif arg.startswith("-") and len(arg) > 1:
        if arg[1:] not in bp:
            repl.out.warn(f"no breakpoint on {arg[1:]}")
            return
        bp.discard(arg[1:])
    elif arg:
        if any(c.isspace() or c in "()[]{}\"" for c in arg):
            repl.out.warn("usage: :break name (a function's name, e.g. :break transfer)")
            return
        bp.add(arg)
    repl.out.info("breakpoints: " + (", ".join(sorted(bp)) if bp else "none"))


def _ask(repl: Repl, prompt: str) -> Optional[str]:
    """One line at the debugger's prompt; None when the user leaves (Ctrl-D / Ctrl-C)."""
    ask = getattr(repl, "ask", None)
    try:
        if ask is not None:
            return ask(prompt)
        if sys.stdin is not None and sys.stdin.isatty():
            session = getattr(repl, "_debug_session", None)
            if session is None:
                from prompt_toolkit import PromptSession
                session = repl._debug_session = PromptSession()
            return session.prompt(prompt, bottom_toolbar=" " + DEBUG_HELP)
        return input(prompt)
    except (EOFError, KeyboardInterrupt):
        return None


def _show_stop(repl: Repl, st: Any, full: bool = False) -> None:
    from kernel.data.printer import print_brief
    from convex_repl.insight.explain import _label
    parts = [f"breakpoint {st.breakpoint}"] if st.breakpoint else []
    parts.append("in " + " ← ".join(reversed(st.stack)) if st.stack else "top level")
    if st.at:
        parts.append(st.at)
    parts.append(f"depth {st.depth} · juice left {st.juice_left:,} (used {st.juice_used:,})")
    head = " · ".join(parts)
    repl.out.dim(head)
    repl.out.code(f"{_label(st.op)} {print_brief(st.op, 200)}")
    if st.locals or full:
        shown = st.locals if full else st.locals[-6:]
        parts = [f"{n or '%' + str(i)}{f' (%{i})' if n else ''} = {print_brief(v, 60)}"
                 for i, n, v in shown]
        more = len(st.locals) - len(shown)
        repl.out.info("locals: " + (" · ".join(parts) if parts else "none")
                      + (f" · … {more} more (l shows all)" if more > 0 else ""))


_STEPS = {"s": "in", "step": "in", "in": "in", "n": "over", "next": "over", "over": "over",
          "o": "out", "out": "out", "c": "continue", "continue": "continue"}


@command("debug", ":debug form", "step through the form's op tree (as a query): step in, "
         "over, out, continue to a :break, locals and juice left at each step")
def _debug(repl: Repl, arg: str) -> None:
    if not repl.form_arg(arg, "debug"):
        return
    forms, smap = _forms(repl, arg)
    if forms is None:
        return
    from convex_repl.insight.debugger import Debugger
    state, addr, limit, note = _target(repl)
    bp = breakpoints(repl)
    dbg = Debugger(state, addr, forms, limit, bp, smap)
    if note:
        repl.out.dim(note)
    repl.out.dim(DEBUG_HELP + (f" · breakpoints: {', '.join(sorted(bp))}: running to the "
                               "first" if bp else ""))
    try:
        ev = _session(repl, dbg, "continue" if bp else "in", bp)
    except KeyboardInterrupt:
        dbg.abort()
        repl.out.warn("Interrupted: debugging stopped; nothing was kept")
        return
    _show_done(repl, arg, ev)


def _session(repl: Repl, dbg: Any, first: str, bp: set) -> Any:
    """The debug> loop: commands until the run is done or quit; the Done event."""
    from convex_repl.insight.debugger import Done
    ev = dbg.start(first)
    last = "s"
    while not isinstance(ev, Done):
        _show_stop(repl, ev)
        while True:
            line = _ask(repl, "debug> ")
            if line is None:
                ev = dbg.quit()
                break
            cmd = line.strip() or last
            word, _, rest = cmd.partition(" ")
            if word in _STEPS:
                last = word
                ev = dbg.step(_STEPS[word])
                break
            if word in ("q", "quit"):
                ev = dbg.quit()
                break
            if word in ("l", "locals"):
                _show_stop(repl, ev, full=True)
            elif word in ("w", "where"):
                repl.out.info("calls: " + (" → ".join(ev.stack) or "none (top level)"))
            elif word in ("b", "break") and rest.strip():
                dbg.breakpoints.add(rest.strip())
                bp.add(rest.strip())
                repl.out.info("breakpoints: " + ", ".join(sorted(bp)))
            else:
                repl.out.warn(DEBUG_HELP)
    return ev


def _show_done(repl: Repl, arg: str, ev: Any) -> None:
    if ev.quit:
        repl.out.warn("debugging stopped; nothing was kept")
        return
    r = ev.result
    if r.ok:
        repl.out.value(r.value)
    else:
        repl.out.error(repl.session, r)
        repl.show_where(arg, r)
    repl.out.dim(f"finished · {r.juice:,} juice (run as a query: nothing was kept)")


__all__ = ["breakpoints", "DEBUG_HELP"]
