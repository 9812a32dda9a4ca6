"""Runnable lessons: the Markdown format, parsing it, and the doctest that checks a lesson
against the REPL (in a fresh session; blocks that need a peer against a `convex local start`
of their own). The tutor that walks a learner through a lesson is tutor.py.

A lesson is `tutorials/NN-name.md`. Its first `# ` heading is the title. Code blocks whose
info string is `convex` are REPL transcripts, and only those are run:

    ```convex
    convex #13> (defn sq [x]
             ..   (* x x))
    (fn [x] (* %0 %0))
    convex #13> (sq 12)
    144
    ```

- The REPL's prompt (`convex #13> `, `convex #11 query> `...) starts an input, and must be
  the prompt the REPL really shows at that point (the doctest checks it); `convex> ` is
  accepted too, unchecked. Lines starting with `..` (after spaces) continue an input.
- The lines up to the next input are what the REPL prints for it, without the cost badge
  (colours aside, exactly what `convex` shows).
- `...` in a result matches any text (addresses, balances, hashes, times).
- For an error, the lines after the first (`Error :CODE  message`), the trace and the hint,
  may be left out: the shown lines must match the first lines printed.
- Whitespace is not significant: runs of spaces and line breaks compare equal, so results
  may be wrapped as the REPL does on a narrower terminal.
- ```` ```convex needs-peer ```` marks a block that needs a running peer: skipped, with the
  reason, while this build has no `convex local start`; such blocks run in their own session.

Other code blocks (```` ```sh ````, ```` ```clojure ````) are shown, never run.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from convex_repl.repl.app import Repl
from convex_repl.repl.commands import Quit
from convex_repl.repl.render import Printer
from convex_repl.repl.workspace import Workspace

PROMPT = "convex> "          # a prompt without an account: accepted, not checked
_PROMPT = re.compile(r"^convex(?: #\d+)?(?: [a-z]+)?>(?: |$)")
_CONT = re.compile(r"^\s*\.\.(?: |$)")
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*(.*)$")
PEER_MARK = "needs-peer"


# --- lessons ----------------------------------------------------------------------------------

@dataclass
class Step:
    input: str
    expected: str                 # the result lines, joined with newlines
    line: int                     # line of the input in the lesson file (1-based)
    block: int                    # index of its block in the lesson
    prose: str = ""               # the text before its block (first step of a block only)
    needs: Optional[str] = None   # "peer" for blocks that need a running peer
    prompt: Optional[str] = None  # the prompt shown before it ("convex #13> "), if any


@dataclass
class Lesson:
    number: int
    slug: str
    title: str
    path: Path
    steps: list = field(default_factory=list)
    outro: str = ""               # the text after the last transcript

    @property
    def local_steps(self) -> list:
        return [s for s in self.steps if s.needs is None]


class LessonError(ValueError):
    pass


def tutorials_dir() -> Path:
    """Where the lessons are: $CONVEX_TUTORIALS, else `tutorials/` beside convex_repl."""
    env = os.environ.get("CONVEX_TUTORIALS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "tutorials"


def lesson_files(base: Optional[Path] = None) -> list:
    base = tutorials_dir() if base is None else base
    return sorted(p for p in base.glob("[0-9]*.md") if p.is_file())


def load_lessons(base: Optional[Path] = None) -> list:
    return [parse_lesson(p.read_text(), p) for p in lesson_files(base)]


def parse_lesson(text: str, path: Path) -> Lesson:
    m = re.match(r"(\d+)", path.stem)
    number = int(m.group(1)) if m else 0
    lesson = Lesson(number, path.stem, path.stem, path)
    lines = text.split("\n")
    prose: list = []
    i, block = 0, 0
    while i < len(lines):
        ln = lines[i]
        if lesson.title == path.stem and ln.startswith("# "):
            lesson.title = ln[2:].strip()
            i += 1
            continue
        f = _FENCE.match(ln)
        if not f:
            prose.append(ln)
            i += 1
            continue
        fence, info = f.group(1), f.group(2).split()
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        if j >= len(lines):
            raise LessonError(f"{path.name}:{i + 1}: code block not closed")
        if info[:1] != ["convex"]:
            prose.extend(lines[i:j + 1])
            i = j + 1
            continue
        needs = None
        for word in info[1:]:
            if word == PEER_MARK:
                needs = "peer"
            else:
                raise LessonError(f"{path.name}:{i + 1}: unknown block marker {word!r}")
        steps = _transcript(lines[i + 1:j], i + 2, path, block, needs)
        if not steps:
            raise LessonError(f"{path.name}:{i + 1}: a convex block without any input")
        steps[0].prose = _clean("\n".join(prose))
        lesson.steps.extend(steps)
        prose = []
        block += 1
        i = j + 1
    lesson.outro = _clean("\n".join(prose))
    return lesson


def _clean(text: str) -> str:
    return text.strip("\n")


def _transcript(lines: list, first_line: int, path: Path, block: int,
                needs: Optional[str]) -> list:
    steps: list = []
    cur: Optional[dict] = None
    for k, ln in enumerate(lines):
        m = _PROMPT.match(ln)
        if m:
            if cur:
                steps.append(_step(cur))
            shown = m.group(0).rstrip() + " "
            cur = {"input": [ln[m.end():]], "out": [], "line": first_line + k,
                   "block": block, "needs": needs,
                   "prompt": None if shown == PROMPT else shown}
        elif cur is None:
            if ln.strip():
                raise LessonError(f"{path.name}:{first_line + k}: a convex block must start "
                                  f"with the REPL's prompt ('convex #13> ')")
        elif _CONT.match(ln) and not cur["out"]:
            cur["input"].append(_CONT.sub("", ln, count=1))
        else:
            cur["out"].append(ln)
    if cur:
        steps.append(_step(cur))
    return steps


def _step(cur: dict) -> Step:
    out = list(cur["out"])
    while out and not out[-1].strip():
        out.pop()
    return Step("\n".join(cur["input"]).strip(), "\n".join(out), cur["line"], cur["block"],
                needs=cur["needs"], prompt=cur["prompt"])


# --- matching -------------------------------------------------------------------------------

def _norm(text: str) -> str:
    """Whitespace runs as one space; none after commas (a map broken over lines has them)."""
    return re.sub(r", ", ",", " ".join(text.split()))


def _pattern(expected: str) -> "re.Pattern":
    parts = _norm(expected).split("...")
    return re.compile(".*?".join(re.escape(p) for p in parts), re.S)


def matches(expected: str, printed: list, error: bool) -> bool:
    """Does the shown result match what the REPL printed (a list of lines)? For an error the
    shown lines may stop after any printed line."""
    pat = _pattern(expected)
    if error:
        return any(pat.fullmatch(_norm("\n".join(printed[:k])))
                   for k in range(len(printed), 0, -1))
    return pat.fullmatch(_norm("\n".join(printed))) is not None


# --- capturing what the REPL prints -----------------------------------------------------------

class RecordingPrinter(Printer):
    """A Printer that also keeps the plain text of everything printed (the cost badge aside)
    since `start()`; with `echo=False` it prints nothing to the terminal."""

    def __init__(self, console: Any = None, color: bool = True, echo: bool = True,
                 width: int = 78):
        super().__init__(console, color)
        self.echo = echo
        self._width = width
        self.lines: list = []
        self.error_seen = False
        self._inside = 0

    def start(self) -> None:
        self.lines, self.error_seen = [], False

    @property
    def width(self) -> int:
        return super().width if self.echo else self._width

    def _keep(self, text: str) -> None:
        if not self._inside:
            self.lines.extend(text.split("\n"))

    def _echo(self, method: Callable, *args: Any) -> None:
        """Print through Printer's own method, without recording what it prints itself."""
        if not self.echo:
            return
        self._inside += 1
        try:
            method(*args)
        finally:
            self._inside -= 1

    def code(self, text: str) -> None:
        self._keep(text)
        self._echo(super().code, text)

    def dim(self, text: str) -> None:
        self._keep(text)
        self._echo(super().dim, text)

    def rich(self, renderable: Any) -> None:
        import io
        from rich.console import Console
        # unwrapped: a tree's wrapped lines carry its guides, which no transcript could match
        plain = Console(file=io.StringIO(), width=1000, color_system=None, highlight=False)
        plain.print(renderable)
        self._keep("\n".join(ln.rstrip() for ln in plain.file.getvalue().rstrip("\n").split("\n")))
        self._echo(super().rich, renderable)

    def info(self, text: str) -> None:
        self._keep(text)
        self._echo(super().info, text)

    def warn(self, text: str) -> None:
        self._keep(text)
        self._echo(super().warn, text)

    def located(self, line: str, shown: str = "") -> None:
        self._keep(line)
        if shown:
            self._keep(shown)
        self._echo(super().located, line, shown)

    def badge(self, r: Any) -> None:
        self._echo(super().badge, r)

    def error(self, session: Any, r: Any) -> None:
        from convex_repl.repl.render import error_lines
        if not self._inside:
            self.error_seen = True
            self.lines.extend(error_lines(session, r))
        self._echo(super().error, session, r)


# --- the doctest ---------------------------------------------------------------------------------

@dataclass
class Mismatch:
    lesson: Lesson
    step: Step
    got: list
    prompt: Optional[str] = None  # the REPL's real prompt, when the lesson shows another

    def __str__(self) -> str:
        if self.prompt is not None:
            return (f"{self.lesson.path.name}:{self.step.line}: the lesson shows the prompt "
                    f"{self.step.prompt!r}, the REPL shows {self.prompt!r}")
        got = "\n".join(self.got) or "(nothing)"
        return (f"{self.lesson.path.name}:{self.step.line}: {self.step.input}\n"
                f"  expected:\n{_indent(self.step.expected or '(nothing)')}\n"
                f"  got:\n{_indent(got)}")


def _indent(text: str, pad: str = "    ") -> str:
    return "\n".join(pad + ln for ln in text.split("\n"))


def new_repl(printer: Printer, home: Optional[Path] = None) -> Any:
    """A REPL on a fresh genesis session that saves nothing."""
    return Repl(Workspace(home, fresh=True, save=False), printer)


def run_input(repl: Any, text: str) -> tuple:
    """Run one input as the REPL does; (printed lines, whether it was an error)."""
    rec = repl.out
    rec.start()
    errors = repl.errors
    try:
        repl.dispatch(text)
    except Quit:
        pass
    lines = list(rec.lines)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines, rec.error_seen or repl.errors > errors


def check_steps(lesson: Lesson, steps: list, home: Optional[Path] = None,
                width: int = 78) -> list:
    """Run steps in order in a fresh session (results printed `width` wide); the
    mismatches."""
    repl = new_repl(RecordingPrinter(echo=False, width=width), home)
    bad = []
    for st in steps:
        if st.prompt is not None and st.prompt != repl.prompt():
            bad.append(Mismatch(lesson, st, [], prompt=repl.prompt()))
        repl.ask = _answers(repl, st.expected)
        got, err = run_input(repl, st.input)
        if not matches(st.expected, got, err):
            bad.append(Mismatch(lesson, st, got))
    return bad


DEBUG_PROMPT = "debug> "


def _answers(repl: Repl, expected: str) -> Callable:
    """What the lesson types at the step debugger's `debug> ` prompt (the lines of the
    transcript that start with it), given in turn and echoed as the terminal shows them."""
    todo = [ln[len(DEBUG_PROMPT):] for ln in expected.splitlines()
            if ln.startswith(DEBUG_PROMPT)]

    def ask(prompt: str) -> Optional[str]:
        if not todo:
            return None
        line = todo.pop(0)
        repl.out.info(prompt + line)
        return line
    return ask


def check_lesson(lesson: Lesson, home: Optional[Path] = None, width: int = 78) -> list:
    """The doctest of a lesson's local blocks: every input run in order in a fresh session."""
    return check_steps(lesson, lesson.local_steps, home, width)


LESSON_PEER_URL = "http://127.0.0.1:8080"   # the URL lessons show for `convex local start`


def check_peer_steps(lesson: Lesson, home: Optional[Path] = None) -> list:
    """The doctest of a lesson's blocks that need a peer: a `convex local start` peer is
    started on a free port (its URL replaces LESSON_PEER_URL in the inputs) and the blocks
    run in order in a fresh session of their own; the peer is stopped after."""
    steps = [s for s in lesson.steps if s.needs == "peer"]
    if not steps:
        return []
    proc, url = start_local_peer()
    try:
        moved = [Step(s.input.replace(LESSON_PEER_URL, url), s.expected, s.line, s.block,
                      needs=s.needs, prompt=s.prompt) for s in steps]
        return check_steps(lesson, moved, home)
    finally:
        stop_process(proc)


def start_local_peer(timeout: float = 60.0) -> tuple:
    """(process, REST URL) of `convex local start --port 0 --json`, once it serves."""
    import select
    import subprocess
    import sys
    import time
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, "-m", "convex_repl", "local", "start",
                             "--port", "0", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=env)
    end = time.time() + timeout
    while time.time() < end:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            try:
                return proc, json.loads(line)["url"]
            except (ValueError, KeyError):
                continue
        if proc.poll() is not None:
            break
    stop_process(proc)
    raise RuntimeError("convex local start did not print its URL: "
                       + (proc.stderr.read() if proc.stderr else ""))


def stop_process(proc: Any) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except Exception:
            proc.kill()
            proc.wait(10)
