"""Sequence core functions: count, empty, first/second/last, nth, next and slice, and the
higher-order functions apply, into, map and reduce (with reduced, its early exit).

They come after the collection functions of kernel.core.collections in the registry, and use
the same uniform view of countable values and data structures, kernel.cvm.structures.
"""
from __future__ import annotations

from typing import Any

from kernel.cvm import juice as J
from kernel.cvm.context import invoke
from kernel.cvm.errors import ARGUMENT, BOUNDS, Reduced, arg_cast_error, error
from kernel.cvm.registry import CORE, core, doc_of
from kernel.cvm.structures import (ABSENT, as_function, bounds_error, cast_value_error, count_of,
                                   ds_conj, empty_of, is_data_structure, is_long, is_traversable,
                                   iter_elements, nth_of, sequence_of, slice_of)
from kernel.cvm.types import type_name
from kernel.data.vectors import List, Vector


# ------------------------------------------------------------------------------------------------
# Element access
# ------------------------------------------------------------------------------------------------

@core("count", 183, arity=1, doc=doc_of(
    "The number of elements of a countable value: entries of a map, members of a set, bytes "
    "of a blob or string. nil has 0.",
    ["[coll]"],
    [("(count [1 2 3])", "3"), ("(count \"abc\")", "3"), ("(count nil)", "0")],
    {"CAST": "if the argument is not countable"}))
def _count(ctx, args, d):
    n = count_of(args[0])
    if n is None:
        raise arg_cast_error(0, args[0], "DataStructure")
    ctx.charge(J.SIMPLE_FN)
    return n


@core("empty", 192, arity=1, doc=doc_of(
    "An empty value of the same type ([] for a vector, 0x for a blob ...). nil stays nil, and "
    "types with no empty value (keywords, symbols, addresses) give nil.",
    ["[coll]"],
    [("(empty [1 2])", "[]"), ("(empty {1 2})", "{}"), ("(empty nil)", "nil")],
    {"CAST": "if the argument is not countable"}))
def _empty(ctx, args, d):
    o = args[0]
    if o is None:
        ctx.charge(J.SIMPLE_FN)
        return None
    if count_of(o) is None:
        raise arg_cast_error(0, o, "DataStructure")
    result = empty_of(o)
    ctx.charge(J.SIMPLE_FN)
    return result


def _first_like(ctx, args: list, i: int, bound: int) -> Any:
    o = args[0]
    n = count_of(o)
    if n is None:
        raise arg_cast_error(0, o, "Sequence")
    ix = n - 1 if i < 0 else i
    if n <= ix or ix < 0:
        raise bounds_error(bound)
    result = nth_of(o, ix)
    ctx.charge(J.SIMPLE_FN)
    return result


@core("first", 120, arity=1, doc=doc_of(
    "The first element of a countable value.",
    ["[coll]"],
    [("(first [1 2])", "1"), ("(first {1 2})", "[1 2]")],
    {"CAST": "if the argument is not countable", "BOUNDS": "if it is empty"}))
def _first(ctx, args, d):
    return _first_like(ctx, args, 0, 0)


@core("second", 121, arity=1, doc=doc_of(
    "The second element of a countable value.",
    ["[coll]"],
    [("(second [1 2])", "2")],
    {"CAST": "if the argument is not countable", "BOUNDS": "if it has fewer than 2 elements"}))
def _second(ctx, args, d):
    return _first_like(ctx, args, 1, 1)


@core("last", 122, arity=1, doc=doc_of(
    "The last element of a countable value.",
    ["[coll]"],
    [("(last [1 2 3])", "3"), ("(last \"abc\")", "\\c")],
    {"CAST": "if the argument is not countable", "BOUNDS": "if it is empty"}))
def _last(ctx, args, d):
    return _first_like(ctx, args, -1, -1)


@core("nth", 193, arity=2, doc=doc_of(
    "The element at an index (from 0) of a countable value: a vector or list element, a map "
    "entry, a blob byte, a string character.",
    ["[coll index]"],
    [("(nth [1 2 3] 1)", "2"), ("(nth \"abc\" 2)", "\\c"), ("(nth 0x0102 0)", "1")],
    {"CAST": "if coll is not countable or the index is not an integer",
     "BOUNDS": "if the index is outside the collection"}))
def _nth(ctx, args, d):
    o = args[0]
    n = count_of(o)
    if n is None:
        raise cast_value_error(o, "Sequence")
    i = args[1]
    if type(i) is not int:
        raise arg_cast_error(1, i, "Integer")
    if not is_long(i):
        raise error(BOUNDS, "Excessively large index")
    if i < 0 or i >= n:
        raise bounds_error(i)
    result = nth_of(o, i)
    ctx.charge(J.SIMPLE_FN)
    return result


@core("next", 194, arity=1, doc=doc_of(
    "The elements after the first, as a sequence of the same kind, or nil when fewer than two "
    "remain. Maps and sets give vectors.",
    ["[coll]"],
    [("(next [1 2 3])", "[2 3]"), ("(next [1])", "nil"), ("(next nil)", "nil")],
    {"CAST": "if the argument is not a sequence, set, map or nil"}))
def _next(ctx, args, d):
    o = args[0]
    if not is_traversable(o):
        raise arg_cast_error(0, o, "Sequence")
    n = count_of(o)
    juice = J.SIMPLE_FN
    if not isinstance(o, List):     # a list's rest shares its nodes (O(log n)): nothing copied
        juice += J.copy_cost(n - 1)     # else the rest is copied into a new sequence
        ctx.check_juice(juice)
    seq = sequence_of(o)
    result = None if n <= 1 else seq.slice(1, n)
    ctx.charge(juice)
    return result


@core("slice", 195, arity=(2, 3), doc=doc_of(
    "The elements from start (inclusive) to end (exclusive, default the count) of a countable "
    "value, of the same type where possible (strings and blobs slice by bytes).",
    ["[coll start]", "[coll start end]"],
    [("(slice [1 2 3 4] 1 3)", "[2 3]"), ("(slice \"Hello\" 1)", "\"ello\"")],
    {"CAST": "if coll is not countable or start / end are not integers",
     "BOUNDS": "if start is negative, end exceeds the count, or end is before start"}))
def _slice(ctx, args, d):
    counted = args[0]
    n = count_of(counted) if counted is not None else None
    if n is None:
        raise arg_cast_error(0, counted, "Countable")
    start = args[1]
    if not is_long(start):
        raise arg_cast_error(1, start, "Long")
    if start < 0:
        raise bounds_error(start)
    end = n
    if len(args) > 2:
        end = args[2]
        if not is_long(end):
            raise arg_cast_error(2, end, "Long")
        if end > n:
            raise bounds_error(end)
    if end < start:
        raise error(BOUNDS, "End before start")
    per = J.BUILD_PER_ELEMENT if is_data_structure(counted) else J.BUILD_PER_BYTE
    juice = J.add_mul(J.BUILD_DATA, per, end - start)
    ctx.check_juice(juice)
    result = slice_of(counted, start, end)
    ctx.charge(juice)
    return result


# ------------------------------------------------------------------------------------------------
# Higher-order functions
# ------------------------------------------------------------------------------------------------

@core("apply", 198, arity=(2, None), doc=doc_of(
    "Calls a function with the given arguments followed by the elements of the last argument.",
    ["[f & args coll]"],
    [("(apply + 1 [2 3])", "6"), ("(apply vector [])", "[]")],
    {"CAST": "if f is not callable or the last argument is not a sequence"}))
def _apply(ctx, args, d):
    fn = as_function(args[0])
    if fn is None:
        raise arg_cast_error(0, args[0], "Function")
    last = len(args) - 1
    tail = args[last]
    if not is_traversable(tail):
        raise arg_cast_error(last, tail, "Sequence")
    # Spreading a collection copies it into the arguments (and a variadic function copies
    # them again into a vector): paid for before the call, which may fail.
    spread = J.copy_cost(count_of(tail))
    ctx.check_juice(spread + J.APPLY)
    call_args = list(args[1:last])
    call_args.extend(sequence_of(tail).to_tuple())
    ctx.charge(spread)
    result = invoke(ctx, fn, call_args, d)
    ctx.charge(J.APPLY)
    return result


@core("into", 224, arity=2, doc=doc_of(
    "Adds every element of the second collection to the first, as conj would. If the first "
    "is nil, returns the second unchanged.",
    ["[to from]"],
    [("(into [1] '(2 3))", "[1 2 3]"), ("(into {} [[:a 1]])", "{:a 1}"),
     ("(into #{} [1 1 2])", "#{1,2}")],
    {"CAST": "if an argument is not a data structure or nil",
     "ARGUMENT": "if an element cannot be added to the target (e.g. a bad map entry)"}))
def _into(ctx, args, d):
    a0, a1 = args
    if a0 is not None and not is_data_structure(a0):
        raise arg_cast_error(0, a0, "DataStructure")
    juice = J.BUILD_DATA
    if a0 is None:
        if a1 is not None and not is_data_structure(a1):
            raise cast_value_error(a1, "DataStructure")
        ctx.charge(juice)
        return a1
    n = count_of(a1)
    if n is None or not is_traversable(a1):
        raise cast_value_error(a1, "DataStructure")
    juice += J.BUILD_PER_ELEMENT * n
    ctx.check_juice(juice)
    result = a0
    if isinstance(result, Vector):
        result = result.concat(sequence_of(a1))
    else:
        for x in iter_elements(a1):     # one by one: a bad element stops the copying
            result = ds_conj(result, x)
            if result is None:
                raise error(ARGUMENT, "Invalid element type for 'into'")
    ctx.charge(juice)
    return result


@core("map", 226, arity=(2, None), doc=doc_of(
    "Calls f on corresponding elements of the collections (as many calls as the shortest has "
    "elements) and collects the results into an empty collection of the first one's type.",
    ["[f coll]", "[f coll & colls]"],
    [("(map inc [1 2])", "[2 3]"), ("(map + [1 2] [10 20 30])", "[11 22]"),
     ("(map inc '(1 2))", "(2 3)")],
    {"CAST": "if f is not callable or a collection argument is not a data structure",
     "ARGUMENT": "if a result cannot be added to the result collection"}))
def _map(ctx, args, d):
    f = as_function(args[0])
    if f is None:
        raise cast_value_error(args[0], "Function")
    colls = args[1:]
    seqs = []
    length = None
    for c in colls:
        if not is_data_structure(c):
            if c is not None:
                raise cast_value_error(c, "Sequence")
            # a nil collection: the result is empty
            first = colls[0]
            result = empty_of(first) if is_data_structure(first) else None
            ctx.charge(J.MAP)
            return result
        seqs.append(c)
        length = len(c) if length is None else min(length, len(c))
    juice = J.add_mul(J.MAP, J.BUILD_DATA, length)
    ctx.check_juice(juice)
    result = empty_of(seqs[0])
    # The elements are taken as the calls need them: a call that fails stops the work.
    if isinstance(result, List):        # conj puts each result first: go from the end
        rows = ([nth_of(s, i) for s in seqs] for i in range(length - 1, -1, -1))
    else:
        rows = map(list, zip(*[iter_elements(s) for s in seqs]))
    for row in rows:
        r = invoke(ctx, f, row, d)
        result = ds_conj(result, r)
        if result is None:
            raise error(ARGUMENT, f"Invalid element type for {type_name(seqs[0])}")
    ctx.charge(juice)
    return result


@core("reduce", 227, arity=(2, 3), doc=doc_of(
    "Folds a collection with a two-argument function, from an initial value (or, without "
    "one, from the first element). `reduced` stops early with its value.",
    ["[f coll]", "[f init coll]"],
    [("(reduce + [1 2 3])", "6"), ("(reduce + 10 [1 2])", "13"), ("(reduce + [])", "0")],
    {"CAST": "if f is not callable or coll is not a data structure or nil"}))
def _reduce(ctx, args, d):
    fn = as_function(args[0])
    if fn is None:
        raise arg_cast_error(0, args[0], "Function")
    last = len(args) - 1
    coll = args[last]
    if coll is not None and not is_data_structure(coll):
        raise arg_cast_error(last, coll, "Sequence")
    xs = iter_elements(coll)    # taken one by one: reduced or an error stops the work
    try:
        if len(args) == 3:
            result = args[1]
        else:
            result = next(xs, ABSENT)
            if result is ABSENT:
                result = invoke(ctx, fn, [], d)
                ctx.charge(J.REDUCE)
                return result
            if count_of(coll) == 1:
                result = invoke(ctx, fn, [result], d)
                ctx.charge(J.REDUCE)
                return result
        for x in xs:
            result = invoke(ctx, fn, [result, x], d)
    except Reduced as r:
        ctx.charge(J.REDUCE)
        return r.value
    ctx.charge(J.REDUCE)
    return result


def _reduced(ctx, args, d):
    ctx.charge(J.RETURN)
    raise Reduced(args[0])


# `reduced` is the early exit of `reduce`; control flow may already provide it.
if "reduced" not in CORE:
    core("reduced", 228, arity=1, doc=doc_of(
        "Inside the function given to `reduce`, ends the reduction at once with this value.",
        ["[value]"],
        [("(reduce (fn [a x] (if (> x 2) (reduced a) (+ a x))) [1 2 3 4])", "3")],
        {"EXCEPTION": "if used outside of a reduce"}))(_reduced)
