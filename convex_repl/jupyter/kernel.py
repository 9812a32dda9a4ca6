"""The Convex Lisp Jupyter kernel, on ipykernel's kernel base (which speaks the protocol).

A notebook is one REPL session (repl.app.Repl) on a workspace of its own: a fresh local CVM,
a copy of the saved session (`--fork`, never saved back), or a peer (`--url`). Each cell is
one input of that REPL: a transaction (or a query or unsigned evaluation after `:mode`), or
a `:command` (`:doc`, `:connect URL`, `:account #11`...). What the REPL would print is sent
as the cell's output: the value as its result (with `cost` in the result's metadata), the
cost badge under it, an error as the cell's error (code, message, trace, hint and where in
the cell), other lines as text. Completion is the REPL's Tab, inspection (Shift-Tab) its
`:doc`.
"""
from __future__ import annotations

import html
from typing import Any, Optional

from ipykernel.kernelbase import Kernel

from convex_repl.repl.render import (MORE_CHARS, SHOWN_CHARS, Printer, badge, error_lines,
                                     pformat_cut, too_large_note, truncate)

WIDTH = 100


class CellPrinter(Printer):
    """A Printer that keeps what one cell prints, as (kind, text) events, instead of
    drawing it on a terminal; `result` is the last value or error's Result (for its cost)."""

    def __init__(self) -> None:
        super().__init__(color=False)
        self.events: list = []
        self.result: Any = None

    @property
    def width(self) -> int:
        return WIDTH

    def start(self) -> None:
        self.events, self.result = [], None

    def value(self, v: Any, full: bool = False) -> bool:
        """As the REPL shows a value: cut at 40 lines, in full (up to MORE_CHARS) for :more."""
        limit = MORE_CHARS if full else SHOWN_CHARS
        text, more = pformat_cut(v, WIDTH, limit=limit)
        cut = 0
        if not full:
            text, cut = truncate(text)
        self.events.append(("value", text))
        if more:
            self.events.append(("dim", too_large_note(limit, full)))
        elif cut:
            self.events.append(("dim", f"… {cut} more line{'s' if cut != 1 else ''}: :more "
                                       "shows all"))
        return bool(cut or more)

    def code(self, text: str) -> None:
        self.events.append(("text", text))

    def info(self, text: str) -> None:
        self.events.append(("text", text))

    def dim(self, text: str) -> None:
        self.events.append(("dim", text))

    def warn(self, text: str) -> None:
        self.events.append(("warn", text))

    def located(self, line: str, shown: str = "") -> None:
        self.events.append(("where", line + ("\n" + shown if shown else "")))

    def badge(self, r: Any) -> None:
        self.result = r
        self.events.append(("badge", badge(r)))

    def error(self, session: Any, r: Any) -> None:
        self.result = r
        self.events.append(("error", error_lines(session, r)))


def cost(r: Any) -> dict:
    """The cost of a result as plain data (the badge's figures)."""
    out = {"juice": r.juice, "fee": r.fee, "juice_price": r.juice_price}
    if getattr(r, "memory", None) is not None:
        out["memory"] = r.memory
    return out


class ConvexKernel(Kernel):
    implementation = "convex"
    implementation_version = "0.1"
    banner = ("Convex Lisp: each cell is a transaction (:mode query for queries); "
              ":help lists the REPL's commands")
    language_info = {
        "name": "convex",
        "mimetype": "text/x-convex",
        "file_extension": ".cvx",
        "pygments_lexer": "convex",
        "codemirror_mode": "clojure",
    }

    session_kind = "fresh"           # set by main() from the kernel's arguments
    peer_url: Optional[str] = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from convex_repl.repl.app import Repl
        from convex_repl.repl.background import Pending
        self.out = CellPrinter()
        pending = Pending(lambda: make_workspace(self.session_kind, self.peer_url))
        pending.start()
        self.repl = Repl(pending, self.out)

    # --- running a cell ----------------------------------------------------------------------
    async def do_execute(self, code: str, silent: bool, store_history: bool = True,
                         user_expressions: Any = None, allow_stdin: bool = False, *,
                         cell_meta: Any = None, cell_id: Any = None) -> dict:
        from convex_repl.repl.commands import Quit
        self.out.start()
        try:
            self.repl.handle(code)
        except Quit:
            self.out.events.append(("warn", "a notebook can't quit: restart the kernel to "
                                            "start a new session"))
        except Exception as e:          # a workspace that failed to start, say: one line
            self.out.events.append(("error", [f"Error  {type(e).__name__}: {e}"]))
        failed = None
        if not silent:
            failed = self._publish(self.out.events, self.out.result)
        else:
            failed = next((ev for ev in self.out.events if ev[0] == "error"), None)
        reply = {"status": "ok", "execution_count": self.execution_count, "payload": [],
                 "user_expressions": {}}
        if failed is not None:
            lines = failed[1]
            reply.update(status="error", ename=lines[0].split()[1] if len(lines[0].split()) > 1
                         else "Error", evalue=_message(lines[0]), traceback=lines)
        return reply

    def _publish(self, events: list, r: Any) -> Optional[tuple]:
        """Send a cell's events in order; the error event, if there was one."""
        failed = None
        where = [t for k, t in events if k == "where"]
        for kind, text in events:
            if kind == "value":
                data = {"text/plain": text}
                meta = {"convex": {"cost": cost(r)}} if r is not None else {}
                self.send_response(self.iopub_socket, "execute_result", {
                    "execution_count": self.execution_count, "data": data, "metadata": meta})
            elif kind == "badge":
                self.send_response(self.iopub_socket, "display_data", {
                    "data": {"text/plain": text,
                             "text/html": f'<span style="color:gray">{html.escape(text)}'
                                          '</span>'},
                    "metadata": {"convex": {"badge": True, "cost": cost(r)}}})
            elif kind == "error":
                failed = (kind, list(text) + where)
                first = text[0]
                self.send_response(self.iopub_socket, "error", {
                    "ename": first.split()[1] if len(first.split()) > 1 else "Error",
                    "evalue": _message(first), "traceback": failed[1]})
            elif kind == "where":
                continue                # part of the error
            else:
                name = "stderr" if kind == "warn" else "stdout"
                self.send_response(self.iopub_socket, "stream",
                                   {"name": name, "text": text + "\n"})
        return failed

    # --- completion and inspection -------------------------------------------------------------
    async def do_complete(self, code: str, cursor_pos: int) -> dict:
        from convex_repl.editor.docs import prefix_before
        from convex_repl.repl.commands import COMMANDS
        from convex_repl.repl.completion import Completions
        before = code[:cursor_pos]
        stripped = before.lstrip()
        if stripped.startswith(":") and " " not in stripped:
            matches = [":" + n for n in sorted(COMMANDS) if (":" + n).startswith(stripped)]
            return _completion(matches, cursor_pos - len(stripped), cursor_pos)
        prefix = prefix_before(code, cursor_pos)
        try:
            cands = Completions(self.repl).candidates(prefix) if prefix else []
        except Exception:
            cands = []
        return _completion([c for c, _ in cands], cursor_pos - len(prefix), cursor_pos,
                           {c: m for c, m in cands})

    async def do_inspect(self, code: str, cursor_pos: int, detail_level: int = 0,
                         omit_sections: Any = ()) -> dict:
        from convex_repl.editor.docs import doc_of, markdown, name_at, plain
        name, _, _ = name_at(code, cursor_pos)
        if not name and cursor_pos > 0:
            name, _, _ = name_at(code, cursor_pos - 1)
        d = doc_of(self.repl.session, name) if name else None
        if not d:
            return {"status": "ok", "data": {}, "metadata": {}, "found": False}
        return {"status": "ok", "found": True, "metadata": {},
                "data": {"text/plain": plain(name, d), "text/markdown": markdown(name, d)}}

    async def do_is_complete(self, code: str) -> dict:
        from convex_repl.repl.forms import indent_for, is_complete
        if is_complete(code):
            return {"status": "complete"}
        return {"status": "incomplete", "indent": " " * indent_for(code)}


def _message(first: str) -> str:
    """The message part of "Error :CODE  message"."""
    parts = first.split(None, 2)
    return parts[2] if len(parts) > 2 else ""


def _completion(matches: list, start: int, end: int, meta: Optional[dict] = None) -> dict:
    out = {"status": "ok", "matches": matches, "cursor_start": start, "cursor_end": end,
           "metadata": {}}
    if meta:
        out["metadata"]["_jupyter_types_experimental"] = [
            {"text": m, "start": start, "end": end, "type": "function",
             "signature": meta.get(m, "")} for m in matches]
    return out


def make_workspace(kind: str, url: Optional[str]) -> Any:
    """The notebook's workspace: a fresh local CVM, a copy of the saved session, or a peer.
    Nothing is ever saved to the convex directory."""
    if url:
        from convex_repl.repl.remote_workspace import RemoteWorkspace
        return RemoteWorkspace(url)
    from convex_repl.home import convex_home
    from convex_repl.repl.workspace import Workspace
    try:
        home = convex_home()
    except OSError:
        home = None
    return Workspace(home, fresh=kind != "fork", save=False)


def main(argv: Optional[list] = None) -> None:
    """`python -m convex_repl.jupyter -f CONNECTION_FILE [--fork | --url URL]`, as the kernel
    spec runs it."""
    import sys
    from ipykernel.kernelapp import IPKernelApp
    args = list(sys.argv[1:] if argv is None else argv)
    if "--fork" in args:
        args.remove("--fork")
        ConvexKernel.session_kind = "fork"
    if "--url" in args:
        i = args.index("--url")
        ConvexKernel.peer_url = args[i + 1] if i + 1 < len(args) else None
        del args[i:i + 2]
    IPKernelApp.launch_instance(argv=args, kernel_class=ConvexKernel)


__all__ = ["ConvexKernel", "CellPrinter", "make_workspace", "main", "cost"]
