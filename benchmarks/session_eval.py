"""`Session.eval` of a small form: the same source again and again (what a REPL loop or a
script calling eval in a loop does) against sources never seen before (each read, expanded
and compiled), measured side by side. Goal: <= 20 us for repeated source.

Run: python benchmarks/session_eval.py
"""
from __future__ import annotations

import statistics
import time

from convex_repl.api import Session

N = 3000


def measure(rounds: int = 5, n: int = N, source: str = "(+ 1 2)") -> tuple:
    """Median seconds per eval over `rounds`: (the same `source` each time, a new source
    each time)."""
    s = Session()
    assert s.eval(source).ok
    same, fresh = [], []
    for r in range(rounds):
        t = time.perf_counter()
        for _ in range(n):
            s.eval(source)
        same.append((time.perf_counter() - t) / n)
        texts = [f"(+ 1 {r * n + i})" for i in range(n)]
        t = time.perf_counter()
        for text in texts:
            s.eval(text)
        fresh.append((time.perf_counter() - t) / n)
    return statistics.median(same), statistics.median(fresh)


def main() -> None:
    same, fresh = measure()
    print(f'Session.eval("(+ 1 2)") repeated: {same * 1e6:.1f} us (goal <= 20 us); a new '
          f"source each time {fresh * 1e6:.1f} us; ratio {same / fresh:.2f}")


if __name__ == "__main__":
    main()
