"""The reader's lean LALR driver (lisp/reader_fast.py) against Lark's own parser with the
same grammar, tables and callbacks: on every text either the same forms (same types, same
encodings) or a Fallback, and a Fallback whenever Lark reports an error."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import kernel
from lisp import ReaderError, reader
from lisp.reader_fast import Fallback

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = Path("/work/shared/conformance")


def _sources() -> list:
    out = [f.read_text(encoding="utf-8") for f in sorted((ROOT / "stdlib").rglob("*.cvx"))]
    for name in ("encoding.jsonl", "encoding-more.jsonl", "cvm-public.jsonl"):
        p = CONFORMANCE / name
        if p.exists():
            out += [json.loads(line)["source"] for line in p.read_text(encoding="utf-8")
                    .splitlines() if line and "source" in json.loads(line)]
    return out


TOKENS = ["(", ")", "[", "]", "{", "}", "#{", "#_", "#[00]", "#[ea01]", "'", "`", "~", "~@",
          "@a.b", "^", "^:m", "^{:doc \"d\"}", '"s"', '"a\\nb"', '"\\u00e9"', "\\a", "\\newline",
          "0x", "0xab", "0xabc", "##NaN", "##Inf", "##x", "#%x", "/", "/b", "//", ":k", "::k",
          "nil", "true", "false", "-", "1", "-1", "1.5", "1e5", "-2.5E-3", "1.5f", "1a", "a",
          "a.b", "a/b", "#Index", "#Signed", "#Result", "#Tag", " ", "\n", ",", ";c\n", "é",
          "#9", "#9/x", "1/2", "9" * 25, "#" + "9" * 25, "{:public-key 0x" + "00" * 32 + "}",
          ":" + "k" * 130, "\"\\q\"", "#Index {1 2}", "#Result {:id 1}"]


def _lark(text: str):
    """(forms, None) or (None, the ReaderError) from Lark's own parse."""
    try:
        return reader._parse(text), None
    except ReaderError as e:
        return None, e


def _agree(text: str) -> None:
    want, err = _lark(text)
    try:
        got = reader._FAST.parse(text)
    except Fallback:
        return                          # the reader then uses Lark: same result by construction
    assert err is None, (text, err)
    assert len(got) == len(want), text
    for a, b in zip(got, want):
        assert type(a) is type(b), text
        assert kernel.encode(a) == kernel.encode(b), text


@pytest.mark.parametrize("text", _sources()[:400])
def test_sources_read_alike(text):
    _agree(text)


def test_stdlib_takes_the_fast_path():
    for f in sorted((ROOT / "stdlib").rglob("*.cvx")):
        text = f.read_text(encoding="utf-8")
        forms = reader._FAST.parse(text)    # no Fallback: valid text never needs Lark
        assert [kernel.encode(x) for x in forms] == [kernel.encode(x) for x in reader._parse(text)]


def test_token_soups_and_mutations_agree():
    rnd = random.Random(16)
    sources = _sources()
    for _ in range(3000):
        if rnd.random() < 0.5:
            text = "".join(rnd.choice(TOKENS) + rnd.choice(["", " "]) for _ in range(rnd.randrange(1, 12)))
        else:
            s = rnd.choice(sources)
            i = rnd.randrange(len(s) + 1)
            text = s[:i] + rnd.choice(["", rnd.choice(TOKENS)]) + s[i + rnd.randrange(3):]
        _agree(text)


def test_errors_keep_their_positions():
    with pytest.raises(ReaderError) as e:
        reader.read_all("(+ 1 2)\n  (foo 1a)")
    assert (e.value.line, e.value.column) == (2, 8)
    with pytest.raises(ReaderError) as e:
        reader.read_all("[1 2\n (x")
    assert "unclosed" in e.value.message and (e.value.line, e.value.column) == (2, 2)


def test_exported_tables_are_the_grammars():
    """reader_tables.json is what Lark makes of convex.lark now (else: write_tables())."""
    from lisp.reader_fast import TABLES, export
    committed = json.loads(TABLES.read_text(encoding="utf-8"))
    fresh = json.loads(json.dumps(export(reader.lark_parser(), reader._GRAMMAR)))
    assert committed == fresh, ("lisp/reader_tables.json is stale: run python -c "
                                "\"import lisp.reader_fast as f; f.write_tables()\"")


def test_valid_text_reads_without_importing_lark():
    import subprocess
    import sys
    code = ("import sys, lisp; lisp.read_all('(defn f [x] {:a [1 2.5 \"s\"]} #{x/y} @a.b)'); "
            "print('lark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
