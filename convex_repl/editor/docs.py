"""Documentation of a name as editors and notebooks show it (hover, Shift-Tab), from the same
metadata the REPL's `:doc` shows: signatures, description, examples with results, errors.
Also which name sits at a place in the text, and the completion candidates there, which are
the REPL's own (repl.completion.Completions) less its `*1 *2 *3 *e`."""
from __future__ import annotations

from typing import Any, Optional

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                       "*+!-_'?<>=/.#&%$")
_REPL_ONLY = frozenset(("*1", "*2", "*3", "*e"))


def name_at(text: str, offset: int) -> tuple:
    """(name, start, end) of the symbol or path (`alias/name`, `#8/count`) around offset,
    or ("", offset, offset)."""
    i = j = max(0, min(offset, len(text)))
    while i > 0 and text[i - 1] in NAME_CHARS:
        i -= 1
    while j < len(text) and text[j] in NAME_CHARS:
        j += 1
    name = text[i:j].lstrip("'")
    return name, j - len(name), j


def prefix_before(text: str, offset: int) -> str:
    """The part of a name typed before offset (what completion completes)."""
    i = offset
    while i > 0 and text[i - 1] in NAME_CHARS:
        i -= 1
    return text[i:offset].lstrip("'")


def split_path(name: str) -> tuple:
    """("alias", "sym") for `alias/sym`, (None, name) otherwise (`/` alone is division)."""
    if "/" in name[1:]:
        head, _, sym = name.rpartition("/")
        if sym:
            return head, sym
    return None, name


def address_of(session: Any, head: Optional[str]) -> Optional[int]:
    if head is None:
        return None
    from convex_repl.repl.commands import address_of as repl_address_of
    try:
        return repl_address_of(session, head)
    except Exception:
        return None


def doc_of(session: Any, name: str) -> Optional[dict]:
    """The :doc of `name` (or `alias/name`) as seen by the session's account, or None."""
    head, sym = split_path(name)
    addr = address_of(session, head)
    if head is not None and addr is None:
        return None
    try:
        return session.doc(sym, addr)
    except Exception:
        return None


def signatures(name: str, d: dict) -> list:
    """`(map f coll)` lines, as `:doc` prints them."""
    out = []
    for sig in d.get("signature") or []:
        inner = sig[1:-1] if sig.startswith("[") else sig
        out.append(f"({name}{' ' + inner if inner else ''})")
    return out


def markdown(name: str, d: dict, fence: str = "clojure") -> str:
    """Markdown for a hover: signatures as code, description, examples, errors."""
    parts = []
    sigs = signatures(name, d)
    if sigs:
        parts.append(f"```{fence}\n" + "\n".join(sigs) + "\n```")
    if d.get("description"):
        parts.append(d["description"])
    ex = d.get("examples") or []
    if ex:
        lines = [e["code"] + (f"   ; => {e['result']}" if "result" in e else "") for e in ex]
        parts.append(f"**Examples**\n```{fence}\n" + "\n".join(lines) + "\n```")
    errs = d.get("errors") or {}
    if errs:
        parts.append("**Errors**\n" + "\n".join(f"- `:{c}` {why}" for c, why in errs.items()))
    return "\n\n".join(parts)


def plain(name: str, d: dict) -> str:
    """The same as plain text (a notebook's inspection pane)."""
    out = signatures(name, d)
    if d.get("description"):
        out += ["", d["description"]]
    ex = d.get("examples") or []
    if ex:
        out += ["", "Examples:"] + ["  " + e["code"] + (f"   ; => {e['result']}"
                                                        if "result" in e else "") for e in ex]
    errs = d.get("errors") or {}
    if errs:
        out += ["", "Errors:"] + [f"  :{c}  {why}" for c, why in errs.items()]
    return "\n".join(out)


class _Shim:
    """What repl.completion.Completions asks of a workspace: its session."""

    def __init__(self, session: Any):
        self.session = session


def completions(session: Any, prefix: str, extra: tuple = ()) -> list:
    """(name, one-line description) for names starting with prefix: the REPL's candidates
    (own definitions, special forms and symbols, visible names, `alias/` paths) and `extra`
    names (a file's definitions not run yet)."""
    from convex_repl.repl.completion import Completions
    if not prefix:
        return []
    try:
        cands = Completions(_Shim(session)).candidates(prefix)
    except Exception:
        cands = []
    out = [(n, meta) for n, meta in cands if n not in _REPL_ONLY]
    seen = {n for n, _ in out}
    for n in sorted(extra):
        if n.startswith(prefix) and n not in seen:
            out.append((n, "defined in this file"))
            seen.add(n)
    return out


__all__ = ["name_at", "prefix_before", "split_path", "doc_of", "markdown", "plain",
           "signatures", "completions", "address_of", "NAME_CHARS"]
