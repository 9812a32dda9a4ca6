"""`convex test`: run Convex Lisp test files written with stdlib/test.cvx.

Each file runs in its own fresh session at genesis with the test library loaded: its
top-level forms are evaluated in order, one transaction each, then every test named in
`deftest-registry` is called as a query (tests never see each other's state changes), and its
juice is reported.
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


@dataclass
class Report:
    tests: list = field(default_factory=list)
    file_errors: list = field(default_factory=list)    # {"file", "error", "message"}

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
             on_result=None) -> Report:
    from lisp import ReaderError, print_value, read_all
    from kernel.data.scalars import Symbol
    report = report or Report()
    name = str(path)
    try:
        forms = read_all(path.read_text())
    except (OSError, ReaderError) as e:
        report.file_errors.append({"file": name, "error": "SYNTAX" if isinstance(e, ReaderError)
                                   else "IO", "message": str(e)})
        return report
    s = base_session()
    for form in forms:
        r = s.eval_forms([form])
        if not r.ok:
            report.file_errors.append({
                "file": name, "error": r.error,
                "message": f"loading {print_value(form)[:60]}: {r.message}"})
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
        r = s.query(f"({n})")
        out = TestOutcome(file=name, name=n, ok=r.ok, juice=r.juice,
                          elapsed=time.perf_counter() - t0,
                          error=r.error, message=r.message)
        report.tests.append(out)
        if on_result:
            on_result(out)
    return report


def run(paths: list, pattern: Optional[str] = None, on_result=None) -> Report:
    report = Report()
    for f in discover(paths):
        run_file(f, pattern, report, on_result)
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
