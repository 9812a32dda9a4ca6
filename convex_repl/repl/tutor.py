"""The tutor: walks a learner through the lessons inside a REPL (`convex tutorial [N]`,
`:tutorial N`), checking each step's result as it is typed, explaining a wrong one in plain
words (what its error code means) and keeping the learner's progress in the convex
directory. `attach(repl, ...)` starts it; the lessons themselves are lessons.py."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Optional

from convex_repl.repl.commands import COMMANDS, Quit
from convex_repl.repl.lessons import (Lesson, RecordingPrinter, Step, _norm, load_lessons,
                                      matches, run_input, tutorials_dir)


# --- error codes in plain words -------------------------------------------------------------------

ERROR_MEANINGS = {
    "ARGUMENT": "an argument has the right type but a value the function can't accept "
                "(a negative amount, say)",
    "ARITY": "a function got the wrong number of arguments",
    "ASSERT": "an assertion failed: `assert`, or `fail` without a code of its own",
    "BOUNDS": "an index lies outside the collection (nth past the end, say)",
    "CAST": "a value has the wrong type for what was asked of it (counting a number, "
            "adding a string)",
    "COMPILE": "the compiler refused the form (a special form written the wrong way)",
    "DEPTH": "calls nested too deeply: usually a recursion that never stops",
    "EXCEPTION": "an exceptional exit happened outside where it is allowed",
    "EXPAND": "a macro failed while it was expanding",
    "FUNDS": "the account hasn't got enough coins (or enough of an asset) for this",
    "JUICE": "the work ran out of juice: too much computation for the limit, or a balance "
             "that can't pay for it",
    "MEMORY": "the state would grow more than the account's allowance and balance can pay for",
    "NOBODY": "there is no account at that address",
    "SEQUENCE": "a transaction's sequence number is out of order",
    "STATE": "the operation isn't possible in the current state (calling a function that "
             "isn't callable, for one)",
    "SYNTAX": "the reader couldn't read the input: unbalanced brackets or a bad token",
    "TODO": "this isn't implemented yet",
    "TRUST": "the account acting isn't allowed to do this (it doesn't control the target)",
    "UNDECLARED": "a symbol isn't defined where it was used: a typo, or something not "
                  "defined yet in this session",
    "UNEXPECTED": "an internal error of the local CVM",
    "SIGNATURE": "the transaction's signature doesn't check out",
}


def error_meaning(code: str) -> str:
    return ERROR_MEANINGS.get(code, "an error code raised by the code itself, with "
                              f"(fail :{code} ...)")


_ERROR_CODE = re.compile(r"^Error :([A-Za-z0-9_\-]+)")


def error_code_of(lines: list) -> Optional[str]:
    for ln in lines:
        m = _ERROR_CODE.match(ln.strip())
        if m:
            return m.group(1)
    return None


def explain(step: Step, typed: str, got: list, got_error: bool) -> list:
    """Lines telling a learner how their result differs from the lesson's."""
    out = ["✗ Not what the lesson expects."]
    shown_got = [ln for ln in got if not (got_error and ln.startswith("  "))][:8]
    shown_got = shown_got or ["(nothing)"]
    out.append("  you got:    " + shown_got[0])
    out.extend("              " + ln for ln in shown_got[1:])
    exp = step.expected.split("\n") if step.expected else ["(nothing)"]
    out.append("  expected:   " + exp[0])
    out.extend("              " + ln for ln in exp[1:])
    code = error_code_of(got) if got_error else None
    want = error_code_of(exp)
    if code:
        out.append(f"  :{code} means {error_meaning(code)}.")
    if want and want != code:
        out.append(f"  The lesson expects the error :{want}, which means "
                   f"{error_meaning(want)}.")
    if "..." in step.expected:
        out.append("  (`...` in the expected result stands for any text.)")
    if step.needs == "peer":
        out.append("  This step needs a peer: is `convex local start` running in another "
                   "terminal? (:skip moves on without it.)")
    if _norm(typed) == _norm(step.input):
        out.append("  You typed the lesson's input: your session differs from the lesson's "
                   "(something defined differently earlier?). :restart replays the lesson "
                   "up to here.")
    else:
        out.append("  The lesson's input is:  " + step.input.replace("\n", "\n" + " " * 26))
        out.append("  Press Ctrl-T (or type :next) to put it on the prompt.")
    return out


# --- progress ----------------------------------------------------------------------------------

class Progress:
    """Where the learner is, kept in the convex directory (tutorial.json)."""

    def __init__(self, home: Optional[Path]):
        self.path = None if home is None else home / "tutorial.json"
        self.lesson = 1
        self.step = 0
        self.completed: list = []
        if self.path is not None and self.path.exists():
            try:
                d = json.loads(self.path.read_text())
                self.lesson = int(d.get("lesson", 1))
                self.step = int(d.get("step", 0))
                self.completed = sorted({int(n) for n in d.get("completed", [])})
            except (OSError, ValueError, TypeError, AttributeError):
                pass

    def save(self) -> None:
        if self.path is None:
            return
        data = json.dumps({"lesson": self.lesson, "step": self.step,
                           "completed": self.completed}, indent=1)
        try:
            tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
            tmp.write_text(data)
            os.replace(tmp, self.path)
        except OSError:
            pass


# --- the tutor -----------------------------------------------------------------------------------

TUTOR_COMMANDS = {
    "next": "put the step's code on the prompt (same as Ctrl-T); after a lesson, start the next",
    "skip": "run the step's code for you and move on",
    "step": "show the current step again",
    "restart": "start this lesson again in a fresh session",
    "lessons": "list the lessons and your progress",
    "tutorial": "go to lesson N (:tutorial 3)",
    "quit": "leave the tutorial (your progress is kept)",
}


class Tutor:
    """Walks a learner through lessons inside a Repl. The Repl hands every input to
    `handle`; inputs that aren't tutor commands run in the REPL as usual, and one that is
    the current step's (or gives its result) moves the lesson on."""

    def __init__(self, repl: Any, lessons: list, home: Optional[Path],
                 make_workspace: Callable[[], Any], exit_on_quit: bool,
                 fresh_workspace: bool = False):
        self.repl = repl
        self.lessons = lessons
        self.progress = Progress(home)
        self.make_workspace = make_workspace
        self.exit_on_quit = exit_on_quit
        self.lesson: Optional[Lesson] = None
        self.index = 0
        self.finished = False           # the current lesson is done
        self._replay = 0                # steps to run silently before the next input
        out = repl.out
        self.rec = RecordingPrinter(out._console, out.color, echo=True)
        self._saved = (repl._ws, repl.out, repl.mode, repl.results)
        repl.out = self.rec
        repl.results = []
        self._unused = fresh_workspace  # repl's workspace is fresh: the first lesson uses it
        repl.tutor = self

    # --- lessons --------------------------------------------------------------------------
    def find(self, n: int) -> Optional[Lesson]:
        for ls in self.lessons:
            if ls.number == n:
                return ls
        return None

    def resume_point(self) -> tuple:
        return resume_point(self.lessons, self.progress)

    def begin(self, lesson: Lesson, step: int = 0, fresh: bool = True) -> None:
        """Start `lesson` at `step` (earlier steps replay silently before the next input)."""
        self.lesson, self.index, self.finished = lesson, step, False
        if fresh:
            self._fresh_session()
        self._replay = step
        self.progress.lesson, self.progress.step = lesson.number, step
        self.progress.save()
        self._title()
        if step:
            self.say(f"(resuming at step {step + 1} of {len(lesson.steps)}; the steps before "
                     f"it are replayed in a fresh session)", dim=True)
        self.show_step(with_prose=True)

    def _fresh_session(self) -> None:
        r = self.repl
        if self._unused:            # the REPL's workspace is a fresh one made for us
            self._unused = False
        else:
            r._ws = self.make_workspace()
        r.mode = "transact"
        r.results = []
        r.last_error = None

    def _title(self) -> None:
        ls = self.lesson
        self.rule(f"Lesson {ls.number} of {len(self.lessons)} · {ls.title}")

    # --- output -----------------------------------------------------------------------------
    @property
    def console(self) -> Any:
        return self.rec.console

    def say(self, text: str, style: Optional[str] = None, dim: bool = False) -> None:
        self.console.print(text, style="dim" if dim else style, markup=False, highlight=False)

    def rule(self, text: str) -> None:
        from rich.rule import Rule
        self.console.print(Rule(text, style="cyan"))

    def markdown(self, text: str) -> None:
        if not text.strip():
            return
        from rich.markdown import Markdown
        self.console.print(Markdown(text, code_theme="monokai"))

    @property
    def step(self) -> Optional[Step]:
        if self.lesson is None or self.finished or self.index >= len(self.lesson.steps):
            return None
        return self.lesson.steps[self.index]

    def step_input(self) -> str:
        st = self.step
        return st.input if st is not None else ""

    def show_step(self, with_prose: bool = False) -> None:
        st = self.step
        if st is None:
            return
        ls = self.lesson
        if with_prose or st.prose:
            prose = st.prose
            if not prose and with_prose:   # the middle of a block: its text comes first
                k = self.index
                while k > 0 and not ls.steps[k].prose:
                    k -= 1
                prose = ls.steps[k].prose
            self.markdown(prose)
        self.say("")
        self.say(f"Step {self.index + 1} of {len(ls.steps)} · type this, then Enter "
                 f"(Ctrl-T puts it on the prompt for you):", style="cyan")
        self.show_code(st.input)

    def show_code(self, text: str) -> None:
        from rich.padding import Padding
        from rich.syntax import Syntax

        from convex_repl.lexer import ConvexLexer
        self.console.print(Padding(Syntax(text, ConvexLexer(), theme="monokai",
                                          background_color="default"), (0, 0, 0, 4)))

    def toolbar(self) -> str:
        if self.lesson is None:
            return " tutorial · :lessons · :quit"
        if self.finished:
            nxt = self._next_lesson()
            more = f":next starts lesson {nxt.number}" if nxt else "all lessons done"
            return f" Lesson {self.lesson.number} complete · {more} · :lessons · :quit"
        return (f" Lesson {self.lesson.number} · step {self.index + 1}/{len(self.lesson.steps)}"
                f" · Ctrl-T inserts the code · :skip · :step · :help · :quit")

    def _next_lesson(self) -> Optional[Lesson]:
        nxt = [x for x in self.lessons if self.lesson and x.number > self.lesson.number]
        return nxt[0] if nxt else None

    # --- input ------------------------------------------------------------------------------
    def handle(self, text: str) -> None:
        stripped = text.strip()
        if not stripped:
            return
        if stripped.startswith(":"):
            name, _, arg = stripped[1:].partition(" ")
            arg = arg.strip()
            if name in ("quit", "exit"):
                self.leave()
                if self.exit_on_quit:
                    raise Quit()
                return
            if name == "help":
                self.help()
                return
            if name in ("next", "skip", "step", "restart", "lessons", "tutorial"):
                getattr(self, "cmd_" + name)(arg)
                return
            st = self.step
            same = st is not None and st.input.startswith(":" + name)
            if name in COMMANDS and not same:
                self.repl.dispatch(text)      # a REPL command on the side: not checked
                return
        self._catch_up()
        st = self.step
        got, err = run_input(self.repl, text)
        if st is None:
            return
        if matches(st.expected, got, err):
            self.say("✓ right", style="green")
            self.say("")
            self._advance()
        else:
            for ln in explain(st, text, got, err):
                self.say(ln, style="red" if ln.startswith("✗") else "yellow")

    def _catch_up(self) -> None:
        """Replay the steps before the one we resumed at, silently."""
        if not self._replay or self.lesson is None:
            return
        n, self._replay = self._replay, 0
        quiet = RecordingPrinter(echo=False)
        r = self.repl
        r.out = quiet
        try:
            for st in self.lesson.steps[:n]:
                if st.needs is None:
                    run_input(r, st.input)
        finally:
            r.out = self.rec
            r.errors = 0

    def _advance(self, show: bool = True) -> None:
        ls = self.lesson
        self.index += 1
        self.progress.lesson, self.progress.step = ls.number, self.index
        if self.index >= len(ls.steps):
            self.finished = True
            if ls.number not in self.progress.completed:
                self.progress.completed = sorted(self.progress.completed + [ls.number])
            self.progress.save()
            self.markdown(ls.outro)
            nxt = self._next_lesson()
            self.rule(f"Lesson {ls.number} complete")
            if nxt:
                self.say(f"Well done. Type :next to start lesson {nxt.number} "
                         f"({nxt.title}), or :quit to leave; `convex tutorial` brings you "
                         f"back here.", style="green")
            else:
                self.say("That was the last lesson: you have done them all. :quit leaves "
                         "the tutorial.", style="green")
            return
        self.progress.save()
        if show:
            self.show_step()

    # --- tutor commands ------------------------------------------------------------------------
    def help(self) -> None:
        self.say("In the tutorial, type each step's code (or press Ctrl-T to have it put on the "
                 "prompt) and Enter. Anything else runs as in the REPL.")
        for name, what in TUTOR_COMMANDS.items():
            self.say(f"  :{name:<9} {what}")
        self.say("Other REPL commands (:doc, :env, :undo, ...) work as usual; :help in the "
                 "plain REPL lists them.", dim=True)

    def cmd_next(self, arg: str) -> None:
        if self.finished:
            nxt = self._next_lesson()
            if nxt is None:
                self.say("No more lessons. :quit leaves the tutorial.")
            else:
                self.begin(nxt)
            return
        if self.step is not None:
            self.repl.insert = self.step.input

    def cmd_skip(self, arg: str) -> None:
        st = self.step
        if st is None:
            self.cmd_next(arg)
            return
        self._catch_up()
        self.show_code((st.prompt or self.repl.prompt()) + st.input)
        run_input(self.repl, st.input)
        self._advance()

    def cmd_step(self, arg: str) -> None:
        if self.finished:
            self.say("This lesson is done: :next starts the next one.")
        else:
            self.show_step(with_prose=True)

    def cmd_restart(self, arg: str) -> None:
        if self.lesson is not None:
            self.begin(self.lesson)

    def cmd_lessons(self, arg: str) -> None:
        for line in lesson_list(self.lessons, self.progress,
                                self.lesson.number if self.lesson else None):
            self.say(line)

    def cmd_tutorial(self, arg: str) -> None:
        if not arg:
            self.cmd_lessons("")
            return
        ls = self.find(int(arg)) if arg.isdigit() else None
        if ls is None:
            self.say(f"no lesson {arg}: :lessons lists them", style="yellow")
            return
        self.begin(ls)

    def leave(self) -> None:
        """Back to the REPL as it was before the tutorial (progress is kept)."""
        r = self.repl
        self.progress.save()
        r.tutor = None
        ws, out, mode, results = self._saved
        r.out, r.mode = out, mode
        if not self.exit_on_quit:
            r._ws, r.results = ws, results
            out.info("Left the tutorial (your progress is kept: :tutorial comes back); "
                     "this is your own session again.")


def resume_point(lessons: list, progress: Progress) -> tuple:
    """(lesson, step) to resume at: where the learner was, else the next lesson."""
    ls = next((x for x in lessons if x.number == progress.lesson), None)
    if ls is None:
        return lessons[0], 0
    if progress.step >= len(ls.steps):
        nxt = [x for x in lessons if x.number > ls.number]
        return (nxt[0], 0) if nxt else (ls, 0)
    return ls, progress.step


def lesson_list(lessons: list, progress: Progress, current: Optional[int] = None) -> list:
    out = []
    at, step = resume_point(lessons, progress)
    if current is not None and current != at.number:
        step = 0
    for ls in lessons:
        mark = "✓" if ls.number in progress.completed else " "
        here = ""
        if ls.number == (current if current is not None else at.number):
            here = "  ← you are here" + (f" (step {step + 1})" if step else "")
        out.append(f" {mark} {ls.number:>2}  {ls.title}{here}")
    return out


def attach(repl: Any, lesson: Optional[int], home: Optional[Path],
           make_workspace: Callable[[], Any], exit_on_quit: bool,
           fresh_workspace: bool = False) -> Optional[Tutor]:
    """Start tutoring in `repl`: lesson N from its start, or (None) where the learner was."""
    lessons = load_lessons()
    if not lessons:
        repl.out.warn(f"no lessons found in {tutorials_dir()}")
        return None
    t = Tutor(repl, lessons, home, make_workspace, exit_on_quit, fresh_workspace)
    if lesson is None:
        ls, step = t.resume_point()
    else:
        ls, step = t.find(lesson), 0
        if ls is None:
            t.leave()
            repl.out.warn(f"no lesson {lesson}: there are {len(lessons)} "
                          f"({lessons[0].number}-{lessons[-1].number})")
            return None
    t.say("Welcome to the Convex Lisp tutorial. Each step shows some code: type it (or press "
          "Ctrl-T) and Enter, and the tutor checks your result. :help lists the tutor's "
          "commands, :quit leaves (progress is kept).", dim=True)
    t.begin(ls, step, fresh=True)
    return t
