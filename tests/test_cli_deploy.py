"""`convex deploy` of the tutorial's example actor, then `convex eval` in a new process
calling it by address and by CNS name, with --json output and the deployments file."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

COUNTER = Path(__file__).resolve().parents[1] / "tutorials" / "examples" / "counter.cvx"


def convex(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONVEX_HOME=str(tmp / "home"))
    return subprocess.run([sys.executable, "-m", "convex_repl", *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=120)


def test_deploy_then_call_from_a_new_process(tmp_path):
    r = convex(tmp_path, "deploy", str(COUNTER), "--name", "my.counter", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and out["name"] == "my.counter" and out["network"] == "local"
    actor = out["address"]
    assert actor.startswith("#")

    first = convex(tmp_path, "eval", f"(call {actor} (increment))", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["value"] == "1"
    by_name = convex(tmp_path, "eval", "(call @my.counter (increment))")
    assert by_name.returncode == 0 and by_name.stdout.strip() == "2"

    recorded = json.loads((tmp_path / "convex-deployments.json").read_text())
    assert recorded["local"]["my.counter"]["address"] == actor


def test_deploy_args_and_errors(tmp_path):
    r = convex(tmp_path, "deploy", str(COUNTER), "--arg", "10")
    assert r.returncode == 0, r.stderr
    actor = r.stdout.strip()
    q = convex(tmp_path, "query", f"(call {actor} (value))")
    assert q.stdout.strip() == "10"

    missing = convex(tmp_path, "deploy", "no-such-file.cvx")
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
    assert "Traceback" not in missing.stderr
    bad = convex(tmp_path, "deploy", str(COUNTER), "--arg", "(oops")
    assert bad.returncode == 2 and "--arg" in bad.stderr
