"""Fuzzing the reader: any text gives values or a ReaderError with a position in the text.

Inputs are the conformance sources mutated (characters deleted, inserted, duplicated), random
soups of reader tokens, and arbitrary Unicode text. Whatever reads must also print. (Printing
need not read back here: `@-1x` or `a/-1` make symbols the reader only takes in those spots.)
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lisp import ReaderError, print_value, read_all

CONFORMANCE = Path("/work/shared/conformance")
SOURCES = [json.loads(line)["source"] for name in ("encoding.jsonl", "encoding-more.jsonl")
           for line in (CONFORMANCE / name).read_text(encoding="utf-8").splitlines() if line]
TOKENS = [
    "(", ")", "[", "]", "{", "}", "#{", "#_", "#[", "#[00]", "#[ea01]", "]", "'", "`", "~", "~@",
    "@", "@a", "^", "^:m", '"', '"s"', '"\\', "\\", "\\u", "\\u00e9", "\\newline", "0x", "0x1",
    "0xab", "#", "##", "##NaN", "##-Inf", "#%", "#%x", "/", "/b", "//", ":", "::", ":k", "nil",
    "true", "-", "1", "-1", "1.5", "1e5", "-2.5E-3", "e", ".", "a", "a.b", "#Index", "#Signed",
    "#Result", "#Tag", " ", "\n", "\r\n", ",", ";", ";c\n", "é", "😀", "\x00", "\ud800", "\f",
    "\u00a0", "#9", "#9/x", "1e", "1/2", "9" * 25, "#" + "9" * 25, "{:public-key 0x" + "00" * 32,
]


def check(text: str) -> None:
    try:
        forms = read_all(text)
    except ReaderError as e:
        lines = text.split("\n")
        assert 1 <= e.line <= len(lines), (text, e)
        assert 1 <= e.column <= len(lines[e.line - 1]) + 1, (text, e)
        assert e.message
        return
    for v in forms:
        assert isinstance(print_value(v), str)


def mutate(rnd: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rnd.randint(1, 4)):
        i = rnd.randint(0, len(chars))
        op = rnd.random()
        if op < 0.3 and chars:
            del chars[min(i, len(chars) - 1)]
        elif op < 0.6:
            chars.insert(i, rnd.choice(TOKENS))
        elif op < 0.8 and chars:
            j = min(i, len(chars) - 1)
            chars.insert(j, chars[j])
        else:
            chars.insert(i, chr(rnd.randint(0, 0x2FFF)))
    return "".join(chars)


def test_mutated_conformance_sources():
    rnd = random.Random(20240611)
    for _ in range(25_000):
        check(mutate(rnd, rnd.choice(SOURCES)[:400]))


def test_token_soups():
    rnd = random.Random(7)
    for _ in range(25_000):
        check("".join(rnd.choice(TOKENS) for _ in range(rnd.randint(1, 16))))


def test_truncated_sources_are_complete_or_errors():
    for src in SOURCES:
        for cut in range(0, min(len(src), 60)):
            check(src[:cut])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40) | st.lists(st.sampled_from(TOKENS), max_size=12).map("".join))
def test_arbitrary_text(text):
    check(text)
