"""Collection core functions: construction, sets, maps, and associative access and update
(get, get-in, contains-key?, assoc, assoc-in, conj, cons).

Counting, element access, slicing and the higher-order functions over sequences (apply, into,
map, reduce) are kernel.core.sequences. The uniform view of countable values and data
structures they share with the rest of the CVM is kernel.cvm.structures.

Functions that the reference defines in Convex Lisp (core.cvx: mapv, filter, filterv, mapcat,
update, update-in, dissoc-in, ...) are not here: they belong to the core library source.
"""
from __future__ import annotations

from typing import Any

from kernel.cvm import juice as J
from kernel.cvm.errors import ARGUMENT, ARITY, CAST, arg_cast_error, error
from kernel.cvm.registry import core, doc_of
from kernel.cvm.structures import (is_mapping, cast_value_error, count_of, ds_assoc, ds_conj,
                                   ds_contains_key, ds_get, ds_get_default, ds_merge, elements,
                                   ensure_associative, ensure_map, ensure_sequence, ensure_set,
                                   is_data_structure, is_traversable, sequence_of, vector_of)
from kernel.cvm.types import type_name
from kernel.data.hashmaps import Map, Set
from kernel.data.index import Index
from kernel.data.vectors import List, Vector


# ------------------------------------------------------------------------------------------------
# Construction
# ------------------------------------------------------------------------------------------------

@core("vector", 1, doc=doc_of(
    "Makes a vector holding the arguments in order.",
    ["[& elements]"],
    [("(vector 1 2 3)", "[1 2 3]"), ("(vector)", "[]")]))
def _vector(ctx, args, d):
    juice = J.BUILD_DATA + len(args) * J.BUILD_PER_ELEMENT
    ctx.check_juice(juice)
    result = Vector.from_seq(args)
    ctx.charge(juice)
    return result


@core("list", 9, doc=doc_of(
    "Makes a list holding the arguments in order.",
    ["[& elements]"],
    [("(list 1 2 3)", "(1 2 3)"), ("(list)", "()")]))
def _list(ctx, args, d):
    juice = J.build_data_cost(len(args))
    ctx.check_juice(juice)
    result = List.of(*args)
    ctx.charge(juice)
    return result


@core("hash-map", 80, doc=doc_of(
    "Makes a hash map from alternating keys and values. A repeated key keeps its last value.",
    ["[& key-values]"],
    [("(hash-map :a 1 :b 2)", "{:a 1,:b 2}"), ("(hash-map)", "{}")],
    {"ARITY": "if given an odd number of arguments"}))
def _hash_map(ctx, args, d):
    n = len(args)
    if n & 1:
        raise error(ARITY, "hash-map requires an even number of arguments")
    juice = J.BUILD_DATA + n * J.BUILD_PER_ELEMENT
    result = Map.from_pairs((args[i], args[i + 1]) for i in range(0, n, 2))
    ctx.charge(juice)
    return result


@core("index", 81, doc=doc_of(
    "Makes an Index (a map sorted by blob-like keys) from alternating keys and values. Keys "
    "must be blobs, strings, keywords, symbols or addresses; they are compared by their bytes.",
    ["[& key-values]"],
    [("(index 0x01 :a 0x02 :b)", "(index 0x01 :a 0x02 :b)"), ("(index)", "(index)")],
    {"ARITY": "if given an odd number of arguments",
     "ARGUMENT": "if a key is not blob-like"}))
def _index(ctx, args, d):
    n = len(args)
    if n & 1:
        raise error(ARITY, "index requires an even number of arguments")
    juice = J.BUILD_DATA + n * J.BUILD_PER_ELEMENT
    ctx.check_juice(juice)
    r = Index.EMPTY
    for i in range(0, n, 2):
        k = args[i]
        try:
            r = r.assoc(k, args[i + 1])
        except TypeError:
            raise error(ARGUMENT, f"Cannot have a key of Type {type_name(k)} in Index") from None
    ctx.charge(juice)
    return r


@core("hash-set", 82, doc=doc_of(
    "Makes a set of the arguments; duplicates collapse.",
    ["[& elements]"],
    [("(hash-set 1 2 2)", "#{1,2}"), ("(hash-set)", "#{}")]))
def _hash_set(ctx, args, d):
    juice = J.BUILD_DATA + len(args) * J.BUILD_PER_ELEMENT
    ctx.check_juice(juice)
    result = Set.from_seq(args)
    ctx.charge(juice)
    return result


@core("vec", 3, arity=1, doc=doc_of(
    "Converts any countable value to a vector of its elements: map entries, set members, "
    "blob bytes or string characters. nil gives [].",
    ["[coll]"],
    [("(vec '(1 2))", "[1 2]"), ("(vec {1 2})", "[[1 2]]"), ("(vec nil)", "[]")],
    {"CAST": "if the argument is not countable"}))
def _vec(ctx, args, d):
    o = args[0]
    n = count_of(o)
    if n is None:
        raise arg_cast_error(0, o, "Vector")
    juice = J.BUILD_DATA + n * J.BUILD_PER_ELEMENT
    ctx.check_juice(juice)
    result = vector_of(o)
    ctx.charge(juice)
    return result


@core("set", 5, arity=1, doc=doc_of(
    "Converts any countable value to a set of its elements. nil gives #{}.",
    ["[coll]"],
    [("(set [1 2 2])", "#{1,2}"), ("(set nil)", "#{}")],
    {"CAST": "if the argument is not countable"}))
def _set(ctx, args, d):
    o = args[0]
    n = count_of(o)
    if n is None:
        raise arg_cast_error(0, o, "Sequence")
    juice = J.add_mul(J.BUILD_DATA, n, J.BUILD_PER_ELEMENT)
    ctx.check_juice(juice)
    result = o if type(o) is Set else Set.from_seq(elements(o))
    ctx.charge(juice)
    return result


@core("concat", 2, doc=doc_of(
    "Joins sequences end to end. The result has the type of the first non-nil argument "
    "(maps and sets count as vectors of their elements); with no non-nil argument it is nil.",
    ["[& seqs]"],
    [("(concat [1 2] '(3))", "[1 2 3]"), ("(concat '(1) [2])", "(1 2)"), ("(concat)", "nil")],
    {"CAST": "if an argument is not a sequence, set, map or nil"}))
def _concat(ctx, args, d):
    result = None
    juice = J.CONSTANT
    for ix, a in enumerate(args):
        if a is None:
            continue
        if not is_traversable(a):
            raise arg_cast_error(ix, a, "Sequence")
        juice += J.BUILD_DATA + len(a) * J.BUILD_PER_ELEMENT
        ctx.check_juice(juice)      # before a map or set becomes a vector of its elements
        seq = sequence_of(a)
        result = seq if result is None else result.concat(seq)
    ctx.charge(juice)
    return result


@core("reverse", 4, arity=1, doc=doc_of(
    "Reverses a sequence. A vector becomes a list and a list becomes a vector, so both are "
    "cheap. nil gives ().",
    ["[seq]"],
    [("(reverse [1 2 3])", "(3 2 1)"), ("(reverse '(1 2 3))", "[3 2 1]")],
    {"CAST": "if the argument is not a vector, list or nil"}))
def _reverse(ctx, args, d):
    o = args[0]
    seq = ensure_sequence(o)
    if seq is None:
        raise arg_cast_error(0, o, "Sequence")
    result = List.from_reversed(seq) if isinstance(seq, Vector) else seq.reversed_vector()
    ctx.charge(J.BUILD_DATA)
    return result


# ------------------------------------------------------------------------------------------------
# Sets
# ------------------------------------------------------------------------------------------------

@core("union", 6, doc=doc_of(
    "The set of all elements in any of the given sets (nil counts as the empty set).",
    ["[& sets]"],
    [("(union #{1 2} #{2 3})", "#{1,2,3}"), ("(union)", "#{}")],
    {"CAST": "if an argument is not a set or nil"}))
def _union(ctx, args, d):
    result = Set.EMPTY
    juice = J.BUILD_DATA
    for i, a in enumerate(args):
        s = ensure_set(a)
        if s is None:
            raise arg_cast_error(i, a, "Set")
        juice = J.add_mul(juice, len(s), J.BUILD_PER_ELEMENT)
        ctx.check_juice(juice)
        result = result.union(s)
    ctx.charge(juice)
    return result


@core("intersection", 7, arity=(1, None), doc=doc_of(
    "The set of elements present in every given set (nil counts as the empty set).",
    ["[set & more]"],
    [("(intersection #{1 2 3} #{2 3 4})", "#{2,3}")],
    {"CAST": "if an argument is not a set or nil"}))
def _intersection(ctx, args, d):
    return _fold_sets(ctx, args, "intersection")


def _fold_sets(ctx, args: list, op: str) -> Any:
    """The first set combined with each other one by a Set method, charged per element
    before each step (nil counts as the empty set)."""
    result = ensure_set(args[0])
    if result is None:
        raise arg_cast_error(0, args[0], "Set")
    juice = J.BUILD_DATA
    for i in range(1, len(args)):
        s = ensure_set(args[i])
        if s is None:
            raise arg_cast_error(i, args[i], "Set")
        juice = J.add_mul(juice, len(s), J.BUILD_PER_ELEMENT)
        ctx.check_juice(juice)
        result = getattr(result, op)(s)
    ctx.charge(juice)
    return result


@core("difference", 8, arity=(1, None), doc=doc_of(
    "The elements of the first set that are in none of the others (nil counts as the empty "
    "set).",
    ["[set & more]"],
    [("(difference #{1 2 3} #{2})", "#{1,3}")],
    {"CAST": "if an argument is not a set or nil"}))
def _difference(ctx, args, d):
    return _fold_sets(ctx, args, "difference")


@core("subset?", 115, arity=2, doc=doc_of(
    "True if every element of the first set is in the second (nil counts as the empty set).",
    ["[set1 set2]"],
    [("(subset? #{1} #{1 2})", "true"), ("(subset? #{3} #{1 2})", "false")],
    {"CAST": "if an argument is not a set or nil"}))
def _subset(ctx, args, d):
    s0 = ensure_set(args[0])
    if s0 is None:
        raise cast_value_error(args[0], "Set")
    juice = J.SIMPLE_FN + J.SET_COMPARE_PER_ELEMENT * len(s0)
    ctx.check_juice(juice)
    s1 = ensure_set(args[1])
    if s1 is None:
        raise cast_value_error(args[1], "Set")
    result = len(s0) <= len(s1) and all(s1.contains(x) for x in s0)
    ctx.charge(juice)
    return result


@core("disj", 118, arity=(1, None), doc=doc_of(
    "Removes the given values from a set (nil counts as the empty set).",
    ["[set & values]"],
    [("(disj #{1 2 3} 2)", "#{1,3}"), ("(disj nil 1)", "#{}")],
    {"CAST": "if the first argument is not a set or nil"}))
def _disj(ctx, args, d):
    juice = J.BUILD_DATA + J.BUILD_PER_ELEMENT * (len(args) - 1)
    ctx.check_juice(juice)
    result = ensure_set(args[0])
    if result is None:
        raise arg_cast_error(0, args[0], "Set")
    for x in args[1:]:
        result = result.disj(x)
    ctx.charge(juice)
    return result


# ------------------------------------------------------------------------------------------------
# Maps
# ------------------------------------------------------------------------------------------------

@core("keys", 83, arity=1, doc=doc_of(
    "A vector of the keys of a map or Index, in the map's own order.",
    ["[map]"],
    [("(keys {:a 1})", "[:a]"), ("(keys {})", "[]")],
    {"CAST": "if the argument is not a map"}))
def _keys(ctx, args, d):
    return _map_part(ctx, args[0], "keys")


def _map_part(ctx, m: Any, part: str) -> Vector:
    """A vector of a map's keys or values, charged per element before it is built."""
    if not is_mapping(m):
        raise arg_cast_error(0, m, "Map")
    juice = J.BUILD_DATA + len(m) * J.BUILD_PER_ELEMENT
    ctx.check_juice(juice)
    result = Vector.from_seq(getattr(m, part)())
    ctx.charge(juice)
    return result


@core("values", 84, arity=1, doc=doc_of(
    "A vector of the values of a map or Index, in the map's own order.",
    ["[map]"],
    [("(values {:a 1})", "[1]"), ("(values {})", "[]")],
    {"CAST": "if the argument is not a map"}))
def _values(ctx, args, d):
    return _map_part(ctx, args[0], "values")


@core("dissoc", 116, arity=(1, None), doc=doc_of(
    "Removes keys from a map or Index. Absent keys are ignored; nil counts as the empty map.",
    ["[map & keys]"],
    [("(dissoc {1 2 3 4} 1)", "{3 4}"), ("(dissoc nil :a)", "{}")],
    {"CAST": "if the first argument is not a map or nil"}))
def _dissoc(ctx, args, d):
    result = ensure_map(args[0])
    if result is None:
        raise cast_value_error(args[0], "Map")
    for k in args[1:]:
        result = result.dissoc(k)
    ctx.charge(J.BUILD_DATA + (len(args) - 1) * J.BUILD_PER_ELEMENT)
    return result


@core("merge", 225, doc=doc_of(
    "Combines maps left to right; for a key present in several maps the rightmost value wins. "
    "The result has the type of the first map; nil counts as the empty map.",
    ["[& maps]"],
    [("(merge {1 2} {1 3 4 5})", "{1 3,4 5}"), ("(merge)", "{}")],
    {"CAST": "if an argument is not a map or nil, or its keys do not fit the result"}))
def _merge(ctx, args, d):
    if not args:
        ctx.charge(J.BUILD_DATA)
        return Map.EMPTY
    result = ensure_map(args[0])
    if result is None:
        raise cast_value_error(args[0], "Map")
    juice = J.BUILD_DATA
    for a in args[1:]:
        m = ensure_map(a)
        if m is None:
            raise cast_value_error(a, "Map")
        juice = J.add_mul(juice, len(m), J.BUILD_PER_ELEMENT)
        ctx.check_juice(juice)
        result = ds_merge(result, m)
        if result is None:
            raise error(CAST, "Unable to merge")
    ctx.charge(juice)
    return result


# ------------------------------------------------------------------------------------------------
# Associative access and update
# ------------------------------------------------------------------------------------------------

@core("get", 112, arity=(2, 3), doc=doc_of(
    "Looks up a key in a data structure: a map key, a vector or list index, or set membership "
    "(true / false). Returns not-found (default nil) when absent; nil counts as empty.",
    ["[coll key]", "[coll key not-found]"],
    [("(get {:a 1} :a)", "1"), ("(get [1 2] 5 :none)", ":none"), ("(get #{1} 1)", "true")],
    {"CAST": "if coll is not a data structure or nil"}))
def _get(ctx, args, d):
    coll = args[0]
    three = len(args) == 3
    if coll is None:
        result = args[2] if three else None
    else:
        if not is_data_structure(coll):
            raise cast_value_error(coll, "DataStructure")
        result = ds_get_default(coll, args[1], args[2]) if three else ds_get(coll, args[1])
    ctx.charge(J.GET)
    return result


@core("get-in", 113, arity=(2, 3), doc=doc_of(
    "Follows a sequence of keys into nested data structures. Returns not-found (default nil) "
    "as soon as a key is absent or nil is reached.",
    ["[coll keys]", "[coll keys not-found]"],
    [("(get-in {:a [1 2]} [:a 1])", "2"), ("(get-in {} [:x] :none)", ":none"),
     ("(get-in 3 [])", "3")],
    {"CAST": "if keys is not a sequence, or a value along the path is not a data structure"}))
def _get_in(ctx, args, d):
    ixs = ensure_sequence(args[1])
    if ixs is None:
        raise cast_value_error(args[1], "Sequence")
    not_found = args[2] if len(args) == 3 else None
    keys = ixs.to_tuple()
    juice = J.GET * (1 + len(keys))
    result = args[0]
    for k in keys:
        if result is None:
            result = not_found
            break
        if not is_data_structure(result):
            raise cast_value_error(result, "DataStructure")
        if ds_contains_key(result, k):
            result = ds_get(result, k)
        else:
            ctx.charge(juice)
            return not_found
    ctx.charge(juice)
    return result


@core("contains-key?", 114, arity=2, doc=doc_of(
    "True if a data structure has the key: a map key, a valid vector or list index, or a set "
    "member. nil has no keys.",
    ["[coll key]"],
    [("(contains-key? {:a 1} :a)", "true"), ("(contains-key? [1 2] 2)", "false")],
    {"CAST": "if coll is not a data structure or nil"}))
def _contains_key(ctx, args, d):
    coll = args[0]
    if coll is None:
        result = False
    else:
        if not is_data_structure(coll):
            raise cast_value_error(coll, "DataStructure")
        result = ds_contains_key(coll, args[1])
    ctx.charge(J.GET)
    return result


@core("assoc", 85, arity=(1, None), doc=doc_of(
    "Sets keys to values in a data structure: map keys, existing vector or list indexes, or "
    "set membership (value true adds the key, false removes it). nil counts as the empty map.",
    ["[coll & key-values]"],
    [("(assoc {} :a 1)", "{:a 1}"), ("(assoc [1 2] 0 :x)", "[:x 2]"),
     ("(assoc #{} 1 true)", "#{1}")],
    {"ARITY": "if keys and values do not pair up",
     "CAST": "if coll is not a data structure or nil",
     "ARGUMENT": "if a key or value is not valid for the data structure (e.g. index out of "
                 "range)"}))
def _assoc(ctx, args, d):
    n = len(args)
    if not n & 1:
        raise error(ARITY, "assoc requires key/value pairs as successive args")
    juice = J.BUILD_DATA + (n - 1) * J.BUILD_PER_ELEMENT
    ctx.check_juice(juice)
    o = args[0]
    result = ensure_associative(o)
    if result is None:
        raise arg_cast_error(0, o, "DataStructure")
    for i in range(1, n, 2):
        k = args[i]
        result = ds_assoc(result, k, args[i + 1])
        if result is None:
            raise error(ARGUMENT, f"Cannot assoc value - invalid (key type {type_name(k)} is "
                                  f"invalid or out of bounds)")
    ctx.charge(juice)
    return result


@core("assoc-in", 86, arity=3, doc=doc_of(
    "Sets a value inside nested data structures, following a sequence of keys; missing levels "
    "(nil) become maps. With no keys, returns the value itself.",
    ["[coll keys value]"],
    [("(assoc-in {} [:a :b] 1)", "{:a {:b 1}}"), ("(assoc-in [1 2] [0] 5)", "[5 2]")],
    {"CAST": "if keys is not a sequence or a value on the path is not a data structure",
     "ARGUMENT": "if a key or value is not valid for the structure it goes into"}))
def _assoc_in(ctx, args, d):
    ixs = ensure_sequence(args[1])
    if ixs is None:
        raise arg_cast_error(1, args[1], "Sequence")
    keys = ixs.to_tuple()
    n = len(keys)
    juice = (J.GET + J.ASSOC) * (1 + n)
    data = args[0]
    value = args[2]
    if n == 0:
        ctx.charge(juice)
        return value
    structs = []
    for k in keys:
        s = ensure_associative(data)
        if s is None:
            raise cast_value_error(data, "DataStructure")
        structs.append(s)
        data = ds_get(s, k)
    for i in range(n - 1, -1, -1):
        k = keys[i]
        new = ds_assoc(structs[i], k, value)
        if new is None:
            raise error(ARGUMENT, f"Invalid key of type {type_name(k)} or value of type "
                                  f"{type_name(value)} for assoc-in")
        value = new
    ctx.charge(juice)
    return value


@core("conj", 117, arity=(1, None), doc=doc_of(
    "Adds values to a data structure in its natural place: the end of a vector, the front of "
    "a list, a set member, or a [key value] entry of a map. nil counts as the empty vector.",
    ["[coll & values]"],
    [("(conj [1] 2 3)", "[1 2 3]"), ("(conj '(1) 2)", "(2 1)"), ("(conj {} [:a 1])", "{:a 1}")],
    {"CAST": "if coll is not a data structure or nil",
     "ARGUMENT": "if a value cannot be added (e.g. a map entry that is not a [k v] vector)"}))
def _conj(ctx, args, d):
    juice = J.BUILD_DATA + J.BUILD_PER_ELEMENT * (len(args) - 1)
    ctx.check_juice(juice)
    o = args[0]
    result = Vector.EMPTY if o is None else o
    if not is_data_structure(result):
        raise arg_cast_error(0, o, "DataStructure")
    for pos in range(1, len(args)):
        x = args[pos]
        result = ds_conj(result, x)
        if result is None:
            raise error(ARGUMENT, f"Failure to 'conj' argument at position {pos} (with Type "
                                  f"{type_name(x)}). Probably not a legal value for this data "
                                  f"structure?")
    ctx.charge(juice)
    return result


@core("cons", 119, arity=(2, None), doc=doc_of(
    "Makes a list of the leading arguments followed by the elements of the last one.",
    ["[x seq]", "[x & more seq]"],
    [("(cons 1 [2 3])", "(1 2 3)"), ("(cons 1 2 nil)", "(1 2)")],
    {"CAST": "if the last argument is not a sequence, set, map or nil"}))
def _cons(ctx, args, d):
    n = len(args)
    juice = J.BUILD_DATA + J.BUILD_PER_ELEMENT * (n - 1)
    ctx.check_juice(juice)
    last = n - 1
    tail = args[last]
    if not is_traversable(tail):
        raise arg_cast_error(last, tail, "Sequence")
    if not isinstance(tail, List):      # a list is shared; anything else is copied into one
        juice += J.copy_cost(count_of(tail))
        ctx.check_juice(juice)
    seq = sequence_of(tail)
    result = seq if isinstance(seq, List) else List.from_seq(seq)
    for i in range(n - 2, -1, -1):
        result = result.cons(args[i])
    ctx.charge(juice)
    return result
