"""What `convex test` measures besides pass and fail: a juice report (every function the
tests called: calls, min, median and max juice, like a gas report), a snapshot of each
test's juice checked against a file (for CI, like `forge snapshot --check`), and coverage.

`Watch` is handed to runner.run_file: it traces the file's loading and tests
(kernel.cvm.trace; juice is unchanged) and listens to the compiler for coverage."""
from __future__ import annotations

import statistics
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


class Watch:
    """Traces test files for a juice report and/or coverage (convex_repl.insight)."""

    def __init__(self, juice_report: bool = False, coverage: bool = False):
        from kernel.cvm.trace import Recorder
        self.juice_report, self.want_coverage = juice_report, coverage
        self.rec = Recorder(max_calls=1_000_000)
        self.juice: dict = {}           # (name, address) -> [juice of each call]
        self.files: list = []           # FileCoverage, one per file
        self._map: Any = None

    @contextmanager
    def file(self, src: Any) -> Iterator[None]:
        from kernel.cvm.trace import tracing
        from convex_repl.insight.coverage import SourceMap
        self._map = SourceMap(src) if self.want_coverage else None
        with tracing(self.rec):
            yield
        if self._map is not None:
            self.files.append(self._map.coverage(self.rec.op_stats()))
            self._map = None

    def loading(self, i: int) -> None:
        from lisp import compiler
        self.rec.new_root()
        if self._map is not None:
            compiler.FORM_SINK = []

    def load(self, s: Any, form: Any) -> Any:
        """Evaluate a top-level form of the file in session `s`, compiled afresh (coverage
        must see the compiler), keeping its state changes: the Result."""
        from kernel.cvm.context import Context
        from convex_repl.insight.run import run_forms
        ctx = Context(s.state, s.address, juice_limit=s.juice_limit)
        r = run_forms(ctx, [form], [])
        if r.ok:
            s.state = ctx.state
        return r

    def loaded(self, i: int) -> None:
        from lisp import compiler
        if self._map is not None and compiler.FORM_SINK is not None:
            self._map.add(i, compiler.FORM_SINK)
        compiler.FORM_SINK = None

    def test(self, name: str) -> None:
        self.rec.new_root()

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Calls made inside are not in the juice report (generators, shrinking), though
        their ops still count for coverage."""
        self.rec.quiet += 1
        try:
            yield
        finally:
            self.rec.quiet -= 1

    def tested(self, outcome: Any) -> None:
        if not self.juice_report:
            return
        todo = []
        for c in self.rec.root.calls:       # the test function itself is not reported
            todo.extend(c.calls if c.fn == outcome.name else [c])
        while todo:
            c = todo.pop()
            self.juice.setdefault((c.fn, c.address), []).append(c.juice)
            todo.extend(c.calls)

    def report_lines(self) -> list:
        """The juice report as a table, by account then name."""
        rows = [(f"#{a}" if a is not None else "", n, len(js), min(js),
                 int(statistics.median(js)), max(js))
                for (n, a), js in self.juice.items()]
        rows.sort(key=lambda r: (int(r[0][1:] or -1), r[1]))
        head = f"{'account':<8} {'function':<28} {'calls':>7} {'min':>10} {'median':>10} {'max':>10}"
        out = [head, "-" * len(head)]
        for acct, n, calls, lo, med, hi in rows:
            out.append(f"{acct:<8} {n:<28} {calls:>7,} {lo:>10,} {med:>10,} {hi:>10,}")
        if not rows:
            out.append("(the tests called no functions)")
        return out

    def report_json(self) -> list:
        return [{"function": n, "address": None if a is None else f"#{a}", "calls": len(js),
                 "min": min(js), "median": statistics.median(js), "max": max(js)}
                for (n, a), js in sorted(self.juice.items(), key=lambda kv: kv[0][0])]


# --- snapshots --------------------------------------------------------------------------------

def snapshot_text(tests: list) -> str:
    """One line per test, `file::name juice`, sorted: a file to diff and commit."""
    lines = sorted(f"{t.file}::{t.name} {t.juice}" for t in tests)
    return "\n".join(lines) + ("\n" if lines else "")


def read_snapshot(path: Path) -> dict:
    """{"file::name": juice} from a snapshot file; ValueError naming file:line if bad."""
    out: dict = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        key, _, juice = line.rpartition(" ")
        if not key or not juice.isdigit():
            raise ValueError(f"{path}:{n}:1: not a snapshot line (`file::test juice`): "
                             f"{line[:60]}")
        out[key] = int(juice)
    return out


def check_snapshot(tests: list, kept: dict, tolerance: float,
                   complete: bool = True) -> tuple:
    """(ok, lines): each test whose juice moved beyond `tolerance` percent, or that the
    snapshot lacks, and (when every test ran: `complete`) those it has but that did not run."""
    lines, ok = [], True
    ran = set()
    for t in sorted(tests, key=lambda t: (t.file, t.name)):
        key = f"{t.file}::{t.name}"
        ran.add(key)
        old = kept.get(key)
        if old is None:
            ok = False
            lines.append(f"NEW      {key} {t.juice:,} (not in the snapshot)")
            continue
        if old == t.juice:
            continue
        pct = 100.0 * (t.juice - old) / old if old else float("inf")
        within = abs(pct) <= tolerance
        ok = ok and within
        lines.append(f"{'changed' if within else 'CHANGED':<8} {key} {old:,} -> {t.juice:,} "
                     f"({pct:+.2f}%)")
    if complete:
        for key in sorted(set(kept) - ran):
            ok = False
            lines.append(f"GONE     {key} (in the snapshot, not run)")
    return ok, lines


__all__ = ["Watch", "snapshot_text", "read_snapshot", "check_snapshot"]
