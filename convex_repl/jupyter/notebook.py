"""Notebooks made from the lessons (`convex jupyter notebook N`): the lesson's text as Markdown
cells, each input of its transcripts as a code cell for the Convex kernel, with the result
the lesson shows kept in the cell's metadata (`convex.expected`) so that running the
notebook can be checked against the lesson, as the lesson doctest checks the REPL.

Generated, never edited by hand: `notebooks/` holds the output, and a test regenerates it
and compares, so the notebook can't drift from its lesson.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NOTE = ("*A notebook made from the lesson `{file}` (`convex jupyter notebook {n}` makes it "
        "again). Each code cell is one input of the REPL, run as a transaction by the Convex "
        "kernel (`convex jupyter install`); its result, cost badge and errors show under it. "
        "Shift-Tab on a name shows its documentation, Tab completes.*")


def lesson_cells(lesson: Any) -> list:
    """The notebook's cells (as plain dicts, nbformat 4.5) for a parsed lesson."""
    cells = [_markdown(f"# {lesson.title}\n\n" + NOTE.format(file=lesson.path.name,
                                                             n=lesson.number))]
    for i, step in enumerate(lesson.steps):
        if step.prose:
            cells.append(_markdown(step.prose))
        if step.needs is not None:
            cells.append(_markdown(f"This step needs a running peer (`convex local start`):\n"
                                   f"\n```clojure\n{step.input}\n```"))
            continue
        meta: dict = {"convex": {"expected": step.expected, "lesson_line": step.line}}
        if step.expected.startswith("Error :"):
            meta["tags"] = ["raises-exception"]
        cells.append({"cell_type": "code", "execution_count": None, "metadata": meta,
                      "outputs": [], "source": step.input})
    if lesson.outro:
        cells.append(_markdown(lesson.outro))
    for i, c in enumerate(cells):
        c["id"] = f"cell-{i}"
    return cells


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def lesson_notebook(lesson: Any) -> dict:
    """The whole notebook (nbformat 4.5) for a lesson, for the Convex kernel."""
    return {
        "cells": lesson_cells(lesson),
        "metadata": {
            "kernelspec": {"name": "convex", "display_name": "Convex Lisp",
                           "language": "convex"},
            "language_info": {"name": "convex", "file_extension": ".cvx",
                              "mimetype": "text/x-convex", "pygments_lexer": "convex",
                              "codemirror_mode": "clojure"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(lesson: Any) -> str:
    """The notebook as the file holds it (stable: sorted keys, one-space indent)."""
    return json.dumps(lesson_notebook(lesson), indent=1, sort_keys=True,
                      ensure_ascii=False) + "\n"


def notebook_path(lesson: Any, directory: Path) -> Path:
    return directory / f"{lesson.path.stem}.ipynb"


__all__ = ["lesson_cells", "lesson_notebook", "notebook_text", "notebook_path", "NOTE"]
