"""The public CVM conformance suite (../shared/conformance), run through our Session API.

The pass rate may only go up: MIN_PASS_RATE is the rate this project has reached. Cases
tagged `fixture` need setup the suite does not describe and are excluded, as by the tool.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
CASES = SHARED / "conformance" / "cvm-public.jsonl"
TOOL = SHARED / "tools" / "conformance.py"
MIN_PASS_RATE = 0.990  # reached 99.0% (1134/1145); raised as conformance improves, never lowered

pytestmark = pytest.mark.skipif(not CASES.exists() or not TOOL.exists(),
                                reason="../shared conformance suite not present")


def _load_tool():
    spec = importlib.util.spec_from_file_location("conformance_tool", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_public_conformance_rate():
    from convex_repl.api import Session

    tool = _load_tool()
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    cases = [c for c in cases if "fixture" not in c.get("tags", [])]
    failures = []
    for case in cases:
        try:
            ok, why = tool.check(Session, case)
        except Exception as e:  # a Python exception escaping the API is a failure
            ok, why = False, f"Python exception {type(e).__name__}: {e}"
        if not ok:
            failures.append(f"{case['id']}: {case['expr']} -- {why}")
    rate = 1 - len(failures) / len(cases)
    print(f"conformance: {len(cases) - len(failures)}/{len(cases)} ({rate:.1%})")
    assert rate >= MIN_PASS_RATE, "\n".join(failures[:40])
