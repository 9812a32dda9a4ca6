"""Acceptance: every shared CAD3 vector reads, encodes byte-exactly, decodes back to an equal
value, and has the SHA3-256 of its encoding as value ID."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import kernel
import lisp

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
ROWS = []
for name in ("encoding.jsonl", "encoding-more.jsonl"):
    path = CONFORMANCE / name
    if path.exists():
        ROWS += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip()]

pytestmark = pytest.mark.skipif(not ROWS, reason="../shared conformance vectors not present")


@pytest.mark.parametrize("row", ROWS, ids=[r["source"][:40] for r in ROWS])
def test_vector_round_trip(row):
    value = lisp.read(row["source"])
    data = kernel.encode(value)
    assert data.hex() == row["encoding"]
    back = kernel.decode(data)
    assert kernel.equals(back, value)
    assert kernel.encode(back) == data
    assert kernel.value_id(value) == hashlib.sha3_256(data).digest()
    if "hash" in row:
        assert kernel.value_id(value).hex() == row["hash"]


def test_every_row_was_checked():
    assert len(ROWS) >= 200
