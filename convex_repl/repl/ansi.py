"""Printing a result on a terminal without importing rich (~30 ms, a tenth of the REPL's
time to its first result) when the bytes are exactly what rich would print: a highlighted
value (rich.syntax.Syntax, theme monokai) or a dim line, of plain single-width text whose
lines fit the terminal, on a POSIX terminal configured only by TERM and COLORTERM.
Anything else (a wide or wrapped line, a redirected output, FORCE_COLOR, COLUMNS...) is
left to rich, as is everything else the REPL prints.

Each token type's SGR codes are rich's own, exported once into SGR below by
`export_sgr()` (it renders one token of every type through rich); tests/test_repl_ansi.py
checks the table against rich and compares both outputs on a corpus of values.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Optional

# SGR parameters rich prints for each pygments token type, by colour system (export_sgr()).
SGR: dict = {
    "standard": {
        "Token": "97;49",
        "Token.Comment": "37;49",
        "Token.Comment.Hashbang": "37;49",
        "Token.Comment.Multiline": "37;49",
        "Token.Comment.Preproc": "37;49",
        "Token.Comment.PreprocFile": "37;49",
        "Token.Comment.Single": "37;49",
        "Token.Comment.Special": "37;49",
        "Token.Error": "35;49",
        "Token.Escape": "97;49",
        "Token.Generic": "97;49",
        "Token.Generic.Deleted": "91;49",
        "Token.Generic.Emph": "3;97;49",
        "Token.Generic.EmphStrong": "1;3;97;49",
        "Token.Generic.Error": "91;49",
        "Token.Generic.Heading": "97;49",
        "Token.Generic.Inserted": "92;49",
        "Token.Generic.Output": "96;49",
        "Token.Generic.Prompt": "1;91;49",
        "Token.Generic.Strong": "1;97;49",
        "Token.Generic.Subheading": "37;49",
        "Token.Generic.Traceback": "96;49",
        "Token.Keyword": "96;49",
        "Token.Keyword.Constant": "96;49",
        "Token.Keyword.Declaration": "96;49",
        "Token.Keyword.Namespace": "91;49",
        "Token.Keyword.Pseudo": "96;49",
        "Token.Keyword.Reserved": "96;49",
        "Token.Keyword.Type": "96;49",
        "Token.Literal": "37;49",
        "Token.Literal.Date": "93;49",
        "Token.Literal.Number": "37;49",
        "Token.Literal.Number.Bin": "37;49",
        "Token.Literal.Number.Float": "37;49",
        "Token.Literal.Number.Hex": "37;49",
        "Token.Literal.Number.Integer": "37;49",
        "Token.Literal.Number.Integer.Long": "37;49",
        "Token.Literal.Number.Oct": "37;49",
        "Token.Literal.String": "93;49",
        "Token.Literal.String.Affix": "93;49",
        "Token.Literal.String.Backtick": "93;49",
        "Token.Literal.String.Char": "93;49",
        "Token.Literal.String.Delimiter": "93;49",
        "Token.Literal.String.Doc": "93;49",
        "Token.Literal.String.Double": "93;49",
        "Token.Literal.String.Escape": "37;49",
        "Token.Literal.String.Heredoc": "93;49",
        "Token.Literal.String.Interpol": "93;49",
        "Token.Literal.String.Other": "93;49",
        "Token.Literal.String.Regex": "93;49",
        "Token.Literal.String.Single": "93;49",
        "Token.Literal.String.Symbol": "93;49",
        "Token.Name": "97;49",
        "Token.Name.Attribute": "92;49",
        "Token.Name.Builtin": "92;49",
        "Token.Name.Builtin.Pseudo": "92;49",
        "Token.Name.Class": "92;49",
        "Token.Name.Constant": "96;49",
        "Token.Name.Decorator": "92;49",
        "Token.Name.Entity": "97;49",
        "Token.Name.Exception": "92;49",
        "Token.Name.Function": "92;49",
        "Token.Name.Function.Magic": "92;49",
        "Token.Name.Label": "97;49",
        "Token.Name.Namespace": "97;49",
        "Token.Name.Other": "92;49",
        "Token.Name.Property": "97;49",
        "Token.Name.Tag": "91;49",
        "Token.Name.Variable": "97;49",
        "Token.Name.Variable.Class": "97;49",
        "Token.Name.Variable.Global": "97;49",
        "Token.Name.Variable.Instance": "97;49",
        "Token.Name.Variable.Magic": "97;49",
        "Token.Operator": "91;49",
        "Token.Operator.Word": "91;49",
        "Token.Other": "97;49",
        "Token.Punctuation": "97;49",
        "Token.Punctuation.Marker": "97;49",
        "Token.Text": "97;49",
        "Token.Text.Whitespace": "97;49",
    },
    "256": {
        "Token": "38;5;231;49",
        "Token.Comment": "38;5;244;49",
        "Token.Comment.Hashbang": "38;5;244;49",
        "Token.Comment.Multiline": "38;5;244;49",
        "Token.Comment.Preproc": "38;5;244;49",
        "Token.Comment.PreprocFile": "38;5;244;49",
        "Token.Comment.Single": "38;5;244;49",
        "Token.Comment.Special": "38;5;244;49",
        "Token.Error": "38;5;198;49",
        "Token.Escape": "38;5;231;49",
        "Token.Generic": "38;5;231;49",
        "Token.Generic.Deleted": "38;5;204;49",
        "Token.Generic.Emph": "3;38;5;231;49",
        "Token.Generic.EmphStrong": "1;3;38;5;231;49",
        "Token.Generic.Error": "38;5;204;49",
        "Token.Generic.Heading": "38;5;231;49",
        "Token.Generic.Inserted": "38;5;148;49",
        "Token.Generic.Output": "38;5;81;49",
        "Token.Generic.Prompt": "1;38;5;204;49",
        "Token.Generic.Strong": "1;38;5;231;49",
        "Token.Generic.Subheading": "38;5;244;49",
        "Token.Generic.Traceback": "38;5;81;49",
        "Token.Keyword": "38;5;81;49",
        "Token.Keyword.Constant": "38;5;81;49",
        "Token.Keyword.Declaration": "38;5;81;49",
        "Token.Keyword.Namespace": "38;5;204;49",
        "Token.Keyword.Pseudo": "38;5;81;49",
        "Token.Keyword.Reserved": "38;5;81;49",
        "Token.Keyword.Type": "38;5;81;49",
        "Token.Literal": "38;5;141;49",
        "Token.Literal.Date": "38;5;186;49",
        "Token.Literal.Number": "38;5;141;49",
        "Token.Literal.Number.Bin": "38;5;141;49",
        "Token.Literal.Number.Float": "38;5;141;49",
        "Token.Literal.Number.Hex": "38;5;141;49",
        "Token.Literal.Number.Integer": "38;5;141;49",
        "Token.Literal.Number.Integer.Long": "38;5;141;49",
        "Token.Literal.Number.Oct": "38;5;141;49",
        "Token.Literal.String": "38;5;186;49",
        "Token.Literal.String.Affix": "38;5;186;49",
        "Token.Literal.String.Backtick": "38;5;186;49",
        "Token.Literal.String.Char": "38;5;186;49",
        "Token.Literal.String.Delimiter": "38;5;186;49",
        "Token.Literal.String.Doc": "38;5;186;49",
        "Token.Literal.String.Double": "38;5;186;49",
        "Token.Literal.String.Escape": "38;5;141;49",
        "Token.Literal.String.Heredoc": "38;5;186;49",
        "Token.Literal.String.Interpol": "38;5;186;49",
        "Token.Literal.String.Other": "38;5;186;49",
        "Token.Literal.String.Regex": "38;5;186;49",
        "Token.Literal.String.Single": "38;5;186;49",
        "Token.Literal.String.Symbol": "38;5;186;49",
        "Token.Name": "38;5;231;49",
        "Token.Name.Attribute": "38;5;148;49",
        "Token.Name.Builtin": "38;5;148;49",
        "Token.Name.Builtin.Pseudo": "38;5;148;49",
        "Token.Name.Class": "38;5;148;49",
        "Token.Name.Constant": "38;5;81;49",
        "Token.Name.Decorator": "38;5;148;49",
        "Token.Name.Entity": "38;5;231;49",
        "Token.Name.Exception": "38;5;148;49",
        "Token.Name.Function": "38;5;148;49",
        "Token.Name.Function.Magic": "38;5;148;49",
        "Token.Name.Label": "38;5;231;49",
        "Token.Name.Namespace": "38;5;231;49",
        "Token.Name.Other": "38;5;148;49",
        "Token.Name.Property": "38;5;231;49",
        "Token.Name.Tag": "38;5;204;49",
        "Token.Name.Variable": "38;5;231;49",
        "Token.Name.Variable.Class": "38;5;231;49",
        "Token.Name.Variable.Global": "38;5;231;49",
        "Token.Name.Variable.Instance": "38;5;231;49",
        "Token.Name.Variable.Magic": "38;5;231;49",
        "Token.Operator": "38;5;204;49",
        "Token.Operator.Word": "38;5;204;49",
        "Token.Other": "38;5;231;49",
        "Token.Punctuation": "38;5;231;49",
        "Token.Punctuation.Marker": "38;5;231;49",
        "Token.Text": "38;5;231;49",
        "Token.Text.Whitespace": "38;5;231;49",
    },
    "truecolor": {
        "Token": "38;2;248;248;242;49",
        "Token.Comment": "38;2;149;144;119;49",
        "Token.Comment.Hashbang": "38;2;149;144;119;49",
        "Token.Comment.Multiline": "38;2;149;144;119;49",
        "Token.Comment.Preproc": "38;2;149;144;119;49",
        "Token.Comment.PreprocFile": "38;2;149;144;119;49",
        "Token.Comment.Single": "38;2;149;144;119;49",
        "Token.Comment.Special": "38;2;149;144;119;49",
        "Token.Error": "38;2;237;0;126;49",
        "Token.Escape": "38;2;248;248;242;49",
        "Token.Generic": "38;2;248;248;242;49",
        "Token.Generic.Deleted": "38;2;255;70;137;49",
        "Token.Generic.Emph": "3;38;2;248;248;242;49",
        "Token.Generic.EmphStrong": "1;3;38;2;248;248;242;49",
        "Token.Generic.Error": "38;2;255;70;137;49",
        "Token.Generic.Heading": "38;2;248;248;242;49",
        "Token.Generic.Inserted": "38;2;166;226;46;49",
        "Token.Generic.Output": "38;2;102;217;239;49",
        "Token.Generic.Prompt": "1;38;2;255;70;137;49",
        "Token.Generic.Strong": "1;38;2;248;248;242;49",
        "Token.Generic.Subheading": "38;2;149;144;119;49",
        "Token.Generic.Traceback": "38;2;102;217;239;49",
        "Token.Keyword": "38;2;102;217;239;49",
        "Token.Keyword.Constant": "38;2;102;217;239;49",
        "Token.Keyword.Declaration": "38;2;102;217;239;49",
        "Token.Keyword.Namespace": "38;2;255;70;137;49",
        "Token.Keyword.Pseudo": "38;2;102;217;239;49",
        "Token.Keyword.Reserved": "38;2;102;217;239;49",
        "Token.Keyword.Type": "38;2;102;217;239;49",
        "Token.Literal": "38;2;174;129;255;49",
        "Token.Literal.Date": "38;2;230;219;116;49",
        "Token.Literal.Number": "38;2;174;129;255;49",
        "Token.Literal.Number.Bin": "38;2;174;129;255;49",
        "Token.Literal.Number.Float": "38;2;174;129;255;49",
        "Token.Literal.Number.Hex": "38;2;174;129;255;49",
        "Token.Literal.Number.Integer": "38;2;174;129;255;49",
        "Token.Literal.Number.Integer.Long": "38;2;174;129;255;49",
        "Token.Literal.Number.Oct": "38;2;174;129;255;49",
        "Token.Literal.String": "38;2;230;219;116;49",
        "Token.Literal.String.Affix": "38;2;230;219;116;49",
        "Token.Literal.String.Backtick": "38;2;230;219;116;49",
        "Token.Literal.String.Char": "38;2;230;219;116;49",
        "Token.Literal.String.Delimiter": "38;2;230;219;116;49",
        "Token.Literal.String.Doc": "38;2;230;219;116;49",
        "Token.Literal.String.Double": "38;2;230;219;116;49",
        "Token.Literal.String.Escape": "38;2;174;129;255;49",
        "Token.Literal.String.Heredoc": "38;2;230;219;116;49",
        "Token.Literal.String.Interpol": "38;2;230;219;116;49",
        "Token.Literal.String.Other": "38;2;230;219;116;49",
        "Token.Literal.String.Regex": "38;2;230;219;116;49",
        "Token.Literal.String.Single": "38;2;230;219;116;49",
        "Token.Literal.String.Symbol": "38;2;230;219;116;49",
        "Token.Name": "38;2;248;248;242;49",
        "Token.Name.Attribute": "38;2;166;226;46;49",
        "Token.Name.Builtin": "38;2;166;226;46;49",
        "Token.Name.Builtin.Pseudo": "38;2;166;226;46;49",
        "Token.Name.Class": "38;2;166;226;46;49",
        "Token.Name.Constant": "38;2;102;217;239;49",
        "Token.Name.Decorator": "38;2;166;226;46;49",
        "Token.Name.Entity": "38;2;248;248;242;49",
        "Token.Name.Exception": "38;2;166;226;46;49",
        "Token.Name.Function": "38;2;166;226;46;49",
        "Token.Name.Function.Magic": "38;2;166;226;46;49",
        "Token.Name.Label": "38;2;248;248;242;49",
        "Token.Name.Namespace": "38;2;248;248;242;49",
        "Token.Name.Other": "38;2;166;226;46;49",
        "Token.Name.Property": "38;2;248;248;242;49",
        "Token.Name.Tag": "38;2;255;70;137;49",
        "Token.Name.Variable": "38;2;248;248;242;49",
        "Token.Name.Variable.Class": "38;2;248;248;242;49",
        "Token.Name.Variable.Global": "38;2;248;248;242;49",
        "Token.Name.Variable.Instance": "38;2;248;248;242;49",
        "Token.Name.Variable.Magic": "38;2;248;248;242;49",
        "Token.Operator": "38;2;255;70;137;49",
        "Token.Operator.Word": "38;2;255;70;137;49",
        "Token.Other": "38;2;248;248;242;49",
        "Token.Punctuation": "38;2;248;248;242;49",
        "Token.Punctuation.Marker": "38;2;248;248;242;49",
        "Token.Text": "38;2;248;248;242;49",
        "Token.Text.Whitespace": "38;2;248;248;242;49",
    },
}

_ENV_LEFT_TO_RICH = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES",
                     "JUPYTER_COLUMNS", "JUPYTER_LINES")
_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F)) | frozenset("·µ…")


class Terminal:
    """Where rich's Console would write and how: colour system and width, as it detects
    them (rich.console.Console.is_terminal, _detect_color_system, size)."""

    def __init__(self, color_system: str, width: Optional[int], color: bool, file: Any):
        self.color_system = color_system
        self._width = width          # None: the terminal's, read at each use (it may resize)
        self.color = color
        self.file = file

    @property
    def width(self) -> int:
        if self._width is not None:
            return self._width
        for fd in (0, 1, 2):
            try:
                return os.get_terminal_size(fd)[0] or 80
            except (AttributeError, ValueError, OSError):
                continue
        return 80

    @staticmethod
    def detect(color: bool, environ: Any = None, file: Any = None) -> "Optional[Terminal]":
        """The terminal rich would find, or None when rich must do the printing."""
        environ = os.environ if environ is None else environ
        file = sys.stdout if file is None else file
        if sys.platform == "win32" or any(k in environ for k in _ENV_LEFT_TO_RICH):
            return None
        if getattr(sys.stdin, "__module__", "").startswith("idlelib"):
            return None
        try:
            if not file.isatty():
                return None
        except (AttributeError, ValueError):
            return None
        term = environ.get("TERM", "").strip().lower()
        if term in ("dumb", "unknown"):
            return None
        if environ.get("COLORTERM", "").strip().lower() in ("truecolor", "24bit"):
            system = "truecolor"
        else:
            colors = term.rpartition("-")[2]
            system = "256" if colors in ("256color", "kitty") else "standard"
        return Terminal(system, None, color, file)

    def _fits(self, text: str) -> bool:
        width = self.width
        return all(0 < len(line) < width and _PLAIN.issuperset(line)
                   for line in text.split("\n"))

    def code(self, text: str, lexer: Any) -> bool:
        """Print highlighted code as rich.syntax.Syntax would; False if rich must."""
        if not self._fits(text):
            return False
        codes = SGR.get(self.color_system, {})
        out = []
        if self.color:
            for ttype, tok in lexer.get_tokens(text):
                sgr = codes.get(str(ttype))
                if sgr is None:
                    return False
                parts = tok.split("\n")
                for i, part in enumerate(parts):
                    if i:
                        out.append("\n")
                    if part:
                        out.append(f"\x1b[{sgr}m{part}\x1b[0m")
            while out and out[-1] == "\n":      # pygments ends the text with a newline
                out.pop()
        else:
            out.append(text)
        self.file.write("".join(out) + "\n")
        self.file.flush()
        return True

    def dim(self, text: str) -> bool:
        """Print a dim line as rich's Console.print(style="dim") would, wrapped at words as
        rich wraps it; False if rich must."""
        if not text or "\n" in text or not _PLAIN.issuperset(text):
            return False
        lines = _wrap(text, self.width)
        if lines is None:
            return False
        self.file.write("".join(f"\x1b[2m{line}\x1b[0m\n" for line in lines))
        self.file.flush()
        return True


def _wrap(text: str, width: int) -> Optional[list]:
    """Single-width text broken into lines as rich breaks it (rich._wrap.divide_line, then
    Text.rstrip_end): at word starts, a word keeping its trailing spaces while they fit.
    None for a word longer than the width (rich folds it)."""
    import re
    lines, line, offset = [], "", 0
    for word in re.findall(r"\s*\S+\s*", text):
        size = len(word.rstrip())
        if width - offset >= size:
            line += word
            offset += len(word)
        elif size > width:
            return None
        elif offset and line:
            lines.append(line)
            line, offset = word, len(word)
    lines.append(line)
    out = []
    for line in lines:
        excess = len(line) - width
        if excess > 0:
            spaces = len(line) - len(line.rstrip())
            line = line[:len(line) - min(spaces, excess)]
        out.append(line)
    return out


def export_sgr() -> dict:
    """SGR's table, made by rich: one token of every standard pygments type rendered through
    rich.syntax.Syntax on a Console of each colour system, each in a process of its own
    (rich keeps a style's codes for the first colour system it was printed with)."""
    import json
    import subprocess
    table = {}
    for system in SGR:
        out = subprocess.run([sys.executable, "-c", "import json, convex_repl.repl.ansi as a; "
                              f"print(json.dumps(a._export_one({system!r})))"],
                             capture_output=True, text=True, check=True).stdout
        table[system] = json.loads(out)
    return table


def _export_one(system: str) -> dict:
    import io
    import re

    from pygments.lexer import Lexer
    from pygments.token import STANDARD_TYPES
    from rich.console import Console
    from rich.syntax import Syntax

    types = sorted(STANDARD_TYPES, key=str)

    class EachType(Lexer):
        def get_tokens_unprocessed(self, text):
            for i, t in enumerate(types):
                yield 2 * i, t, "x"
                yield 2 * i + 1, types[0], " "

    buf = io.StringIO()
    Console(file=buf, force_terminal=True, color_system=system, width=100_000,
            highlight=False, soft_wrap=False).print(
        Syntax("x " * len(types), EachType(), theme="monokai", background_color="default",
               word_wrap=True))
    found = re.findall(r"\x1b\[([0-9;]*)mx\x1b\[0m", buf.getvalue())
    if len(found) != len(types):
        raise RuntimeError("rich's output has changed shape")
    return {str(t): sgr for t, sgr in zip(types, found)}


__all__ = ["Terminal", "SGR", "export_sgr"]
