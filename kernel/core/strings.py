"""Text, naming, blob and hashing core functions: str, print, split, join, name, keyword,
symbol, address, blob, encoding, cat, splice, char, hash, keccak256, sha256.

Convex strings are UTF-8 bytes: lengths and positions count bytes, and text is assembled from
bytes so that no character is ever re-encoded differently.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Optional

from kernel.cvm import juice as J
from kernel.data.blobs import Blob, String
from kernel.data.cell import encode_long_bytes
from kernel.cvm.errors import ARGUMENT, BOUNDS, CAST, Failure, arg_cast_error, error, juice_failure
from kernel.data.scalars import Address, Char, Keyword, Symbol
from kernel.cvm.structures import ensure_sequence, is_long, utf8_char_at
from kernel.cvm.registry import CORE, core, doc_of

MAX_NAME_BYTES = 128


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------

def str_bytes(v: Any, limit: int) -> Optional[bytes]:
    """The UTF-8 bytes `str` makes of one value (strings as-is, blobs as bare hex, characters
    bare, nil as "nil", everything else in printed form), or None if more than `limit`."""
    t = type(v)
    if t is String:
        data = v.data
    elif t is Blob:
        if 2 * len(v.data) > limit:
            return None
        data = v.data.hex().encode("ascii")
    elif t is Char:
        data = char_utf8(v)
    elif v is None:
        data = b"nil"
    else:
        from kernel.data.printer import print_limited

        return print_limited(v, limit)
    return data if len(data) <= limit else None


def text_limit(ctx) -> int:
    """The most bytes of text the juice left can pay for."""
    return ctx.juice_left // J.BUILD_PER_BYTE


def out_of_juice(ctx) -> Failure:
    """The text would cost more than the juice left: fail as an unpayable charge does."""
    ctx.juice = ctx.limit
    return juice_failure()


def name_of(v: Any) -> Optional[String]:
    """The name of a string, keyword or symbol as a String, else None."""
    t = type(v)
    if t is String:
        return v
    if t is Keyword or t is Symbol:
        return String.of(v.name)
    return None


def ensure_char(v: Any) -> Optional[Char]:
    """A character argument: a Char, a code point (Long), or a string of exactly one character."""
    t = type(v)
    if t is Char:
        return v
    if is_long(v):
        return Char(v) if 0 <= v <= 0x10FFFF else None
    if t is String:
        data = v.data
        if not 1 <= len(data) <= 4:
            return None
        c = utf8_char_at(data, 0)
        if c is None or len(chr(c.cp).encode("utf-8", "surrogatepass")) != len(data):
            return None
        return c
    return None


def char_utf8(c: Char) -> bytes:
    return chr(c.cp).encode("utf-8", "surrogatepass")


def integer_bytes(n: int) -> bytes:
    """Minimal big-endian two's complement bytes of an integer (at least one byte)."""
    return encode_long_bytes(n) or b"\x00"


_HEX = re.compile(rb"(?:[0-9a-fA-F]{2})*")


def cast_blob(v: Any) -> Optional[Blob]:
    """What `blob` makes of a value, or None if it has no blob form."""
    t = type(v)
    if t is Blob:
        return v
    if t is String:
        data = v.data       # hex digits only (no spaces, which bytes.fromhex would allow)
        return Blob(bytes.fromhex(data.decode("ascii"))) if _HEX.fullmatch(data) else None
    if t is Address:
        return Blob(v.n.to_bytes(8, "big"))
    if t is Keyword or t is Symbol:
        return Blob(v.name.encode("utf-8", "surrogatepass"))
    if t is bool:
        return Blob(b"\x01" if v else b"\x00")
    if t is int:
        return Blob(integer_bytes(v))
    if t is Char:
        return Blob(char_utf8(v))
    return None


def _to_name(cls: type, name: String) -> Any:
    """A keyword or symbol of the given name, or None if the name length is invalid."""
    if not 1 <= len(name.data) <= MAX_NAME_BYTES:
        return None
    try:
        return cls(name.text)
    except ValueError:
        return None


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the original Keccak padding, as used by Ethereum), in pure Python."""
    rate = 136
    msg = bytearray(data)
    pad = rate - len(msg) % rate
    msg += b"\x01" + b"\x00" * (pad - 1)
    msg[-1] |= 0x80
    state = [0] * 25
    for off in range(0, len(msg), rate):
        block = msg[off:off + rate]
        for i in range(rate // 8):
            state[i] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        _keccak_f(state)
    return b"".join(state[i].to_bytes(8, "little") for i in range(4))


_MASK = (1 << 64) - 1
_RC = [0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
       0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
       0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
       0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
       0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
       0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008]
# rotation offsets r[x][y], state lane index x + 5*y
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61], [28, 55, 25, 21, 56],
        [27, 20, 39, 8, 14]]


def _rotl(v: int, n: int) -> int:
    return ((v << n) | (v >> (64 - n))) & _MASK if n else v


def _keccak_f(a: list) -> None:
    for rc in _RC:
        c = [a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20] for x in range(5)]
        dd = [c[(x - 1) % 5] ^ _rotl(c[(x + 1) % 5], 1) for x in range(5)]
        for i in range(25):
            a[i] ^= dd[i % 5]
        b = [0] * 25
        for x in range(5):
            for y in range(5):
                b[y + 5 * ((2 * x + 3 * y) % 5)] = _rotl(a[x + 5 * y], _ROT[x][y])
        for y in range(0, 25, 5):
            row = b[y:y + 5]
            for x in range(5):
                a[y + x] = row[x] ^ ((~row[(x + 1) % 5]) & row[(x + 2) % 5])
        a[0] ^= rc


# ------------------------------------------------------------------------------------------------
# Strings
# ------------------------------------------------------------------------------------------------

@core("str", 10, doc=doc_of(
    "Concatenates the text of the arguments: strings as they are, characters bare, blobs as "
    "hex digits without 0x, nil as \"nil\", other values as printed.",
    ["[& values]"],
    [("(str \"a\" 1 :b)", "\"a1:b\""), ("(str)", "\"\""), ("(str \\x nil)", "\"xnil\"")],
    {"JUICE": "if there is not enough juice left to build the text"}))
def _str(ctx, args, d):
    left = text_limit(ctx)
    parts = []
    for a in args:
        data = str_bytes(a, left)
        if data is None:
            raise out_of_juice(ctx)
        parts.append(data)
        left -= len(data)
    data = b"".join(parts)
    ctx.charge(J.build_string_cost(len(data)))
    return String(data)


@core("print", 11, arity=1, doc=doc_of(
    "The printed (readable) form of a value as a string, e.g. with quotes around strings.",
    ["[value]"],
    [("(print \"a\")", "\"\\\"a\\\"\""), ("(print [1 :a])", "\"[1 :a]\"")],
    {"JUICE": "if there is not enough juice left to build the text"}))
def _print(ctx, args, d):
    from kernel.data.printer import print_limited

    data = print_limited(args[0], text_limit(ctx))
    if data is None:
        raise out_of_juice(ctx)
    ctx.charge(J.build_string_cost(len(data)))
    return String(data)


@core("split", 12, arity=2, doc=doc_of(
    "Splits a string at every occurrence of a character, keeping empty pieces.",
    ["[string char]"],
    [("(split \"a,b,,c\" \\,)", "[\"a\" \"b\" \"\" \"c\"]"), ("(split \"\" \\,)", "[\"\"]")],
    {"CAST": "if the first argument is not a string or the second not a character (a "
             "one-character string or a code point also works)"}))
def _split(ctx, args, d):
    s = args[0]
    if type(s) is not String:
        raise arg_cast_error(0, s, "String")
    ch = ensure_char(args[1])
    if ch is None:
        raise arg_cast_error(1, args[1], "Character")
    strcost = J.build_string_cost(len(s.data))
    ctx.check_juice(strcost)
    from kernel.data.vectors import Vector

    parts = s.data.split(char_utf8(ch))
    result = Vector.from_seq(String(p) for p in parts)
    ctx.charge(strcost + J.build_data_cost(len(parts)))
    return result


@core("join", 13, arity=2, doc=doc_of(
    "Joins a sequence of strings with a separator character between them.",
    ["[strings char]"],
    [("(join [\"a\" \"b\"] \\,)", "\"a,b\""), ("(join [] \\,)", "\"\"")],
    {"CAST": "if the first argument is not a sequence of strings or the second is not a "
             "character",
     "JUICE": "if there is not enough juice left to build the text"}))
def _join(ctx, args, d):
    seq = ensure_sequence(args[0])
    if seq is None:
        raise arg_cast_error(0, args[0], "Sequence")
    ch = ensure_char(args[1])
    if ch is None:
        raise arg_cast_error(1, args[1], "Character")
    items = seq.to_tuple()
    for i, x in enumerate(items):
        if type(x) is not String:   # the strings checked so far cost a byte each, as joined
            ctx.charge(i * J.BUILD_PER_BYTE)
            raise error(CAST, "Element in join is not a String.")
    sep = char_utf8(ch)
    # The strings may all be one long string: add up the length before building the text.
    size = sum(len(x.data) for x in items) + len(sep) * max(len(items) - 1, 0)
    if size > text_limit(ctx):
        raise out_of_juice(ctx)
    data = sep.join(x.data for x in items)
    ctx.charge(J.build_string_cost(len(data)))
    return String(data)


@core("name", 14, arity=1, doc=doc_of(
    "The name of a keyword or symbol as a string (a string is its own name).",
    ["[x]"],
    [("(name :foo)", "\"foo\""), ("(name 'bar)", "\"bar\"")],
    {"CAST": "if the argument is not a keyword, symbol or string"}))
def _name(ctx, args, d):
    result = name_of(args[0])
    if result is None:
        raise arg_cast_error(0, args[0], "String")
    ctx.charge(J.SIMPLE_FN)
    return result


@core("keyword", 15, arity=1, doc=doc_of(
    "A keyword with the name of a string, symbol or keyword.",
    ["[name]"],
    [("(keyword \"foo\")", ":foo"), ("(keyword 'bar)", ":bar")],
    {"CAST": "if the argument has no name (not a string, symbol or keyword)",
     "ARGUMENT": "if the name is empty or longer than 128 bytes"}))
def _keyword(ctx, args, d):
    a = args[0]
    if type(a) is Keyword:
        ctx.charge(J.KEYWORD)
        return a
    name = name_of(a)
    if name is None:
        raise arg_cast_error(0, a, "Keyword")
    result = _to_name(Keyword, name)
    if result is None:
        raise error(ARGUMENT, f"Invalid Keyword name, must be between 1 and {MAX_NAME_BYTES} "
                              f"characters")
    ctx.charge(J.KEYWORD)
    return result


@core("symbol", 16, arity=1, doc=doc_of(
    "A symbol with the name of a string, keyword or symbol.",
    ["[name]"],
    [("(symbol \"foo\")", "foo"), ("(symbol :bar)", "bar")],
    {"CAST": "if the argument has no name (not a string, symbol or keyword)",
     "ARGUMENT": "if the name is empty or longer than 128 bytes"}))
def _symbol(ctx, args, d):
    a = args[0]
    if type(a) is Symbol:
        ctx.charge(J.SYMBOL)
        return a
    name = name_of(a)
    if name is None:
        raise arg_cast_error(0, a, "Symbol")
    result = _to_name(Symbol, name)
    if result is None:
        raise error(ARGUMENT, f"Invalid Symbol name, must be between 1 and {MAX_NAME_BYTES} "
                              f"characters")
    ctx.charge(J.SYMBOL)
    return result


# ------------------------------------------------------------------------------------------------
# Addresses, blobs and encodings
# ------------------------------------------------------------------------------------------------

@core("address", 34, arity=1, doc=doc_of(
    "Converts a value to an address: an address as-is, a non-negative integer, or a blob of at "
    "most 8 bytes read as a number.",
    ["[x]"],
    [("(address 12)", "#12"), ("(address 0x0c)", "#12")],
    {"CAST": "if the value cannot be converted (e.g. a string or keyword)",
     "ARGUMENT": "if the integer or blob does not give a valid (non-negative) address"}))
def _address(ctx, args, d):
    o = args[0]
    t = type(o)
    if t is Address:
        result = o
    elif t is Blob:
        data = o.data
        n = int.from_bytes(data, "big") if len(data) <= 8 else -1
        if not 0 <= n <= J.LONG_MAX:
            raise error(ARGUMENT, "Blob not convertible a valid Address")
        result = Address(n)
    elif t is int:
        if not 0 <= o <= J.LONG_MAX:
            raise error(ARGUMENT, "Integer value is not a valid Address")
        result = Address(o)
    else:
        raise arg_cast_error(0, o, "Address")
    ctx.charge(J.ADDRESS)
    return result


@core("blob", 35, arity=1, doc=doc_of(
    "Converts a value to a blob: a hex string is parsed, an integer gives its two's complement "
    "bytes, an address its 8 bytes, a keyword or symbol its name bytes, a character its UTF-8 "
    "bytes, a boolean 0x01 / 0x00.",
    ["[x]"],
    [("(blob \"cafe\")", "0xcafe"), ("(blob 255)", "0x00ff"), ("(blob #1)", "0x0000000000000001")],
    {"CAST": "if the value has no blob form (e.g. nil, or a string that is not hex)"}))
def _blob(ctx, args, d):
    a = args[0]
    if type(a) is String:   # reading the hex is paid per byte, even if it fails
        ctx.check_juice(J.build_blob_cost(len(a.data) // 2))
        result = cast_blob(a)
        if result is None:
            ctx.charge(len(a.data) // 2 * J.BUILD_PER_BYTE)
            raise arg_cast_error(0, a, "Blob")
    else:
        result = cast_blob(a)
        if result is None:
            raise arg_cast_error(0, a, "Blob")
    ctx.charge(J.build_blob_cost(len(result.data)))
    return result


@core("encoding", 136, arity=1, doc=doc_of(
    "The canonical CAD3 binary encoding of a value, as a blob.",
    ["[value]"],
    [("(encoding 1)", "0x1101"), ("(encoding nil)", "0x00")]))
def _encoding(ctx, args, d):
    from kernel.data.cell import encoding

    data = encoding(args[0])
    juice = J.build_blob_cost(len(data))
    ctx.check_juice(juice)
    ctx.charge(juice)
    return Blob(data)


def _hash_arg(ctx, v: Any) -> bytes:
    if type(v) is not Blob:
        raise arg_cast_error(0, v, "Blob")
    data = v.data
    juice = J.HASH + len(data) * J.HASH_PER_BYTE
    ctx.check_juice(juice)
    ctx.charge(juice)
    return data


@core("hash", 180, arity=1, doc=doc_of(
    "The SHA3-256 hash of a blob's bytes, as a 32-byte blob.",
    ["[blob]"],
    [("(hash 0x)", "0xa7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a")],
    {"CAST": "if the argument is not a blob"}))
def _hash(ctx, args, d):
    return Blob(hashlib.sha3_256(_hash_arg(ctx, args[0])).digest())


@core("keccak256", 181, arity=1, doc=doc_of(
    "The Keccak-256 hash (as used by Ethereum) of a blob's bytes, as a 32-byte blob.",
    ["[blob]"],
    [("(keccak256 0x)", "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")],
    {"CAST": "if the argument is not a blob"}))
def _keccak256(ctx, args, d):
    return Blob(keccak256(_hash_arg(ctx, args[0])))


@core("sha256", 182, arity=1, doc=doc_of(
    "The SHA-256 hash of a blob's bytes, as a 32-byte blob.",
    ["[blob]"],
    [("(sha256 0x)", "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")],
    {"CAST": "if the argument is not a blob"}))
def _sha256(ctx, args, d):
    return Blob(hashlib.sha256(_hash_arg(ctx, args[0])).digest())


# ------------------------------------------------------------------------------------------------
# Byte surgery: cat and splice (Convex 0.8.8)
# ------------------------------------------------------------------------------------------------

def raw_bytes(v: Any) -> Optional[bytes]:
    """The bytes `cat` and `splice` take from a value, never cast: a blob's or string's own
    bytes, a keyword's or symbol's name, an address's 8 bytes, a character's UTF-8; None for
    anything else (nil included: callers decide what nil means)."""
    t = type(v)
    if t is Blob or t is String:
        return v.data
    if t is Keyword or t is Symbol:
        return v._utf8
    if t is Address:
        return v.n.to_bytes(8, "big")
    if t is Char:
        return char_utf8(v)
    return None


def _texty(v: Any) -> bool:
    """Whether a value makes `cat` / `splice` build a string rather than a blob."""
    t = type(v)
    return t is String or t is Keyword or t is Symbol or t is Char


def _bytes_result(data: bytes, texty: bool) -> Any:
    return String(data) if texty else Blob(data)


@core("cat", 504, doc=doc_of(
    "Joins the raw bytes of its arguments: a blob's or string's bytes, a keyword's or symbol's "
    "name, an address's 8 bytes, a character's UTF-8 encoding. Nothing is converted (a string "
    "is not read as hex, unlike blob). nil arguments are left out. The first non-nil argument "
    "decides the result: a string if it is a string, keyword, symbol or character, else a "
    "blob (also when there is none).",
    ["[& values]"],
    [("(cat 0x1234 0xee99)", "0x1234ee99"), ("(cat \"foo\" \"bar\")", "\"foobar\""),
     ("(cat :hello \"-\" :world)", "\"hello-world\""), ("(cat 0x \"cafe\")", "0x63616665"),
     ("(cat nil 0xab nil)", "0xab"), ("(cat)", "0x")],
    {"CAST": "if an argument other than nil has no raw bytes (e.g. a number or a vector)",
     "JUICE": "if there is not enough juice left to build the result"}))
def _cat(ctx, args, d):
    texty = None
    parts = []
    total = 0
    for i, a in enumerate(args):
        if a is None:
            continue
        data = raw_bytes(a)
        if data is None:
            raise arg_cast_error(i, a, "Blob")
        if texty is None:
            texty = _texty(a)
        parts.append(data)
        total += len(data)
    juice = J.build_string_cost(total) if texty else J.build_blob_cost(total)
    ctx.check_juice(juice)      # all the sizes are known: pay before building anything
    result = _bytes_result(b"".join(parts), bool(texty))
    ctx.charge(juice)
    return result


@core("splice", 505, arity=3, doc=doc_of(
    "Overwrites the bytes of dest from byte offset on with the raw bytes of src (taken as by "
    "cat: nothing is converted), extending the result if src runs past the end; an offset "
    "equal to the count appends. The result has the kind of dest: a string for a string, "
    "keyword, symbol or character, else a blob. A nil dest is an empty blob and a nil src "
    "writes nothing. Offsets count bytes, even in strings.",
    ["[dest offset src]"],
    [("(splice \"hello world\" 6 \"there\")", "\"hello there\""),
     ("(splice 0x0000000000 2 0xffff)", "0x0000ffff00"), ("(splice 0x1234 2 0xabcd)", "0x1234abcd"),
     ("(splice \"abc\" 1 (char 88))", "\"aXc\"")],
    {"CAST": "if dest or src (when not nil) has no raw bytes, or offset is not an integer",
     "BOUNDS": "if offset is negative or beyond the end of dest",
     "JUICE": "if there is not enough juice left to build the result"}))
def _splice(ctx, args, d):
    dst, off, src = args
    if dst is None:
        dst_data, texty = b"", False
    else:
        dst_data = raw_bytes(dst)
        if dst_data is None:
            raise arg_cast_error(0, dst, "Blob")
        texty = _texty(dst)
    if not is_long(off):
        raise arg_cast_error(1, off, "Long")
    if src is None:
        src_data = b""
    else:
        src_data = raw_bytes(src)
        if src_data is None:
            raise arg_cast_error(2, src, "Blob")
    n = len(dst_data)
    if not 0 <= off <= n:
        raise error(BOUNDS, f"Index out of bounds: {off}")
    m = len(src_data)
    juice = J.build_string_cost(m) if texty else J.build_blob_cost(m)
    ctx.check_juice(juice)
    result = _bytes_result(dst_data[:off] + src_data + dst_data[off + m:], texty)
    ctx.charge(juice)
    return result


# ------------------------------------------------------------------------------------------------
# Characters (registered here unless the numeric casts already provide `char`)
# ------------------------------------------------------------------------------------------------

def _char(ctx, args, d):
    a = args[0]
    t = type(a)
    if t is Char:
        result = a
    elif t is Blob or t is Address:
        data = a.data if t is Blob else a.n.to_bytes(8, "big")
        result = utf8_char_at(data, 0) if 1 <= len(data) <= 4 else None
        if result is None or len(char_utf8(result)) != len(data):
            raise error(ARGUMENT, "Not a valid UTF-8 character")
    elif t is int:
        if not is_long(a) or not 0 <= a <= 0x10FFFF:
            raise error(ARGUMENT, f"Invalid code point: {a}")
        result = Char(a)
    else:
        raise arg_cast_error(0, a, "Character")
    ctx.charge(J.ARITHMETIC)
    return result


if "char" not in CORE:
    core("char", 140, arity=1, doc=doc_of(
        "Converts to a character: a character as-is, a Unicode code point, or a blob holding "
        "the UTF-8 bytes of exactly one character.",
        ["[x]"],
        [("(char 97)", "\\a"), ("(char 0x20)", "\\space")],
        {"CAST": "if the value is not a character, integer or blob",
         "ARGUMENT": "if the code point or UTF-8 bytes are not a valid character"}))(_char)


__all__ = ["str_bytes", "text_limit", "out_of_juice", "name_of", "ensure_char", "cast_blob",
           "keccak256", "integer_bytes", "raw_bytes"]
