"""Type predicates and logical tests: nil? vector? ... zero?, plus boolean, not and `=`.

Every predicate takes exactly one argument, never fails on its value, returns true or false
and charges the reference's SIMPLE_FN juice. `syntax?` lives with the syntax functions
(meta.py) and `callable?` with the account functions; `account?`, `actor?` and `defined?`
are library functions in the reference's core.cvx, not Java core functions.
"""
from __future__ import annotations

import struct
from typing import Any, Callable

from kernel.cvm import juice as J
from kernel.data.blobs import Blob, PartialBlob, String
from kernel.data.equality import equals
from kernel.cvm.errors import error, ARITY
from kernel.cvm.fn import is_fn
from kernel.data.hashmaps import Map, Set
from kernel.data.index import Index
from kernel.data.records import DenseRecord
from kernel.data.scalars import CANONICAL_NAN_BITS, Address, Keyword, Symbol
from kernel.data.vectors import List, Vector
from kernel.cvm.registry import core

LONG_MIN = -(1 << 63)
LONG_MAX = (1 << 63) - 1
_pack = struct.Struct(">d").pack


_RECORDS: tuple = ()


def _record_types() -> tuple:
    """Record values (state, account and peer records and generic dense records), maps in
    the reference. A class can also declare itself a record with a true `cvm_record` class
    attribute."""
    global _RECORDS
    if not _RECORDS:
        from kernel.state.state import Record  # late import: state imports the data structures
        _RECORDS = (Record, DenseRecord)
    return _RECORDS


def is_record(v: Any) -> bool:
    return isinstance(v, _record_types()) or bool(getattr(type(v), "cvm_record", False))


def is_map(v: Any) -> bool:
    return isinstance(v, (Map, Index)) or is_record(v)


def is_data_structure(v: Any) -> bool:
    return isinstance(v, (Vector, List, Map, Set, Index)) or is_record(v)


def is_countable(v: Any) -> bool:
    return (v is None or is_data_structure(v)
            or isinstance(v, (Blob, String, PartialBlob)))


def _count(v: Any) -> int:
    if is_record(v) and not hasattr(v, "__len__"):
        return 1  # a record always has fields
    return len(v)


def is_truthy(v: Any) -> bool:
    return not (v is None or v is False)


def _is_number(v: Any) -> bool:
    t = type(v)
    return t is int or t is float


def _is_canonical_nan(v: Any) -> bool:
    return type(v) is float and v != v and _pack(v) == CANONICAL_NAN_BITS


def _is_blob(v: Any) -> bool:
    if isinstance(v, Blob):
        return True
    return type(v) is PartialBlob and v.tag == 0x31


def _is_empty(v: Any) -> bool:
    if v is None:
        return True
    if not is_countable(v):
        return False
    return _count(v) == 0


def _predicate(name: str, code: int, test: Callable[[Any], bool], description: str,
               examples: list) -> None:
    def impl(ctx, args: list, d: int) -> bool:
        if len(args) != 1:
            raise error(ARITY, f"{name} requires exactly one argument")
        r = bool(test(args[0]))
        ctx.charge(J.SIMPLE_FN)
        return r

    core(name, code, doc={
        "description": description,
        "signature": ["[x]"],
        "examples": examples,
        "errors": {"ARITY": "unless called with exactly one argument"}})(impl)


_predicate("nil?", 240, lambda v: v is None,
           "True if the value is nil.",
           [{"code": "(nil? nil)", "result": "true"}, {"code": "(nil? false)", "result": "false"}])
_predicate("vector?", 241, lambda v: isinstance(v, Vector),
           "True if the value is a vector (map entries are vectors too).",
           [{"code": "(vector? [1 2])", "result": "true"}, {"code": "(vector? '(1 2))", "result": "false"}])
_predicate("list?", 242, lambda v: isinstance(v, List),
           "True if the value is a list.",
           [{"code": "(list? '(1 2))", "result": "true"}, {"code": "(list? [1 2])", "result": "false"}])
_predicate("set?", 243, lambda v: isinstance(v, Set),
           "True if the value is a set.",
           [{"code": "(set? #{1})", "result": "true"}, {"code": "(set? {})", "result": "false"}])
_predicate("map?", 244, is_map,
           "True if the value is a map: hash maps, indexes and records such as account "
           "status all count.",
           [{"code": "(map? {:a 1})", "result": "true"}, {"code": "(map? [])", "result": "false"}])
_predicate("coll?", 245, is_data_structure,
           "True if the value is a data structure (vector, list, map, set, index or record).",
           [{"code": "(coll? [])", "result": "true"}, {"code": "(coll? \"abc\")", "result": "false"}])
_predicate("empty?", 246, _is_empty,
           "True if the value is nil or a countable value (collection, string or blob) with "
           "no elements. Values that cannot be counted are not empty.",
           [{"code": "(empty? [])", "result": "true"}, {"code": "(empty? nil)", "result": "true"},
            {"code": "(empty? 1)", "result": "false"}])
_predicate("symbol?", 247, lambda v: type(v) is Symbol,
           "True if the value is a symbol.",
           [{"code": "(symbol? 'foo)", "result": "true"}, {"code": "(symbol? :foo)", "result": "false"}])
_predicate("keyword?", 248, lambda v: type(v) is Keyword,
           "True if the value is a keyword.",
           [{"code": "(keyword? :foo)", "result": "true"}])
_predicate("blob?", 249, _is_blob,
           "True if the value is a blob (including hashes and account keys).",
           [{"code": "(blob? 0x1234)", "result": "true"}, {"code": "(blob? \"1234\")", "result": "false"}])
_predicate("address?", 250, lambda v: type(v) is Address,
           "True if the value is an address.",
           [{"code": "(address? #8)", "result": "true"}, {"code": "(address? 8)", "result": "false"}])
_predicate("long?", 251, lambda v: type(v) is int and LONG_MIN <= v <= LONG_MAX,
           "True if the value is an integer in the 64-bit Long range.",
           [{"code": "(long? 1)", "result": "true"},
            {"code": "(long? 9223372036854775808)", "result": "false"}])
_predicate("int?", 252, lambda v: type(v) is int,
           "True if the value is an integer of any size.",
           [{"code": "(int? 9223372036854775808)", "result": "true"}, {"code": "(int? 1.0)", "result": "false"}])
_predicate("double?", 253, lambda v: type(v) is float,
           "True if the value is a Double (including ##NaN and the infinities).",
           [{"code": "(double? 1.5)", "result": "true"}, {"code": "(double? 1)", "result": "false"}])
_predicate("str?", 254, lambda v: isinstance(v, String) or (type(v) is PartialBlob and v.tag == 0x30),
           "True if the value is a string.",
           [{"code": "(str? \"hi\")", "result": "true"}, {"code": "(str? \\h)", "result": "false"}])
_predicate("number?", 255, _is_number,
           "True if the value is a number: an integer or a Double (##NaN included).",
           [{"code": "(number? 1.5)", "result": "true"}, {"code": "(number? \"1\")", "result": "false"}])
_predicate("countable?", 256, is_countable,
           "True if the value can be counted: nil, collections, strings and blobs.",
           [{"code": "(countable? \"abc\")", "result": "true"}, {"code": "(countable? 1)", "result": "false"}])
_predicate("nan?", 270, _is_canonical_nan,
           "True if the value is the Double ##NaN.",
           [{"code": "(nan? ##NaN)", "result": "true"}, {"code": "(nan? 1)", "result": "false"}])
_predicate("fn?", 271, is_fn,
           "True if the value is a function (core function or closure). Data structures and "
           "keywords that can be applied are not functions.",
           [{"code": "(fn? inc)", "result": "true"}, {"code": "(fn? :a)", "result": "false"}])
_predicate("zero?", 272, lambda v: _is_number(v) and v == 0,
           "True if the value is numerically zero (0, 0.0 or -0.0). Non-numbers are not zero.",
           [{"code": "(zero? 0.0)", "result": "true"}, {"code": "(zero? nil)", "result": "false"}])
_predicate("boolean?", 135, lambda v: v is True or v is False,
           "True if the value is true or false.",
           [{"code": "(boolean? false)", "result": "true"}, {"code": "(boolean? nil)", "result": "false"}])


@core("boolean", 134, arity=1, doc={
    "description": "Converts any value to a boolean: false for nil and false, true for "
                   "everything else.",
    "signature": ["[x]"],
    "examples": [{"code": "(boolean nil)", "result": "false"}, {"code": "(boolean 0)", "result": "true"}]})
def _boolean(ctx, args: list, d: int) -> bool:
    r = is_truthy(args[0])
    ctx.charge(J.SIMPLE_FN)
    return r


@core("not", 175, arity=1, doc={
    "description": "Logical negation: true for nil and false, false for everything else.",
    "signature": ["[x]"],
    "examples": [{"code": "(not nil)", "result": "true"}, {"code": "(not 0)", "result": "false"}]})
def _not(ctx, args: list, d: int) -> bool:
    r = not is_truthy(args[0])
    ctx.charge(J.SIMPLE_FN)
    return r


@core("=", 123, doc={
    "description": "True if all arguments are the same value. Exact value equality: 1 and 1.0 "
                   "differ, 0.0 and -0.0 differ, ##NaN equals itself. With zero or one "
                   "argument, returns true. For numeric comparison see `==`.",
    "signature": ["[& values]"],
    "examples": [{"code": "(= [1 2] [1 2])", "result": "true"}, {"code": "(= 1 1.0)", "result": "false"}]})
def _equals(ctx, args: list, d: int) -> bool:
    r = True
    for i in range(len(args) - 1):
        if not equals(args[i], args[i + 1]):
            r = False
            break
    ctx.charge(J.EQUALS)
    return r
