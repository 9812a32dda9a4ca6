"""The official Convex tutorials, as written: each example gives the documented result.

The examples are transcribed in tests/data/official_tutorials.txt (see its header for the
format) from the Convex-Dev/design documents docs/tutorial/convex-lisp/*.md,
docs/tutorial/actors/*.md and docs/tutorial/recipes/*/index.md. Each document runs in a fresh
Session, its blocks in order, one transaction each, as typed at a REPL. No network is used.

Examples that cannot give the documented result here are marked `@fails:` in the data file,
with the reason, and are expected to fail (strictly, so a fix is noticed). They are:

- lisp-guide: a code block with a missing parenthesis (it does not read; the corrected block
  follows and passes), and `(quote [... ~(+ 1 2 3)])`, which the guide says evaluates the
  unquoted part: Convex's `quote` does not (`quasiquote` does; that form is added and passes).
- lisp-cvm, issue-token, create-account, managing-coins: examples naming accounts of the
  author's network (#1033, #202, #1567, #2055) that do not exist in a fresh local network;
  each is followed by the same example on the account that does exist here, which passes.
  The charity-box collection "as account #2055" needs that account to exist and act.

Results that depend on the network the documents were written against (addresses, balances,
counts) are checked by type; obvious mistakes in the documents (e.g. `(+ 1 2 3) => 10`,
`"Nothing Matched"`) are checked against the correct value, with the document's text kept in
an `@doc:` note.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

import kernel
from convex_repl.api import Session
from kernel.data.scalars import Symbol
from kernel.data.vectors import List
from lisp import read

DATA = Path(__file__).parent / "data" / "official_tutorials.txt"


@dataclass
class Block:
    doc: str
    index: int
    code: str
    expect: str
    notes: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        first = self.code.strip().splitlines()[0][:40]
        return f"{self.doc}-{self.index:02d}-{first}"


@dataclass
class Document:
    name: str
    source: str
    blocks: list = field(default_factory=list)


def parse(text: str) -> list:
    docs: list = []
    code: list = []
    notes: dict = {}
    for line in text.splitlines():
        if line.startswith("=="):
            name, _, source = line[2:].partition("|")
            docs.append(Document(name.strip(), source.strip()))
            code, notes = [], {}
        elif (line.startswith("# ") or line == "#") and not code:
            continue                       # a comment ("#" then a space: code has #{}, #12)
        elif line.startswith("@") and not code:
            key, _, value = line[1:].partition(" ")
            notes[key.rstrip(":")] = value.strip()
        elif line.startswith("=>"):
            doc = docs[-1]
            doc.blocks.append(Block(doc.name, len(doc.blocks), "\n".join(code),
                                    line[2:].strip(), notes))
            code, notes = [], {}
        elif line.strip() or code:
            code.append(line)
    return docs


DOCS = parse(DATA.read_text(encoding="utf-8"))


@dataclass
class Outcome:
    code: str
    expect: str
    value: Any = None
    error: Optional[str] = None
    message: Optional[str] = None
    holds: bool = False            # for ?pred results: what the predicate said


_RUNS: dict = {}
QUOTE = Symbol("quote")
_NAME = re.compile(r"<<([A-Za-z0-9_-]+)>>")


def _substitute(text: str, names: dict) -> str:
    return _NAME.sub(lambda m: names[m.group(1)], text)


def run_document(doc: Document) -> list:
    """Evaluate every block of a document in order in one fresh Session (cached)."""
    if doc.name in _RUNS:
        return _RUNS[doc.name]
    s = Session()
    names: dict = {}
    outcomes = []
    for b in doc.blocks:
        code = _substitute(b.code, names)
        expect = _substitute(b.expect, names)
        if "as" in b.notes:
            other = Session(s.state, int(_substitute(b.notes["as"], names).lstrip("#")))
            r = other.eval(code)
            s.state = other.state
        else:
            r = s.eval(code)
        if "name" in b.notes and r.error is None:
            names[b.notes["name"]] = r.printed
        o = Outcome(code, expect, r.value, r.error, r.message)
        if expect.startswith("?") and r.error is None:
            # ask the CVM's own predicate, e.g. (map? 'value), in a throwaway copy
            q = s.fork().eval_forms([List.of(Symbol(expect[1:]), List.of(QUOTE, r.value))])
            o.holds = q.value is True
        outcomes.append(o)
    _RUNS[doc.name] = outcomes
    return outcomes


def check(o: Outcome) -> None:
    e = o.expect
    if e.startswith("!"):
        assert o.error == e[1:], f"{o.code}\nwanted :{e[1:]}, got {_shown(o)}"
        return
    assert o.error is None, f"{o.code}\nfailed: :{o.error} {o.message}"
    if e == "_":
        return
    if e.startswith("?"):
        assert o.holds, f"{o.code}\nwanted {e[1:]}, got {_shown(o)}"
        return
    wanted = read(e)
    assert kernel.encode(o.value) == kernel.encode(wanted), \
        f"{o.code}\nwanted {e}, got {_shown(o)}"


def _shown(o: Outcome) -> str:
    from kernel.data.printer import print_value
    return f":{o.error} {o.message}" if o.error else print_value(o.value)


def _params() -> list:
    out = []
    for doc in DOCS:
        for b in doc.blocks:
            marks = []
            if "fails" in b.notes:
                marks.append(pytest.mark.xfail(strict=True, reason=b.notes["fails"]))
            out.append(pytest.param(doc, b.index, id=b.id, marks=marks))
    return out


@pytest.mark.parametrize("doc,index", _params())
def test_tutorial_example(doc: Document, index: int):
    check(run_document(doc)[index])


def test_the_data_covers_the_tutorials():
    """Every tutorial document with Convex Lisp examples is transcribed, with its source."""
    names = {d.name for d in DOCS}
    assert names >= {"lisp-guide", "lisp-guide-advanced", "lisp-cvm", "actor-concepts",
                     "building-an-actor", "deployment", "evolution", "coin-distributor",
                     "issue-token", "create-account", "managing-coins"}
    for d in DOCS:
        assert d.source.startswith("docs/tutorial/") and "@" in d.source, d.name
        assert d.blocks, d.name
    assert sum(len(d.blocks) for d in DOCS) > 150


def test_failing_examples_are_few_and_explained():
    failing = [b for d in DOCS for b in d.blocks if "fails" in b.notes]
    assert len(failing) <= 10
    for b in failing:
        assert len(b.notes["fails"]) > 30, b.id
