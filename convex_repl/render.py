"""How results look: pretty-printed Convex values, the cost badge, errors with hints.

Text-producing functions here are plain (testable without a terminal); `Printer` puts them
on a rich Console with Convex Lisp syntax colouring.
"""
from __future__ import annotations

from typing import Any, Optional

MAX_LINES = 40          # longer results are cut; :more shows all
MAX_LINE_CHARS = 2000
MAX_BREAK_DEPTH = 32    # collections nested deeper are printed flat (no recursion, no rework)


def _kind(v: Any):
    """(open, close, items, is_map) for a breakable collection, else None."""
    from kernel.hashmaps import Map, Set
    from kernel.index import Index
    from kernel.vectors import List, Vector

    if isinstance(v, Map):
        return "{", "}", list(v.items()), True
    if isinstance(v, Index):
        return "#Index {", "}", list(v.items()), True
    if isinstance(v, List):
        return "(", ")", list(v), False
    if isinstance(v, Vector):
        return "[", "]", list(v), False
    if isinstance(v, Set):
        return "#{", "}", list(v), False
    return None


def pformat(v: Any, width: int = 80, indent: int = 0, depth: int = 0) -> str:
    """Printed text of a value, broken over lines (as readable Convex Lisp) when too wide."""
    from lisp import print_value

    flat = print_value(v)
    if indent + len(flat) <= width or depth >= MAX_BREAK_DEPTH:
        return flat
    k = _kind(v)
    if k is None or not k[2]:
        return flat
    open_, close, items, is_map = k
    inner = indent + len(open_)
    pad = " " * inner
    lines = []
    if is_map:
        for i, (key, val) in enumerate(items):
            ktext = pformat(key, width, inner, depth + 1)
            vtext = pformat(val, width, inner + len(ktext) + 1, depth + 1)
            if "\n" in ktext or inner + len(ktext) + 1 + len(vtext.split("\n", 1)[0]) > width \
                    and _kind(val) is not None:
                vtext = pformat(val, width, inner + 1, depth + 1)
                entry = ktext + "\n" + " " * (inner + 1) + vtext
            else:
                entry = ktext + " " + vtext
            lines.append(entry + ("," if i < len(items) - 1 else ""))
    else:
        for x in items:
            lines.append(pformat(x, width, inner, depth + 1))
    return open_ + ("\n" + pad).join(lines) + close


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

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console
            self._console = Console(highlight=False, soft_wrap=False, no_color=not self.color)
        return self._console

    @property
    def width(self) -> int:
        return max(20, self.console.width - 2)

    def code(self, text: str) -> None:
        from rich.syntax import Syntax
        from .lexer import ConvexLexer
        if self._lexer is None:
            self._lexer = ConvexLexer()
        self.console.print(Syntax(text, self._lexer, theme="monokai",
                                  background_color="default", word_wrap=True))

    def value(self, v: Any, full: bool = False) -> bool:
        """Print a value; True if it was cut short."""
        text = pformat(v, self.width)
        if not full:
            text, cut = truncate(text)
        else:
            cut = 0
        self.code(text)
        if cut:
            self.dim(f"… {cut} more line{'s' if cut != 1 else ''}: :more shows all")
        return bool(cut)

    def dim(self, text: str) -> None:
        self.console.print(text, style="dim", markup=False, highlight=False)

    def info(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)

    def warn(self, text: str) -> None:
        self.console.print(text, style="yellow", markup=False, highlight=False)

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
