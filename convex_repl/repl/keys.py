"""The prompt's key bindings beyond prompt_toolkit's Emacs/Vi ones: Enter submits a balanced
input (else opens an indented line), Alt-Enter / Esc Enter always opens one, and Ctrl-T puts
the tutorial step's code on the prompt. prompt_toolkit is imported only when they are made."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convex_repl.repl.forms import indent_for, is_complete

if TYPE_CHECKING:
    from convex_repl.repl.app import Repl


def key_bindings(repl: Repl) -> Any:
    """The KeyBindings for a prompt in front of `repl`."""
    from prompt_toolkit.filters import Condition, vi_navigation_mode
    from prompt_toolkit.key_binding import KeyBindings

    kb = KeyBindings()

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

    @kb.add("c-t", filter=Condition(lambda: repl.tutor is not None))
    def _(event):
        # In a tutorial: the current step's code on the prompt, ready for Enter (elsewhere
        # Ctrl-T keeps its usual meaning, transpose characters).
        if repl.tutor.step_input():
            event.current_buffer.text = repl.tutor.step_input()
            event.current_buffer.cursor_position = len(event.current_buffer.text)

    return kb
