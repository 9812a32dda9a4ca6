"""CVM values and Result records as the JSON the Convex REST API sends (rest-api.md, 1).

    to_json(value)          integers and doubles as numbers (non-finite: null), strings and
                            booleans as such, nil null, keywords and symbols by name, addresses
                            as integers, blobs "0x..", sequences as arrays, maps as objects
                            (string keys kept, keyword/symbol keys by name, others printed);
                            anything else printed as Convex Lisp text
    result_json(result)     {"value", "result", "errorCode"?, "info"} of a Result record
"""
from __future__ import annotations

import math
from typing import Any

from kernel.blobs import Blob, String
from kernel.hashmaps import Map, Set
from kernel.index import Index
from kernel.scalars import Address, Char, Keyword, Symbol
from kernel.vectors import List, Vector
from lisp.printer import display, print_value


def to_json(v: Any, depth: int = 0) -> Any:
    t = type(v)
    if v is None or t is bool:
        return v
    if t is int:
        return v
    if t is float:
        return v if math.isfinite(v) else None
    if t is String:
        return v.text
    if t is Keyword or t is Symbol:
        return v.name
    if t is Address:
        return v.n
    if t is Blob:
        return "0x" + v.data.hex()
    if t is Char:
        return chr(v.cp)
    if depth > 200:
        return print_value(v)
    try:
        if isinstance(v, (Vector, List, Set)):
            return [to_json(x, depth + 1) for x in v]
        if isinstance(v, (Map, Index)):
            out = {}
            for k, x in v.items():
                out[_key(k)] = to_json(x, depth + 1)
            return out
    except Exception:               # branches not available: fall back to the printed form
        pass
    try:
        return print_value(v)
    except Exception:
        return None


def _key(k: Any) -> str:
    t = type(k)
    if t is String:
        return k.text
    if t is Keyword or t is Symbol:
        return k.name
    return print_value(k)


def result_json(r: Any) -> dict:
    """A kernel Result record as the REST Result object."""
    value, err = r.value, r.error
    out: dict = {}
    if err is not None:
        out["value"] = None if value is None else display(value)
        out["errorCode"] = err.name if type(err) is Keyword else print_value(err)
        out["result"] = out["value"] if out["value"] is not None else "nil"
    else:
        out["value"] = to_json(value)
        try:
            out["result"] = print_value(value)
        except Exception:
            out["result"] = None
    info = {}
    for k, x in r.info.items():
        name = k.name if type(k) is Keyword else print_value(k)
        if name == "tx" and type(x) is Blob:
            info[name] = "0x" + x.data.hex()
        else:
            info[name] = to_json(x)
    out["info"] = info
    return out


__all__ = ["to_json", "result_json"]
