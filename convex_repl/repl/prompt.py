"""The terminal front end: `run_repl()` puts a Repl behind a prompt_toolkit session
(highlighting, bracket matching, auto-indent, balanced-form submission, completion,
persistent history, Emacs/Vi editing, the tutor's toolbar) and loops until :quit or Ctrl-D.
prompt_toolkit and pygments are imported when it runs, not with this module."""
from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from convex_repl.repl.app import Repl
from convex_repl.repl.background import Pending
from convex_repl.repl.commands import Quit
from convex_repl.repl.completion import make_completer
from convex_repl.repl.first import FirstPrompt
from convex_repl.repl.keys import key_bindings
from convex_repl.repl.render import Printer

if TYPE_CHECKING:
    from convex_repl.repl.workspace import Workspace


def run_repl(workspace: Any, vi: bool = False, color: bool = True, banner: bool = True,
             home: Optional[Path] = None, address: int = 13,
             tutorial: Optional[Callable[[Repl], Any]] = None) -> int:
    """The interactive loop. `workspace` is a Workspace or a function making one (then it is
    made while a first prompt, first.FirstPrompt, is up, and prompt_toolkit is imported
    after: pass `home` and `address`; during a tutorial it is made in the background while
    the lesson is shown). `tutorial(repl)`, if given, starts a lesson in the REPL before the
    first prompt."""
    printer = Printer(color=color)
    acting = address if callable(workspace) else workspace.address
    text = (f"Convex Lisp REPL · acting as #{acting} · :help for commands · :tutorial to "
            "learn Convex Lisp · Ctrl-D to quit")
    if banner and tutorial is None:   # plain text: rich is imported only when needed
        print(f"\x1b[2m{text}\x1b[0m" if color else text, flush=True)
    if callable(workspace) and tutorial is None:
        started = _start(workspace, printer, home, vi, color, address)
        if started is None:
            print("bye")
            return 0
        repl, session = started
    elif callable(workspace):
        from convex_repl import lexer
        lexer.defer_core_names()        # highlighting must not import the kernel meanwhile
        make = workspace

        def load() -> Workspace:
            ws = make()
            from kernel.cvm.registry import CORE
            lexer.set_core_names(CORE)
            return ws

        repl = Repl(Pending(load), printer, address=address)
        session = make_session(repl, home, vi, color)
    else:
        repl = Repl(workspace, printer)
        for w in workspace.warnings:
            printer.warn(w)
        session = make_session(repl, workspace.home, vi, color)
        if tutorial is None:
            repl.show_notices()         # "restored the saved session ...", once
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


def _start(make: Callable[[], Any], printer: Printer, home: Optional[Path], vi: bool,
           color: bool, address: int) -> Optional[tuple]:
    """(repl, session): the first prompt shown at once, the workspace made in the background
    while what is typed is echoed (and evaluated once it is there), then prompt_toolkit's
    session, which goes on from the first prompt's text and keys. None if an input there
    ended the REPL."""
    first = FirstPrompt(f"convex #{address}> ")
    first.show()
    done_r, done_w = os.pipe()

    def load() -> Any:
        try:
            return _made(make)
        finally:
            os.write(done_w, b".")

    pending = Pending(load)
    repl = Repl(pending, printer, address=address)
    try:
        pending.start()
        if not first.read_until(repl, done_r):
            return None
        ws = pending.get()
        if not repl.ready:      # no input used it yet: its warnings and notices ("restored
            def above() -> str:  # the saved session ...") go above the prompt
                repl.ws             # resolving it shows them
                return repl.prompt()
            if ws.warnings or getattr(ws, "notices", None) or ws.address != address:
                first.redraw(above)
            else:
                above()
        if not first.read(repl):
            return None
        session = make_session(repl, home, vi, color)
        first.erase()
    finally:
        first.restore()
        os.close(done_r)
        os.close(done_w)
    for text in first.submitted:
        session.history.append_string(text)
    from prompt_toolkit.input.typeahead import store_typeahead
    store_typeahead(session.app.input, first.typeahead())
    repl.insert = first.text
    return repl, session


def _made(make: Callable[[], Any]) -> Any:
    """make(), with garbage collection put off until it returns (~10 ms of a first result):
    what it allocates (modules, genesis's cells) lives on. Then everything alive is frozen,
    so later collections never rescan it; a replayed journal's garbage is still collected
    every 50,000 allocations, at most that many frozen."""
    threshold = gc.get_threshold()
    gc.set_threshold(50_000, *threshold[1:])
    try:
        return make()
    finally:
        gc.set_threshold(*threshold)
        gc.freeze()


def make_session(repl: Repl, home: Optional[Path], vi: bool, color: bool) -> Any:
    """The PromptSession in front of `repl` (history in `home`, if any). It starts a Pending
    workspace once the first prompt is drawn, and `repl.editing_mode` switches Emacs/Vi."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.enums import EditingMode
    from prompt_toolkit.history import FileHistory, InMemoryHistory
    from prompt_toolkit.layout.processors import HighlightMatchingBracketProcessor
    from prompt_toolkit.lexers import PygmentsLexer
    from prompt_toolkit.styles import style_from_pygments_cls
    from pygments.styles import get_style_by_name

    from convex_repl.lexer import ConvexLexer

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
        key_bindings=key_bindings(repl),
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
    return session
