"""`convex trace` and `convex explain`: forms run as a query with the interpreter watched
(convex_repl.insight), printed as the tree of calls with their juice, or as the op tree with
per-op counts and juice. Against a peer (--url) the peer's state is copied and the forms
run on the copy; `trace --tx HASH` replays a confirmed transaction on its pre-state."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import typer

from convex_repl.cli.base import (ADDRESS, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE, FRESH, HOME,
                                  JSON, JUICE_LIMIT, Fail, _emit, _read_source, _workspace, app)

FILE = typer.Option(None, "--file", "-f", show_default=False,
                    help="Read the forms from this Convex Lisp file (errors name file:line:col).")
BLOCK = typer.Option(None, "--block", show_default=False,
                     help="With --url: run on the state after block N.")


def _source(forms: Optional[str], file: Optional[Path]) -> Any:
    """The forms given (named `<forms>`), or a file's, read with positions (a Source);
    text that does not read is a one-line Fail at file:line:col (exit 2)."""
    from lisp import ReaderError
    from lisp.source import Source, excerpt, syntax_error_line
    if file is None:
        text = _read_source(forms)
        file = Path("<forms>")
    elif forms is not None:
        raise Fail("give the forms or --file, not both", EXIT_USAGE, "USAGE")
    else:
        try:
            text = file.read_text()
        except OSError as e:
            raise Fail(f"can't read {file}: {e.strerror}", EXIT_NOT_FOUND, "IO") from None
    try:
        return Source(text, str(file))
    except ReaderError as e:
        raise Fail(syntax_error_line(str(file), e), EXIT_USAGE, "SYNTAX",
                   {"file": str(file), "line": e.line, "column": e.column},
                   excerpt(text, e.line, e.column)) from None


def _target(home: Optional[Path], fresh: bool, address: Optional[str],
            juice_limit: Optional[int], block: Optional[int]) -> tuple:
    """(state, acting address, juice limit, where): the local session's, or a copy of a
    peer's state (--url) taken now or after --block."""
    ws = _workspace(home, fresh, True, address, juice_limit)
    if not getattr(ws, "remote", False):
        if block is not None:
            raise Fail("--block needs a peer (--url): the local CVM keeps no blocks",
                       EXIT_USAGE, "USAGE")
        s = ws.session
        return s.state, s.address, s.juice_limit, "the local CVM"
    from convex_repl.api import DEFAULT_JUICE_LIMIT
    from convex_repl.insight.remote import fetch_state
    state = fetch_state(_remote(ws), block)
    return state, ws.address, juice_limit or DEFAULT_JUICE_LIMIT, f"a copy of {ws.url}'s state"


def _remote(ws: Any) -> Any:
    from convex_repl.client.remote import Remote
    peer = getattr(ws, "peer", None)
    return peer if isinstance(peer, Remote) else Remote(ws.url)


def _fail_located(t: Any, src: Any) -> None:
    """The run's error as a one-line Fail at file:line:col of the failing form (and of the
    failing call in it, when the trace finds it), with the source excerpt."""
    r = t.result
    msg = f":{r.error}" + (f" {r.message}" if r.message else "")
    i = len(t.roots) - 1
    if src is None or not 0 <= i < len(src.forms):
        raise Fail(msg, EXIT_FAILED, r.error)
    one, shown, where = src.explain(i, msg, r.trace)
    raise Fail(one, EXIT_FAILED, r.error, where, shown)


def _print(renderable: Any) -> None:
    from rich.console import Console
    Console(highlight=False, soft_wrap=False,
            no_color="NO_COLOR" in os.environ).print(renderable)


@app.command("trace")
def trace_cmd(
    forms: Optional[str] = typer.Argument(None, help="Convex Lisp forms ('-' reads stdin)."),
    as_json: bool = JSON, depth: Optional[int] = typer.Option(
        None, "--depth", min=0, show_default=False, help="Show calls at most N levels deep."),
    tx: Optional[str] = typer.Option(None, "--tx", show_default=False,
                                     help="With --url: replay this confirmed transaction "
                                          "(its hash) on its pre-state."),
    file: Optional[Path] = FILE, block: Optional[int] = BLOCK,
    home: Optional[Path] = HOME, fresh: bool = FRESH, address: Optional[str] = ADDRESS,
    juice_limit: Optional[int] = JUICE_LIMIT,
) -> None:
    """Run forms as a query and print the tree of calls (user and actor functions, call,
    eval, deploy, schedule) with arguments, results or errors and juice including callees.
    The root's juice is what `convex query` of the same forms costs."""
    from convex_repl.insight.calls import trace_json, trace_tree
    from convex_repl.insight.coverage import SourceMap
    from convex_repl.insight.run import run_traced, run_tx_traced
    from kernel.cvm.trace import Recorder
    rec = Recorder(max_depth=depth)
    if tx is not None:
        if forms is not None or file is not None:
            raise Fail("--tx replays a transaction: give no forms", EXIT_USAGE, "USAGE")
        ws = _workspace(home, fresh, True, address, juice_limit)
        if not getattr(ws, "remote", False):
            raise Fail("--tx needs a peer (--url): the local CVM keeps no transactions by "
                       "hash", EXIT_USAGE, "USAGE")
        from convex_repl.insight.remote import tx_pre_state
        state, signed, _, _ = tx_pre_state(_remote(ws), tx)
        t = run_tx_traced(state, signed, rec)
        src, home_addr, where = None, signed.value.origin.n, None
    else:
        src = _source(forms, file)
        state, home_addr, limit, _ = _target(home, fresh, address, juice_limit, block)
        smap = SourceMap(src)
        t = run_traced(state, home_addr, src.forms, rec, limit, smap=smap)
        where = smap.where
    if as_json:
        _emit(True, trace_json(t, depth, where))
    else:
        _print(trace_tree(t, home_addr, depth, where))
    if not t.result.ok:
        if as_json:
            raise typer.Exit(EXIT_FAILED)
        _fail_located(t, src)


@app.command("explain")
def explain_cmd(
    forms: Optional[str] = typer.Argument(None, help="Convex Lisp forms ('-' reads stdin)."),
    as_json: bool = JSON, file: Optional[Path] = FILE, block: Optional[int] = BLOCK,
    home: Optional[Path] = HOME, fresh: bool = FRESH, address: Optional[str] = ADDRESS,
    juice_limit: Optional[int] = JUICE_LIMIT,
) -> None:
    """Run forms as a query and show their op tree: per op how often it ran and the juice
    it charged, the hot path highlighted (--json for tools)."""
    from convex_repl.insight.explain import explain_json, explain_tree
    from convex_repl.insight.run import run_traced
    src = _source(forms, file)
    state, addr, limit, _ = _target(home, fresh, address, juice_limit, block)
    t = run_traced(state, addr, src.forms, None, limit)
    if as_json:
        _emit(True, explain_json(t))
    else:
        _print(explain_tree(t))
    if not t.result.ok:
        if as_json:
            raise typer.Exit(EXIT_FAILED)
        _fail_located(t, src)
