"""CVM speed: (fib 20) and (fib 25) on the CVM as a ratio to native Python fib, measured side
by side, plus juice per second, with the JIT (kernel/jit.py) and with the interpreter alone.
Goal (issue 16): at most 5x with the JIT.

Times are CPU seconds of this process (`time.process_time`), so other processes on a loaded
machine slow neither side; native and CVM runs alternate, and each figure is the best of the
rounds. The CVM runs are whole transactions (`Session.eval` on a fork), with exact juice.

Run: python benchmarks/cvm_fib.py [--rounds N] [--no-interpreter]
"""
from __future__ import annotations

import argparse
import time

from convex_repl.api import Session
from kernel.cvm import jit

SIZES = (20, 25)
FIB = "(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))"


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def measure(n: int, modes: tuple = ("JIT", "interpreter"), rounds: int = 5) -> dict:
    """Best CPU seconds for native fib(n) ("native") and for (fib n) on the CVM in each mode,
    with the juice of the CVM runs ("juice")."""
    s = Session(juice_limit=10**12)
    assert s.eval(FIB).ok
    with jit.threshold(jit.THRESHOLD):
        s.eval("(fib 12)")              # warm: the JIT compiles fib (no effect interpreted)
    out: dict = {"native": [], "juice": None}
    results: list = []
    for label in modes:
        out[label] = []
    for _ in range(rounds if n < 25 or "interpreter" not in modes else max(1, rounds // 2)):
        out["native"].append(cpu(lambda: fib(n)))
        for label in modes:
            with jit.threshold(jit.THRESHOLD if label == "JIT" else None):
                out[label].append(cpu(lambda: results.append(s.fork().eval(f"(fib {n})"))))
            r = results[-1]
            assert r.ok and r.value == fib(n), r.message
            assert out["juice"] in (None, r.juice), "juice differs between modes"
            out["juice"] = r.juice
    return {k: (min(v) if isinstance(v, list) else v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-interpreter", action="store_true")
    a = ap.parse_args()
    modes = ("JIT",) if a.no_interpreter else ("JIT", "interpreter")
    for n in SIZES:
        f = measure(n, modes, a.rounds)
        t_native = f["native"]
        for label in modes:
            t_cvm, juice = f[label], f["juice"]
            print(f"(fib {n}) {label}: native {t_native * 1000:.1f} ms, CVM {t_cvm * 1000:.0f} ms,"
                  f" ratio {t_cvm / t_native:.1f}x (goal <= 5x with the JIT); "
                  f"juice {juice:,}, {juice / t_cvm:,.0f} juice/s")


if __name__ == "__main__":
    main()
