"""Tab completion: candidates for the word before the cursor (own definitions, special forms,
core names, *1 *2 *3 *e, `addr/sym` and `alias/sym`, `:commands`), each with its signature
and first doc line. `Completions` is independent of the terminal; `make_completer` wraps it
for prompt_toolkit. It asks only the SessionView (interface.py), so against a peer the names
and docs are the peer's (remote_workspace.PeerSession keeps them between Tabs)."""
from __future__ import annotations

from typing import Any, Optional

from convex_repl.repl.commands import COMMANDS, address_of
from convex_repl.repl.interface import WorkspaceAPI
from convex_repl.repl.render import first_line

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
        self._ws = workspace        # a workspace, or something with a .ws property (a Repl)

    @property
    def ws(self) -> WorkspaceAPI:
        return self._ws.ws if hasattr(type(self._ws), "ws") else self._ws

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
            addr = address_of(s, head)
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
            try:
                cands = comp.candidates(word)[:200]
            except Exception:           # a peer gone away, say: no completions, no crash
                return
            for cand, meta in cands:
                yield Completion(cand, start_position=-len(word), display_meta=meta)

    return ConvexCompleter()
