"""`convex repl` (also the default command), `convex tutorial` and `convex status`: the
interactive side of the command line and the saved session it works on. `repl_main` starts
the REPL for the root callback too."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

import convex_repl
from convex_repl.cli.base import (EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, FRESH, HOME,
                                  JSON, JUICE_LIMIT, NO_SAVE, Fail, _emit, _home, _report,
                                  _workspace, app)


@app.command("repl")
def repl_cmd(
    home: Optional[Path] = HOME,
    fresh: bool = FRESH,
    no_save: bool = NO_SAVE,
    vi: bool = typer.Option(False, "--vi", help="Vi key bindings."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours."),
    juice_limit: Optional[int] = JUICE_LIMIT,
    fork: Optional[str] = typer.Option(None, "--fork", metavar="URL", show_default=False,
                                       help="Work on a local copy of this peer's state "
                                            "(never saved, nothing sent; any account acts "
                                            "without its key, :advance warps time)."),
    block: Optional[int] = typer.Option(None, "--block", show_default=False,
                                        help="With --fork: the state after block N."),
) -> None:
    """The interactive convex> REPL (the default command)."""
    _start_repl(home, fresh, no_save, vi, no_color, juice_limit, fork, block)


def _start_repl(home, fresh, no_save, vi, no_color, juice_limit=None, fork=None,
                block=None) -> None:
    raise typer.Exit(repl_main(home, fresh, no_save, vi, no_color, juice_limit, fork, block))


def repl_main(home=None, fresh=False, no_save=False, vi=False, no_color=False,
              juice_limit=None, fork=None, block=None) -> int:
    """Start the REPL (a terminal one, or a plain one reading stdin); the exit code."""
    try:
        return _repl_main(home, fresh, no_save, vi, no_color, juice_limit, fork, block)
    except Fail as f:
        return _report(f.kind, f.message, f.code, f.extra)


def _repl_main(home, fresh, no_save, vi, no_color, juice_limit, fork=None,
               block=None) -> int:
    color = not no_color and "NO_COLOR" not in os.environ
    vi = vi or os.environ.get("CONVEX_EDITING_MODE", "").lower() == "vi"
    if fork is not None:                # a fork of a peer's state (convex_repl.history)
        from convex_repl.cli.history import fork_workspace

        def make():
            return fork_workspace(fork, block, home, juice_limit=juice_limit)
    else:
        if block is not None:
            raise Fail("--block needs --fork URL", EXIT_USAGE, "USAGE")

        def make():
            return _workspace(home, fresh, no_save, juice_limit=juice_limit)
    if sys.stdin.isatty() and sys.stdout.isatty():
        from convex_repl.repl import run_repl
        from convex_repl.home import peek_address
        path = _home(home)
        # The workspace (kernel imports, genesis, replay) loads in the background while the
        # prompt comes up; the first evaluation waits for it.
        code = run_repl(make, vi=vi, color=color, home=path,
                        address=peek_address(path, fresh or fork is not None))
    else:
        ws = make()
        code = _run_plain(ws, color=False)
    return code


def _run_plain(ws: Any, color: bool, repl: Any = None) -> int:
    """The REPL without a terminal (convex_repl.repl.plain, which launch.py also runs)."""
    from convex_repl.repl.plain import run_plain
    return run_plain(ws, color, repl)


# --- tutorial -------------------------------------------------------------------------------------

@app.command("tutorial")
def tutorial_cmd(
    lesson: Optional[int] = typer.Argument(None, help="Lesson number (default: resume where "
                                           "you were, or lesson 1)."),
    list_: bool = typer.Option(False, "--list", "-l", help="List the lessons and your "
                               "progress."),
    check: bool = typer.Option(False, "--check", help="Run the lessons' code blocks and "
                               "check their shown results (the doctest), then exit."),
    home: Optional[Path] = HOME,
    vi: bool = typer.Option(False, "--vi", help="Vi key bindings."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours."),
) -> None:
    """Learn Convex Lisp: interactive lessons in the REPL. Each step shows code to type (or
    Ctrl-T inserts it); your result is checked against the lesson's. Progress is kept in the
    convex directory."""
    from convex_repl.repl import tutorial as tut
    lessons = tut.load_lessons()
    if not lessons:
        raise Fail(f"no lessons found in {tut.tutorials_dir()}", EXIT_NOT_FOUND, "IO")
    if lesson is not None and not any(ls.number == lesson for ls in lessons):
        raise Fail(f"no lesson {lesson} (convex tutorial --list)", EXIT_NOT_FOUND, "NOT_FOUND")
    path = _home(home)
    if list_:
        progress = tut.Progress(path)
        for line in tut.lesson_list(lessons, progress):
            typer.echo(line)
        typer.echo("convex tutorial resumes where you were; convex tutorial N starts lesson N.")
        return
    if check:
        raise typer.Exit(_check_lessons(tut, lessons, lesson))
    from convex_repl.repl.workspace import Workspace

    def make():
        return Workspace(path, fresh=True, save=False)

    def start(repl):
        return tut.attach(repl, lesson, path, make, exit_on_quit=True, fresh_workspace=True)

    color = not no_color and "NO_COLOR" not in os.environ
    vi = vi or os.environ.get("CONVEX_EDITING_MODE", "").lower() == "vi"
    if sys.stdin.isatty() and sys.stdout.isatty():
        from convex_repl.repl import run_repl
        raise typer.Exit(run_repl(make, vi=vi, color=color, home=path, tutorial=start))
    from convex_repl.repl.render import Printer
    from convex_repl.repl import Repl
    repl = Repl(make(), Printer(color=False))
    if start(repl) is None:
        raise typer.Exit(EXIT_NOT_FOUND)
    _run_plain(repl.ws, False, repl)
    raise typer.Exit(EXIT_OK)


def _check_lessons(tut: Any, lessons: list, only: Optional[int]) -> int:
    failed = 0
    for ls in lessons:
        if only is not None and ls.number != only:
            continue
        bad = tut.check_lesson(ls)
        ran = len(ls.local_steps)
        peer = len(ls.steps) - ran
        if peer:      # run against a peer started for the check
            bad += tut.check_peer_steps(ls)
            ran += peer
        typer.echo(f"{'ok  ' if not bad else 'FAIL'} {ls.path.name}: "
                   f"{ran - len(bad)} of {ran} steps")
        for m in bad:
            typer.echo(str(m))
        failed += len(bad)
    return EXIT_FAILED if failed else EXIT_OK


# --- status ----------------------------------------------------------------------------------------

@app.command("status")
def status_cmd(as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH) -> None:
    """The local CVM: saved session, acting account, accounts, timestamp, juice price
    (with --url: the peer's status)."""
    ws = _workspace(home, fresh, True)
    if getattr(ws, "remote", False):
        _emit(as_json, *ws.status_report())
        return
    s = ws.session
    data = {"ok": True, "home": str(ws.home), "address": ws.address,
            "accounts": s.account_count(), "timestamp": s.timestamp,
            "juice_price": s.juice_price, "transactions": len(ws.entries),
            "checkpoints": sorted(ws.checkpoints),
            "persistence": "snapshot" if ws.snapshot_path.exists() else "journal replay",
            "version": convex_repl.__version__}
    text = "\n".join([
        f"convex-repl {convex_repl.__version__} · local CVM",
        f"home          {data['home']}",
        f"acting as     #{data['address']}",
        f"accounts      {data['accounts']}",
        f"timestamp     {data['timestamp']}",
        f"juice price   {data['juice_price']}",
        f"transactions  {data['transactions']} saved ({data['persistence']})",
        f"checkpoints   {', '.join(data['checkpoints']) or '-'}"])
    _emit(as_json, data, text)
