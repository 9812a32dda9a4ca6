"""REPL start-up: time until the `convex #13>` prompt is on a terminal, and until the first
result is printed, as ratios to `python -c "import nacl"` (goal: first result <= 150 ms).

    .venv/bin/python benchmarks/startup.py [rounds]

The REPL runs in a pseudo-terminal, started with --fresh (no saved session to load) in a
convex directory used by an untimed first start (which builds genesis and caches it as a
snapshot, `convex_repl.repl.workspace.cached_genesis`) and then by every timed one; the input
is typed as soon as the prompt shows, so the first result waits for everything the REPL
loads. A second row starts without --fresh on a saved session (a returning user: the
session's snapshot is loaded too). The packages are byte-compiled first, as an installation
leaves them (else a source changed since its last import would be compiled in every timed
start). Also shows what goes into it: imports, genesis built and loaded from its snapshot.
"""
from __future__ import annotations

import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def baseline() -> float:
    t = time.perf_counter()
    subprocess.run([PY, "-c", "import nacl"], check=True)
    return time.perf_counter() - t


def repl_times(home: str, fresh: bool = True) -> tuple:
    """(seconds to the prompt, seconds to the first result) of one REPL start."""
    env = dict(os.environ, CONVEX_HOME=home, TERM="xterm", PYTHONPATH=str(ROOT))
    master, slave = pty.openpty()
    t0 = time.perf_counter()
    flags = ["--no-color", "--no-save"] + (["--fresh"] if fresh else [])
    p = subprocess.Popen([PY, "-m", "convex_repl", *flags], stdin=slave, stdout=slave,
                         stderr=slave, env=env, close_fds=True)
    os.close(slave)
    buf, ready, first = b"", None, None
    try:
        while time.perf_counter() - t0 < 60:
            r, _, _ = select.select([master], [], [], 0.01)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                buf += chunk
                if b"\x1b[6n" in chunk:          # answer cursor-position requests
                    os.write(master, b"\x1b[1;1R")
                if ready is None and b"convex #13>" in buf:
                    ready = time.perf_counter() - t0
                    os.write(master, b"(+ 20 22)\r")
                if ready is not None and first is None and b"juice" in buf:
                    first = time.perf_counter() - t0
                    break                          # measured: the REPL is stopped below
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        os.close(master)
    return ready, first


def components() -> dict:
    code = ("import time, tempfile, pathlib; t=time.perf_counter(); import prompt_toolkit, "
            "convex_repl.repl, convex_repl.api; a=time.perf_counter(); "
            "from stdlib.genesis import genesis_state; genesis_state(); b=time.perf_counter(); "
            "from convex_repl.repl.workspace import cached_genesis; "
            "h=pathlib.Path(tempfile.mkdtemp()); cached_genesis(h); c=time.perf_counter(); "
            "cached_genesis(h); d=time.perf_counter(); print(a-t, b-a, d-c)")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout.split()
    return {"imports": float(out[0]), "genesis": float(out[1]), "snapshot": float(out[2])}


def compile_packages() -> None:
    subprocess.run([PY, "-m", "compileall", "-q", *(str(ROOT / p) for p in
                    ("convex_repl", "kernel", "lisp", "stdlib"))], check=True,
                   stdout=subprocess.DEVNULL)


def saved_session(home: str) -> None:
    """A saved session in `home`: a few definitions, saved with their state snapshot."""
    code = ("import pathlib, sys; from convex_repl.repl.workspace import Workspace; "
            "w=Workspace(pathlib.Path(sys.argv[1])); "
            "[w.transact(s) for s in ('(def x 1)', '(defn f [a] (* a x))', '(f 42)')]")
    subprocess.run([PY, "-c", code, home], check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))


def measure(rounds: int = 5, restored: bool = False) -> tuple:
    """Medians over `rounds` of (python -c 'import nacl', REPL ready, first result) seconds;
    with `restored`, the REPL starts on a saved session instead of --fresh."""
    compile_packages()
    base = statistics.median(baseline() for _ in range(rounds))
    ready, first = [], []
    with tempfile.TemporaryDirectory() as home:
        repl_times(home)                      # the first start ever: not timed
        if restored:
            saved_session(home)
        for _ in range(rounds):
            r, f = repl_times(home, fresh=not restored)
            if r is None or f is None:
                raise SystemExit("the REPL did not come up")
            ready.append(r)
            first.append(f)
    return base, statistics.median(ready), statistics.median(first)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    base, r, f = measure(rounds)
    _, r2, f2 = measure(rounds, restored=True)
    c = components()
    print(f"python -c 'import nacl'   {base * 1000:7.1f} ms")
    print(f"REPL ready (prompt shown)  {r * 1000:7.1f} ms   {r / base:5.1f}x")
    print(f"first result printed       {f * 1000:7.1f} ms   {f / base:5.1f}x   (goal <= 150 ms)")
    print(f"  on a saved session       {f2 * 1000:7.1f} ms   {f2 / base:5.1f}x   "
          f"(prompt at {r2 * 1000:.0f} ms)")
    print(f"  of which imports {c['imports'] * 1000:.0f} ms; genesis built in "
          f"{c['genesis'] * 1000:.0f} ms (the first start only), loaded from its snapshot in "
          f"{c['snapshot'] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
