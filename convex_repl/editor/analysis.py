"""What an editor is told about a Convex Lisp file: diagnostics with exact ranges, the juice
of each top-level form, and the session the file leaves behind (for completion and hover).

The file is read (a ReaderError is one diagnostic where the reader puts it: an unclosed
bracket at its opening; the forms before the top-level form that does not read are still
analysed, so completion and hover work while a form is being typed), then run form by form in a fresh local session, as `convex run`
would: each form is compiled (a compile error is a diagnostic on the form), expanded, and
evaluated (its juice, or the error it raises, is the form's hint; runtime errors are not
diagnostics: they depend on the state the file meets). Running it is what lets a macro the
file defines expand the forms after it, and `(import lib :as alias)` make `alias/` names
known. The expanded code holds only special forms and calls, so the checks walk it with the
compiler's own scoping: a symbol bound nowhere (not local, not defined by the file, not
visible from the account) is an unknown symbol, and a call of a core function with a number
of arguments none of its documented signatures take is an arity error.

A file that reads `args` starts with `(def args [])`, as `convex deploy` runs an actor's
file (with no `--arg`). Evaluation is deterministic, so the state after each form is cached by the text of the forms
up to it: editing one form re-runs only it and those after.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from convex_repl.editor.tokens import Node, definitions, parse, top_level_start

_ARGS = re.compile(r"(?<![\w*+!?<>=/.#&%$-])args(?![\w*+!?<>=/.#&%$'-])")
JUICE_LIMIT = 5_000_000          # per form: an endless loop in the file stops here
_CACHE_SIZE = 4000
ERROR, WARNING = 1, 2            # LSP severities
_GUARDED = "\0try"               # among the locals: inside a try
_SPECIAL_FORMS = ("do", "let", "cond", "def", "fn", "quote", "quasiquote", "unquote", "query",
                  "loop", "set!", "lookup", "try")


@dataclass
class Diagnostic:
    start: int               # offsets in the text
    end: int
    message: str
    severity: int = ERROR
    code: str = ""


@dataclass
class FormResult:
    node: Node
    juice: int = 0
    error: Optional[str] = None          # runtime error code, as a hint
    message: Optional[str] = None
    diagnostics: list = field(default_factory=list)
    expanded: Any = None
    defined: set = field(default_factory=set)   # names its expansion defines


@dataclass
class Analysis:
    text: str
    nodes: list = field(default_factory=list)
    comments: list = field(default_factory=list)
    diagnostics: list = field(default_factory=list)
    forms: list = field(default_factory=list)
    session: Any = None                  # the session after running the file
    read_error: Any = None
    file_names: set = field(default_factory=set)

    def definitions(self) -> list:
        return definitions(self.nodes)


def is_test_file(name: str) -> bool:
    base = Path(name).name
    return base.endswith(".cvx") and (base.startswith("test_") or base.endswith("_test.cvx")
                                      or base.endswith(".test.cvx"))


class Analyzer:
    """Analyses texts, keeping the states forms lead to (shared by every document)."""

    def __init__(self, juice_limit: int = JUICE_LIMIT):
        self.juice_limit = juice_limit
        self._bases: dict = {}
        self._cache: dict = {}

    def _base(self, test: bool, deployed: bool = False) -> Any:
        """The session a file starts in: genesis; with the test library for a test file;
        with `args` defined as `convex deploy` defines it (no --arg: []) for a file that
        reads `args`."""
        s = self._bases.get((test, deployed))
        if s is None:
            if test:
                from convex_repl.testing.runner import base_session
                s = base_session()
            else:
                from convex_repl.api import Session
                s = Session()
            if deployed:
                s.eval("(def args [])")
            s.juice_limit = self.juice_limit
            self._bases[(test, deployed)] = s
        return s

    def base_session(self, name: str = "file.cvx", text: str = "") -> Any:
        """A fresh session as a file starts in."""
        return self._base(is_test_file(name), _reads_args(text)).fork()

    def analyse(self, text: str, name: str = "file.cvx") -> Analysis:
        from lisp import ReaderError
        a = Analysis(text)
        try:
            a.nodes, a.comments = parse(text)
        except ReaderError as e:
            a.read_error = e
            start = offset_of(text, e.line, e.column)
            syntax = Diagnostic(start, min(start + 1, len(text)) if text else 0, e.message,
                                ERROR, "SYNTAX")
            cut = top_level_start(text, start)
            if 0 < cut < len(text):     # the forms before the one that doesn't read
                before = self.analyse(text[:cut], name)
                if before.read_error is None:
                    before.text, before.read_error = text, e
                    before.diagnostics.append(syntax)
                    return before
            a.diagnostics.append(syntax)
            a.session = self.base_session(name, text)
            return a
        from lisp import read_all
        forms = read_all(text)
        nodes = [n for n in a.nodes if not _discarded(n)]
        session = self.base_session(name, text)
        key: Any = (is_test_file(name), _reads_args(text))
        for form, node in zip(forms, nodes):
            key = (hash(key), text[node.start:node.end])
            hit = self._cache.get(key)
            if hit is None:
                fr = self._run(session, form, node)
                hit = (session.state, fr)
                self._remember(key, hit)
            else:
                session.state = hit[0]
                fr = _relocated(hit[1], node)
            a.forms.append(fr)
        a.session = session
        a.file_names = {d[0] for d in definitions(a.nodes)}
        for fr in a.forms:
            a.file_names |= fr.defined
        for fr in a.forms:
            a.diagnostics.extend(fr.diagnostics)
            if fr.expanded is not None:
                a.diagnostics.extend(_checks(a, fr, session))
        a.diagnostics.sort(key=lambda d: (d.start, d.end))
        return a

    def _remember(self, key: Any, value: Any) -> None:
        self._cache[key] = value
        if len(self._cache) > _CACHE_SIZE:
            del self._cache[next(iter(self._cache))]

    def _run(self, session: Any, form: Any, node: Node) -> FormResult:
        from kernel.data.scalars import Symbol
        from kernel.data.vectors import List
        fr = FormResult(node)
        quoted = List.of(Symbol("quote"), form)
        r = session.eval_forms([List.of(Symbol("compile"), quoted)], commit=False)
        if not r.ok:
            end = node.children[0].end if node.kind == "list" and node.children else node.end
            fr.diagnostics.append(Diagnostic(node.start, end, f":{r.error} {r.message or ''}"
                                             .strip(), ERROR, r.error or ""))
            fr.error, fr.message = r.error, r.message
            return fr
        e = session.eval_forms([List.of(Symbol("expand"), quoted)], commit=False)
        if e.ok:
            fr.expanded = e.value
            fr.defined = _defined_names(e.value)
        r = session.eval_forms([form])
        fr.juice, fr.error, fr.message = r.juice, r.error, r.message
        return fr


def _reads_args(text: str) -> bool:
    return _ARGS.search(text) is not None


def _discarded(n: Node) -> bool:
    return n.kind == "prefixed" and n.tok.type == "DISCARD"


def _relocated(fr: FormResult, node: Node) -> FormResult:
    """A cached form's result moved to where the same text now is."""
    shift = node.start - fr.node.start
    if shift == 0:
        return fr
    diags = [Diagnostic(d.start + shift, d.end + shift, d.message, d.severity, d.code)
             for d in fr.diagnostics]
    return FormResult(node, fr.juice, fr.error, fr.message, diags, fr.expanded, fr.defined)


# --- positions ---------------------------------------------------------------------------------

def offset_of(text: str, line: int, col: int) -> int:
    """The offset of a 1-based (line, column) of the reader."""
    pos = 0
    for _ in range(line - 1):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return len(text)
        pos = nxt + 1
    return min(pos + col - 1, len(text))


# --- checks on the expanded code -------------------------------------------------------------------

def _unwrap(x: Any) -> Any:
    from kernel.data.syntax import Syntax
    while type(x) is Syntax:
        x = x.datum
    return x


def _pattern_symbols(p: Any) -> set:
    from kernel.data.hashmaps import Map
    from kernel.data.scalars import Symbol
    from kernel.data.vectors import Vector
    out, work = set(), [p]
    while work:
        x = _unwrap(work.pop())
        if type(x) is Symbol:
            if x.name not in ("&", "_"):
                out.add(x.name)
        elif isinstance(x, Vector):
            work.extend(x)
        elif isinstance(x, Map):
            for k, v in x.items():
                work.extend((k, v))
    return out


def _defined_names(form: Any) -> set:
    """Names `def`ined anywhere in expanded code (run now or when a function runs)."""
    out = set()
    for lst, _ in _calls(form, frozenset()):
        if _head(lst) == "def" and len(lst) >= 2:
            n = _unwrap(lst[1])
            if hasattr(n, "name"):
                out.add(n.name)
    return out


def _head(lst: Any) -> Optional[str]:
    from kernel.data.scalars import Symbol
    h = _unwrap(lst[0]) if len(lst) else None
    return h.name if type(h) is Symbol else None


def _calls(form: Any, bound: frozenset):
    """(list, locals bound there) for every list of expanded code, and (symbol name, locals)
    for every symbol evaluated; quoted data is skipped."""
    from kernel.data.hashmaps import Map, Set
    from kernel.data.scalars import Symbol
    from kernel.data.vectors import List, Vector
    work = [(form, bound)]
    while work:
        x, b = work.pop()
        x = _unwrap(x)
        t = type(x)
        if t is Symbol:
            yield x.name, b
        elif isinstance(x, List):
            if not len(x):
                continue
            yield x, b
            head = _head(x)
            items = list(x)
            if head == "quote":
                continue
            if head == "def":
                work.extend((v, b) for v in items[2:3])
            elif head == "fn":
                rest = items[1:]
                arities = [rest] if rest and isinstance(_unwrap(rest[0]), Vector) else \
                    [list(_unwrap(i)) for i in rest if isinstance(_unwrap(i), List) and len(_unwrap(i))]
                for inst in arities:
                    inner = b | _pattern_symbols(inst[0])
                    work.extend((v, inner) for v in inst[1:])
            elif head in ("let", "loop") and len(items) > 1 and isinstance(_unwrap(items[1]),
                                                                           Vector):
                bv, inner = list(_unwrap(items[1])), b
                for i in range(0, len(bv) - 1, 2):
                    work.append((bv[i + 1], inner))
                    inner = inner | _pattern_symbols(bv[i])
                work.extend((v, inner) for v in items[2:])
            elif head == "set!":
                work.extend((v, b) for v in items[2:])
            elif head == "try":         # an undeclared symbol in a try is caught there
                work.extend((v, b | {_GUARDED}) for v in items[1:])
            elif head == "lookup":
                work.extend((v, b) for v in items[1:-1] if len(items) > 2)
            else:
                work.extend((v, b) for v in (items if head not in _SPECIAL_FORMS
                                             else items[1:]))
        elif isinstance(x, (Vector, Set)):
            work.extend((v, b) for v in x)
        elif isinstance(x, Map):
            for k, v in x.items():
                work.extend(((k, b), (v, b)))


def _known_names(a: Analysis, session: Any) -> set:
    from kernel.cvm.ops import SPECIAL_NAMES
    names = set(session.visible_names()) | set(SPECIAL_NAMES) | set(_SPECIAL_FORMS)
    return names | a.file_names


def _arity(sig: str) -> tuple:
    """(least, most or None) arguments of a documented signature like "[f coll & colls]"."""
    from lisp import read
    v = read(sig)
    names = [getattr(_unwrap(p), "name", None) for p in v]
    if "&" in names:
        return names.index("&"), None
    return len(names), len(names)


def _arity_problem(session: Any, name: str, n: int) -> Optional[str]:
    try:
        meta = session.metadata(name)
        d = session.doc(name)
    except Exception:
        return None
    from kernel.data.scalars import Keyword
    if not d or not d.get("signature") or meta is None:
        return None
    if any(meta.get(Keyword(k)) not in (None, False) for k in ("macro", "expander?")):
        return None
    try:
        ranges = [_arity(s) for s in d["signature"]]
    except Exception:
        return None
    if any(lo <= n and (hi is None or n <= hi) for lo, hi in ranges):
        return None
    sigs = " or ".join(f"({name}{' ' if s[1:-1] else ''}{s[1:-1]})" for s in d["signature"])
    takes = _takes(ranges)
    return f"{name} takes {takes} argument{'' if takes == '1' else 's'}, given {n}: {sigs}"


def _takes(ranges: list) -> str:
    """"1 or 3", "2 or more": the counts the signatures take."""
    least_open = min((lo for lo, hi in ranges if hi is None), default=None)
    counts = sorted({lo for lo, hi in ranges if hi == lo
                     and (least_open is None or lo < least_open)})
    parts = [str(c) for c in counts] + ([f"{least_open} or more"] if least_open is not None
                                        else [])
    return ", ".join(parts[:-1]) + (" or " if len(parts) > 1 else "") + parts[-1]


def _is_core(session: Any, a: Analysis, name: str) -> bool:
    from kernel.state.state import CORE_ADDRESS
    if name in a.file_names or name in _SPECIAL_FORMS:
        return False
    own = {n for n, _, _ in session.definitions()}
    if name in own:
        return False
    return any(n == name for n, _, _ in session.definitions(CORE_ADDRESS))


def _checks(a: Analysis, fr: FormResult, session: Any) -> list:
    known = _known_names(a, session)
    unknown: dict = {}
    calls: list = []
    core_cache: dict = {}
    for item, bound in _calls(fr.expanded, frozenset()):
        if isinstance(item, str):
            if item not in bound and item not in known and _GUARDED not in bound:
                unknown.setdefault(item, True)
            continue
        head = _head(item)
        if head is None or head in bound:
            continue
        if head not in core_cache:
            core_cache[head] = _is_core(session, a, head)
        if core_cache[head]:
            problem = _arity_problem(session, head, len(item) - 1)
            if problem:
                calls.append((head, len(item) - 1, problem))
    out = []
    for name in unknown:
        for node in _occurrences(fr.node, name):
            out.append(Diagnostic(node.start, node.end, f"unknown symbol {name}: not defined "
                                  "in this file, locally or in the core", WARNING,
                                  "UNDECLARED"))
    for head, n, problem in calls:
        node = _call_node(fr.node, head, n) or fr.node
        out.append(Diagnostic(node.start, node.end, problem, ERROR, "ARITY"))
    return out


def _quoted(n: Node) -> bool:
    return n.kind == "prefixed" and n.tok.type == "QUOTING" and n.tok.text == "'"


def _source_walk(top: Node):
    """(node, ancestors) for every node of a top-level form outside quoted data."""
    work = [(top, ())]
    while work:
        n, anc = work.pop()
        if _quoted(n) or (n.kind == "list" and n.head() == "quote"):
            continue
        yield n, anc
        work.extend((c, anc + (n,)) for c in reversed(n.children))


def _binds(anc: tuple, name: str) -> bool:
    """Does an enclosing form bind `name` in a vector of its own (parameters, let)?"""
    for n in anc:
        if n.kind != "list":
            continue
        for c in n.children[1:4]:
            if c.kind == "vector" and any(x.symbol == name for x in c.walk()):
                return True
            if c.kind == "list" and c.children and c.children[0].kind == "vector" and any(
                    x.symbol == name for x in c.children[0].walk()):
                return True
    return False


def _occurrences(top: Node, name: str) -> list:
    return [n for n, anc in _source_walk(top) if n.symbol == name and not _binds(anc, name)]


def _call_node(top: Node, head: str, n: int) -> Optional[Node]:
    for node, _ in _source_walk(top):
        if node.kind == "list" and node.head() == head and len(node.children) == n + 1:
            return node
    return None


__all__ = ["Analyzer", "Analysis", "Diagnostic", "FormResult", "offset_of", "is_test_file",
           "ERROR", "WARNING"]
