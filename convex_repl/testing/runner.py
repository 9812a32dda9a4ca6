"""`convex test`: run Convex Lisp test files written with stdlib/test.cvx.

Each file runs in its own fresh session at genesis with the test library loaded: its
top-level forms are evaluated in order, one transaction each, then every test named in
`deftest-registry` is called as a query (tests never see each other's state changes), and its
juice is reported.

Failures say where: a file that doesn't read or a form that fails to load gives
file:line:col (and the failing call, `lisp.source`); a failing test gives the line and column
of the failing `is` assertion (found by the form its :ASSERT message quotes), else of the
failing call inside the test, else of its `deftest`.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from convex_repl.api import Session

TEST_GLOBS = ("test_*.cvx", "*_test.cvx", "*.test.cvx")
_BASE: Optional[Session] = None


@dataclass
class TestOutcome:
    file: str
    name: str
    ok: bool
    juice: int = 0
    elapsed: float = 0.0
    error: Optional[str] = None
    message: Optional[str] = None
    line: Optional[int] = None
    column: Optional[int] = None

    @property
    def where(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}:{self.column}"


@dataclass
class Report:
    tests: list = field(default_factory=list)
    file_errors: list = field(default_factory=list)    # {"file", "error", "message", "line",
                                                       #  "column", "excerpt"}

    @property
    def passed(self) -> int:
        return sum(1 for t in self.tests if t.ok)

    @property
    def failed(self) -> int:
        return sum(1 for t in self.tests if not t.ok) + len(self.file_errors)

    def as_json(self) -> dict:
        return {"ok": self.failed == 0, "passed": self.passed, "failed": self.failed,
                "tests": [asdict(t) for t in self.tests], "file_errors": self.file_errors}


def base_session() -> Session:
    """Genesis with the test library loaded (built once per process)."""
    global _BASE
    if _BASE is None:
        from stdlib import source
        s = Session()
        r = s.eval(source("test.cvx"))
        if not r.ok:
            raise RuntimeError(f"stdlib/test.cvx failed to load: :{r.error} {r.message}")
        _BASE = s
    return _BASE.fork()


def discover(paths: Iterable[str]) -> list:
    """Test files under the given paths (files as given; directories searched)."""
    out: list = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = set()
            for g in TEST_GLOBS:
                found.update(path.rglob(g))
            out.extend(sorted(found))
        elif path.exists():
            out.append(path)
        else:
            raise FileNotFoundError(p)
    seen, uniq = set(), []
    for f in out:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            uniq.append(f)
    return uniq


def run_file(path: Path, pattern: Optional[str] = None, report: Optional[Report] = None,
             on_result=None, watch=None) -> Report:
    """Load one test file and run its tests; `watch` (profile.Watch), if given, traces the
    file for a juice report or coverage."""
    from lisp import ReaderError
    from lisp.source import Source, excerpt
    report = report or Report()
    name = str(path)
    try:
        text = path.read_text()
        src = Source(text, name)
    except OSError as e:
        report.file_errors.append({"file": name, "error": "IO", "message": str(e)})
        return report
    except ReaderError as e:
        report.file_errors.append({"file": name, "error": "SYNTAX", "message": e.message,
                                   "line": e.line, "column": e.column,
                                   "excerpt": excerpt(text, e.line, e.column)})
        return report
    s = base_session()
    if watch is None:
        return _run_source(src, s, pattern, report, on_result, None)
    with watch.file(src):
        return _run_source(src, s, pattern, report, on_result, watch)


def _run_source(src, s: Session, pattern: Optional[str], report: Report, on_result,
                watch) -> Report:
    from lisp import print_value
    from kernel.data.scalars import Symbol
    name = src.name
    forms = src.forms
    for i, form in enumerate(forms):
        if watch is not None:
            watch.loading(i)
        try:
            r = s.eval_forms([form]) if watch is None else watch.load(s, form)
        finally:
            if watch is not None:
                watch.loaded(i)
        if not r.ok:
            _, shown, where = src.explain(i, r.message or "", r.trace)
            report.file_errors.append({
                "file": name, "error": r.error,
                "message": f"loading {print_value(form)[:60]}: {r.message}",
                "line": where["line"], "column": where["column"], "excerpt": shown})
            return report
    reg = s.lookup("deftest-registry") or []
    names: list = []
    for sym in reg:
        n = sym.name if type(sym) is Symbol else print_value(sym)
        if n in names:
            names.remove(n)
        names.append(n)
    for n in names:
        if pattern and pattern not in n and pattern not in name:
            continue
        t0 = time.perf_counter()
        if watch is not None:
            watch.test(n)
        r = s.query(f"({n})")
        out = TestOutcome(file=name, name=n, ok=r.ok, juice=r.juice,
                          elapsed=time.perf_counter() - t0,
                          error=r.error, message=r.message)
        if not r.ok:
            out.line, out.column = _failure_position(src, n, r)
        report.tests.append(out)
        if watch is not None:
            watch.tested(out)
        if on_result:
            on_result(out)
    return report


def _deftest_index(src, name: str) -> Optional[int]:
    from kernel.data.scalars import Symbol
    from kernel.data.vectors import List
    found = None
    for i, f in enumerate(src.forms):
        if (type(f) is List and len(f) > 1 and f[0] == Symbol("deftest")
                and f[1] == Symbol(name)):
            found = i                   # the last definition is the one that ran
    return found


def _failure_position(src, name: str, r) -> "tuple[Optional[int], Optional[int]]":
    """(line, column) of what failed in test `name`: the `is` whose form the :ASSERT message
    quotes, else the failing call found from the trace, else the deftest itself."""
    from lisp import print_value
    from kernel.data.scalars import Symbol
    from kernel.data.vectors import List
    i = _deftest_index(src, name)
    if i is None:
        return None, None
    if r.error == "ASSERT" and r.message:
        for line, col, lst in src.positions.within(src.forms[i]):
            if (type(lst) is List and len(lst) > 1 and lst[0] == Symbol("is")
                    and print_value(lst[1]) in r.message):
                return line, col
    call = src.call_in(i, r.trace)
    return call if call is not None else src.form_at(i)


def run(paths: list, pattern: Optional[str] = None, on_result=None, watch=None) -> Report:
    report = Report()
    for f in discover(paths):
        run_file(f, pattern, report, on_result, watch)
    return report


def snapshot_mtimes(paths: list) -> dict:
    out = {}
    for p in paths:
        path = Path(p)
        files = [path] if path.is_file() else [f for g in TEST_GLOBS for f in path.rglob(g)]
        for f in files:
            try:
                out[str(f)] = f.stat().st_mtime_ns
            except OSError:
                pass
    return out


__all__ = ["run", "run_file", "discover", "Report", "TestOutcome", "snapshot_mtimes"]
