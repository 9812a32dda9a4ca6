"""`convex test`: Convex Lisp test files (deftest / is / throws?, defprop, definvariant) run
by convex_repl.testing, reported as PASS/FAIL lines, JSON or JUnit XML, in parallel worker
processes (-j) or re-run on change; with a juice report per function, a juice snapshot
written or checked, and coverage (LCOV)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from convex_repl.cli.base import (EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, JSON, Fail,
                                  _emit, app)


@app.command("test")
def test_cmd(
    paths: Optional[List[str]] = typer.Argument(None, help="Test files or directories "
                                                "(default: tests/ if present, else .)."),
    k: Optional[str] = typer.Option(None, "-k", help="Only tests whose name (or file) "
                                    "contains this text."),
    watch: bool = typer.Option(False, "--watch", help="Re-run when a test file changes."),
    as_json: bool = JSON,
    juice_report: bool = typer.Option(False, "--juice-report", help="Juice of every function "
                                      "the tests called: calls, min, median, max."),
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", show_default=False,
                                            help="Write each test's juice to this file (with "
                                                 "--check: compare with it instead)."),
    check: bool = typer.Option(False, "--check", help="With --snapshot: fail when a test's "
                               "juice changed beyond --tolerance, or is new or gone."),
    tolerance: float = typer.Option(0.0, "--tolerance", min=0.0, help="With --check: "
                                    "percent of change allowed."),
    coverage: bool = typer.Option(False, "--coverage", help="Line and branch coverage of the "
                                  "test files: a summary, and an LCOV file (--lcov)."),
    lcov: Path = typer.Option(Path("lcov.info"), "--lcov", help="With --coverage: where the "
                              "LCOV file goes."),
    fork: Optional[str] = typer.Option(None, "--fork", metavar="URL", show_default=False,
                                       help="Run each file on a copy of this peer's state "
                                            "(instead of genesis); nothing is sent."),
    block: Optional[int] = typer.Option(None, "--block", show_default=False,
                                        help="With --fork: the state after block N."),
    runs: int = typer.Option(100, "--runs", min=1, help="Cases per property test (and call "
                             "sequences per invariant test)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated cases: a failure "
                             "names the seed that reproduces it."),
    jobs: int = typer.Option(1, "-j", "--jobs", min=1, help="Run test files in this many "
                             "worker processes."),
    junit: Optional[Path] = typer.Option(None, "--junit", show_default=False,
                                         help="Also write the results as JUnit XML here."),
) -> None:
    """Run Convex Lisp tests: deftest / is / throws?, property tests (defprop, with gen/...),
    invariant tests (definvariant), fixtures and cheatcodes (stdlib/test.cvx)."""
    from convex_repl.testing import runner as testrunner
    options = testrunner.Options(runs=runs, seed=seed)
    if fork is not None:
        _fork_base(testrunner, fork, block)
    elif block is not None:
        raise Fail("--block needs --fork URL", EXIT_USAGE, "USAGE")
    if check and snapshot is None:
        raise Fail("--check needs --snapshot FILE", EXIT_USAGE, "USAGE")
    if watch and (juice_report or coverage or snapshot):
        raise Fail("--watch runs alone: no --juice-report, --snapshot or --coverage",
                   EXIT_USAGE, "USAGE")
    if jobs > 1 and (juice_report or coverage):
        raise Fail("-j runs files in other processes: not with --juice-report or --coverage",
                   EXIT_USAGE, "USAGE")
    kept = None
    if check:
        from convex_repl.testing.profile import read_snapshot
        try:
            kept = read_snapshot(snapshot)
        except OSError as e:
            raise Fail(f"can't read the snapshot {snapshot}: {e.strerror}", EXIT_NOT_FOUND,
                       "IO") from None
        except ValueError as e:
            raise Fail(str(e), EXIT_USAGE, "SNAPSHOT") from None
    paths = list(paths or (["tests"] if Path("tests").is_dir() else ["."]))
    try:
        testrunner.discover(paths)
    except FileNotFoundError as e:
        raise Fail(f"no such file or directory: {e}", EXIT_NOT_FOUND, "IO") from None

    def show(t):
        if as_json:
            return
        gen = ""
        if t.kind != "test":
            what = "run" if t.kind == "prop" else "sequence"
            gen = f" (+ gen {t.gen_juice:,}, {t.cases} {what}{'' if t.cases == 1 else 's'})"
        if t.ok:
            typer.echo(f"PASS {t.name:<32} juice {t.juice:>10,}{gen}   {t.file}")
        else:
            from convex_repl.testing.junit import failure_details
            typer.secho(f"FAIL {t.name:<32} juice {t.juice:>10,}{gen}   {t.file}", fg="red")
            for line in failure_details(t):
                typer.echo(f"     {line}")

    def once() -> int:
        w = None
        if juice_report or coverage:
            from convex_repl.testing.profile import Watch
            w = Watch(juice_report, coverage)
        rep = testrunner.run(paths, k, show, w, options, 1 if watch else jobs)
        if junit is not None:
            from convex_repl.testing.junit import junit_xml
            junit.write_text(junit_xml(rep))
        extra, ok = _measures(rep, w, kept, k is None)
        lines = extra.pop("lines")
        if as_json:
            _emit(True, {**rep.as_json(), **extra, "ok": rep.failed == 0 and ok})
        else:
            for fe in rep.file_errors:
                at = fe["file"] + (f":{fe['line']}:{fe['column']}" if fe.get("line") else "")
                typer.secho(f"ERROR {at}: :{fe['error']} {fe['message']}", fg="red")
                if fe.get("excerpt"):
                    typer.echo(fe["excerpt"])
            total = sum(t.juice for t in rep.tests)
            typer.echo(f"{rep.passed} passed, {rep.failed} failed · juice {total:,}")
            for line in lines:
                typer.echo(line)
        return EXIT_OK if rep.failed == 0 and ok else EXIT_FAILED

    def _measures(rep, w, kept, complete) -> tuple:
        """(JSON fields and text lines, ok) for the juice report, snapshot and coverage."""
        extra: dict = {}
        lines: list = []
        ok = True
        if w is not None and juice_report:
            extra["juice_report"] = w.report_json()
            lines += ["", "juice report (per call, callees included)"] + w.report_lines()
        if snapshot is not None and kept is None:
            from convex_repl.testing.profile import snapshot_text
            snapshot.write_text(snapshot_text(rep.tests))
            extra["snapshot"] = str(snapshot)
            lines.append(f"snapshot of {len(rep.tests)} tests written to {snapshot}")
        elif kept is not None:
            from convex_repl.testing.profile import check_snapshot
            ok, diff = check_snapshot(rep.tests, kept, tolerance, complete)
            extra["snapshot_check"] = {"ok": ok, "changes": diff}
            lines += diff + [f"snapshot {snapshot}: " + ("ok" if ok else "juice changed "
                             f"beyond {tolerance:g}% (rewrite it with --snapshot alone)")]
        if w is not None and coverage:
            from convex_repl.insight.coverage import lcov as lcov_text, summary_lines
            lcov.write_text(lcov_text(w.files))
            extra["coverage"] = [{"file": f.path, "lines": len(f.lines),
                                  "lines_hit": f.lines_hit, "branches": len(f.branches),
                                  "branches_hit": f.branches_hit} for f in w.files]
            extra["lcov"] = str(lcov)
            lines += ["", "coverage"] + summary_lines(w.files) + [f"LCOV written to {lcov}"]
        extra["lines"] = lines
        return extra, ok

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


def _fork_base(testrunner, url: str, block: Optional[int]) -> None:
    """Make every test file start from the peer's state (with the test library loaded)
    instead of genesis: the runner's base session becomes a fork's."""
    from convex_repl.cli.history import fork_workspace
    s = fork_workspace(url, block, None).session
    try:
        testrunner._BASE = testrunner.prepare(s)
    except RuntimeError as e:
        raise Fail(f"the test library does not load on the fork of {url}: {e}", EXIT_FAILED,
                   "STATE") from None
