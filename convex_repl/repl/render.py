"""How results look: pretty-printed Convex values, the cost badge, errors with hints.

Text-producing functions here are plain (testable without a terminal); `Printer` puts them
on a rich Console with Convex Lisp syntax colouring.
"""
from __future__ import annotations

from typing import Any, Optional

MAX_LINES = 40          # longer results are cut; :more shows all
MAX_LINE_CHARS = 2000
MAX_BREAK_DEPTH = 32    # collections nested deeper are printed flat (no recursion, no rework)
# Characters of a result's text made for showing it: a value that shares its parts can print
# to text exponentially longer than itself, so the text is made only this far.
SHOWN_CHARS = MAX_LINES * MAX_LINE_CHARS     # shown cut to MAX_LINES lines anyway
MORE_CHARS = 1_000_000                        # :more
COLOUR_CHARS = 20_000   # longer texts are shown without syntax colouring (it would take seconds)


def _kind(v: Any):
    """(open, close, items, is_map) for a breakable collection, else None. Items are taken
    lazily (map entries as (key, value) pairs): only those shown are made."""
    from kernel.data.hashmaps import Map, Set
    from kernel.data.index import Index
    from kernel.data.vectors import List, Vector

    if isinstance(v, Map):
        return "{", "}", _pairs(v), True
    if isinstance(v, Index):
        return "#Index {", "}", _pairs(v), True
    if isinstance(v, List):
        return "(", ")", map(v.__getitem__, range(len(v))), False
    if isinstance(v, Vector):
        return "[", "]", iter(v), False
    if isinstance(v, Set):
        return "#{", "}", iter(v), False
    return None


def _pairs(m: Any):
    entries = getattr(m, "iter_entries", None)
    if entries is not None:
        return ((e[1], e[2]) for e in entries())
    return iter(m.items())


def pformat(v: Any, width: int = 80, indent: int = 0, depth: int = 0,
            limit: int = MORE_CHARS) -> str:
    """Printed text of a value, broken over lines (as readable Convex Lisp) when too wide.
    At most about `limit` characters are made: a longer text is cut, with " ..." after it."""
    text, more = pformat_cut(v, width, indent, depth, limit)
    return text + " ..." if more else text


def pformat_cut(v: Any, width: int = 80, indent: int = 0, depth: int = 0,
                limit: int = MORE_CHARS) -> tuple:
    """(pformat's text, True if it was cut at about `limit` characters). The work follows
    what is shown: each part is printed at most `width` characters far to see if it fits
    on its line, and nothing is printed past the limit."""
    from kernel.data.cell import MissingData
    from kernel.data.printer import print_head

    flat, more = print_head(v, min(limit, max(width - indent, 0)))
    if not more:
        return flat, False
    k = _kind(v) if depth < MAX_BREAK_DEPTH else None
    if k is None or len(v) == 0:
        return print_head(v, limit)
    try:
        return _broken(v, k, width, indent, depth, limit)
    except MissingData:         # parts known only by hash: printed flat, as their encoding
        return print_head(v, limit)


def _broken(v: Any, k: tuple, width: int, indent: int, depth: int, limit: int) -> tuple:
    """pformat_cut of a collection too wide for its line: one element (or entry) a line."""
    open_, close, items, is_map = k
    inner = indent + len(open_)
    pad = " " * inner
    sep = "\n" + pad
    used = len(open_)
    lines: list = []
    n = len(v)
    for i, item in enumerate(items):
        room = limit - used
        if room <= 0:
            return open_ + sep.join(lines), True
        if is_map:
            key, val = item
            ktext, cut = pformat_cut(key, width, inner, depth + 1, room)
            if not cut:
                r2 = room - len(ktext) - 1
                vtext, cut = pformat_cut(val, width, inner + len(ktext) + 1, depth + 1, r2)
                if not cut and ("\n" in ktext or inner + len(ktext) + 1
                                + len(vtext.split("\n", 1)[0]) > width
                                and _kind(val) is not None):
                    vtext, cut = pformat_cut(val, width, inner + 1, depth + 1, r2)
                    entry = ktext + "\n" + " " * (inner + 1) + vtext
                else:
                    entry = ktext + " " + vtext
            else:
                entry = ktext
        else:
            entry, cut = pformat_cut(item, width, inner, depth + 1, room)
        if is_map and i < n - 1 and not cut:
            entry += ","
        lines.append(entry)
        used += len(entry) + len(sep)
        if cut:
            return open_ + sep.join(lines), True
    return open_ + sep.join(lines) + close, False


def truncate(text: str, max_lines: int = MAX_LINES) -> tuple:
    """(text to show, number of lines left out)."""
    lines = text.split("\n")
    cut = 0
    if len(lines) > max_lines:
        cut = len(lines) - max_lines
        lines = lines[:max_lines]
    lines = [ln if len(ln) <= MAX_LINE_CHARS else ln[:MAX_LINE_CHARS] + " …" for ln in lines]
    out = "\n".join(lines)
    if not cut and len(out) < len(text):
        cut = 1
    return out, cut


def too_large_note(limit: int, full: bool) -> str:
    """The line after a value whose text is longer than the `limit` characters made of it."""
    more = "" if full else f"; :more shows up to {MORE_CHARS:,}"
    return (f"… value too large to print: only its first {limit:,} characters are made"
            f"{more}; (count ...) or a part of it (first, nth, get) shows what it holds")


def _fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def _fmt_int(n: int) -> str:
    return f"{n:,}"


def badge(r: Any) -> str:
    """One line: juice used, fee in coins, memory delta (if known), elapsed time."""
    parts = [f"juice {_fmt_int(r.juice)}", f"fee {_fmt_int(r.fee)} coins"]
    if getattr(r, "memory", None) is not None:
        parts.append(f"memory {r.memory:+,} bytes")
    parts.append(_fmt_time(r.elapsed))
    return " · ".join(parts)


def failing_function(r: Any) -> tuple:
    """(name, address or None) of the function whose call failed: from the result when the
    evaluation knows it, else the head of the innermost traced expression."""
    name = getattr(r, "error_fn", None)
    if name:
        return name, getattr(r, "error_fn_address", None)
    for t in getattr(r, "trace", None) or []:
        prefix = "In expression: ("
        if not t.startswith(prefix):
            continue
        head = t[len(prefix):].split(" ", 1)[0].rstrip(")")
        if "/" in head and len(head) > 1:
            a, _, sym = head.rpartition("/")
            if a.startswith("#") and a[1:].isdigit():
                return sym, int(a[1:])
            return None, None
        return (head, None) if head else (None, None)
    return None, None


def error_hint(session: Any, r: Any) -> Optional[str]:
    """The failing function's documented reason for this error code, if any."""
    name, addr = failing_function(r)
    if not name or not r.error:
        return None
    try:
        d = session.doc(name, addr)
    except Exception:
        return None
    if not d:
        return None
    why = (d.get("errors") or {}).get(r.error)
    if why:
        return f"{name}: :{r.error} {why}"
    return None


def error_lines(session: Any, r: Any) -> list:
    """Lines describing an error: code and message, the CVM trace, then a hint."""
    out = [f"Error :{r.error}" + (f"  {r.message}" if r.message else "")]
    for t in r.trace[:12]:
        out.append("  " + t)
    if len(r.trace) > 12:
        out.append(f"  … {len(r.trace) - 12} more trace lines")
    hint = error_hint(session, r)
    if hint:
        out.append("hint: " + hint)
    return out


def first_line(text: Optional[str]) -> str:
    if not text:
        return ""
    line = text.strip().split("\n", 1)[0]
    for end in (". ", ": "):
        i = line.find(end)
        if 0 < i < 100:
            return line[:i + 1]
    return line if len(line) <= 100 else line[:99] + "…"


class Printer:
    """Output to a terminal through rich, with Convex Lisp syntax colouring."""

    def __init__(self, console: Any = None, color: bool = True):
        self._console = console          # created on first use: rich costs ~50 ms to import
        self.color = color
        self._lexer = None
        # Without a console of its own: values and dim lines rich would print byte for byte
        # as ansi.Terminal does are printed that way (no rich import for a first result).
        self._term: Any = None if console is None else False

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console
            self._console = Console(highlight=False, soft_wrap=False, no_color=not self.color)
        return self._console

    @property
    def terminal(self) -> Any:
        """The ansi.Terminal rich's Console would write to, or None (rich does it all)."""
        if self._term is None:
            from convex_repl.repl.ansi import Terminal
            self._term = Terminal.detect(self.color) or False
        return self._term or None

    @property
    def width(self) -> int:
        term = self.terminal
        return max(20, (term.width if term is not None else self.console.width) - 2)

    def code(self, text: str) -> None:
        if len(text) > COLOUR_CHARS:    # colouring takes ~13 µs a character: shown plain
            self.info(text)
            return
        term = self.terminal
        if term is not None and term.code(text, self.lexer if self.color else None):
            return
        from rich.syntax import Syntax
        self.console.print(Syntax(text, self.lexer, theme="monokai",
                                  background_color="default", word_wrap=True))

    @property
    def lexer(self) -> Any:
        """The Convex Lisp lexer, made when colouring first needs it (~7 ms: pygments)."""
        if self._lexer is None:
            from convex_repl.lexer import ConvexLexer
            self._lexer = ConvexLexer()
        return self._lexer

    def value(self, v: Any, full: bool = False) -> bool:
        """Print a value; True if it was cut short. Only what is shown is made: the first
        SHOWN_CHARS characters of its text, MORE_CHARS with `full` (:more)."""
        limit = MORE_CHARS if full else SHOWN_CHARS
        text, more = pformat_cut(v, self.width, limit=limit)
        cut = 0
        if not full:
            text, cut = truncate(text)
        self.code(text)
        if more:
            self.dim(too_large_note(limit, full))
        elif cut:
            self.dim(f"… {cut} more line{'s' if cut != 1 else ''}: :more shows all")
        return bool(cut or more)

    def dim(self, text: str) -> None:
        term = self.terminal
        if term is not None and term.dim(text):
            return
        self.console.print(text, style="dim", markup=False, highlight=False)

    def rich(self, renderable: Any) -> None:
        """A rich renderable with styles of its own (the trees of :trace and :explain)."""
        self.console.print(renderable, highlight=False)

    def info(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def warn(self, text: str) -> None:
        self.console.print(text, style="yellow", markup=False, highlight=False)

    def located(self, line: str, shown: str = "") -> None:
        """A `file:line:col: ...` line, never wrapped (it stays one line to copy), and the
        source excerpt with its caret."""
        self.console.print(line, style="yellow", markup=False, highlight=False,
                           soft_wrap=True)
        if shown:
            self.console.print(shown, style="dim", markup=False, highlight=False,
                               soft_wrap=True)

    def badge(self, r: Any) -> None:
        self.dim(badge(r))

    def error(self, session: Any, r: Any) -> None:
        lines = error_lines(session, r)
        self.console.print(lines[0], style="bold red", markup=False, highlight=False)
        for ln in lines[1:]:
            if ln.startswith("hint: "):
                self.console.print(ln, style="cyan", markup=False, highlight=False)
            else:
                self.dim(ln)
