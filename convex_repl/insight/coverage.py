"""Line and branch coverage of `.cvx` sources, from a traced run's op counts.

Ops carry no source positions, so while a file's forms are compiled the compiler reports
the list form each op came from (`lisp.compiler.FORM_SINK`), and each is matched to the
lists read from the file (`Positions.within`) that are equal to it, within the top-level
form being loaded. A macro call (`defn`, `if`, `when`) compiles to a form of another shape
and matches nothing itself, but the calls inside it, as written, are found. Equal lists in
one top-level form are paired with the compiled ones in order. A line is *instrumented*
when some op was matched there, *hit* when one of them ran.

Branches are the `cond` ops (what `if`, `when`, `cond`, `and`, `or` compile to): for each,
which of its results was taken, and the fall-through (else, or nil when there is none);
reported at the line of its first test that matched source. LCOV output (`lcov`) is what
editors and CI services read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from kernel.cvm import ops as O

from convex_repl.insight.explain import op_children


@dataclass
class FileCoverage:
    path: str
    lines: dict = field(default_factory=dict)      # line -> hits
    branches: list = field(default_factory=list)   # (line, block, branch, taken or None)

    @property
    def lines_hit(self) -> int:
        return sum(1 for h in self.lines.values() if h > 0)

    @property
    def branches_hit(self) -> int:
        return sum(1 for b in self.branches if b[3])

    def percent(self) -> tuple:
        lp = 100.0 * self.lines_hit / len(self.lines) if self.lines else 100.0
        bp = 100.0 * self.branches_hit / len(self.branches) if self.branches else 100.0
        return lp, bp


class SourceMap:
    """The ops compiled from one file, matched to its lines (see the module docstring)."""

    def __init__(self, src: Any):
        self.src = src
        self.at: dict = {}          # id(op) -> (op, line, column)
        self.compiled: list = []    # every op compiled from a list (matched or not)
        self._tops: dict = {}       # top-level index -> {form value: [(line, col)]}

    def _lists_of(self, i: int) -> dict:
        m = self._tops.get(i)
        if m is None:
            m = self._tops[i] = {}
            for line, col, lst in self.src.positions.within(self.src.forms[i]):
                m.setdefault(lst, []).append((line, col))
        return m

    def add(self, i: int, compiled: list) -> None:
        """Match the (op, form) pairs compiled while top-level form i loaded."""
        if not 0 <= i < len(self.src.forms):
            return
        lists = self._lists_of(i)
        used: dict = {}
        seen: set = set()
        self.compiled.extend(op for op, _ in compiled)
        for op, form in compiled:
            if id(op) in seen:
                continue            # (do x) compiles to x's op: x's own form names it
            seen.add(id(op))
            try:
                places = lists.get(form)
            except TypeError:
                places = None
            if not places:
                continue
            k = used.get(form, 0)
            used[form] = k + 1
            self.at[id(op)] = (op, *places[min(k, len(places) - 1)])

    def where(self, op: Any) -> Optional[str]:
        """`file:line:col` of the list an op was compiled from, if it was found."""
        hit = self.at.get(id(op))
        return None if hit is None else f"{self.src.name}:{hit[1]}:{hit[2]}"

    def coverage(self, counts: dict, name: Optional[str] = None) -> FileCoverage:
        """`counts`: id(op) -> times it ran (kernel.cvm.trace.Recorder.op_stats)."""
        fc = FileCoverage(name or self.src.name)
        for oid, (op, line, _) in self.at.items():
            n = counts.get(oid, (0,))[0]
            fc.lines[line] = max(fc.lines.get(line, 0), n)    # the line ran as often as
            #                                                     its most run op
        block = 0
        for oid, (op, line) in sorted(self._conds().items(), key=lambda kv: kv[1][1]):
            cond_count = counts.get(oid, (0,))[0]
            ops = op.ops
            results = [ops[j] for j in range(1, len(ops), 2)]
            taken = [counts.get(id(r), (0,))[0] for r in results]
            if len(ops) % 2:
                taken.append(counts.get(id(ops[-1]), (0,))[0])      # the else
            else:
                taken.append(max(0, cond_count - sum(taken)))   # falling through to nil
            for b, t in enumerate(taken):
                fc.branches.append((line, block, b, t if cond_count else None))
            block += 1
        fc.lines = dict(sorted(fc.lines.items()))
        return fc

    def _conds(self) -> dict:
        """id(cond op) -> (op, line of its first matched test or result)."""
        out: dict = {}
        seen: set = set()
        for op in self.compiled:
            for c in _walk(op, seen):
                if type(c) is O.Cond and len(c.ops) > 1:
                    line = self._line_in(c)
                    if line is not None:
                        out[id(c)] = (c, line)
        return out

    def _line_in(self, op: Any) -> Optional[int]:
        for c in _walk(op):
            hit = self.at.get(id(c))
            if hit is not None and c is not op:
                return hit[1]
        return None


def _walk(op: Any, seen: Optional[set] = None):
    """The ops of a tree, depth first in order (each once when `seen` is given)."""
    todo = [op]
    while todo:
        o = todo.pop()
        if seen is not None:
            if id(o) in seen:
                continue
            seen.add(id(o))
        yield o
        todo.extend(reversed([c for c in op_children(o) if isinstance(c, O.Op)]))


def lcov(files: list) -> str:
    out = []
    for fc in files:
        out += ["TN:", f"SF:{fc.path}"]
        for line, block, branch, taken in fc.branches:
            out.append(f"BRDA:{line},{block},{branch},{'-' if taken is None else taken}")
        out += [f"BRF:{len(fc.branches)}", f"BRH:{fc.branches_hit}"]
        for line, hits in fc.lines.items():
            out.append(f"DA:{line},{hits}")
        out += [f"LF:{len(fc.lines)}", f"LH:{fc.lines_hit}", "end_of_record"]
    return "\n".join(out) + "\n"


def summary_lines(files: list) -> list:
    """A terminal table: per file, lines and branches covered, and the lines never run."""
    out = [f"{'file':<40} {'lines':>14} {'branches':>14}  not run"]
    tl = th = bl = bh = 0
    for fc in files:
        lp, bp = fc.percent()
        missed = [ln for ln, h in fc.lines.items() if h == 0]
        out.append(f"{fc.path:<40} {fc.lines_hit:>4}/{len(fc.lines):<4}{lp:>5.1f}% "
                   f"{fc.branches_hit:>4}/{len(fc.branches):<4}{bp:>5.1f}%  "
                   f"{_ranges(missed)}")
        tl, th = tl + len(fc.lines), th + fc.lines_hit
        bl, bh = bl + len(fc.branches), bh + fc.branches_hit
    if len(files) > 1:
        out.append(f"{'total':<40} {th:>4}/{tl:<4}{(100.0 * th / tl if tl else 100):>5.1f}% "
                   f"{bh:>4}/{bl:<4}{(100.0 * bh / bl if bl else 100):>5.1f}%")
    return out


def _ranges(lines: list) -> str:
    parts, i = [], 0
    while i < len(lines):
        j = i
        while j + 1 < len(lines) and lines[j + 1] == lines[j] + 1:
            j += 1
        parts.append(str(lines[i]) if i == j else f"{lines[i]}-{lines[j]}")
        i = j + 1
    return ",".join(parts)


__all__ = ["SourceMap", "FileCoverage", "lcov", "summary_lines"]
