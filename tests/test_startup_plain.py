"""Piped input to `convex` takes launch.py's path without typer; it must print and exit
exactly as the command-line path (`convex repl` through convex_repl.cli) does."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

INPUT = """(def x 40)
(defn add2
  [n]
  (+ n 2))
(add2 x)
(/ 1 :a)
:help mode
"done"
"""


def _run(args: list, home: Path, text: str, env: dict = None) -> tuple:
    e = dict(os.environ, CONVEX_HOME=str(home), PYTHONPATH=str(ROOT))
    for k in ("CONVEX_URL", "CONVEX_PROFILE", "NO_COLOR"):
        e.pop(k, None)
    e.update(env or {})
    p = subprocess.run([sys.executable, *args], input=text, capture_output=True, text=True,
                       env=e, timeout=120)
    return p.returncode, p.stdout, p.stderr


def _timeless(out: str) -> str:       # the badge's elapsed time differs run to run
    return "\n".join(line.rsplit(" · ", 1)[0] if line.startswith("juice") else line
                     for line in out.splitlines())


def test_piped_input_prints_and_exits_as_the_cli_does(tmp_path):
    fast = _run(["-m", "convex_repl", "--fresh", "--no-save"], tmp_path / "a", INPUT)
    cli = _run(["-c", "from convex_repl.cli import main; main()", "repl", "--fresh",
                "--no-save"], tmp_path / "b", INPUT)
    assert fast[0] == cli[0] == 1                     # (/ 1 :a) failed
    assert _timeless(fast[1]) == _timeless(cli[1])
    assert "42" in fast[1] and ":CAST" in fast[1] and '"done"' in fast[1]
    assert fast[2] == cli[2]


def test_piped_input_takes_the_path_without_typer(tmp_path):
    code = ("import runpy, sys; sys.argv = ['convex']; "
            "import atexit; atexit.register(lambda: print('typer' in sys.modules, "
            "file=sys.stderr)); runpy.run_module('convex_repl', run_name='__main__')")
    rc, out, err = _run(["-c", code], tmp_path, "(+ 1 2)\n")
    assert rc == 0 and out.startswith("3\n")
    assert err.strip().endswith("False")
    rc, out, err = _run(["-c", code], tmp_path, "(+ 1 2)\n", {"CONVEX_URL": "http://127.0.0.1:9"})
    assert err.strip().endswith("True")               # a peer: the command-line path


def test_session_saved_by_piped_input_comes_back(tmp_path):
    assert _run(["-m", "convex_repl"], tmp_path, "(def kept 7)\n")[0] == 0
    rc, out, _ = _run(["-m", "convex_repl"], tmp_path, "kept\n")
    assert rc == 0 and out.startswith("7\n")
