"""The modules compiled ahead of time (setup.py, kernel/compiled.py): a build is used only
while current, CONVEX_PURE_PYTHON=1 runs the sources, and both give the same values, errors,
juice and state hashes."""
from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

from kernel import compiled
from kernel.compiled import COMPILED, _CurrentBuildFinder

SO = importlib.machinery.EXTENSION_SUFFIXES[0]
CASES = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "cvm-public.jsonl"


def _pair(tmp_path: Path, source_newer: bool) -> tuple:
    src, built = tmp_path / "mod.py", tmp_path / f"mod{SO}"
    src.write_text("X = 1\n")
    built.write_bytes(b"not really a build")      # found, never loaded here
    old, new = 1_000_000_000, 1_000_000_100
    os.utime(src, (new, new) if source_newer else (old, old))
    os.utime(built, (old, old) if source_newer else (new, new))
    return src, built


def _spec(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(compiled, "_NAMES", frozenset({"mod"}))
    return _CurrentBuildFinder.find_spec("mod", [str(tmp_path)])


def test_a_current_build_is_used(monkeypatch, tmp_path):
    monkeypatch.delenv("CONVEX_PURE_PYTHON", raising=False)
    _src, built = _pair(tmp_path, source_newer=False)
    assert _spec(monkeypatch, tmp_path).origin == str(built)


def test_a_source_edited_after_its_build_runs_instead(monkeypatch, tmp_path):
    monkeypatch.delenv("CONVEX_PURE_PYTHON", raising=False)
    src, _built = _pair(tmp_path, source_newer=True)
    assert _spec(monkeypatch, tmp_path).origin == str(src)


def test_pure_python_asked_for_runs_the_source(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVEX_PURE_PYTHON", "1")
    src, _built = _pair(tmp_path, source_newer=False)
    assert _spec(monkeypatch, tmp_path).origin == str(src)


def test_other_modules_are_left_to_the_usual_finders():
    assert _CurrentBuildFinder.find_spec("kernel.data.index", None) is None


def test_each_module_runs_as_its_current_build_or_as_source():
    """What this install runs: the build beside a module when there is one and it is current
    (the normal case after `pip install -e .` with a C compiler), else the source."""
    for name in COMPILED:
        importlib.import_module(name)
    for name, runs_compiled in compiled.loaded().items():
        here = Path(sys.modules[name].__file__).parent
        stem = name.rpartition(".")[2]
        source, built = here / f"{stem}.py", here / f"{stem}{SO}"
        expected = built.exists() and not compiled.source_instead(str(built), str(source))
        assert runs_compiled == expected, name


def digest() -> dict:
    """What must not depend on how the modules run: every conformance expression's value or
    error and juice, in one session, and a block of transfers and an invoke through the
    block transition (state hash, juice and fees of each)."""
    from convex_repl.api import Session
    from kernel.state.transactions import Block, Invoke, Transfer, sign
    from kernel.transition import apply_block_outcomes
    from kernel.transition.ledger import genesis_signing_key
    from lisp import read
    from stdlib.genesis import FIRST_USER, genesis_state

    h = hashlib.sha256()
    s = Session()
    if CASES.exists():
        for line in CASES.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = s.eval(json.loads(line)["expr"])
                h.update(repr((r.ok, r.error, str(r.value) if r.ok else None,
                               r.juice)).encode())
    key = genesis_signing_key(FIRST_USER)
    txs = [sign(key, Transfer.create(FIRST_USER, i, 12 + i % 3, 1000 * i)) for i in range(1, 9)]
    txs.append(sign(key, Invoke.create(FIRST_USER, 9, read("(def x (reduce + (range 100)))"))))
    state = genesis_state()
    new, outcomes = apply_block_outcomes(state, Block.create(state.timestamp + 1, txs))
    block = [new.value_id().hex()] + [(o.juice, o.fees, str(o.result(i)))
                                      for i, o in enumerate(outcomes)]
    return {"sessions": h.hexdigest(), "block": block,
            "compiled": sorted(n for n, c in compiled.loaded().items() if c)}


def test_pure_python_gives_the_same_results():
    here = json.loads(json.dumps(digest()))     # as the other side's comes
    env = dict(os.environ, CONVEX_PURE_PYTHON="1")
    out = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    pure = json.loads(out.stdout)
    assert pure["compiled"] == []
    assert (pure["sessions"], pure["block"]) == (here["sessions"], here["block"])


if __name__ == "__main__":
    print(json.dumps(digest()))
