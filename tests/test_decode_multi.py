"""decode_multi decodes each branch cell once the cells it refers to are decoded, in one
pass over the message taken last first; a cell shared by several parents (met before it is
decoded) is still resolved everywhere, so nothing is left as a BranchRef."""
from __future__ import annotations

import kernel
from kernel.data.cell import BranchRef, all_cells, memory_size
from kernel.data.decoding import decode_multi, encode_multi
from kernel.data.vectors import Vector
from lisp import read


def _no_branch_refs(v) -> bool:
    return all(type(c) is not BranchRef for c in all_cells(v))


def test_shared_branches_resolve_under_every_parent():
    big = read("[" + " ".join(f'"string number {i} of a long one"' for i in range(40)) + "]")
    other = read("{:a " + " ".join(f'"{i} another long string value"' for i in range(9)) + "}")
    # big is under both halves; the second half reaches it only after other
    v = Vector.of(Vector.of(big, 1), Vector.of(other, Vector.of(big, other)), big)
    data = encode_multi(v)
    back = decode_multi(data)
    assert back.value_id() == v.value_id()
    assert _no_branch_refs(back)
    assert memory_size(back) == memory_size(v)
    assert kernel.encode(back) == kernel.encode(v)


def test_missing_cells_stay_branch_refs():
    big = read("[" + " ".join(f'"a long string, number {i}"' for i in range(30)) + "]")
    v = Vector.of(big, 2)
    top = kernel.encode(v)                  # the top cell alone: big is only a ref
    back = decode_multi(top)
    assert back.value_id() == v.value_id()
    assert type(back[0]) is BranchRef


def test_genesis_round_trip():
    from stdlib.genesis import genesis_state
    st = genesis_state()
    back = decode_multi(encode_multi(st))
    assert back.value_id() == st.value_id()
    assert _no_branch_refs(back)
