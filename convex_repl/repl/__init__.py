"""The `convex>` REPL: prompt_toolkit input, meta commands, rich output.

`Repl.handle(text)` does everything for one submitted input (a Convex Lisp transaction or a
`:command`) and is usable without a terminal; `run_repl()` wraps it in a prompt_toolkit
session with highlighting, bracket matching, auto-indent, balanced-form submission,
completion, persistent history and Emacs/Vi editing.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

from convex_repl.repl.render import Printer, first_line
from convex_repl.repl.workspace import Workspace

CLOSERS = {"(": ")", "[": "]", "{": "}"}


# --- text structure ---------------------------------------------------------------------------

def open_brackets(text: str) -> list:
    """Brackets still open at the end of `text`: [(char, line index, column)], skipping
    strings, comments and character literals."""
    stack: list = []
    i, n, line, col = 0, len(text), 0, 0
    while i < n:
        c = text[i]
        if c == "\n":
            line, col, i = line + 1, 0, i + 1
            continue
        if c == ";":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == "\\" and i + 1 < n:        # character literal \x
            i, col = i + 2, col + 2
            continue
        if c == '"':
            i, col = i + 1, col + 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i, col = i + 1, col + 1
                if i < n and text[i] == "\n":
                    line, col = line + 1, -1
                i, col = i + 1, col + 1
            i, col = i + 1, col + 1
            continue
        if c in "([{":
            stack.append((c, line, col))
        elif c in ")]}" and stack:
            stack.pop()
        i, col = i + 1, col + 1
    return stack


def is_complete(text: str) -> bool:
    """True when the input can be submitted: its forms are balanced (or it is a plain
    error that more input cannot fix, which evaluation will report)."""
    wait_for_cvm()
    from lisp import IncompleteInput, ReaderError, read_all

    body = text
    if text.lstrip().startswith(":"):
        name, _, rest = text.lstrip()[1:].partition(" ")
        if name in COMMANDS:
            body = rest
    if not body.strip():
        return True
    try:
        read_all(body)
    except IncompleteInput:
        return False
    except ReaderError:
        return True
    return True


def indent_for(text: str) -> int:
    """Indentation of a new line after `text`: two past an open '(' (one past '[' or '{')."""
    stack = open_brackets(text)
    if not stack:
        return 0
    c, line, col = stack[-1]
    if c == "(":
        return col + 2
    return col + 1


# --- completion -------------------------------------------------------------------------------

SPECIAL_FORM_NAMES = ("def", "fn", "let", "loop", "do", "cond", "if", "quote", "query", "try",
                      "set!", "lookup", "recur", "return", "halt", "rollback")
WORD_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                 "*+!-_'?<>=/.#&%$")


def _word_before(text: str) -> str:
    i = len(text)
    while i > 0 and text[i - 1] in WORD_CHARS:
        i -= 1
    return text[i:]


class Completions:
    """Completion candidates for a prefix: (name, signature, first doc line)."""

    def __init__(self, workspace: Any):
        self._ws = workspace        # a Workspace, or something with a .ws property

    @property
    def ws(self) -> Workspace:
        return self._ws if isinstance(self._ws, Workspace) else self._ws.ws

    def _meta(self, name: str, addr: Optional[int]) -> str:
        s = self.ws.session
        try:
            d = s.doc(name, addr)
        except Exception:
            d = None
        if not d:
            return ""
        sig = " ".join(d.get("signature") or [])
        line = first_line(d.get("description"))
        return (sig + "  " + line).strip() if sig else line

    def candidates(self, word: str) -> list:
        s = self.ws.session             # waits for the background import of the CVM first:
        from kernel.cvm.ops import SPECIAL_NAMES  # importing before it would race with that thread
        out = []
        if "/" in word:                      # addr/sym or alias/sym
            head, _, prefix = word.rpartition("/")
            addr = _address_of(s, head)
            if addr is None:
                return []
            names = sorted(n for n, _, _ in s.definitions(addr))
            for n in names:
                if n.startswith(prefix):
                    out.append((f"{head}/{n}", n, addr))
            return [(c, self._meta(n, a)) for c, n, a in out]
        if word.startswith(":"):
            return []
        own = [n for n, _, _ in s.definitions()]
        seen = set()
        pools = (own, list(SPECIAL_FORM_NAMES), list(SPECIAL_NAMES), ["*1", "*2", "*3", "*e"],
                 s.visible_names())
        for pool in pools:
            for n in pool:
                if n.startswith(word) and n not in seen:
                    seen.add(n)
                    out.append(n)
        return [(n, self._meta(n, None)) for n in out]


def _address_of(session: Any, head: str) -> Optional[int]:
    if head.startswith("#") and head[1:].isdigit():
        return int(head[1:])
    from kernel.data.scalars import Address
    v = session.lookup(head) if head else None
    return v.n if type(v) is Address else None


def make_completer(workspace: Any):
    from prompt_toolkit.completion import Completer, Completion

    comp = Completions(workspace)

    class ConvexCompleter(Completer):
        def get_completions(self, document, complete_event):
            text = document.text_before_cursor
            word = _word_before(text)
            stripped = text.lstrip()
            if stripped.startswith(":") and " " not in stripped:
                for name in sorted(COMMANDS):
                    if (":" + name).startswith(stripped):
                        yield Completion(":" + name, start_position=-len(stripped),
                                         display_meta=COMMANDS[name][1])
                return
            if not word:
                return
            for cand, meta in comp.candidates(word)[:200]:
                yield Completion(cand, start_position=-len(word), display_meta=meta)

    return ConvexCompleter()


# --- meta commands ------------------------------------------------------------------------------

COMMANDS: dict = {}


def command(name: str, usage: str, help_: str):
    def reg(f: Callable) -> Callable:
        COMMANDS[name] = (f, help_, usage)
        return f
    return reg


class Quit(Exception):
    pass


_loading: "Pending | None" = None     # the background load of the CVM, once started


def wait_for_cvm() -> None:
    """Wait for a background load of the CVM to finish: importing kernel or lisp from another
    thread while it runs can meet half-initialised modules."""
    if _loading is not None and _loading._started:
        _loading._thread.join()


class Pending:
    """A value computed in a background thread; `get()` waits for it (re-raising errors)."""

    def __init__(self, make: Callable[[], Any]):
        import threading
        self._value: Any = None
        self._error: Optional[BaseException] = None

        def work() -> None:
            try:
                self._value = make()
            except BaseException as e:  # handed to the waiting thread
                self._error = e

        self._thread = threading.Thread(target=work, name="convex-workspace", daemon=True)
        self._started = False

    def start(self) -> None:
        global _loading
        if not self._started:
            self._started = True
            _loading = self
            self._thread.start()

    def get(self) -> Any:
        self.start()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


class Repl:
    """Everything one input does, independent of the terminal. `workspace` may be a Pending
    one, still loading."""

    def __init__(self, workspace: Any, printer: Optional[Printer] = None,
                 mode: str = "transact", address: int = 13):
        self._ws = workspace
        self._address = address
        self.out = printer or Printer()
        self.mode = mode
        self.results: list = []          # *1 *2 *3, newest first
        self.last_error: Any = None      # *e
        self.last_value: Any = None
        self.has_last = False
        self.errors = 0                  # evaluations that failed
        self.editing_mode: Optional[Callable[[str], None]] = None
        self.tutor: Any = None           # a tutorial.Tutor while a lesson is on
        self.insert = ""                 # text to put on the next prompt (:next)

    @property
    def ws(self) -> Workspace:
        if isinstance(self._ws, Pending):
            self._ws = self._ws.get()
            for w in self._ws.warnings:
                self.out.warn(w)
        return self._ws

    @property
    def ready(self) -> bool:
        return not isinstance(self._ws, Pending)

    @property
    def session(self):
        return self.ws.session

    def prompt(self) -> str:
        tag = "" if self.mode == "transact" else f" {self.mode}"
        addr = self._ws.address if self.ready else self._address
        return f"convex #{addr}{tag}> "

    def bindings(self) -> dict:
        b = {}
        for i, v in enumerate(self.results[:3]):
            b[f"*{i + 1}"] = v
        if self.last_error is not None:
            b["*e"] = self.last_error
        return b

    # --- one input ----------------------------------------------------------------------
    def handle(self, text: str) -> None:
        """Handle one submitted input; raises Quit to end the REPL. During a tutorial the
        tutor sees it first (it checks the lesson's steps)."""
        if self.tutor is not None:
            self.tutor.handle(text)
        else:
            self.dispatch(text)

    def take_insert(self) -> str:
        text, self.insert = self.insert, ""
        return text

    def dispatch(self, text: str) -> None:
        """Run one input: a :command, or Convex Lisp in the current mode. A peer that can't
        be reached (after :connect or :local start) is one line, not the end of the REPL."""
        stripped = text.strip()
        if not stripped:
            return
        try:
            if stripped.startswith(":"):
                name, _, rest = stripped[1:].partition(" ")
                if not name[:1].isspace() and name in COMMANDS:
                    COMMANDS[name][0](self, rest.strip())
                    return
            self.evaluate(text)
        except Exception as e:
            if type(e).__name__ != "RemoteError":   # convex_repl.client.remote, not imported here
                raise
            self.out.warn(f"{e} (:disconnect goes back to the local CVM)")

    def evaluate(self, source: str) -> Any:
        """Run input in the current mode: transact (a signed transaction, with fees),
        eval (unsigned development mode) or query (no state change kept)."""
        try:
            if self.mode == "query":
                r = self.ws.query(source, self.bindings())
            else:
                r = self.ws.transact(source, self.bindings(), signed=self.mode == "transact")
        except KeyboardInterrupt:
            self.out.warn("Interrupted: the evaluation was cancelled; the session is unchanged.")
            return None
        self.show(r)
        return r

    def show(self, r: Any) -> None:
        if r.ok:
            self.results.insert(0, r.value)
            del self.results[3:]
            self.last_value, self.has_last = r.value, True
            self.out.value(r.value)
        else:
            self.last_error = _error_value(r)
            self.errors += 1
            self.out.error(self.session, r)
        self.out.badge(r)

    def form_arg(self, arg: str, what: str) -> Optional[str]:
        if not arg:
            self.out.warn(f"usage: :{what} form")
            return None
        return arg


def _error_value(r: Any) -> Any:
    from kernel.data.blobs import String
    from kernel.data.hashmaps import Map
    from kernel.data.scalars import Keyword
    from kernel.data.vectors import Vector
    pairs = [(Keyword("code"), r.error_value if r.error_value is not None
              else Keyword(r.error)),
             (Keyword("message"), String.of(r.message or "")),
             (Keyword("trace"), Vector.from_seq([String.of(t) for t in r.trace]))]
    return Map.from_pairs(pairs)


@command("help", ":help", "this help")
def _help(repl: Repl, arg: str) -> None:
    p = repl.out
    p.info("Type Convex Lisp forms; Enter submits when brackets balance (Alt-Enter / Esc Enter "
           "always inserts a newline). Each input is one transaction.")
    p.info("*1 *2 *3 are the last results, *e the last error. Tab completes; Ctrl-R "
           "searches history; Ctrl-C cancels input or a running evaluation; Ctrl-D quits.")
    width = max(len(u) for _, _, u in COMMANDS.values())
    for name in sorted(COMMANDS):
        _, h, usage = COMMANDS[name]
        p.info(f"  {usage.ljust(width)}  {h}")


@command("quit", ":quit", "leave the REPL (also Ctrl-D)")
def _quit(repl: Repl, arg: str) -> None:
    raise Quit()


COMMANDS["exit"] = (COMMANDS["quit"][0], "same as :quit", ":exit")


@command("tutorial", ":tutorial [N]", "the interactive lessons: lesson N, or resume where "
         "you were (in a fresh session of its own; :quit comes back here)")
def _tutorial(repl: Repl, arg: str) -> None:
    from convex_repl.repl.tutorial import attach
    from convex_repl.repl.workspace import Workspace
    if arg and not arg.isdigit():
        repl.out.warn("usage: :tutorial [N]")
        return
    home = repl.ws.home
    attach(repl, int(arg) if arg else None, home,
           lambda: Workspace(home, fresh=True, save=False), exit_on_quit=False)


def _parse_target(repl: Repl, arg: str) -> tuple:
    """(name, address or None) from `sym`, `#8/sym` or `alias/sym`."""
    if "/" in arg and arg != "/":
        head, _, name = arg.rpartition("/")
        return name, _address_of(repl.session, head)
    return arg, None


@command("doc", ":doc sym", "documentation of a definition (sym or addr/sym)")
def _doc(repl: Repl, arg: str) -> None:
    p = repl.out
    if not arg:
        p.warn("usage: :doc sym")
        return
    name, addr = _parse_target(repl, arg)
    s = repl.session
    if s.metadata(name, addr) is None:
        p.warn(f"{arg} is not defined")
        return
    d = s.doc(name, addr)
    if not d:
        p.info(f"{arg}: no documentation")
        return
    for sig in d.get("signature") or []:
        p.code(f"({name} {sig[1:-1]})".replace(" )", ")"))
    if d.get("description"):
        p.info(d["description"])
    for e in d.get("examples") or []:
        p.code(e["code"] + (f"   ; => {e['result']}" if "result" in e else ""))
    for code, why in (d.get("errors") or {}).items():
        p.dim(f"  :{code}  {why}")


@command("apropos", ":apropos text", "definitions whose name or description mentions text")
def _apropos(repl: Repl, arg: str) -> None:
    p = repl.out
    if not arg:
        p.warn("usage: :apropos text")
        return
    s = repl.session
    needle = arg.lower()
    found = 0
    for name in s.visible_names():
        d = s.doc(name) or {}
        desc = d.get("description") or ""
        if needle in name.lower() or needle in desc.lower():
            p.info(f"  {name.ljust(20)} {first_line(desc)}")
            found += 1
    if not found:
        p.info(f"nothing mentions {arg!r}")


def _query_form(repl: Repl, wrapper: str, arg: str) -> Any:
    try:
        r = repl.ws.query(wrapper.format(arg), repl.bindings())
    except KeyboardInterrupt:
        repl.out.warn("Interrupted.")
        return None
    if not r.ok:
        repl.out.error(repl.session, r)
        return None
    return r


@command("expand", ":expand form", "the form after macro expansion")
def _expand(repl: Repl, arg: str) -> None:
    if repl.form_arg(arg, "expand"):
        r = _query_form(repl, "(expand (quote {}))", arg)
        if r is not None:
            repl.out.value(r.value)


def _op_tree(op: Any, depth: int = 0, lines: Optional[list] = None) -> list:
    from kernel.cvm.ops import Op
    from kernel.data.printer import print_head
    if lines is None:
        lines = []
    text, more = print_head(op, 69)     # (an op may hold a constant of any size)
    if more:
        text += "…"
    cost = "+call" if type(op).__name__ == "Invoke" else f"{op.juice:>5}"
    lines.append(f"{cost:>5}  " + ("  " * depth) + f"{type(op).__name__:<9} {text}")
    for child in _op_children(op):
        if isinstance(child, Op):
            _op_tree(child, depth + 1, lines)
    return lines


def _op_children(op: Any) -> list:
    from kernel.cvm.ops import Op
    out = []
    for cls in type(op).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            v = getattr(op, slot, None)
            if isinstance(v, Op):
                out.append(v)
            elif isinstance(v, (tuple, list)):
                out.extend(x for x in v if isinstance(x, Op))
    return out


@command("compile", ":compile form", "the op tree the compiler makes (ops print as Lisp)")
def _compile(repl: Repl, arg: str) -> None:
    if repl.form_arg(arg, "compile"):
        r = _query_form(repl, "(compile (quote {}))", arg)
        if r is None:
            return
        from kernel.cvm.ops import Op
        if not isinstance(r.value, Op):
            repl.out.value(r.value)
            return
        for ln in _op_tree(r.value):
            repl.out.info(ln)
        repl.out.dim(f"juice: what each op charges itself when it runs (+call: the called "
                     f"function's cost); compiling took {r.juice:,} juice")


@command("juice", ":juice form", "juice the form costs (run as a query)")
def _juice(repl: Repl, arg: str) -> None:
    if repl.form_arg(arg, "juice"):
        r = _query_form(repl, "{}", arg)
        if r is not None:
            repl.out.info(f"{r.juice:,} juice · fee {r.fee:,} coins "
                          f"(juice price {r.juice_price})")


@command("time", ":time form", "wall-clock time of the form (run as a query)")
def _time(repl: Repl, arg: str) -> None:
    if repl.form_arg(arg, "time"):
        r = _query_form(repl, "{}", arg)
        if r is not None:
            from convex_repl.repl.render import _fmt_time
            rate = f" · {r.juice / r.elapsed:,.0f} juice/s" if r.elapsed > 0 else ""
            repl.out.value(r.value)
            repl.out.info(f"{_fmt_time(r.elapsed)} · {r.juice:,} juice{rate}")


def _parse_address(text: str) -> Optional[int]:
    t = text.strip()
    if t.startswith("#"):
        t = t[1:]
    return int(t) if t.isdigit() else None


@command("account", ":account [#n [key]]", "the acting account, or act as another (signing "
         "with its genesis key or a stored key)")
def _account(repl: Repl, arg: str) -> None:
    s = repl.session
    if not arg:
        info = s.account_info()
        repl.out.info(_account_line(info))
        return
    addr_text, _, key_name = arg.partition(" ")
    n = _parse_address(addr_text)
    if n is None:
        repl.out.warn("usage: :account #13 [key-name]")
        return
    info = s.account_info(n)
    if info is None:
        repl.out.warn(f"no account #{n}")
        return
    if info["actor"]:
        repl.out.warn(f"#{n} is an actor (no key): transactions can't come from it")
        return
    key = None
    if key_name.strip():
        key = _load_key(repl, key_name.strip())
        if key is None:
            return
    repl.ws.set_address(n, key)
    repl.out.info(f"now acting as #{n}" + (f", signing with key {key_name.strip()}" if key else ""))


def _load_key(repl: Repl, name: str) -> Any:
    """The seed of a stored key (password from CONVEX_KEY_PASSWORD, else asked)."""
    from convex_repl.client.keys import KeyError_, Keystore
    home = repl.ws.home
    if home is None:
        repl.out.warn("no convex directory: no stored keys")
        return None
    pw = os.environ.get("CONVEX_KEY_PASSWORD")
    if not pw:
        if not sys.stdin.isatty():
            repl.out.warn("set CONVEX_KEY_PASSWORD to use a stored key")
            return None
        import getpass
        pw = getpass.getpass(f"password for key {name}: ")
    try:
        return Keystore(home).load(name, pw)["seed"]
    except KeyError_ as e:
        repl.out.warn(str(e))
        return None


def _account_line(info: dict) -> str:
    kind = "actor" if info["actor"] else "user"
    return (f"#{info['address']:<4} {kind:<5} balance {info['balance']:>26,}  "
            f"{info['definitions']} definitions")


@command("accounts", ":accounts", "all accounts in the state")
def _accounts(repl: Repl, arg: str) -> None:
    for info in repl.session.accounts():
        mark = "*" if info["address"] == repl.ws.address else " "
        repl.out.info(mark + _account_line(info))


@command("env", ":env [addr]", "definitions in an account's environment")
def _env(repl: Repl, arg: str) -> None:
    from kernel.data.printer import print_head
    n = _parse_address(arg) if arg else repl.ws.address
    if n is None or repl.session.account_info(n) is None:
        repl.out.warn(f"no account {arg}")
        return
    defs = repl.session.definitions(n)
    if not defs:
        repl.out.info(f"#{n} has no definitions")
    for name, v, _ in defs:
        text, more = print_head(v, 59)
        repl.out.info(f"  {name.ljust(20)} {text + '…' if more else text}")


@command("undo", ":undo", "take back the last transaction")
def _undo(repl: Repl, arg: str) -> None:
    repl.out.info("undone" if repl.ws.undo() else "nothing to undo")


@command("redo", ":redo", "redo what :undo took back")
def _redo(repl: Repl, arg: str) -> None:
    repl.out.info("redone" if repl.ws.redo() else "nothing to redo")


@command("checkpoint", ":checkpoint name", "name the current state (list them without name)")
def _checkpoint(repl: Repl, arg: str) -> None:
    if not arg:
        names = sorted(repl.ws.checkpoints)
        repl.out.info("checkpoints: " + (", ".join(names) if names else "none"))
        return
    repl.ws.checkpoint(arg)
    repl.out.info(f"checkpoint {arg} saved")


@command("restore", ":restore name", "go back to a checkpoint (undoable)")
def _restore(repl: Repl, arg: str) -> None:
    if not arg:
        repl.out.warn("usage: :restore name")
        return
    if repl.ws.restore(arg):
        repl.out.info(f"restored {arg}")
    else:
        repl.out.warn(f"no checkpoint {arg!r}")


@command("load", ":load file.cvx", "evaluate a file, one transaction per top-level form")
def _load(repl: Repl, arg: str) -> None:
    if not arg:
        repl.out.warn("usage: :load file.cvx")
        return
    path = Path(arg).expanduser()
    try:
        text = path.read_text()
    except OSError as e:
        repl.out.warn(f"can't read {arg}: {e.strerror}")
        return
    from lisp import ReaderError, read_all
    try:
        forms = read_all(text)
    except ReaderError as e:
        repl.out.warn(f"{arg}: {e}")
        return
    total = 0
    for form in forms:
        try:
            r = repl.ws.transact_form(form, signed=repl.mode != "eval")
        except KeyboardInterrupt:
            repl.out.warn("Interrupted: the rest of the file was not loaded.")
            return
        total += r.juice
        if not r.ok:
            repl.out.error(repl.session, r)
            repl.out.warn(f"stopped loading {arg} at the failing form")
            return
        repl.results.insert(0, r.value)
        del repl.results[3:]
    repl.out.info(f"loaded {arg}: {len(forms)} forms, {total:,} juice")


@command("reset", ":reset", "back to a fresh genesis state (undoable)")
def _reset(repl: Repl, arg: str) -> None:
    repl.ws.reset()
    repl.results.clear()
    repl.out.info("reset to genesis")


@command("advance", ":advance ms", "move the state's timestamp forward")
def _advance(repl: Repl, arg: str) -> None:
    if not arg.strip().isdigit():
        repl.out.warn("usage: :advance ms")
        return
    t = repl.ws.advance(int(arg))
    repl.out.info(f"timestamp is now {t} (scheduled operations that fell due have run)")


@command("mode", ":mode transact|eval|query",
         "transact: signed transactions with fees (default); eval: unsigned, no fees "
         "(development mode); query: no state change kept")
def _mode(repl: Repl, arg: str) -> None:
    if arg in ("query", "transact", "eval"):
        repl.mode = arg
        repl.out.info(f"mode: {arg}")
    elif not arg:
        repl.out.info(f"mode: {repl.mode}")
    else:
        repl.out.warn("usage: :mode transact|eval|query")


@command("more", ":more", "show the last result in full")
def _more(repl: Repl, arg: str) -> None:
    if not repl.has_last:
        repl.out.info("no result yet")
        return
    repl.out.value(repl.last_value, full=True)


@command("vi", ":vi", "Vi key bindings")
def _vi(repl: Repl, arg: str) -> None:
    if repl.editing_mode:
        repl.editing_mode("vi")
    repl.out.info("Vi mode")


@command("emacs", ":emacs", "Emacs key bindings (the default)")
def _emacs(repl: Repl, arg: str) -> None:
    if repl.editing_mode:
        repl.editing_mode("emacs")
    repl.out.info("Emacs mode")


# --- the terminal loop --------------------------------------------------------------------------

def run_repl(workspace: Any, vi: bool = False, color: bool = True, banner: bool = True,
             home: Optional[Path] = None, address: int = 13,
             tutorial: Optional[Callable[[Repl], Any]] = None) -> int:
    """The interactive loop. `workspace` is a Workspace or a function making one (then it is
    made in the background while the prompt comes up; pass `home` and `address`).
    `tutorial(repl)`, if given, starts a lesson in the REPL before the first prompt."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.enums import EditingMode
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout.processors import HighlightMatchingBracketProcessor
    from prompt_toolkit.lexers import PygmentsLexer
    from prompt_toolkit.styles import style_from_pygments_cls
    from pygments.styles import get_style_by_name

    from convex_repl.lexer import ConvexLexer

    printer = Printer(color=color)
    if callable(workspace):
        from convex_repl import lexer
        lexer.defer_core_names()        # highlighting must not import the kernel meanwhile
        make = workspace

        def load() -> Workspace:
            ws = make()
            from kernel.cvm.registry import CORE
            lexer.set_core_names(CORE)
            return ws

        repl = Repl(Pending(load), printer, address=address)
    else:
        repl = Repl(workspace, printer)
        home = workspace.home
        for w in workspace.warnings:
            printer.warn(w)

    kb = KeyBindings()

    from prompt_toolkit.filters import vi_navigation_mode

    @kb.add("enter")
    def _(event):
        # Submit balanced input; in the middle of a multi-line input (insert mode) Enter
        # opens a new line instead, so an earlier line can be edited.
        buf = event.current_buffer
        text = buf.document.text
        at_end = not buf.document.text_after_cursor.strip()
        if is_complete(text) and (at_end or "\n" not in text or vi_navigation_mode()):
            buf.validate_and_handle()
        else:
            before = buf.document.text_before_cursor
            buf.insert_text("\n" + " " * indent_for(before))

    @kb.add("escape", "enter")
    def _(event):
        buf = event.current_buffer
        buf.insert_text("\n" + " " * indent_for(buf.document.text_before_cursor))

    from prompt_toolkit.filters import Condition

    @kb.add("c-t", filter=Condition(lambda: repl.tutor is not None))
    def _(event):
        # In a tutorial: the current step's code on the prompt, ready for Enter (elsewhere
        # Ctrl-T keeps its usual meaning, transpose characters).
        if repl.tutor.step_input():
            event.current_buffer.text = repl.tutor.step_input()
            event.current_buffer.cursor_position = len(event.current_buffer.text)

    history: Any
    if home is not None:
        history = FileHistory(str(home / "history"))
    else:
        history = InMemoryHistory()

    session = PromptSession(
        history=history,
        lexer=PygmentsLexer(ConvexLexer),
        style=style_from_pygments_cls(get_style_by_name("monokai")) if color else None,
        completer=make_completer(repl),
        complete_while_typing=False,
        multiline=True,
        key_bindings=kb,
        input_processors=[HighlightMatchingBracketProcessor(chars="[](){}")],
        editing_mode=EditingMode.VI if vi else EditingMode.EMACS,
        enable_history_search=False,
        include_default_pygments_style=False,
        prompt_continuation=lambda width, line_no, wrap: " " * (width - 3) + ".. ",
    )

    if isinstance(repl._ws, Pending):
        # Start loading once the prompt is drawn, so the two don't compete for the GIL.
        pending = repl._ws
        session.app.after_render += lambda app: pending.start()

    def set_mode(m: str) -> None:
        session.editing_mode = EditingMode.VI if m == "vi" else EditingMode.EMACS

    repl.editing_mode = set_mode
    if banner and tutorial is None:   # plain text: rich is imported only when needed
        text = (f"Convex Lisp REPL · acting as #{address if not repl.ready else repl.ws.address}"
                " · :help for commands · :tutorial to learn Convex Lisp · Ctrl-D to quit")
        print(f"\x1b[2m{text}\x1b[0m" if color else text, flush=True)
    if tutorial is not None and tutorial(repl) is None:
        return 3
    while True:
        toolbar = repl.tutor.toolbar if repl.tutor is not None else None
        try:
            text = session.prompt(repl.prompt(), default=repl.take_insert(),
                                  bottom_toolbar=toolbar)
        except KeyboardInterrupt:
            continue                     # Ctrl-C: drop the current input
        except EOFError:
            break                        # Ctrl-D
        try:
            repl.handle(text)
        except Quit:
            break
        except KeyboardInterrupt:
            printer.warn("Interrupted; the session is unchanged.")
    print("bye")
    return 0


__all__ = ["Repl", "run_repl", "is_complete", "indent_for", "open_brackets", "Completions", "COMMANDS"]

from convex_repl.repl import remote as remote_repl  # noqa: E402,F401  (:connect URL, :disconnect)
from convex_repl.repl import local as local_repl  # noqa: E402,F401  (:local start [N], :local stop)
