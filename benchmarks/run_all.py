"""Every row of the performance table (issue 16), each a ratio against a baseline measured in
the same run on this machine, as medians of several rounds.

    .venv/bin/python benchmarks/run_all.py [--quick] [--skip peer,startup,...]

Rows (benchmark module, baseline):
    cvm        CVM (fib 20) with exact juice / native Python fib(20), JIT and interpreted
    transfers  unsigned transfers/s / Ed25519 verifies/s at 2, 1k, 10k, 100k accounts;
               per-transfer cost from 1k to 100k accounts; a signed block (cache cleared)
    peer       signed transfers through one local peer / verifies/s, pipelined and waiting
    reader     raw Lark LALR parse time / reader time on a sample and on stdlib/
    encoding   encode + hash of small fresh cells / raw sha3 of their encodings
    startup    first result after the REPL prompt (ms from launch), / python -c 'import nacl'
    eval       Session.eval("(+ 1 2)") repeated, / a new source each time

--quick uses fewer rounds and smaller runs (a rough table in about a minute). Each section
runs in a fresh Python process, so none measures with the heap or caches another left.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROWS: list = []


def row(measure: str, now: str, goal: str, met: "bool | None") -> None:
    ROWS.append((measure, now, goal, "-" if met is None else "yes" if met else "no"))
    print(f"  {measure}: {now}  (goal {goal})", flush=True)


def cvm(quick: bool) -> None:
    import cvm_fib
    f = cvm_fib.measure(18 if quick else 20)
    n = 18 if quick else 20
    row(f"CVM (fib {n}) JIT / native fib", f"{f['JIT'] / f['native']:.1f}x", "<= 5x",
        f["JIT"] / f["native"] <= 5)
    row(f"CVM (fib {n}) interpreted / native fib", f"{f['interpreter'] / f['native']:.0f}x",
        "-", None)


def transfers(quick: bool) -> None:
    import transactions as T
    f = T.measure(rounds=1 if quick else 3)
    v = f["verify"]
    for name in ("2 accounts", "1k fixed", "10k fixed", "100k fixed", "1k random",
                 "10k random", "100k random"):
        r = v / f[name]
        row(f"unsigned transfers/s / verifies/s, {name}", f"{r:.2f}",
            ">= 2 at 100k random", r >= 2)
    for kind in ("fixed", "random"):
        g = f[f"100k {kind}"] / f[f"1k {kind}"]
        row(f"per-transfer cost 1k -> 100k accounts, {kind}", f"x{g:.2f}", "<= x1.20",
            g <= 1.2)
    row("signed block of 1000 transfers: time per tx / one verify (cache cleared)",
        f"{f['block'] / f['verify wall']:.2f}", "-", None)


def peer(quick: bool) -> None:
    import statistics
    import peer as P
    n = 1000 if quick else 3000
    rounds = 1 if quick else 5          # short runs, spread by thread scheduling: medians
    piped = statistics.median(P.ratio_to_verifies(n) for _ in range(rounds))
    waiting = statistics.median(P.ratio_to_verifies(n, pipelined=False) for _ in range(rounds))
    row("signed transfers via one local peer / verifies/s, pipelined", f"{piped:.2f}",
        ">= 1.0", piped >= 1.0)
    row("signed transfers via one local peer / verifies/s, waiting", f"{waiting:.2f}",
        ">= 0.5", waiting >= 0.5)


def reader(quick: bool) -> None:
    import reader_encoding as R
    for name, text in (("sample", R.SOURCE * 200), ("stdlib/", R.stdlib_text())):
        ours, raw = R.measure_reader(text)
        row(f"reader speed / raw Lark LALR, {name}", f"{raw / ours:.2f}", ">= 1.5",
            raw / ours >= 1.5)


def encoding(quick: bool) -> None:
    import reader_encoding as R
    ours, raw = R.measure_encode_hash(5000 if quick else 20000)
    row("encode + hash a small cell / raw sha3", f"{ours / raw:.2f}", "<= 2", ours / raw <= 2)


def startup(quick: bool) -> None:
    import startup as S
    base, ready, first = S.measure(2 if quick else 5)
    row("first result after the REPL prompt (ms from launch)",
        f"{first * 1000:.0f} ms ({first / base:.1f}x python -c 'import nacl'; prompt at "
        f"{ready * 1000:.0f} ms)", "<= 150 ms", first <= 0.150)


def session_eval(quick: bool) -> None:
    import session_eval as E
    same, fresh = E.measure(rounds=2 if quick else 5)
    row('Session.eval("(+ 1 2)") repeated source',
        f"{same * 1e6:.1f} us ({same / fresh:.2f} of a new source's {fresh * 1e6:.1f} us)",
        "<= 20 us", same <= 20e-6)


SECTIONS = {"cvm": cvm, "transfers": transfers, "peer": peer, "reader": reader,
            "encoding": encoding, "startup": startup, "eval": session_eval}


def section(name: str, quick: bool) -> list:
    """Run one section in a fresh Python process (no heap or caches left by another) and
    return its rows."""
    import json
    import os
    import subprocess
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, __file__, "--section", name] +
                         (["--quick"] if quick else []), capture_output=True, text=True,
                         env=env, cwd=root)
    sys.stdout.write(out.stdout.split("\0")[0])
    if out.returncode != 0:
        sys.stdout.write(out.stderr[-2000:])
        return [(f"{name}: failed (exit {out.returncode})", "-", "-", "-")]
    return [tuple(r) for r in json.loads(out.stdout.split("\0")[1])]


def main(argv: list) -> None:
    quick = "--quick" in argv
    if "--section" in argv:                 # the child process of `section`
        import json
        SECTIONS[argv[argv.index("--section") + 1]](quick)
        sys.stdout.write("\0" + json.dumps(ROWS))
        return
    skip: set = set()
    if "--skip" in argv:
        skip = set(argv[argv.index("--skip") + 1].split(","))
    rows = []
    for name in SECTIONS:
        if name in skip:
            continue
        print(f"[{name}]", flush=True)
        rows += section(name, quick)
    w = max(len(r[0]) for r in rows)
    print()
    print(f"| {'measure':<{w}} | now | goal | met |")
    print(f"|{'-' * (w + 2)}|---|---|---|")
    for m, now, goal, met in rows:
        print(f"| {m:<{w}} | {now} | {goal} | {met} |")


if __name__ == "__main__":
    main(sys.argv[1:])
