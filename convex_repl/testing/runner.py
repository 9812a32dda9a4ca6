"""`convex test`: run Convex Lisp test files written with stdlib/test.cvx.

Each file runs in its own fresh session at genesis with the test library loaded (and the
cheatcodes and the `gen` library: cheats.install): its top-level forms are evaluated in
order, one transaction each, then `setup-file` if defined, then every test named in
`deftest-registry` runs on a copy of that state (tests never see each other's state
changes): a deftest is called, with `setup` before and `teardown` after; a defprop or a
definvariant is run by props.py with the run's seed and number of runs. Each test's juice is
reported (a property's generators apart, as `gen_juice`); `teardown-file` runs last.

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
from kernel.data.scalars import Symbol

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
    kind: str = "test"                   # "test", "prop" or "invariant"
    gen_juice: int = 0                   # juice of generators (not in `juice`)
    cases: int = 0                       # cases (or call sequences) run
    seed: Optional[int] = None           # the seed that reproduces a property's run
    counterexample: list = field(default_factory=list)  # ["x = 100"], shrunk
    calls: list = field(default_factory=list)            # a broken invariant's calls, shrunk
    shrinks: int = 0                     # candidates tried while shrinking
    excerpt: Optional[str] = None        # the failing line with a caret under the column

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


@dataclass
class Options:
    """How property and invariant tests run: `--runs`, `--seed`."""
    runs: int = 100
    seed: int = 0


def prepare(s: Session) -> Session:
    """Make `s` a test session: cheatcodes, the gen library and stdlib/test.cvx."""
    from stdlib import source
    from convex_repl.testing.cheats import install
    install(s)
    r = s.eval(source("test.cvx"))
    if not r.ok:
        raise RuntimeError(f"stdlib/test.cvx failed to load: :{r.error} {r.message}")
    return s


def base_session() -> Session:
    """Genesis with the test library loaded (built once per process)."""
    global _BASE
    if _BASE is None:
        _BASE = prepare(Session())
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
             on_result=None, watch=None, options: Optional[Options] = None) -> Report:
    """Load one test file and run its tests; `watch` (profile.Watch), if given, traces the
    file for a juice report or coverage."""
    from lisp import ReaderError
    from lisp.source import Source, excerpt
    report = report or Report()
    options = options or Options()
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
        return _run_source(src, s, pattern, report, on_result, None, options)
    with watch.file(src):
        return _run_source(src, s, pattern, report, on_result, watch, options)


def _file_error(report: Report, src, i: int, r, what: str) -> None:
    _, shown, where = src.explain(i, r.message or "", r.trace)
    report.file_errors.append({
        "file": src.name, "error": r.error, "message": f"{what}: {r.message}",
        "line": where["line"], "column": where["column"], "excerpt": shown})


def _run_source(src, s: Session, pattern: Optional[str], report: Report, on_result,
                watch, options: Options) -> Report:
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
            _file_error(report, src, i, r, f"loading {print_value(form)[:60]}")
            return report
    if s.lookup("test-setup-file") is not None:
        r = s.eval("(test-setup-file)")
        if not r.ok:
            _file_error(report, src, _form_index(src, "setup-file") or 0, r, "in setup-file")
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
        out = _run_test(src, s, n, options, None if watch is None else watch.quiet)
        out.elapsed = time.perf_counter() - t0
        if not out.ok and out.line is not None:
            from lisp.source import excerpt
            out.excerpt = excerpt(src.text, out.line, out.column or 1) or None
        report.tests.append(out)
        if watch is not None:
            watch.tested(out)
        if on_result:
            on_result(out)
    if s.lookup("test-teardown-file") is not None:
        r = s.query("(test-teardown-file)")
        if not r.ok:
            _file_error(report, src, _form_index(src, "teardown-file") or 0, r,
                        "in teardown-file")
    return report


def _run_test(src, s: Session, n: str, options: Options, quiet=None) -> TestOutcome:
    """Run test `n` (deftest, defprop or definvariant) on a copy of the file's state."""
    from kernel.data.hashmaps import Map
    from kernel.data.scalars import Keyword
    from convex_repl.testing import cheats
    t = s.fork()
    cheats.reset_snapshots()
    # generators called directly in a test draw from a source seeded for it alone
    import random
    cheats.use_source(cheats.Source(random.Random(f"{options.seed}:{n}")))
    juice = 0
    if t.lookup("test-setup") is not None:
        r = t.eval("(test-setup)")
        juice += r.juice
        if not r.ok:
            out = TestOutcome(file=src.name, name=n, ok=False, juice=juice, error=r.error,
                              message=f"in setup: {r.message}")
            i = _form_index(src, "setup")
            out.line, out.column = (src.call_in(i, r.trace) or src.form_at(i)) \
                if i is not None else (None, None)
            return out
    teardown = t.lookup("test-teardown")
    v = t.lookup(n)
    kind = v.get(Keyword("kind")) if isinstance(v, Map) else None
    if kind in (Keyword("prop"), Keyword("invariant")):
        return _run_generated(src, t, n, v, kind.name, options, juice, teardown, quiet)
    r = t.eval(f"({n})")
    juice += r.juice
    if r.ok and teardown is not None:
        r2 = t.eval("(test-teardown)")
        juice += r2.juice
        if not r2.ok:
            r = r2
            r.message = f"in teardown: {r.message}"
    out = TestOutcome(file=src.name, name=n, ok=r.ok, juice=juice, error=r.error,
                      message=r.message)
    if not r.ok:
        out.line, out.column = _failure_position(src, n, r)
    return out


def _run_generated(src, t: Session, n: str, v, kind: str, options: Options, juice: int,
                   teardown, quiet=None) -> TestOutcome:
    from convex_repl.testing import props
    if kind == "prop":
        o = props.run_property(t.state, t.address, v, n, options.seed, options.runs,
                               t.juice_limit, teardown, quiet)
    else:
        o = props.run_invariant(t.state, t.address, v, n, options.seed, options.runs,
                                t.juice_limit, quiet)
    out = TestOutcome(file=src.name, name=n, ok=o.ok, juice=juice + o.juice, kind=kind,
                      gen_juice=o.gen_juice, cases=o.cases, seed=options.seed)
    f = o.failure
    if f is None:
        return out
    r = f.result
    out.counterexample = [f"{p} = {x}" for p, x in f.bindings]
    out.calls, out.shrinks = f.calls, f.shrinks
    i = _test_index(src, n)
    expr = None
    if f.falsy:
        out.error = "ASSERT"
        body = _body_forms(src, i)
        expr = body[-1] if body else None
        what = "invariant" if kind == "invariant" else "property"
        out.message = f"{what} not true: " + (_text(expr) if expr is not None else "nil")
    else:
        out.error, out.message = r.error, r.message
        if f.where in ("generator", "config"):
            out.message = f"in {'a generator' if f.where == 'generator' else 'the options'}: " \
                          f"{r.message}"
    if f.where in ("property", "invariant"):
        runs = f"run {f.case + 1} of {options.runs}"
        if kind == "prop":
            out.message += f" (falsified on {runs}, shrunk in {f.shrinks} tries; seed " \
                           f"{options.seed})"
        elif not f.calls:
            out.message += " (broken before any call)"
        else:
            calls = len(f.calls)
            out.message += (f" (broken after {calls} call{'s' if calls != 1 else ''}, "
                            f"shrunk from {f.original} in {f.shrinks} tries, {runs}; seed "
                            f"{options.seed})")
    if expr is not None and src.positions.of(_unwrap(expr)) is not None:
        out.line, out.column = src.positions.of(_unwrap(expr))
    else:
        out.line, out.column = _failure_position(src, n, r)
    return out


def _unwrap(x):
    from kernel.data.syntax import Syntax
    return x.datum if type(x) is Syntax else x


def _text(form) -> str:
    from lisp import print_value
    return print_value(form)


TEST_FORMS = ("deftest", "defprop", "definvariant")
_EXPECT = Symbol("expect-error")
_BODY_START = {"deftest": 2, "defprop": 3, "definvariant": 3}


def _form_index(src, head: str) -> Optional[int]:
    """The last top-level form of the file that is a list starting with `head`."""
    from kernel.data.scalars import Symbol
    from kernel.data.vectors import List
    found = None
    for i, f in enumerate(src.forms):
        f = _unwrap(f)
        if type(f) is List and len(f) > 0 and _unwrap(f[0]) == Symbol(head):
            found = i
    return found


def _test_index(src, name: str) -> Optional[int]:
    from kernel.data.scalars import Symbol
    from kernel.data.vectors import List
    found = None
    heads = {Symbol(h) for h in TEST_FORMS}
    for i, f in enumerate(src.forms):
        f = _unwrap(f)
        if (type(f) is List and len(f) > 1 and _unwrap(f[0]) in heads
                and _unwrap(f[1]) == Symbol(name)):
            found = i                   # the last definition is the one that ran
    return found


def _body_forms(src, i: Optional[int]) -> list:
    if i is None:
        return []
    f = _unwrap(src.forms[i])
    return list(f)[_BODY_START.get(_unwrap(f[0]).name, 2):]


def _failure_position(src, name: str, r) -> "tuple[Optional[int], Optional[int]]":
    """(line, column) of what failed in test `name`: the `is` whose form the :ASSERT message
    quotes, else the failing call found from the trace, else the test's definition."""
    from lisp import print_value
    from kernel.data.scalars import Symbol
    from kernel.data.vectors import List
    i = _test_index(src, name)
    if i is None:
        return None, None
    if r.error == "ASSERT" and r.message:
        for line, col, lst in src.positions.within(src.forms[i]):
            if type(lst) is not List or len(lst) < 2:
                continue
            shown = 1 if lst[0] == Symbol("is") else 2 if lst[0] == _EXPECT else None
            if shown is not None and len(lst) > shown and print_value(lst[shown]) in r.message:
                return line, col
    call = src.call_in(i, r.trace)
    return call if call is not None else src.form_at(i)


def run(paths: list, pattern: Optional[str] = None, on_result=None, watch=None,
        options: Optional[Options] = None, jobs: int = 1) -> Report:
    """Run every test file under `paths`; with jobs > 1 (and no watch) files run in that
    many worker processes, reported in file order."""
    report = Report()
    files = discover(paths)
    if jobs > 1 and watch is None and len(files) > 1:
        from convex_repl.testing.parallel import run_parallel
        return run_parallel(files, pattern, on_result, options or Options(), jobs, report)
    for f in files:
        run_file(f, pattern, report, on_result, watch, options)
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


__all__ = ["run", "run_file", "discover", "prepare", "Options", "Report", "TestOutcome",
           "snapshot_mtimes"]
