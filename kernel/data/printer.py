"""The Convex Lisp printer: CVM values to their canonical text, as the reference prints them.

`print_value` is how results are shown and compared: the text reads back (`lisp.read`) to an
equal value for every value the reader can produce. Values with no literal syntax (records,
coded values, byte flags, extension values, non-canonical NaNs) print as `#[hex]`, their
CAD3 encoding; so does a container holding data that is only known by hash.

`display` is what Convex `str` makes of a value: a string's or character's own text, else the
printed form.
"""
from __future__ import annotations

import re
import struct
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from functools import lru_cache
from itertools import islice
from typing import Any, Callable, Optional

from kernel.data.blobs import Blob, String
from kernel.data.cell import BranchRef, Cell, MissingData, encoding
from kernel.data.hashmaps import Map, Set
from kernel.data.index import Index
from kernel.data.records import DenseRecord, Signed
from kernel.data.scalars import CANONICAL_NAN_BITS, Address, Char, Keyword, Symbol
from kernel.data.syntax import Syntax
from kernel.data.vectors import List, VectorLeaf, VectorTree

_pack_double = struct.Struct(">d").pack


def print_value(v: Any) -> str:
    """The canonical printed text of any CVM value (iterative: any nesting depth).

    Its length is not bounded by the value's size: a value sharing its parts can print to
    text exponentially longer than itself. Where that matters (the CVM's `str` and `print`,
    error messages), use `print_limited` or `print_brief`.
    """
    if type(v) is BranchRef:
        return f"#Ref 0x{v.hash.hex()}"     # no encoding to show: only the hash is known
    out: list = []
    work: list = [v]        # values still to print, Text pieces and _CLOSE markers
    frames: list = []       # open containers: (value, len(out), len(work)) when opened
    pop, append, atom_of, expander_of = work.pop, out.append, _ATOMS.get, _CONTAINERS.get
    while work:
        x = pop()
        t = type(x)
        if t is Text:
            append(x)
        elif (atom := atom_of(t)) is not None:
            append(atom(x))
        elif x is _CLOSE:
            frames.pop()
        elif (expand := expander_of(t)) is not None:
            try:
                parts = expand(x)
            except MissingData:
                append(encoded(x))
                continue
            frames.append((x, len(out), len(work)))
            work.append(_CLOSE)
            work.extend(reversed(parts))
        elif t is BranchRef:
            # Only a hash is known: the innermost open container prints as its encoding.
            c, out_mark, work_mark = frames.pop()
            del out[out_mark:]
            del work[work_mark:]
            append(encoded(c))
        elif isinstance(x, Cell):
            append(encoded(x))
        else:
            raise TypeError(f"not a CVM value: {t.__name__}")
    return "".join(out)


def display(v: Any) -> str:
    """Text as Convex `str` gives it: strings and characters bare, other values printed."""
    t = type(v)
    if t is String:
        return v.text
    if t is Char:
        return chr(v.cp)
    return print_value(v)


def print_limited(v: Any, limit: int) -> Optional[bytes]:
    """The UTF-8 bytes of the printed text, or None as soon as they would pass `limit`.

    For the CVM, which charges juice per byte of text: printing stops once the output passes
    what is left to pay for, so the work follows the budget, not the value (a value sharing
    its structure can print to text exponentially longer than itself)."""
    text = _render(v, max(limit, 0))
    if text is None:
        return None
    data = text.encode("utf-8", "surrogatepass")
    return data if len(data) <= limit else None


def print_head(v: Any, limit: int) -> "tuple[str, bool]":
    """(the printed text's first `limit` characters, whether the text is longer): for showing
    a value to the user, whose text may be far too long to make in full. The work follows
    `limit`, not the value (see `_render`)."""
    text = _render(v, max(limit, 0) + 1, cut=True)
    return (text, False) if len(text) <= limit else (text[:limit], True)


def print_brief(v: Any, limit: int = 200) -> str:
    """The printed text, cut to `limit` characters followed by "..." when longer: for error
    messages and traces, which must cost little to build whatever the value they name."""
    text = _render(v, limit + 1, cut=True)
    return text if len(text) <= limit else text[:limit] + "..."


def display_brief(v: Any, limit: int = 10_000) -> str:
    """`display`, with values other than strings and characters as `print_brief` gives them:
    for an error's message, which may be any value."""
    t = type(v)
    if t is String:
        return v.text
    if t is Char:
        return chr(v.cp)
    return print_brief(v, limit)


def _render(v: Any, limit: int, cut: bool = False) -> Optional[str]:
    """Printed text of v, as print_value prints it, within `limit` characters: None as soon
    as the text is known to be longer, or with `cut` the text's first `limit` characters.

    Containers already printed once in this text (the same object, as in a structure that
    shares its parts) are copied from their first text rather than walked again, so the work
    follows the length of the text, not the size of the tree the value unfolds to. With a
    limit, long strings, blobs and containers are not printed past it either.
    """
    if type(v) is BranchRef:
        text = f"#Ref 0x{v.hash.hex()}"
        return text if cut or len(text) <= limit else None
    bound = limit
    out: list = []
    total = 0               # characters in out
    work: list = [v]        # values still to print, Text pieces and _CLOSE markers
    frames: list = []       # open containers: (value, len(out), len(work), total, len(order))
    done: dict = {}         # id of a printed container -> [it, first piece, end, length, text]
    order: list = []        # ids in done, in the order they were printed
    pop, append, atom_of, expander_of = work.pop, out.append, _PLAIN_ATOMS.get, _CONTAINERS.get
    while work:
        x = pop()
        t = type(x)
        if t is Text:
            append(x)
            total += len(x)
        elif (atom := atom_of(t)) is not None:
            s = atom(x)
            append(s)
            total += len(s)
        elif t is String:
            data = x.data
            s = (_string_text(data) if len(data) // 4 + 2 <= bound - total
                 else _sized_string(data, bound - total, cut))
            if s is None:
                return None
            append(s)
            total += len(s)
        elif t is Blob:
            s = _sized_blob(x.data, bound - total, cut)
            if s is None:
                return None
            append(s)
            total += len(s)
        elif x is _CLOSE:
            c, out_mark, _, total_mark, _ = frames.pop()
            if total - total_mark >= _SHARE_MIN:
                done[id(c)] = [c, out_mark, len(out), total - total_mark, None]
                order.append(id(c))
            continue
        elif (expand := expander_of(t)) is not None:
            seen = done.get(id(x))
            if seen is not None:
                if not cut and total + seen[3] > bound:
                    return None
                if seen[4] is None:
                    seen[4] = "".join(out[seen[1]:seen[2]])
                append(seen[4])
                total += seen[3]
            elif t in _HEADS and len(x) > bound - total:
                # Each element prints to a character at least: the text cannot fit.
                if not cut:
                    return None
                try:
                    parts = _HEADS[t](x, bound - total + 1)
                except MissingData:
                    s = encoded(x)
                    out.append(s)
                    total += len(s)
                else:       # its text passes the limit before this frame could close
                    frames.append((x, len(out), len(work), total, len(order)))
                    work.append(_CLOSE)
                    work.extend(reversed(parts))
                    continue
            else:
                try:
                    parts = expand(x)
                except MissingData:
                    s = encoded(x)
                    out.append(s)
                    total += len(s)
                else:
                    frames.append((x, len(out), len(work), total, len(order)))
                    work.append(_CLOSE)
                    work.extend(reversed(parts))
                    continue
        elif t is BranchRef:
            # Only a hash is known: the innermost open container prints as its encoding.
            c, out_mark, work_mark, total, order_mark = frames.pop()
            del out[out_mark:]
            del work[work_mark:]
            for k in order[order_mark:]:        # printed inside it: their pieces are gone
                del done[k]
            del order[order_mark:]
            s = encoded(c)
            out.append(s)
            total += len(s)
        elif isinstance(x, Cell):
            s = encoded(x)
            out.append(s)
            total += len(s)
        else:
            raise TypeError(f"not a CVM value: {t.__name__}")
        if total > bound:
            return "".join(out)[:bound] if cut else None
    return "".join(out)


_SHARE_MIN = 64     # shorter texts are printed again: as quick as copying, and far more common


def _sized_string(data: bytes, room: int, cut: bool) -> Optional[str]:
    """A string's text within `room` characters: None if it cannot fit (it has at least a
    character per 4 bytes), or with `cut` the text of just enough of its bytes."""
    if len(data) // 4 + 2 <= room:
        return _string_text(data)
    if not cut:
        return None
    return _string_text(data[:4 * room + 4])    # more than `room` characters: cut before '"'


def _sized_blob(data: bytes, room: int, cut: bool) -> Optional[str]:
    """A blob's text within `room` characters, as _sized_string."""
    if 2 * len(data) + 2 <= room:
        return "0x" + data.hex()
    return "0x" + data[:room].hex() if cut else None


# --- numbers ---------------------------------------------------------------------------------

def _int_text(n: int) -> str:
    """Decimal text of n."""
    if n.bit_length() <= 12_000:
        return str(n)
    return _big_int_text(n)


@lru_cache(maxsize=64)
def _big_int_text(n: int) -> str:
    """Decimal text of a big integer, remembered: converting the largest takes about a
    millisecond, far longer than copying its text, and one value may hold it many times."""
    return _digits(n)


def _digits(n: int) -> str:
    """Decimal text of n, splitting huge values to stay under Python's conversion limit."""
    if n.bit_length() <= 12_000:
        return str(n)
    if n < 0:
        return "-" + _digits(-n)
    half = n.bit_length() * 3 // 20           # about half of its decimal digits
    hi, lo = divmod(n, 10 ** half)
    return _digits(hi) + _digits(lo).rjust(half, "0")


def _shortest_digits(x: float) -> "tuple[str, int]":
    """(digits, exponent) with x == 0.d1d2... * 10**(exponent + 1), as Java's Double.toString.

    Java takes the shortest decimal that rounds to x (Python's repr does the same), except
    that a one-digit result yields to a closer two-digit one (4.9E-324 rather than 5e-324).
    """
    mant, _, e = repr(x).partition("e")
    ip, _, fp = mant.partition(".")
    exp = int(e) if e else 0
    if ip != "0":
        sci = len(ip) - 1 + exp
    else:
        sci = len(fp.lstrip("0")) - len(fp) - 1 + exp
    digits = (ip + fp).lstrip("0").rstrip("0") or "0"
    if len(digits) == 1:
        digits, sci = _closer_two_digits(x, digits, sci)
    return digits, sci


def _closer_two_digits(x: float, digit: str, sci: int) -> "tuple[str, int]":
    """The closest two-digit decimal that still rounds to x, if closer than `digit`e`sci`."""
    with localcontext() as ctx:
        ctx.prec = 1200                       # every double is exact in 767 digits
        exact = Decimal(x)
        step = Decimal(1).scaleb(exact.adjusted() - 1)
        near = exact.quantize(step, rounding=ROUND_HALF_EVEN)
        best = Decimal(digit).scaleb(sci)
        for p in (near - step, near, near + step):
            if p > 0 and float(p) == x and abs(p - exact) < abs(best - exact):
                best = p
        t = best.normalize().as_tuple()
    digits = "".join(map(str, t.digits))
    return digits, len(digits) - 1 + t.exponent


def _double_text(d: float) -> str:
    if d != d:
        bits = _pack_double(d)
        return "##NaN" if bits == CANONICAL_NAN_BITS else f"#[1d{bits.hex()}]"
    if d in (float("inf"), float("-inf")):
        return "##Inf" if d > 0 else "##-Inf"
    if d == 0:
        return "-0.0" if _pack_double(d)[0] & 0x80 else "0.0"
    sign = "-" if d < 0 else ""
    m = abs(d)
    digits, sci = _shortest_digits(m)
    if 1e-3 <= m < 1e7:
        if sci >= 0:
            whole = digits[:sci + 1].ljust(sci + 1, "0")
            return f"{sign}{whole}.{digits[sci + 1:] or '0'}"
        return f"{sign}0.{'0' * (-sci - 1)}{digits}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{sci}"


# --- text ------------------------------------------------------------------------------------

_CHAR_NAMES = {10: "\\newline", 13: "\\return", 32: "\\space", 9: "\\tab"}
_BYTE_ESCAPES = {0x22: b'\\"', 0x5C: b"\\\\", 0x09: b"\\t", 0x08: b"\\b", 0x0A: b"\\n",
                 0x0D: b"\\r", 0x0C: b"\\f"}
_CHAR_ESCAPES = {b: e.decode("ascii") for b, e in _BYTE_ESCAPES.items()}
_NEEDS_ESCAPE = re.compile(rb'["\\\t\b\n\r\f]')
_BAD_CHARACTER = "\ufffd".encode()


def _utf8_at(data: bytes, i: int) -> "tuple[int, int]":
    """(code point, its UTF-8 length) at a lead byte >= 0x80, or (-1, 0) if not decodable.

    Mirrors the reference's lenient decoder: it checks the bit patterns and the final range,
    not overlong forms or surrogates.
    """
    b = data[i]
    if b & 0xC0 != 0xC0 or b >= 0xF8:
        return -1, 0
    n = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
    cp = b & (0x7F >> n)
    for j in range(i + 1, i + n):
        if j >= len(data) or data[j] & 0xC0 != 0x80:
            return -1, 0
        cp = (cp << 6) | (data[j] & 0x3F)
    if cp > 0x10FFFF:
        return -1, 0
    return cp, 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4


def _string_text(data: bytes) -> str:
    """A string literal as the reference prints it, escaping per UTF-8 byte.

    Bytes that do not start a valid character print as U+FFFD and, as in the reference, take
    the following byte with them.
    """
    if data.isascii() and not _NEEDS_ESCAPE.search(data):
        return '"' + data.decode("ascii") + '"'
    try:
        text = data.decode("utf-8")     # valid UTF-8: the lenient decoder reads the same
    except UnicodeDecodeError:
        return _lenient_string_text(data)
    return '"' + text.translate(_CHAR_ESCAPES) + '"'


def _lenient_string_text(data: bytes) -> str:
    out = bytearray(b'"')
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            out += _BYTE_ESCAPES.get(b) or bytes((b,))
            i += 1
            continue
        cp, size = _utf8_at(data, i)
        if cp < 0:
            out += _BAD_CHARACTER
            i += 2
        else:
            out += data[i:i + size]
            i += size
    out += b'"'
    return out.decode("utf-8", "replace")


# --- containers: each expands to its printed parts, text and child values ------------------

class Text(str):
    """Literal printed text among the parts of a container (distinct from any CVM value)."""


_CLOSE = object()
PUNCT = {s: Text(s) for s in ("[", "]", "(", ")", "#{", "{", "}", "#Index {", "#Signed {",
                                "#Result {", " ", ",", "^")}
SPACE, _COMMA = PUNCT[" "], PUNCT[","]


def seq(open_: str, items: Any, close: str) -> list:
    parts = [PUNCT[open_]]
    for x in items:
        parts.append(x)
        parts.append(SPACE)
    if len(parts) > 1:
        parts.pop()
    parts.append(PUNCT[close])
    return parts


def entries(open_: str, pairs: Any) -> list:
    parts = [PUNCT[open_]]
    for k, v in pairs:
        parts += (k, SPACE, v, _COMMA)
    if len(parts) > 1:
        parts.pop()
    parts.append(PUNCT["}"])
    return parts


_K_RESULT = Keyword("result")
_SIGNED_KEYS = (Keyword("public-key"), Keyword("signature"), Keyword("value"))
_RESULT_KEYS = (Keyword("id"), _K_RESULT, Keyword("error"), Keyword("log"), Keyword("info"))
_RESULT_TAG = 0xDD


def record_parts(v: DenseRecord) -> list:
    """A Result prints as `#Result {..}`, leaving out nil fields but :result; any other dense
    record as its encoding."""
    fields = v.fields
    if v.tag != _RESULT_TAG or len(fields) != len(_RESULT_KEYS):
        return [Text(encoded(v))]
    return entries("#Result {", [(k, x) for k, x in zip(_RESULT_KEYS, fields)
                                  if k is _K_RESULT or x is not None])


def encoded(v: Any) -> str:
    return f"#[{encoding(v).hex()}]"


_ATOMS: "dict[type, Callable[[Any], str]]" = {
    type(None): lambda v: "nil",
    bool: lambda v: "true" if v else "false",
    int: _int_text,
    float: _double_text,
    Symbol: lambda v: v.name,
    Keyword: lambda v: ":" + v.name,
    Char: lambda v: _CHAR_NAMES.get(v.cp) or "\\" + chr(v.cp),
    String: lambda v: _string_text(v.data),
    Blob: lambda v: "0x" + v.data.hex(),
    Address: lambda v: f"#{v.n}",
}

_CONTAINERS: "dict[type, Callable[[Any], list]]" = {
    VectorLeaf: lambda v: seq("[", v, "]"),
    VectorTree: lambda v: seq("[", v, "]"),
    List: lambda v: seq("(", v, ")"),
    Set: lambda v: seq("#{", v, "}"),
    Map: lambda v: entries("{", v.items()),
    Index: lambda v: entries("#Index {", v.items()),
    Syntax: lambda v: [PUNCT["^"], v.meta, SPACE, v.datum],
    Signed: lambda v: entries("#Signed {", zip(_SIGNED_KEYS, v.fields)),
    DenseRecord: record_parts,
}


def _head_seq(open_: str, items: Any) -> list:
    """The opening of a sequence's text with just its first items (the text is cut there)."""
    parts = [PUNCT[open_]]
    for x in items:
        parts.append(x)
        parts.append(SPACE)
    return parts


def _head_entries(open_: str, v: Any, k: int) -> list:
    parts = [PUNCT[open_]]
    for i in range(k):
        key, x = v.entry_at(i)
        parts += (key, SPACE, x, _COMMA)
    return parts


# Containers whose count is known at once, and the first k elements of their text for a text
# cut short (k < count): so that a brief text of a big container costs only what it shows.
_HEADS: "dict[type, Callable[[Any, int], list]]" = {
    VectorLeaf: lambda v, k: _head_seq("[", islice(v, k)),
    VectorTree: lambda v, k: _head_seq("[", islice(v, k)),
    List: lambda v, k: _head_seq("(", (v[i] for i in range(k))),
    Set: lambda v, k: _head_seq("#{", (v.element_at(i) for i in range(k))),
    Map: lambda v, k: _head_entries("{", v, k),
    Index: lambda v, k: _head_entries("#Index {", v, k),
}


# The atoms whose text is short whatever the value: strings and blobs are cut to a limit.
_PLAIN_ATOMS = {t: f for t, f in _ATOMS.items() if t is not String and t is not Blob}


def register(cls: type, *, atom: Optional[Callable[[Any], str]] = None,
             parts: Optional[Callable[[Any], list]] = None) -> None:
    """Teach the printer a type defined above this layer (ops, functions, state records):
    `atom(v)` gives the whole text of a value printed in one piece; `parts(v)` the list of Text
    pieces and child values of one printed around its children (as `seq` and `entries` make)."""
    if atom is not None:
        _ATOMS[cls] = _PLAIN_ATOMS[cls] = atom
    if parts is not None:
        _CONTAINERS[cls] = parts
