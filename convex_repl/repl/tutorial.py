"""The tutorial's names in one place, for the CLI and the tests (`from convex_repl.repl import
tutorial as tut`): lessons, their parsing and doctest are lessons.py; the tutor is tutor.py."""
from convex_repl.repl.lessons import (Lesson, LessonError, RecordingPrinter, Step, check_lesson,
                                      check_peer_steps, load_lessons, matches, parse_lesson,
                                      tutorials_dir)
from convex_repl.repl.tutor import ERROR_MEANINGS, Progress, Tutor, attach, explain, lesson_list

__all__ = ["Lesson", "LessonError", "Step", "load_lessons", "parse_lesson", "tutorials_dir",
           "matches", "check_lesson", "check_peer_steps", "RecordingPrinter", "Tutor", "attach",
           "Progress", "lesson_list", "explain", "ERROR_MEANINGS"]
