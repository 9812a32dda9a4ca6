"""The `:` commands: the registry (`@command` adds one to COMMANDS; `:local` and `:connect`
register theirs the same way, in local.py and remote.py) and the built-in ones: help,
documentation, inspecting and timing forms, accounts, undo and checkpoints, loading files,
modes. A command is `f(repl, arg)`; `Repl.dispatch` looks it up here.

Commands only use interface.WorkspaceAPI (`repl.ws`) and its SessionView (`repl.session`), so
each works on the local CVM, a peer and a local network alike; what a target can't do it
refuses with interface.Unsupported, which `Repl.dispatch` shows as one line."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from convex_repl.repl.interface import short_hash
from convex_repl.repl.render import first_line

if TYPE_CHECKING:
    from convex_repl.repl.app import Repl

COMMANDS: dict = {}


def command(name: str, usage: str, help_: str):
    """Register the decorated `f(repl, arg)` as `:name` (usage and help for :help)."""
    def reg(f: Callable) -> Callable:
        COMMANDS[name] = (f, help_, usage)
        return f
    return reg


class Quit(Exception):
    """Raised by :quit (and the tutor's :quit) to end the REPL."""


def user_home(repl: Repl) -> Any:
    """The convex directory (keys, tutorial progress): the workspace's, or while connected
    to a peer, that of the local workspace kept for :disconnect."""
    home = repl.ws.home
    if home is None:
        local = getattr(repl, "local_ws", None)
        home = getattr(local, "home", None)
    return home


def address_of(session: Any, head: str) -> Optional[int]:
    """The address `head` names: `#8`, or a symbol bound to an address."""
    if head.startswith("#") and head[1:].isdigit():
        return int(head[1:])
    from kernel.data.scalars import Address
    v = session.lookup(head) if head else None
    return v.n if type(v) is Address else None


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
    from convex_repl.repl.tutor import attach
    from convex_repl.repl.workspace import Workspace
    if arg and not arg.isdigit():
        repl.out.warn("usage: :tutorial [N]")
        return
    home = user_home(repl)
    attach(repl, int(arg) if arg else None, home,
           lambda: Workspace(home, fresh=True, save=False), exit_on_quit=False)


def _parse_target(repl: Repl, arg: str) -> tuple:
    """(name, address or None) from `sym`, `#8/sym` or `alias/sym`."""
    if "/" in arg and arg != "/":
        head, _, name = arg.rpartition("/")
        return name, address_of(repl.session, head)
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
        try:
            r = repl.ws.compile(arg, repl.bindings())
        except KeyboardInterrupt:
            repl.out.warn("Interrupted.")
            return
        if not r.ok:
            repl.out.error(repl.session, r)
            return
        from kernel.cvm.ops import Op
        if not isinstance(r.value, Op):     # a peer's op too big to rebuild here: as printed
            repl.out.value(r.value)
            repl.out.dim(f"the op compiled on {repl.ws.describe()}, printed as Lisp; "
                         f"compiling took {r.juice:,} juice")
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
            repl.out.value(r.value)
            if repl.ws.remote:          # the peer reports its juice, not its time
                repl.out.info(f"{_fmt_time(r.elapsed)} round trip to {repl.ws.describe()} "
                              f"(network and evaluation) · {r.juice:,} juice on the peer")
                return
            rate = f" · {r.juice / r.elapsed:,.0f} juice/s" if r.elapsed > 0 else ""
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
    home = user_home(repl)
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
        if hasattr(v, "text") and not hasattr(v, "value_id"):  # known only as printed
            text, more = v.text[:59], len(v.text) > 59
        else:
            text, more = print_head(v, 59)
        repl.out.info(f"  {name.ljust(20)} {text + '…' if more else text}")


def _state(repl: Repl) -> str:
    return short_hash(repl.ws.state_hash())


def _slow(repl: Repl, what: str, stack: Optional[str] = None) -> None:
    """Say that going back in time will take a moment (a local network restarts), when it
    will happen (`stack`: the workspace's stack that must not be empty)."""
    ws = repl.ws
    if getattr(ws, "restarts", False) and (stack is None or getattr(ws, stack, None)):
        repl.out.dim(f"{what}: restarting {ws.describe()} from its kept stores…")


def _history(repl: Repl, verb: str, doing: str, done: str) -> None:
    """:undo / :redo: step through the workspace's history, saying the state hashes."""
    was = _state(repl)
    _slow(repl, doing, f"{verb}_stack")
    if getattr(repl.ws, verb)():
        repl.out.info(f"{done}: state {_state(repl)} (was {was})")
    else:
        repl.out.info(f"nothing to {verb} (state {was})")


@command("undo", ":undo", "take back the last transaction")
def _undo(repl: Repl, arg: str) -> None:
    _history(repl, "undo", "undoing", "undone")


@command("redo", ":redo", "redo what :undo took back")
def _redo(repl: Repl, arg: str) -> None:
    _history(repl, "redo", "redoing", "redone")


@command("checkpoint", ":checkpoint name", "name the current state (list them without name)")
def _checkpoint(repl: Repl, arg: str) -> None:
    if not arg:
        hashes = repl.ws.checkpoint_hashes()
        names = [f"{n} ({short_hash(hashes[n])})" if hashes.get(n) else n
                 for n in sorted(hashes)]
        repl.out.info("checkpoints: " + (", ".join(names) if names else "none"))
        return
    repl.ws.checkpoint(arg)
    h = repl.ws.checkpoint_hashes().get(arg)
    repl.out.info(f"checkpoint {arg} saved: state {short_hash(h)}")


@command("restore", ":restore name", "go back to a checkpoint (undoable)")
def _restore(repl: Repl, arg: str) -> None:
    if not arg:
        repl.out.warn("usage: :restore name")
        return
    was = _state(repl)
    if arg in repl.ws.checkpoints:
        _slow(repl, f"restoring {arg}")
    if repl.ws.restore(arg):
        repl.out.info(f"restored {arg}: state {_state(repl)} (was {was}; :undo goes back)")
    else:
        names = ", ".join(sorted(repl.ws.checkpoints)) or "none"
        repl.out.warn(f"no checkpoint {arg!r} (checkpoints: {names})")


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
    from lisp import ReaderError
    from lisp.source import Source, excerpt, syntax_error_line
    try:
        src = Source(text, arg)
    except ReaderError as e:
        repl.out.located(syntax_error_line(arg, e), excerpt(text, e.line, e.column))
        return
    forms = src.forms
    total = 0
    for i, form in enumerate(forms):
        try:
            r = repl.ws.transact_form(form, signed=repl.mode != "eval")
        except KeyboardInterrupt:
            repl.out.warn("Interrupted: the rest of the file was not loaded.")
            return
        total += r.juice
        if not r.ok:
            repl.out.error(repl.session, r)
            line, shown, _ = src.explain(i, "loading stopped at this form", r.trace,
                                         f"form {i + 1} of {len(forms)}")
            repl.out.located(line, shown)
            return
        repl.results.insert(0, r.value)
        del repl.results[3:]
    repl.out.info(f"loaded {arg}: {len(forms)} forms, {total:,} juice")


@command("reset", ":reset", "back to a fresh genesis state (undoable)")
def _reset(repl: Repl, arg: str) -> None:
    was = _state(repl)
    _slow(repl, "resetting")
    repl.ws.reset()
    repl.results.clear()
    repl.out.info(f"reset to genesis: state {_state(repl)} (was {was}; :undo goes back)")


@command("advance", ":advance ms", "move the state's timestamp forward")
def _advance(repl: Repl, arg: str) -> None:
    if not arg.strip().isdigit():
        repl.out.warn("usage: :advance ms")
        return
    t = repl.ws.advance(int(arg))
    repl.out.info(f"timestamp is now {t} (scheduled operations that fell due have run); "
                  f"state {_state(repl)}")


@command("mode", ":mode transact|eval|query",
         "transact: signed transactions with fees (default); eval: unsigned, no fees "
         "(development mode); query: no state change kept")
def _mode(repl: Repl, arg: str) -> None:
    if arg == "eval" and repl.ws.remote:
        repl.out.warn(f"a peer runs signed transactions only: no unsigned :mode eval "
                      f"(mode: {repl.mode})")
        return
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
