"""CVM speed: (fib 25) on the CVM as a ratio to native Python fib(25), measured side by side,
plus juice per second, with the JIT (kernel/jit.py) and with the interpreter alone. Goal for
the CVM issue: at most 30x.

Run: python benchmarks/cvm_fib.py
"""
from __future__ import annotations

import time

from convex_repl.api import Session
from kernel.cvm import jit

N = 25
FIB = "(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))"


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure(n: int = N, modes: tuple = ("JIT", "interpreter")) -> dict:
    """Seconds for native fib(n) ("native") and for (fib n) on the CVM in each mode, with the
    juice of the CVM runs ("juice")."""
    s = Session(juice_limit=10**12)
    assert s.eval(FIB).ok
    out = {"native": best_of(lambda: fib(n))}
    for label in modes:
        results = []
        with jit.threshold(jit.THRESHOLD if label == "JIT" else None):
            out[label] = best_of(lambda: results.append(s.fork().eval(f"(fib {n})")))
        r = results[-1]
        assert r.ok and r.value == fib(n), r.message
        out["juice"] = r.juice
    return out


def main() -> None:
    f = measure()
    t_native = f["native"]
    for label in ("JIT", "interpreter"):
        t_cvm, juice = f[label], f["juice"]
        print(f"(fib {N}) {label}: native {t_native * 1000:.1f} ms, CVM {t_cvm * 1000:.0f} ms, "
              f"ratio {t_cvm / t_native:.0f}x (goal <= 5x with the JIT); "
              f"juice {juice:,}, {juice / t_cvm:,.0f} juice/s")


if __name__ == "__main__":
    main()
