"""`convex test`: Convex Lisp test files (deftest / is / throws?) run by
convex_repl.testing, reported as PASS/FAIL lines or JSON, optionally re-run on change."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from convex_repl.cli.base import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, JSON, Fail, _emit, app


@app.command("test")
def test_cmd(
    paths: Optional[List[str]] = typer.Argument(None, help="Test files or directories "
                                                "(default: tests/ if present, else .)."),
    k: Optional[str] = typer.Option(None, "-k", help="Only tests whose name (or file) "
                                    "contains this text."),
    watch: bool = typer.Option(False, "--watch", help="Re-run when a test file changes."),
    as_json: bool = JSON,
) -> None:
    """Run Convex Lisp tests written with deftest / is / throws? (stdlib/test.cvx)."""
    from convex_repl.testing import runner as testrunner
    paths = list(paths or (["tests"] if Path("tests").is_dir() else ["."]))
    try:
        testrunner.discover(paths)
    except FileNotFoundError as e:
        raise Fail(f"no such file or directory: {e}", EXIT_NOT_FOUND, "IO") from None

    def show(t):
        if as_json:
            return
        if t.ok:
            typer.echo(f"PASS {t.name:<32} juice {t.juice:>10,}   {t.file}")
        else:
            typer.secho(f"FAIL {t.name:<32} juice {t.juice:>10,}   {t.file}", fg="red")
            typer.echo(f"     {t.where}: :{t.error} {t.message or ''}")

    def once() -> int:
        rep = testrunner.run(paths, k, show)
        if as_json:
            _emit(True, rep.as_json())
        else:
            for fe in rep.file_errors:
                at = fe["file"] + (f":{fe['line']}:{fe['column']}" if fe.get("line") else "")
                typer.secho(f"ERROR {at}: :{fe['error']} {fe['message']}", fg="red")
                if fe.get("excerpt"):
                    typer.echo(fe["excerpt"])
            total = sum(t.juice for t in rep.tests)
            typer.echo(f"{rep.passed} passed, {rep.failed} failed · juice {total:,}")
        return EXIT_OK if rep.failed == 0 else EXIT_FAILED

    code = once()
    if not watch:
        raise typer.Exit(code)
    import time
    seen = testrunner.snapshot_mtimes(paths)
    try:
        while True:
            time.sleep(0.5)
            now = testrunner.snapshot_mtimes(paths)
            if now != seen:
                seen = now
                if not as_json:
                    typer.echo("--- change detected, re-running ---")
                code = once()
    except KeyboardInterrupt:
        raise typer.Exit(code)
