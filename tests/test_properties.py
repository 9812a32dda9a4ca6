"""Property tests over generated CVM values of every type (tests/strategies.py):
printing then reading gives an equal value, encoding then decoding gives an equal value with
the same encoding, and equal values always share encoding and value ID."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings

import kernel
import lisp
from strategies import values

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(values(readable=True))
def test_print_read_round_trip(v):
    text = lisp.print_value(v)
    back = lisp.read(text)
    assert kernel.equals(back, v), text
    assert kernel.encode(back) == kernel.encode(v)


@SETTINGS
@given(values(readable=False))
def test_encode_decode_round_trip(v):
    data = kernel.encode(v)
    back = kernel.decode(data)
    assert kernel.equals(back, v)
    assert kernel.encode(back) == data
    assert kernel.value_id(back) == kernel.value_id(v)


@SETTINGS
@given(values(readable=False), values(readable=False))
def test_equal_values_share_identity(a, b):
    if kernel.equals(a, b):
        assert kernel.encode(a) == kernel.encode(b)
        assert kernel.value_id(a) == kernel.value_id(b)
    else:
        assert kernel.value_id(a) != kernel.value_id(b)


@SETTINGS
@given(values(readable=False))
def test_equality_is_reflexive_on_copies(v):
    copy = kernel.decode_multi(kernel.encode_multi(v))
    assert kernel.equals(copy, v)
    assert kernel.memory_size(copy) == kernel.memory_size(v)
