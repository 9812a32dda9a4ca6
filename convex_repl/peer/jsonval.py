"""CVM values and Result records as the JSON the Convex REST API sends (rest-api.md, 1).

    to_json(value)          integers and doubles as numbers (non-finite: null), strings and
                            booleans as such, nil null, keywords and symbols by name, addresses
                            as integers, blobs "0x..", sequences as arrays, maps as objects
                            (string keys kept, keyword/symbol keys by name, others printed);
                            anything else printed as Convex Lisp text
    result_json(result)     {"value", "result", "errorCode"?, "info"} of a Result record

Both do work bounded by what they send, not by the value: a value sharing its structure can
stand for far more elements than it holds. Past JSON_ELEMENTS elements a value is sent as
the start of its printed text (TEXT_LIMIT characters) and the Result says "truncated": true.
"""
from __future__ import annotations

import math
from typing import Any

from kernel.data.blobs import Blob, String
from kernel.data.hashmaps import Map, Set
from kernel.data.index import Index
from kernel.data.scalars import Address, Char, Keyword, Symbol
from kernel.data.vectors import List, Vector
from kernel.data.printer import display_brief, print_brief, print_head

JSON_ELEMENTS = 100_000         # elements of one value sent as JSON structure
TEXT_LIMIT = 1_000_000          # characters of a value sent as printed text


class _TooBig(Exception):
    """The value has more elements than a JSON answer carries."""


def printed(v: Any, limit: int = TEXT_LIMIT) -> "tuple[str, bool]":
    """(the printed text, cut to `limit` characters with "..." when longer; whether cut)."""
    text, more = print_head(v, limit)
    return (text + "...", True) if more else (text, False)


def json_value(v: Any) -> "tuple[Any, bool]":
    """(the JSON form of v, whether it had to be cut): a value past JSON_ELEMENTS elements
    goes as its printed text, cut at TEXT_LIMIT characters."""
    try:
        return to_json(v, 0, [JSON_ELEMENTS]), False
    except _TooBig:
        return printed(v)[0], True


def to_json(v: Any, depth: int = 0, budget: "list | None" = None) -> Any:
    """The JSON form of v; a value past JSON_ELEMENTS elements as its (cut) printed text."""
    if budget is None:
        return json_value(v)[0]
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig
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
        return printed(v)[0]
    try:
        if isinstance(v, (Vector, List, Set)):
            return [to_json(x, depth + 1, budget) for x in v]
        if isinstance(v, (Map, Index)):
            out = {}
            for k, x in v.items():
                out[_key(k)] = to_json(x, depth + 1, budget)
            return out
    except _TooBig:
        raise
    except Exception:               # branches not available: fall back to the printed form
        pass
    try:
        return printed(v)[0]
    except Exception:
        return None


def _key(k: Any) -> str:
    t = type(k)
    if t is String:
        return k.text
    if t is Keyword or t is Symbol:
        return k.name
    return print_brief(k, 1000)


def result_json(r: Any) -> dict:
    """A kernel Result record as the REST Result object."""
    value, err = r.value, r.error
    out: dict = {}
    if err is not None:
        out["value"] = None if value is None else display_brief(value)
        out["errorCode"] = err.name if type(err) is Keyword else print_brief(err)
        out["result"] = out["value"] if out["value"] is not None else "nil"
    else:
        out["value"], cut = json_value(value)
        try:
            out["result"], cut_text = printed(value)
        except Exception:
            out["result"], cut_text = None, False
        if cut or cut_text:
            out["truncated"] = True
    info = {}
    for k, x in r.info.items():
        name = k.name if type(k) is Keyword else print_brief(k)
        if name == "tx" and type(x) is Blob:
            info[name] = "0x" + x.data.hex()
        else:
            info[name] = to_json(x)
    out["info"] = info
    return out


__all__ = ["to_json", "json_value", "result_json", "printed"]
