"""Reader and encoding throughput, each as a ratio to a raw baseline measured in the same run.

    reader      lisp.read_all(text)          vs  a raw Lark LALR parse of the same text with
                                                 the same grammar (parse tree only, no values)
    encode+hash kernel.value_id(v) on fresh  vs  hashlib.sha3_256(encoding).digest() on the
                small cells                      same bytes (goal: at most 2x)

Run: python benchmarks/reader_encoding.py
"""
from __future__ import annotations

import hashlib
import time
from importlib import resources

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


def bench_reader() -> None:
    text = SOURCE * 200
    grammar = resources.files("lisp").joinpath("convex.lark").read_text(encoding="utf-8")
    raw = Lark(grammar, parser="lalr", lexer="basic", start="start")
    lisp.read_all(text)  # warm up
    t_raw = best_of(lambda: raw.parse(text))
    t_ours = best_of(lambda: lisp.read_all(text))
    kb = len(text.encode()) / 1024
    print(f"reader:      {kb / t_ours:8.0f} KiB/s   raw Lark {kb / t_raw:8.0f} KiB/s   "
          f"ratio {t_ours / t_raw:.2f}x")


def bench_encode_hash() -> None:
    n = 20000
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
    print(f"encode+hash: {n / t_ours:8.0f} cells/s  raw sha3 {n / t_raw:8.0f} cells/s   "
          f"ratio {t_ours / t_raw:.2f}x (goal <= 2x)")


if __name__ == "__main__":
    bench_reader()
    bench_encode_hash()
