"""Reader and encoding throughput, each as a ratio to a raw baseline measured in the same run.

    reader      lisp.read_all(text)          vs  a raw Lark LALR parse of the same text with
                                                 the same grammar (parse tree only, no values)
    encode+hash kernel.value_id(v) on fresh  vs  hashlib.sha3_256(encoding).digest() on the
                small cells                      same bytes (goal: at most 2x)

The reader is measured on a sample text and on the standard libraries' sources; its row is
the speed ratio raw Lark time / reader time (goal: at least 1.5).

Run: python benchmarks/reader_encoding.py
"""
from __future__ import annotations

import hashlib
import time
from importlib import resources
from pathlib import Path

from lark import Lark

import kernel
import lisp

SOURCE = """
(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))
{:name "token" :supply 1000000 :holders {#12 100, #13 250} :tags #{:a :b :c}}
[1 2.5 -3 0xdeadbeef \\a "str\\"ing" nil true false ##NaN 1e10 foo/bar :kw]
(let [[a & more] [1 2 3]] `(do ~a ~@more))
^{:doc "meta"} (fn [x] (* x x)) ; a comment
"""


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def measure_reader(text: str = SOURCE * 200) -> tuple:
    """(seconds for lisp.read_all(text), seconds for a raw Lark parse of it)."""
    grammar = resources.files("lisp").joinpath("convex.lark").read_text(encoding="utf-8")
    raw = Lark(grammar, parser="lalr", lexer="basic", start="start")
    lisp.read_all(text)  # warm up
    return best_of(lambda: lisp.read_all(text)), best_of(lambda: raw.parse(text))


def stdlib_text() -> str:
    """Every standard library's source, one text."""
    root = Path(str(resources.files("stdlib")))
    return "\n".join(f.read_text(encoding="utf-8") for f in sorted(root.rglob("*.cvx")))


def bench_reader() -> None:
    for name, text in (("sample", SOURCE * 200), ("stdlib", stdlib_text())):
        t_ours, t_raw = measure_reader(text)
        kb = len(text.encode()) / 1024
        print(f"reader ({name}): {kb / t_ours:8.0f} KiB/s   raw Lark {kb / t_raw:8.0f} KiB/s   "
              f"speed ratio {t_raw / t_ours:.2f} (goal >= 1.5)")


def measure_encode_hash(n: int = 20000) -> tuple:
    """(seconds for kernel.value_id on n fresh small cells, for sha3 of their encodings)."""
    samples = ["[1 2 3]", "{:a 1, :b 2}", ":keyword", "\"a short string\"", "0xcafebabe",
               "#{1 2}", "(+ 1 2)", "#1234"]
    sources = [samples[i % len(samples)] for i in range(n)]
    rounds = [[lisp.read(s) for s in sources] for _ in range(5)]  # fresh: nothing cached
    encodings = [kernel.encode(v) for v in rounds[0]]
    sha3 = hashlib.sha3_256

    def raw():
        for e in encodings:
            sha3(e).digest()

    def ours_on(values):
        t = time.perf_counter()
        for v in values:
            kernel.value_id(v)
        return time.perf_counter() - t

    t_raw = best_of(raw)
    t_ours = min(ours_on(r) for r in rounds[1:])  # each round hashes cells never hashed before
    return t_ours, t_raw


def bench_encode_hash() -> None:
    n = 20000
    t_ours, t_raw = measure_encode_hash(n)
    print(f"encode+hash: {n / t_ours:8.0f} cells/s  raw sha3 {n / t_raw:8.0f} cells/s   "
          f"ratio {t_ours / t_raw:.2f}x (goal <= 2x)")


if __name__ == "__main__":
    bench_reader()
    bench_encode_hash()
