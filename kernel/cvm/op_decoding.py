"""Decoding of code values: ops, closures and core definitions become executable again.

Each reader first decodes the generic record (coded value, dense record or extension), then
upgrades it to the op or function it describes when its fields are valid. Anything else stays
the generic value, which still round-trips byte for byte (as in the reference, a malformed op
is a valid CAD3 value that fails only when executed).
"""
from __future__ import annotations

from typing import Any

from kernel.data.cell import MissingData
from kernel.data.cell import BranchRef
from kernel.data.decoding import Decoder, register
from kernel.cvm.fn import CoreFn, Fn, MultiFn
from kernel.cvm.ops import (Cond, Constant, Def, Do, Invoke, Lambda, Let, Local, Lookup, Op, Query,
                            SPECIAL_NAMES, SetLocal, Special, Try)
from kernel.data.records import CodedValue, DenseRecord, read_coded_value, read_dense_record
from kernel.data.scalars import ByteFlag, Extension, Symbol
from kernel.data.syntax import Syntax
from kernel.data.vectors import Vector

def _ops(v: Any) -> "tuple | None":
    """The elements of v as ops, or None if v is not a vector of ops (or, decoded from a
    single cell, some of its elements are not available)."""
    try:
        if not isinstance(v, Vector) or not all(isinstance(x, Op) for x in v):
            return None
        return v.to_tuple()
    except MissingData:
        return None


def _coded(dec: Decoder, tag: int, pos: int):
    generic, end = read_coded_value(dec, tag, pos)
    return _upgrade_coded(generic), end


def _upgrade_coded(c: CodedValue) -> Any:
    code, value = c.code, c.value
    if c.tag == 0xC0:
        if type(code) is ByteFlag or code is False:
            kind = 0 if code is False else code.n
            if kind == 0:
                return Constant(value)
            ops = _ops(value)
            if kind == 0xB and ops is not None:
                return Query(ops)
            if kind == 0xA and ops is not None:
                return Try(ops)
            if kind == 0xF and isinstance(value, (Fn, MultiFn)):
                return Lambda(value)
        elif type(code) is int and code >= 0 and isinstance(value, Op):
            return SetLocal(code, value)
    elif c.tag == 0xC1:
        if type(value) is Symbol and (code is None or isinstance(code, Op)):
            return Lookup(code, value)
    elif c.tag in (0xC2, 0xC3):
        ops = _ops(value)
        if isinstance(code, Vector) and ops is not None and len(ops) >= len(code):
            try:
                return Let(code.to_tuple(), ops, c.tag == 0xC3)
            except ValueError:
                return c
    elif c.tag == 0xCB:
        if value is None and (type(code) is BranchRef or isinstance(code, Vector)):
            return MultiFn(code)
    elif c.tag == 0xCD:
        key = code.datum if type(code) is Syntax else code
        if type(key) is Symbol and (value is None or isinstance(value, Op)):
            return Def(code, value)
    return c


def _dense(dec: Decoder, tag: int, pos: int):
    generic, end = read_dense_record(dec, tag, pos)
    return _upgrade_dense(generic), end


def _upgrade_dense(r: DenseRecord) -> Any:
    fields = r.values
    if r.tag == 0xDF:
        if len(fields) == 3:
            params, body, env = fields
            if isinstance(params, Vector) and isinstance(body, Op) and isinstance(env, Vector):
                try:
                    return Fn(params, body, env.to_tuple())
                except ValueError:
                    return r
        return r
    ops = _ops(fields)
    if ops is None:
        return r
    if r.tag == 0xDA:
        return Do(ops)
    if r.tag == 0xDC:
        return Cond(ops)
    if r.tag == 0xDB and ops:
        return Invoke(ops[0], ops[1:])
    return r


def _extension(dec: Decoder, tag: int, pos: int):
    n, end = dec.count(pos)
    if tag == 0xE5 and n < len(SPECIAL_NAMES):
        return Special.by_symbol[Symbol(SPECIAL_NAMES[n])], end
    if tag == 0xE6:
        return Local(n), end
    if tag == 0xED:
        from kernel.cvm.registry import BY_CODE
        f: "CoreFn | None" = BY_CODE.get(n)
        if f is not None:
            return f, end
    return Extension(tag, n), end


register((0xC0, 0xC1, 0xC2, 0xC3, 0xCB, 0xCD), _coded)
register((0xDA, 0xDB, 0xDC, 0xDF), _dense)
register((0xE5, 0xE6, 0xED), _extension)
