"""The first prompt, drawn before prompt_toolkit is imported: importing it is ~110 ms, most of
the REPL's start-up, so run_repl shows this prompt at once, makes the workspace (in another
thread), echoes and evaluates what is typed meanwhile, and imports prompt_toolkit only once
the workspace is made; prompt_toolkit then goes on from this prompt as if it had drawn it.

It reads plain typing only: printable ASCII, Backspace within the line, Enter (submitting a
balanced input, once the workspace is there, else opening a line indented as
prompt_toolkit's would be). At any other key (arrows, Tab, Escape, Ctrl-C, Ctrl-D, a paste,
non-ASCII text) or a :command it stops reading: the text typed so far and the keys after it
go to prompt_toolkit."""
from __future__ import annotations

import os
import select
import sys
from typing import Any, Callable, Optional

from convex_repl.repl.commands import Quit
from convex_repl.repl.forms import indent_for, is_complete


class FirstPrompt:
    """A prompt on the terminal at `fd` (stdin; stdout is its output) in no-echo, unbuffered
    mode from `show()` until `restore()`; `read(repl)` evaluates complete inputs in `repl`."""

    def __init__(self, prompt: str, fd: int = 0):
        self.prompt = prompt
        self.fd = fd
        self.text = ""          # typed and not submitted: prompt_toolkit's starting text
        self.rest = b""         # keys read but not handled: prompt_toolkit's typeahead
        self.submitted: list = []   # inputs evaluated here, for prompt_toolkit's history
        self._saved: Optional[list] = None
        self._closed = False

    # --- the terminal ---------------------------------------------------------------------
    def show(self) -> None:
        """Draw the prompt. Keys are read only on a terminal termios can set (else all are
        left to prompt_toolkit)."""
        try:
            import termios
            self._saved = termios.tcgetattr(self.fd)
        except Exception:       # no termios (Windows), or termios.error: no such terminal
            self._saved = None
        else:
            self._raw()
        self._write(self.prompt)

    def _raw(self) -> None:
        """No echo, no line buffering, no signals (Ctrl-C is a key), pastes bracketed: as
        under prompt_toolkit."""
        import termios
        mode = termios.tcgetattr(self.fd)
        mode[0] &= ~(termios.IXON | termios.IXOFF | termios.ICRNL | termios.INLCR
                     | termios.IGNCR)
        mode[3] &= ~(termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN)
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
        termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        self._write("\x1b[?2004h")    # bracketed paste: a paste starts with Escape

    def restore(self) -> None:
        """The terminal as it was (keys typed and not read stay for the next reader)."""
        if self._saved is not None:
            import termios
            termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
            self._write("\x1b[?2004l")

    def _write(self, s: str) -> None:
        sys.stdout.write(s)
        sys.stdout.flush()

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(sys.stdout.fileno()).columns or 80
        except OSError:
            return 80

    def _continuation(self) -> str:
        return " " * (len(self.prompt) - 3) + ".. "     # as prompt.make_session's

    def _lines(self) -> list:
        """The prompt and the typed text as shown, line by line."""
        lines = self.text.split("\n")
        return [self.prompt + lines[0]] + [self._continuation() + ln for ln in lines[1:]]

    def redraw(self, above: Callable[[], str]) -> None:
        """Print what `above()` prints where the prompt is, and below it the prompt (now the
        one `above()` returns) and the typed text again."""
        self.erase()
        self.prompt = above()
        self._write("\n".join(self._lines()))

    def erase(self) -> None:
        """Clear the prompt and the typed text, leaving the cursor where the prompt began."""
        cols = self._columns()
        rows = sum(max(1, -(-len(ln) // cols)) for ln in self._lines())
        self._write("\r" + (f"\x1b[{rows - 1}A" if rows > 1 else "") + "\x1b[J")

    # --- keys -----------------------------------------------------------------------------
    def _available(self) -> bytes:
        data = b""
        while select.select([self.fd], [], [], 0)[0]:
            chunk = os.read(self.fd, 4096)
            if not chunk:
                self._closed = True     # end of input: prompt_toolkit will see it
                break
            data += chunk
        return data

    def read_until(self, repl: Any, done: int) -> bool:
        """Read keys as they are typed (`read`) until file descriptor `done` is readable
        or a key is left to prompt_toolkit. False if an input ended the REPL."""
        while not self.rest and not self._closed:
            ready = select.select([self.fd, done], [], [])[0] if self._saved else [done]
            if done in ready:
                break
            if not self.read(repl):
                return False
        return True

    def read(self, repl: Any) -> bool:
        """Handle the keys typed so far: echo them, evaluate each complete input in `repl`
        (Enter waits for a workspace still loading). False if one of them was :quit-like
        (Quit raised)."""
        data = self._available() if self._saved is not None else b""
        if self.rest:           # a key was left to prompt_toolkit: so are those after it
            self.rest += data
            return True
        for i, b in enumerate(data):
            if 0x20 <= b < 0x7f:
                self.text += chr(b)
                self._write(chr(b))
            elif b in (0x7f, 0x08) and not self.text:
                pass
            elif b in (0x7f, 0x08) and self._can_erase():
                self.text = self.text[:-1]
                self._write("\b \b")
            elif b in (0x0a, 0x0d) and not is_complete(self.text):
                indent = " " * indent_for(self.text)
                self.text += "\n" + indent
                self._write("\n" + self._continuation() + indent)
            elif b in (0x0a, 0x0d) and not self.text.lstrip().startswith(":"):
                if not self._submit(repl):
                    return False
            else:               # prompt_toolkit's: it handles this key and those after it
                self.rest = data[i:]
                return True
        return True

    def _can_erase(self) -> bool:
        """Backspace on a character of the current line, not at a wrapped line's edge."""
        return bool(self.text.rpartition("\n")[2]) \
            and len(self._lines()[-1]) % self._columns() != 0

    def _submit(self, repl: Any) -> bool:
        text, self.text = self.text, ""
        self._write("\n")
        if text and (not self.submitted or self.submitted[-1] != text):
            self.submitted.append(text)
        self.restore()          # evaluation as under prompt_toolkit: Ctrl-C interrupts it
        try:
            repl.handle(text)
        except Quit:
            return False
        except KeyboardInterrupt:
            repl.out.warn("Interrupted; the session is unchanged.")
        finally:
            self._raw()
        self.prompt = repl.prompt()
        self._write(self.prompt)
        return True

    def typeahead(self) -> list:
        """The keys not handled, as prompt_toolkit's key presses."""
        from prompt_toolkit.input.vt100_parser import Vt100Parser
        keys: list = []
        parser = Vt100Parser(keys.append)
        parser.feed(self.rest.decode("utf-8", "surrogateescape"))
        parser.flush()
        return keys
