"""The Convex Lisp reader (CAD032): source text to CVM values.

Parsing is one LALR pass of the grammar in `convex.lark`; values are built by `_Builder` as each
rule is reduced, so no parse tree is ever materialised. Every failure surfaces as a
`ReaderError` carrying a 1-based line and column; input that merely stops too early (an open
bracket or string, a dangling quote or `^`) raises its subclass `IncompleteInput`, which lets a
REPL ask for another line instead of reporting an error. An unclosed bracket is reported
where it opens (the innermost one still open), not at the end of the text.

Source positions: `read_positioned` returns the forms and a `Positions` side table (where
each top-level form starts, and where each list, a call once compiled, opens). Positions
are kept beside the values, not in them, which is the least intrusive design: the values
are exactly those `read_all` returns (a Syntax wrapper or metadata would change what the
compiler sees, what `quote` returns, encodings and hashes, and the reference reader adds
none either), and `read_all` itself pays nothing for them: only the parser that
`read_positioned` uses runs the builder that notes positions.

Reader macros, as in the reference reader:
    'x  -> (quote x)             `x -> (quasiquote x)
    ~x  -> (unquote x)           ~@x -> (unquote-splicing x)
    @a.b -> (resolve a.b)        a/b/c -> (lookup (lookup a b) c), also #8/x, [..]/x, @a/x
    ^m x -> Syntax x with metadata m ({..} as is, :k -> {:k true}, anything else -> {:tag m})
    #_ x -> x is discarded       #[hex] -> the value with that CAD3 encoding
    #Index {..}, #Signed {..}, #Result {..} -> those values; any other #Tag x reads as x
"""
from __future__ import annotations

import re
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Optional

from kernel import (NAN, Address, Blob, Char, DecodeError, DenseRecord, Index, Keyword, List,
                    Map, Set, Signed, String, Symbol, Syntax, Vector, decode_multi)
from lisp.reader_fast import Fallback, FastParser

if TYPE_CHECKING:                   # Lark is imported when a text needs it (see _read)
    from lark import Lark, Token
    from lark.exceptions import UnexpectedToken


class ReaderError(ValueError):
    """Text that is not valid Convex Lisp; `line` and `column` are 1-based."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.message} (line {self.line}, column {self.column})"


class IncompleteInput(ReaderError):
    """The text ended before the form did: more input could complete it."""


# --- token conversions ------------------------------------------------------------------------

_MAX_INT_BYTES = 4096            # largest CVM integer, in two's complement bytes
_MAX_INT_DIGITS = 9864           # 2**32767 has 9864 digits: longer is always out of range
_INT_CHUNK = 4000                # stays under Python's int/str conversion limit

_NUMBER_BODY = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE]-?[0-9]+)?")
_SPECIAL_CHARS = {"newline": 10, "return": 13, "space": 32, "tab": 9, "formfeed": 12,
                  "backspace": 8}
_SPECIAL_LITERALS = {"##NaN": NAN, "##Inf": float("inf"), "##-Inf": float("-inf")}
_STRING_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[0-3][0-7][0-7]|[0-7][0-7]?|.)", re.S)
_SIMPLE_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'",
                   "\\": "\\"}
_VALID_ESCAPE = re.compile(r"""\\(?:[btnfr"'\\0-7]|u[0-9a-fA-F]{4})""")
_ESCAPE_PREFIX = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?")
_CAD3_PREFIX = re.compile(r"#\[[0-9a-fA-F]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_pack_float = struct.Struct(">f")


def _fail(message: str, tok: Token) -> NoReturn:
    raise ReaderError(message, tok.line, tok.column)


def _parse_int(digits: str) -> int:
    """Decimal digits (with optional '-') to int, without Python's 4300-digit limit."""
    neg = digits.startswith("-")
    body = digits[1:] if neg else digits
    n = 0
    for i in range(0, len(body), _INT_CHUNK):
        chunk = body[i:i + _INT_CHUNK]
        n = n * 10 ** len(chunk) + int(chunk)
    return -n if neg else n


def _integer(text: str, tok: Token) -> int:
    if len(text.lstrip("-").lstrip("0")) > _MAX_INT_DIGITS:
        _fail(f"integer out of range: {_clip(text)}", tok)
    n = _parse_int(text)
    if ((n + (n < 0)).bit_length() // 8 + 1) > _MAX_INT_BYTES:
        _fail(f"integer out of range: {_clip(text)}", tok)
    return n


def _double(body: str, suffix: str) -> float:
    """As Java's Double.parseDouble, which also takes a d/D (double) or f/F (float) suffix."""
    d = float(body)
    if suffix in ("f", "F"):
        try:
            d = _pack_float.unpack(_pack_float.pack(d))[0]
        except OverflowError:
            d = float("inf") if d > 0 else float("-inf")
    return d


def _number(tok: Token) -> Any:
    text = str(tok)
    body = _NUMBER_BODY.match(text).group()
    rest = text[len(body):]
    if "." in body or "e" in body or "E" in body:
        if rest in ("", "d", "D", "f", "F"):
            return _double(body, rest)
        _fail(f"bad double: {_clip(text)}", tok)
    if rest:
        _fail(f"bad number: {_clip(text)}", tok)
    return _integer(text, tok)


def _clip(s: str) -> str:
    return s if len(s) <= 20 else s[:20] + "..."


def _unescape(m: "re.Match[str]") -> str:
    e = m.group(1)
    if e[0] == "u":
        return chr(int(e[1:], 16))
    if e[0] in "01234567":
        return chr(int(e, 8))
    return _SIMPLE_ESCAPES[e]


def _java_text(s: str) -> str:
    """Text as a Java string encodes to UTF-8: surrogate pairs joined, lone surrogates '?'."""
    s = s.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "surrogatepass")
    return _SURROGATE.sub("?", s)


def _string(tok: Token) -> String:
    text = tok[1:-1]
    if "\\" in text:
        text = _STRING_ESCAPE.sub(_unescape, text)
    if _SURROGATE.search(text):
        text = _java_text(text)
    return String.of(text)


def _character(tok: Token) -> Char:
    body = tok[1:]
    if len(body) == 1:
        return Char(ord(body))
    if len(body) == 5 and body[0] == "u":
        return Char(int(body[1:], 16))
    return Char(_SPECIAL_CHARS[body])


def _named(cls: type, name: str, tok: Token) -> Any:
    try:
        return cls(name)
    except ValueError:
        _fail(f"{cls.__name__.lower()} name longer than 128 bytes: {_clip(name)}", tok)


_QUOTES = {"'": Symbol("quote"), "`": Symbol("quasiquote"), "~": Symbol("unquote"),
           "~@": Symbol("unquote-splicing")}
_LOOKUP, _RESOLVE = Symbol("lookup"), Symbol("resolve")
_NAMED_LITERALS = {"nil": None, "true": True, "false": False}
_KW = {name: Keyword(name) for name in ("tag", "public-key", "signature", "value", "id",
                                        "result", "error", "log", "info")}


# --- tagged forms and metadata --------------------------------------------------------------

def _pairs(parts: list) -> Map:
    return Map.from_pairs(zip(parts[0::2], parts[1::2]))


def _unwrap_all(form: Any) -> Any:
    """Strip syntax objects from a metadata form, through collections (as the reference),
    with an explicit stack: metadata may nest to any depth."""
    out: list = []          # finished parts, innermost last
    work: list = [form]     # forms still to strip, and (builder, part count) to apply
    while work:
        x = work.pop()
        if type(x) is tuple:
            build, n = x
            parts = out[len(out) - n:]
            del out[len(out) - n:]
            out.append(build(parts))
            continue
        if type(x) is Syntax:
            x = x.datum
        t = type(x)
        if isinstance(x, Vector):     # leaf and tree classes
            build, parts = Vector.from_seq, list(x)
        elif t is List:
            build, parts = List.from_seq, list(x)
        elif t is Set:
            build, parts = Set.from_seq, list(x)
        elif t is Map or t is Index:
            build, parts = _pairs, [e for kv in x.items() for e in kv]
        else:
            out.append(x)
            continue
        work.append((build, len(parts)))
        work.extend(reversed(parts))
    return out[0]


def _metadata(form: Any) -> Map:
    m = _unwrap_all(form)
    if type(m) is Map:
        return m
    if type(m) is Keyword:
        return Map.from_pairs([(m, True)])
    return Map.from_pairs([(_KW["tag"], m)])


def _blob_bytes(x: Any) -> "bytes | None":
    return x.data if type(x) is Blob else None


def _tag_index(m: Map, tok: Token) -> Index:
    try:
        return Index.from_pairs(m.items())
    except (ValueError, TypeError, LookupError):
        _fail("#Index keys must be blobs, strings or other blob-like values", tok)


def _tag_signed(m: Map, tok: Token) -> Signed:
    key, sig = _blob_bytes(m.get(_KW["public-key"])), _blob_bytes(m.get(_KW["signature"]))
    if key is None or sig is None or len(key) != 32 or len(sig) != 64:
        _fail("#Signed needs a 32-byte :public-key blob and a 64-byte :signature blob", tok)
    return Signed(key, sig, m.get(_KW["value"]))


def _tag_result(m: Map, tok: Token) -> DenseRecord:
    """A Result record (tag 0xdd): fields :id :result :error :log :info, ill-typed ones nil."""
    rid = m.get(_KW["id"])
    if type(rid) is not int or not -2**63 <= rid < 2**63:
        rid = None
    log = m.get(_KW["log"])
    info = m.get(_KW["info"])
    return DenseRecord(0xDD, Vector.of(rid, m.get(_KW["result"]), m.get(_KW["error"]),
                                       log if isinstance(log, Vector) else None,
                                       info if isinstance(info, (Map, Index)) else None))


_TAGS: "dict[str, Callable[[Map, Token], Any]]" = {
    "Index": _tag_index, "Signed": _tag_signed, "Result": _tag_result}


# --- the tree-less builder -----------------------------------------------------------------

class _Builder:
    """Rule callbacks for Lark: each gets the reduced children and returns the CVM value."""

    # Sequences: `items` collects the forms of a list, vector, set, map or the whole text.
    def items_empty(self, _: list) -> list:
        return []

    def items_add(self, items: list) -> list:
        forms, form = items
        forms.append(form)
        return forms

    def items_skip(self, items: list) -> list:
        return items[0]

    top_empty = items_empty
    top_add = items_add

    def start(self, items: list) -> list:
        return items[0]

    def list(self, items: list) -> List:
        return List.from_seq(items[1])

    def vector(self, items: list) -> Vector:
        return Vector.from_seq(items[1])

    def set(self, items: list) -> Set:
        return Set.from_seq(items[1])

    def map(self, items: list) -> Map:
        brace, forms = items
        if len(forms) % 2:
            _fail("a map needs an even number of forms", brace)
        it = iter(forms)
        return Map.from_pairs(zip(it, it))

    # Reader macros.
    def quoted(self, items: list) -> List:
        return List.of(_QUOTES[items[0]], items[1])

    def resolve(self, items: list) -> List:
        tok = items[0]
        return List.of(_RESOLVE, _named(Symbol, tok[1:], tok))

    def path(self, items: list) -> Any:
        target = items[0]
        if target is None:
            _fail("a path must start with an address or symbol, not nil", items[1])
        for tok in items[1:]:
            target = List.of(_LOOKUP, target, _named(Symbol, tok[1:], tok))
        return target

    def syntax(self, items: list) -> Syntax:
        meta, form = _metadata(items[1]), items[2]
        if type(form) is Syntax:
            return Syntax(form.datum, form.meta.merge(meta))
        return Syntax(form, meta)

    def tagged(self, items: list) -> Any:
        tok, form = items
        build = _TAGS.get(tok[1:])
        if build is None:
            return form
        if type(form) is not Map:
            _fail(f"{tok} must tag a map", tok)
        return build(form, tok)

    # Atoms.
    def symbol(self, items: list) -> Any:
        tok = items[0]
        if tok in _NAMED_LITERALS:
            return _NAMED_LITERALS[tok]
        return _named(Symbol, str(tok), tok)

    def intrinsic(self, items: list) -> Symbol:
        return _named(Symbol, str(items[0]), items[0])

    def keyword(self, items: list) -> Keyword:
        tok = items[0]
        return _named(Keyword, tok[1:], tok)

    def number(self, items: list) -> Any:
        return _number(items[0])

    def blob(self, items: list) -> Blob:
        tok = items[0]
        if len(tok) % 2:
            _fail(f"a blob needs an even number of hex digits: {_clip(tok)}", tok)
        return Blob(bytes.fromhex(tok[2:]))

    def string(self, items: list) -> String:
        return _string(items[0])

    def character(self, items: list) -> Char:
        return _character(items[0])

    def address(self, items: list) -> Address:
        tok = items[0]
        digits = tok[1:].lstrip("0") or "0"
        n = int(digits) if len(digits) <= 19 else 1 << 63
        if n >= 1 << 63:
            _fail(f"address out of range: {_clip(tok)}", tok)
        return Address(n)

    def special(self, items: list) -> float:
        tok = items[0]
        if tok not in _SPECIAL_LITERALS:
            _fail(f"unknown special literal: {_clip(tok)}", tok)
        return _SPECIAL_LITERALS[tok]

    def cad3(self, items: list) -> Any:
        tok = items[0]
        try:
            return decode_multi(bytes.fromhex(tok[2:-1]))
        except DecodeError as e:
            _fail(f"invalid CAD3 encoding: {e}", tok)


class _PositionedBuilder(_Builder):
    """The same values, noting positions: `first` is the first token of the form reduced
    last (children reduce before their parent, which then overrides it), `tops` the
    (line, col) of each top-level form, `lists` id(list) -> (line, col, list) (the list is
    kept so that its id can't be reused while the table lives)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.first: Any = None
        self.tops: list = []
        self.lists: dict = {}

    def top_add(self, items: list) -> list:
        tok = self.first
        self.tops.append((tok.line, tok.column))
        return _Builder.items_add(self, items)

    def list(self, items: list) -> List:
        tok = self.first = items[0]
        v = List.from_seq(items[1])
        self.lists[id(v)] = (tok.line, tok.column, v)
        return v


def _noting(name: str) -> Callable:
    build = getattr(_Builder, name)

    def note(self: _PositionedBuilder, items: list) -> Any:
        self.first = items[0]        # the form's first token: an atom, bracket, quote, ^ or tag
        return build(self, items)
    note.__name__ = name
    return note


for _name in ("vector", "set", "map", "quoted", "resolve", "syntax", "tagged", "symbol",
              "intrinsic", "keyword", "number", "blob", "string", "character", "address",
              "special", "cad3"):
    setattr(_PositionedBuilder, _name, _noting(_name))

# read next to this file: importlib.resources costs ~10 ms of start-up
_GRAMMAR = Path(__file__).with_name("convex.lark").read_text(encoding="utf-8")
_BUILDER = _Builder()
_LARK: "Lark | None" = None         # built on first use
_POSITIONED: "tuple[Lark, _PositionedBuilder] | None" = None   # built on first use
_POSITIONED_LOCK = threading.Lock()
_LARK_LOCK = threading.Lock()


def lark_parser() -> "Lark":
    """The reader's Lark parser (values built by _Builder as rules reduce), made on first
    use: valid text is read by _FAST without importing Lark."""
    global _LARK
    with _LARK_LOCK:
        if _LARK is None:
            from lark import Lark
            _LARK = Lark(_GRAMMAR, parser="lalr", lexer="basic", transformer=_BUILDER,
                         start="start", cache=True)
        return _LARK


# Lark's tables driven leanly, for text without errors (lisp/reader_fast.py)
_FAST = FastParser.load(_GRAMMAR, _BUILDER, lark_parser)


# --- errors ----------------------------------------------------------------------------------

def _end_position(text: str) -> "tuple[int, int]":
    return text.count("\n") + 1, len(text) - text.rfind("\n")


def _position(text: str, pos: int) -> "tuple[int, int]":
    return text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)


def _string_problem(text: str, pos: int) -> ReaderError:
    """Why the string starting at pos failed to lex: it never closes, or has a bad escape."""
    line, col = _position(text, pos)
    i = pos + 1
    while i < len(text):
        c = text[i]
        if c == '"':
            break
        if c == "\\":
            m = _VALID_ESCAPE.match(text, i)
            if m is None:
                if _ESCAPE_PREFIX.fullmatch(text, i):
                    return IncompleteInput("unterminated string", line, col)
                return ReaderError(f"invalid escape in string: {_clip(text[i:i + 6])}",
                                   *_position(text, i))
            i = m.end()
        else:
            i += 1
    else:
        return IncompleteInput("unterminated string", line, col)
    return ReaderError("invalid string", line, col)


def _bad_character(text: str, pos: int) -> ReaderError:
    """Explain a position where no token matches; an unclosed string or #[ is incomplete."""
    if text[pos] == '"':
        return _string_problem(text, pos)
    line, col = _position(text, pos)
    if text.startswith("#[", pos):
        if _CAD3_PREFIX.fullmatch(text, pos):
            return IncompleteInput("unterminated #[ ]", line, col)
        return ReaderError("malformed #[hex] literal: needs pairs of hex digits, then ]",
                           line, col)
    return ReaderError(f"unexpected character {text[pos]!r}", line, col)


_OPENERS = frozenset(("LPAR", "LSQB", "SET_LBR", "LBR"))


def _open_bracket(e: "UnexpectedToken") -> "Optional[Token]":
    """The innermost bracket still open when the parser stopped (from its value stack, where
    the opening tokens of unfinished forms wait), or None."""
    from lark import Token
    stack = getattr(getattr(e, "state", None), "value_stack", None) or ()
    for v in reversed(stack):
        if type(v) is Token and v.type in _OPENERS:
            return v
    return None


def _parse(text: str, parser: "Lark | None" = None) -> list:
    """Read text with Lark (the reader's own parser unless another is given), turning its
    errors into ReaderErrors with their positions."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken
    if parser is None:
        parser = lark_parser()
    try:
        return parser.parse(text)
    except UnexpectedCharacters as e:
        raise _bad_character(text, e.pos_in_stream) from None
    except UnexpectedToken as e:
        tok, opened = e.token, _open_bracket(e)
        if tok.type == "$END":
            if opened is not None:
                raise IncompleteInput(f"unclosed {str(opened)!r}", opened.line,
                                      opened.column) from None
            raise IncompleteInput("unexpected end of input", *_end_position(text)) from None
        msg = f"unexpected {_clip(str(tok))!r}"
        if tok.type in ("_RPAR", "_RSQB", "_RBR") and opened is not None:
            msg += (f": the {str(opened)!r} at line {opened.line}, column {opened.column}"
                    " is still open")
        raise ReaderError(msg, tok.line, tok.column) from None
    except UnexpectedEOF:
        raise IncompleteInput("unexpected end of input", *_end_position(text)) from None
    except RecursionError:
        raise ReaderError("forms nested too deeply", 1, 1) from None


# --- public API ------------------------------------------------------------------------------

def read_all(text: str) -> list:
    """Every form in `text`, in order (an empty list for blank text or only comments)."""
    return _read(text)


def _read(text: str) -> list:
    """What `_parse(text)` gives, by the fast driver when the text reads without error
    (lisp/reader_fast.py), else by Lark itself with the error and its position."""
    try:
        return _FAST.parse(text)
    except Fallback:
        return _parse(text)


@dataclass
class Positions:
    """Where forms start in the text `read_positioned` read: `tops[i]` is the (line, column)
    of top-level form i, `of(form)` that of a list read from the text (None for anything
    else: atoms are shared values with no identity to key on)."""
    tops: list = field(default_factory=list)
    lists: dict = field(default_factory=dict)

    def of(self, form: Any) -> "tuple[int, int] | None":
        hit = self.lists.get(id(form))
        return (hit[0], hit[1]) if hit is not None and hit[2] is form else None

    def within(self, form: Any) -> list:
        """(line, column, list) of every list inside `form` (itself included), in order."""
        out, work = [], [form]
        while work:
            x = work.pop()
            if type(x) is Syntax:
                x = x.datum
            if isinstance(x, (List, Vector, Set)):
                if type(x) is List:
                    hit = self.lists.get(id(x))
                    if hit is not None and hit[2] is x:
                        out.append(hit)
                work.extend(reversed(list(x)))
            elif isinstance(x, (Map, Index)):
                work.extend(reversed([e for kv in x.items() for e in kv]))
        return sorted(out, key=lambda h: (h[0], h[1]))


def read_positioned(text: str) -> "tuple[list, Positions]":
    """Every form in `text` as `read_all` reads it (the same values), and their `Positions`.
    A little slower than `read_all` (a few percent): use it where errors are reported
    against a file."""
    global _POSITIONED
    with _POSITIONED_LOCK:
        if _POSITIONED is None:
            b = _PositionedBuilder()
            from lark import Lark
            _POSITIONED = (Lark(_GRAMMAR, parser="lalr", lexer="basic", transformer=b,
                                start="start", cache=True), b)
        parser, b = _POSITIONED
        b.reset()
        try:
            forms = _parse(text, parser)
            return forms, Positions(b.tops, b.lists)
        finally:
            b.reset()


def read(text: str) -> Any:
    """The single form in `text`; a ReaderError if there is none or more than one."""
    forms = _read(text)
    if len(forms) != 1:
        line, col = _end_position(text) if not forms else (1, 1)
        raise ReaderError("no form to read" if not forms
                          else f"expected one form, found {len(forms)}", line, col)
    return forms[0]


__all__ = ["read", "read_all", "read_positioned", "Positions", "ReaderError", "IncompleteInput"]
