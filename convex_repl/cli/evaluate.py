"""`convex eval`, `transact`, `query` and `run`: Convex Lisp forms (given, from stdin or
from a file) evaluated against the workspace, as transactions or as a query, with the
result printed."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from convex_repl.cli.base import (ADDRESS, COST, EXIT_NOT_FOUND, EXIT_USAGE, FRESH, HOME, JSON,
                                  JUICE_LIMIT, KEY, KEY_PASSWORD_ENV, NO_SAVE, Fail, _cvm_fail,
                                  _emit, _print_result, _read_source, _result_json, _workspace,
                                  app)
from convex_repl.cli.history import FORK, FORK_ADVANCE, FORK_BLOCK

DEV = typer.Option(False, "--dev", help="Unsigned development mode: no fees, no sequence "
                   "number (--juice-limit applies).")


def _target(home, fresh, no_save, address, juice_limit, key=None, password_env=None,
            sign=False, fork=None, block=None, advance=None):
    """The workspace: a fork of a peer's state (--fork URL [--block N]: local, never saved,
    any account acting without its key, time moved on by --advance), else the saved session
    or a peer (--url)."""
    from convex_repl.cli.history import _no_block_without_fork, fork_workspace
    if fork is not None:
        return fork_workspace(fork, block, home, address, juice_limit, advance)
    _no_block_without_fork(fork, block, advance)
    return _workspace(home, fresh, no_save, address, juice_limit, key,
                      password_env or "CONVEX_KEY_PASSWORD", sign=sign)


@app.command("eval")
def eval_cmd(
    forms: Optional[str] = typer.Argument(None, help="Convex Lisp forms ('-' reads stdin)."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    no_save: bool = NO_SAVE, address: Optional[str] = ADDRESS, cost: bool = COST,
    juice_limit: Optional[int] = JUICE_LIMIT, dev: bool = DEV,
    key: Optional[str] = KEY, password_env: str = KEY_PASSWORD_ENV,
    fork: Optional[str] = FORK, block: Optional[int] = FORK_BLOCK,
    advance: Optional[int] = FORK_ADVANCE,
) -> None:
    """Evaluate forms as one signed transaction against the saved session (fees are paid)
    and print the result; --dev runs them unsigned, without fees."""
    src = _read_source(forms)
    ws = _target(home, fresh, no_save, address, juice_limit, key, password_env,
                 sign=not dev, fork=fork, block=block, advance=advance)
    _print_result(ws, ws.transact(src, signed=not dev), as_json, cost)


@app.command("transact")
def transact_cmd(
    forms: Optional[str] = typer.Argument(None, help="Convex Lisp forms ('-' reads stdin)."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    no_save: bool = NO_SAVE, address: Optional[str] = ADDRESS, cost: bool = COST,
    juice_limit: Optional[int] = JUICE_LIMIT,
    key: Optional[str] = KEY, password_env: str = KEY_PASSWORD_ENV,
    fork: Optional[str] = FORK, block: Optional[int] = FORK_BLOCK,
    advance: Optional[int] = FORK_ADVANCE,
) -> None:
    """Submit forms as one signed transaction: sequence number, fees, memory accounting."""
    src = _read_source(forms)
    ws = _target(home, fresh, no_save, address, juice_limit, key, password_env,
                 sign=True, fork=fork, block=block, advance=advance)
    _print_result(ws, ws.transact(src), as_json, cost)


@app.command("query")
def query_cmd(
    forms: Optional[str] = typer.Argument(None, help="Convex Lisp forms ('-' reads stdin)."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    address: Optional[str] = ADDRESS, cost: bool = COST,
    juice_limit: Optional[int] = JUICE_LIMIT,
    block: Optional[int] = typer.Option(None, "--block", show_default=False,
                                        help="With --url: query the state after block N "
                                             "(with --fork: fork it)."),
    fork: Optional[str] = FORK, advance: Optional[int] = FORK_ADVANCE,
) -> None:
    """Evaluate forms as a query: the result, with no state change kept."""
    src = _read_source(forms)
    if fork is not None or advance is not None:
        ws = _target(home, fresh, True, address, juice_limit, fork=fork, block=block,
                     advance=advance)
        block = None
    else:
        ws = _workspace(home, fresh, True, address, juice_limit)
    if block is None:
        _print_result(ws, ws.query(src), as_json, cost)
    elif not getattr(ws, "remote", False):
        raise Fail("--block needs a peer (--url): the local CVM keeps no blocks", EXIT_USAGE,
                   "USAGE")
    else:
        _print_result(ws, ws.query(src, block=block), as_json, cost)


@app.command("run")
def run_cmd(
    file: Path = typer.Argument(..., help="A Convex Lisp file."),
    atomic: bool = typer.Option(False, "--atomic", help="All forms as one transaction."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    no_save: bool = NO_SAVE, address: Optional[str] = ADDRESS, cost: bool = COST,
    juice_limit: Optional[int] = JUICE_LIMIT, dev: bool = DEV,
    key: Optional[str] = KEY, password_env: str = KEY_PASSWORD_ENV,
    fork: Optional[str] = FORK, block: Optional[int] = FORK_BLOCK,
    advance: Optional[int] = FORK_ADVANCE,
) -> None:
    """Run a file: one transaction per top-level form (stops at the first error), or all
    forms as one with --atomic. Prints the last result."""
    from lisp import ReaderError
    from lisp.source import Source, excerpt, location, syntax_error_line
    try:
        text = file.read_text()
    except OSError as e:
        raise Fail(f"can't read {file}: {e.strerror}", EXIT_NOT_FOUND, "IO") from None
    try:
        src = Source(text, str(file))
    except ReaderError as e:
        raise Fail(syntax_error_line(str(file), e), EXIT_USAGE, "SYNTAX",
                   {"file": str(file), "line": e.line, "column": e.column},
                   excerpt(text, e.line, e.column)) from None
    ws = _target(home, fresh, no_save, address, juice_limit, key, password_env,
                 sign=not dev, fork=fork, block=block, advance=advance)
    if atomic:
        r = ws.transact(text, signed=not dev)
        if not r.ok:
            f = _cvm_fail(ws, r)
            call = src.call_in(-1, r.trace)
            if call is not None:
                f.message = f"{location(str(file), *call)}: {f.message}"
                f.detail = excerpt(text, *call)
                f.extra.update({"file": str(file), "line": call[0], "column": call[1]})
            else:
                f.message = f"{file}: {f.message}"
            raise f
        _print_result(ws, r, as_json, cost)
        return
    forms = src.forms
    results, total, r = [], 0, None
    for i, form in enumerate(forms):
        r = ws.transact_form(form, signed=not dev)
        total += r.juice
        results.append(_result_json(ws, r))
        if not r.ok:
            f = _cvm_fail(ws, r)
            f.message, f.detail, where = src.explain(i, f.message, r.trace,
                                                     f"form {i + 1} of {len(forms)}")
            f.extra = {"ok": False, "error": r.error, "message": r.message, "form": i + 1,
                       **where, "results": results, "juice": total}
            raise f
    if as_json:
        _emit(True, {"ok": True, "results": results, "juice": total,
                     "value": results[-1]["value"] if results else None})
    else:
        if r is not None:
            typer.echo(r.printed)
        if cost:
            typer.echo(f"{len(forms)} transactions · juice {total:,}", err=True)
