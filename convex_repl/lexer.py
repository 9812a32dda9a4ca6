"""A Pygments lexer for Convex Lisp, for the REPL's highlighting, rich output and docs.

    from convex_repl.lexer import ConvexLexer
    pygments.highlight(code, ConvexLexer(), formatter)

Registered under the alias `convex` (also `cvx`) through the `pygments.lexers` entry point.
Core function names are the registry's when the kernel is importable, else a built-in list,
so the lexer also works standalone (docs builds).
"""
from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups
from pygments.token import (Comment, Keyword, Name, Number, Operator, Punctuation, String,
                            Text, Whitespace)

__all__ = ["ConvexLexer", "SPECIAL_FORMS", "SPECIAL_SYMBOLS"]

SPECIAL_FORMS = frozenset("""
def fn let loop do cond if quote quasiquote unquote unquote-splicing query try set! lookup
defn defmacro defexpander declare define undef when when-not if-let when-let and or
recur return halt rollback tailcall reduced fail switch dotimes for for-loop doc assert call
schedule macro deftest is throws?
""".split())

SPECIAL_SYMBOLS = frozenset((
    "*juice*", "*caller*", "*address*", "*memory*", "*balance*", "*origin*", "*result*",
    "*timestamp*", "*depth*", "*offer*", "*state*", "*holdings*", "*sequence*", "*key*",
    "*juice-price*", "*scope*", "*juice-limit*", "*controller*", "*env*", "*parent*", "*nop*",
    "*memory-price*", "*signer*", "*peer*", "*location*", "*1", "*2", "*3", "*e"))

_FALLBACK_CORE = frozenset("""
+ - * / = == < > <= >= inc dec abs min max mod quot rem pow sqrt exp log floor ceil signum
count first second last next rest nth get get-in assoc assoc-in dissoc conj cons concat into
keys values vec vector list hash-map hash-set map mapv reduce filter empty empty? contains?
str name keyword symbol address blob boolean long double int char not nil? some? fn?
number? string? vector? map? set? list? keyword? symbol? address? blob? boolean? coll?
apply identity comp eval expand compile lookup-meta meta syntax unsyntax encoding hash
balance transfer deploy create-account actor? account account? set-controller set-key
""".split())

_core_names = None
_deferred = False


def defer_core_names() -> None:
    """Use the built-in list until `set_core_names` is called: for a program that imports
    the kernel in another thread (the REPL), where importing it from here could meet
    half-initialised modules."""
    global _deferred
    _deferred = True


def set_core_names(names) -> None:
    global _core_names
    _core_names = frozenset(names) | _FALLBACK_CORE


def core_names() -> frozenset:
    """Names defined in convex.core (registry plus stdlib), or a built-in list."""
    global _core_names
    if _core_names is None:
        if _deferred:
            return _FALLBACK_CORE
        try:
            from kernel.cvm.registry import CORE
            _core_names = frozenset(CORE) | _FALLBACK_CORE
        except Exception:  # standalone use without the kernel
            _core_names = _FALLBACK_CORE
    return _core_names


_SYMBOL = r"[^\s,;\"'`~@^()\[\]{}#\\][^\s,;\"()\[\]{}\\]*"


def _symbol(lexer, match):
    text = match.group(0)
    if text in ("nil", "true", "false"):
        yield match.start(), Keyword.Constant, text
    elif text in SPECIAL_FORMS:
        yield match.start(), Keyword, text
    elif text in SPECIAL_SYMBOLS:
        yield match.start(), Name.Variable.Magic, text
    elif "/" in text and len(text) > 1:
        head, _, tail = text.rpartition("/")
        if head:
            yield match.start(), Name.Namespace, head
        yield match.start() + len(head), Operator, "/"
        if tail:
            yield match.start() + len(head) + 1, Name.Function, tail
    elif text in core_names():
        yield match.start(), Name.Builtin, text
    else:
        yield match.start(), Name.Variable, text


class ConvexLexer(RegexLexer):
    name = "Convex Lisp"
    aliases = ["convex", "cvx", "convex-lisp"]
    filenames = ["*.cvx"]
    mimetypes = ["text/x-convex"]
    flags = re.MULTILINE

    tokens = {
        "root": [
            (r";.*?$", Comment.Single),
            (r"#_", Comment.Special),
            (r"[\s,]+", Whitespace),
            (r'"(\\\\|\\[^\\]|[^"\\])*"?', String),
            (r"\\(newline|return|space|tab|formfeed|backspace|u[0-9a-fA-F]{4}|.)", String.Char),
            (r"##(NaN|Inf|-Inf)", Number.Float),
            (r"#\[[0-9a-fA-F]*\]?", Number.Hex),
            (r"#[0-9]+", Name.Constant),          # addresses
            (r"0x[0-9a-fA-F]*", Number.Hex),      # blobs
            (r"-?[0-9]+\.[0-9]+([eE]-?[0-9]+)?", Number.Float),
            (r"-?[0-9]+[eE]-?[0-9]+", Number.Float),
            (r"-?[0-9]+", Number.Integer),
            (r"::?" + _SYMBOL, String.Symbol),   # keywords
            (r"(#)([A-Za-z][\w.]*)", bygroups(Punctuation, Name.Decorator)),  # #Index, #Result
            (r"#\{", Punctuation),
            (r"~@|[`'~@^]", Operator),
            (r"[()\[\]{}]", Punctuation),
            (r"#", Punctuation),
            (_SYMBOL, _symbol),
            (r".", Text),
        ],
    }
