"""REPL start-up: time until the `convex #13>` prompt is on a terminal, and until the first
result is printed, as ratios to `python -c "import nacl"` (goal: REPL-ready <= 10x).

    .venv/bin/python benchmarks/startup.py [rounds]

The REPL runs in a pseudo-terminal, started with --fresh (no saved session to load) in a
convex directory used by an untimed first start (which checks once whether states survive a
CAD3 round trip, to decide about caching genesis) and then by every timed one. Also shows what goes into it: imports, genesis build, a replay of saved
transactions. The first start builds genesis and caches it, CAD3-encoded, in the convex
directory (`convex_repl.repl.workspace.cached_genesis`); later starts decode it instead.
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


def repl_times(home: str) -> tuple:
    """(seconds to the prompt, seconds to the first result) of one REPL start."""
    env = dict(os.environ, CONVEX_HOME=home, TERM="xterm", PYTHONPATH=str(ROOT))
    master, slave = pty.openpty()
    t0 = time.perf_counter()
    p = subprocess.Popen([PY, "-m", "convex_repl", "--no-color", "--fresh", "--no-save"], stdin=slave, stdout=slave,
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
    code = ("import time; t=time.perf_counter(); import convex_repl.cli, prompt_toolkit, "
            "rich.console; a=time.perf_counter(); from stdlib.genesis import genesis_state; "
            "genesis_state(); b=time.perf_counter(); print(a-t, b-a)")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout.split()
    return {"imports": float(out[0]), "genesis": float(out[1])}


def measure(rounds: int = 5) -> tuple:
    """Medians over `rounds` of (python -c 'import nacl', REPL ready, first result) seconds."""
    base = statistics.median(baseline() for _ in range(rounds))
    ready, first = [], []
    with tempfile.TemporaryDirectory() as home:
        repl_times(home)                      # the first start ever: not timed
        for _ in range(rounds):
            r, f = repl_times(home)
            if r is None or f is None:
                raise SystemExit("the REPL did not come up")
            ready.append(r)
            first.append(f)
    return base, statistics.median(ready), statistics.median(first)


def main() -> None:
    base, r, f = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    c = components()
    print(f"python -c 'import nacl'   {base * 1000:7.1f} ms")
    print(f"REPL ready (prompt shown)  {r * 1000:7.1f} ms   {r / base:5.1f}x   (goal <= 10x)")
    print(f"first result printed       {f * 1000:7.1f} ms   {f / base:5.1f}x")
    print(f"  of which imports {c['imports'] * 1000:.0f} ms, genesis build "
          f"{c['genesis'] * 1000:.0f} ms when not cached (timed starts use the cache)")


if __name__ == "__main__":
    main()
