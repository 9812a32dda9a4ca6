"""Lesson 9 (testing with properties and invariants): its REPL transcripts are checked by
test_tutorials.py like every lesson's; its ```sh blocks show `convex test` runs, and this
runs them for real (in a scratch directory holding the files they name) and checks that the
output is what the lesson shows (`...` matching any text, as in transcripts)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from convex_repl.repl.lessons import matches

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "tutorials" / "09-testing-with-properties-and-invariants.md"


def sh_blocks(text: str) -> list:
    return re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)


def commands(block: str) -> list:
    """[(command, [output lines])] of a shell transcript."""
    out: list = []
    for line in block.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
    return out


def test_the_lessons_convex_test_runs_print_what_it_shows(tmp_path):
    (tmp_path / "tutorials" / "examples").mkdir(parents=True)
    shutil.copy(ROOT / "tutorials" / "examples" / "test_token.cvx",
                tmp_path / "tutorials" / "examples" / "test_token.cvx")
    env = dict(os.environ, CONVEX_HOME=str(tmp_path / "home"), NO_COLOR="1",
               PYTHONPATH=str(ROOT))
    ran = 0
    for block in sh_blocks(LESSON.read_text()):
        for cmd, shown in commands(block):
            words = cmd.split()
            if words[0] == "cat":             # the file the next command runs
                (tmp_path / words[1]).write_text("\n".join(shown) + "\n")
                continue
            assert words[:2] == ["convex", "test"], cmd
            p = subprocess.run([sys.executable, "-m", "convex_repl"] + words[1:],
                               capture_output=True, text=True, cwd=tmp_path, env=env,
                               timeout=120)
            printed = p.stdout.rstrip("\n").splitlines()
            assert p.returncode == 1 and not p.stderr     # both runs find a failure
            assert matches("\n".join(shown), printed, False), \
                f"$ {cmd}\n--- the lesson shows:\n" + "\n".join(shown) + \
                "\n--- convex test printed:\n" + p.stdout
            ran += 1
    assert ran == 2
