"""The REPL's parts without a terminal: lexer, input structure, completion, meta commands,
pretty-printing, and the workspace (persistence, undo/redo, checkpoints)."""
from __future__ import annotations

import io
import json

import pytest
from pygments.token import Keyword, Name, Number, String

from convex_repl.lexer import ConvexLexer
from convex_repl.repl.render import Printer, badge, pformat, truncate
from convex_repl.repl import Completions, Quit, Repl, indent_for, is_complete, open_brackets
from convex_repl.repl.workspace import Workspace


def tokens(text):
    return [(t, v) for t, v in ConvexLexer().get_tokens(text) if v.strip()]


def test_lexer_token_kinds():
    toks = dict((v, t) for t, v in tokens(
        '(defn f [x] (count "s" :k #13 0xff 1.5 *address* nil \\a #[00]))'))
    assert toks["defn"] is Keyword
    assert toks["count"] is Name.Builtin
    assert toks['"s"'] in String
    assert toks[":k"] is String.Symbol
    assert toks["#13"] is Name.Constant
    assert toks["0xff"] is Number.Hex and toks["1.5"] is Number.Float
    assert toks["*address*"] is Name.Variable.Magic
    assert toks["nil"] is Keyword.Constant
    assert toks["#[00]"] is Number.Hex


def test_lexer_paths_and_roundtrip():
    text = "(#8/count [1 2]) ; comment\n'(a/b c) `[~x ~@y] ^{:doc \"d\"} z"
    assert "".join(v for _, v in ConvexLexer().get_tokens(text)) == text + "\n"
    kinds = tokens("#8/count")
    assert (Name.Function, "count") in kinds


def test_pygments_finds_the_lexer_by_alias():
    from pygments.lexers import get_lexer_by_name
    try:
        lx = get_lexer_by_name("convex")
    except Exception:
        pytest.skip("package not installed with entry points")
    assert type(lx).__name__ == "ConvexLexer"


@pytest.mark.parametrize("text,complete", [
    ("(+ 1 2)", True), ("(defn f [x]", False), ('"abc', False), ("(str \"(\")", True),
    ("", True), ("; (", True), ("(+ 1 2))", True), (":doc count", True), (":expand (when", False),
    ("[1 {2 3}", False), ("\\(", True),
])
def test_is_complete(text, complete):
    assert is_complete(text) is complete


def test_indent_and_brackets():
    assert indent_for("(defn f [x]") == 2
    assert indent_for("(let [a 1") == 6
    assert indent_for("{:a 1") == 1
    assert indent_for("(+ 1 2)") == 0
    assert open_brackets('(a "(" [b') == [("(", 0, 0), ("[", 0, 7)]


def test_pformat_breaks_wide_values():
    from lisp import read, print_value
    v = read("{:a [1 2 3] :b \"" + "x" * 60 + "\" :c {:d [4 5 6] :e 7}}")
    text = pformat(v, 40)
    assert "\n" in text
    assert read(text) == v                  # pretty text reads back to the same value
    assert pformat(read("[1 2]"), 40) == "[1 2]"
    assert print_value(read(pformat(read("(a b c)"), 3))) == "(a b c)"


def test_truncate():
    text = "\n".join(str(i) for i in range(100))
    shown, cut = truncate(text, 10)
    assert cut == 90 and shown.count("\n") == 9


def make_repl(tmp_path=None):
    buf = io.StringIO()
    from rich.console import Console
    printer = Printer(Console(file=buf, width=100, color_system=None, highlight=False))
    ws = Workspace(tmp_path)
    return Repl(ws, printer), buf


def out_of(buf):
    text = buf.getvalue()
    buf.seek(0)
    buf.truncate()
    return text


def test_repl_eval_result_badge_and_star_vars():
    repl, buf = make_repl()
    repl.handle("(+ 1 2)")
    o = out_of(buf)
    assert o.splitlines()[0] == "3" and "juice" in o and "fee" in o
    repl.handle("(* *1 10)")
    assert out_of(buf).startswith("30")
    repl.handle("[*1 *2]")
    assert out_of(buf).startswith("[30 3]")
    repl.handle("(count 1)")
    o = out_of(buf)
    assert "Error :CAST" in o and "hint: count" in o
    repl.handle("(:code *e)")
    assert out_of(buf).startswith(":CAST")


def test_repl_keyword_input_is_not_a_command():
    repl, buf = make_repl()
    repl.handle(":foo")
    assert out_of(buf).startswith(":foo")


def test_meta_commands():
    repl, buf = make_repl()
    repl.handle(":doc count")
    o = out_of(buf)
    assert "(count coll)" in o and ":CAST" in o
    repl.handle(":doc #8/inc")
    assert "inc" in out_of(buf)
    repl.handle(":doc nothing-here")
    assert "not defined" in out_of(buf)
    repl.handle(":apropos hash")
    assert "hash-map" in out_of(buf)
    repl.handle(":expand (when a b)")
    assert out_of(buf).startswith("(cond a")
    repl.handle(":compile (+ 1 2)")
    o = out_of(buf)
    assert "Invoke" in o and "(+ 1 2)" in o
    repl.handle(":juice (+ 1 2)")
    assert "juice" in out_of(buf)
    repl.handle(":time (+ 1 2)")
    assert "3" in out_of(buf)
    repl.handle(":help")
    assert ":checkpoint name" in out_of(buf)
    repl.handle(":accounts")
    assert "#13" in out_of(buf)
    repl.handle(":account")
    assert out_of(buf).startswith("#13")
    repl.handle(":account #11")
    assert "#11" in out_of(buf) and repl.ws.address == 11
    repl.handle(":account #1")
    assert "actor" in out_of(buf) and repl.ws.address == 11
    with pytest.raises(Quit):
        repl.handle(":quit")


def test_mode_query_keeps_no_state():
    repl, buf = make_repl()
    repl.handle(":mode query")
    repl.handle("(def x 1)")
    repl.handle(":mode transact")
    out_of(buf)
    repl.handle("x")
    assert "UNDECLARED" in out_of(buf)


def test_undo_redo_checkpoint_restore_reset():
    repl, buf = make_repl()
    repl.handle("(def a 1)")
    repl.handle(":checkpoint one")
    repl.handle("(def a 2)")
    repl.handle(":undo")
    out_of(buf)
    repl.handle("a")
    assert out_of(buf).startswith("1")
    repl.handle(":redo")
    repl.handle("a")
    assert out_of(buf).splitlines()[-2] == "2"
    repl.handle(":restore one")
    repl.handle("a")
    assert out_of(buf).splitlines()[-2] == "1"
    repl.handle(":restore nope")
    assert "no checkpoint" in out_of(buf)
    repl.handle(":reset")
    repl.handle("a")
    assert "UNDECLARED" in out_of(buf)
    repl.handle(":undo")
    repl.handle("a")
    assert out_of(buf).splitlines()[-2] == "1"


def test_load_file(tmp_path):
    f = tmp_path / "lib.cvx"
    f.write_text("(defn dbl [x] (* 2 x))\n(def ten (dbl 5))\n")
    repl, buf = make_repl()
    repl.handle(f":load {f}")
    assert "2 forms" in out_of(buf)
    repl.handle("ten")
    assert out_of(buf).startswith("10")
    repl.handle(":load /nonexistent.cvx")
    assert "can't read" in out_of(buf)


def test_advance_moves_time():
    repl, buf = make_repl()
    repl.handle("*timestamp*")
    t0 = int(out_of(buf).split()[0])
    repl.handle(":advance 1000")
    repl.handle("*timestamp*")
    assert str(t0 + 1000) in out_of(buf)


def test_more_shows_full_value():
    repl, buf = make_repl()
    repl.handle("(vec (map (fn [i] [i i i i i i i i i i i i i i i i i i]) " +
                "[" + " ".join(str(i) for i in range(80)) + "]))")
    o = out_of(buf)
    assert ":more shows all" in o
    repl.handle(":more")
    assert "[79 79" in out_of(buf)


def test_completions():
    ws = Workspace(None)
    ws.transact("(defn my-fun [a b] (+ a b))")
    c = Completions(ws)
    names = dict(c.candidates("my-"))
    assert "my-fun" in names
    got = dict(c.candidates("cou"))
    assert "count" in got and "[coll]" in got["count"]
    assert "*address*" in dict(c.candidates("*add"))
    assert "#8/count" in dict(c.candidates("#8/cou"))
    assert "#13/my-fun" in dict(c.candidates("#13/my"))
    assert "def" in dict(c.candidates("de"))


def test_workspace_persists_and_replays(tmp_path):
    ws = Workspace(tmp_path)
    ws.transact("(def a 5)")
    ws.transact("(def b [a *1])", {"*1": 7})
    ws.checkpoint("cp")
    ws.transact("(def a 6)")
    doc = json.loads((tmp_path / "session.json").read_text())
    assert doc["format"] == 1 and len(doc["entries"]) == 3
    again = Workspace(tmp_path)
    assert again.session.eval("[a b]").printed == "[6 [5 7]]"
    assert again.restore("cp")
    assert again.session.eval("a").printed == "5"
    assert Workspace(tmp_path, fresh=True).session.eval("a").error == "UNDECLARED"


def test_workspace_replay_stops_at_a_broken_entry(tmp_path):
    ws = Workspace(tmp_path)
    ws.transact("(def a 1)")
    doc = json.loads((tmp_path / "session.json").read_text())
    doc["entries"].append({"address": 13, "source": "(undefined-fn)"})
    doc["entries"].append({"address": 13, "source": "(def c 3)"})
    doc.pop("snapshot", None)               # force a replay of the journal
    (tmp_path / "session.json").write_text(json.dumps(doc))
    again = Workspace(tmp_path)
    assert again.session.eval("a").printed == "1"
    assert again.warnings and "transaction 2 of 3" in again.warnings[0]
    (tmp_path / "session.json").write_text("not json")
    assert Workspace(tmp_path).warnings


def test_interrupt_leaves_state_unchanged(monkeypatch):
    ws = Workspace(None)
    ws.transact("(def a 1)")
    before = ws.session.state
    import convex_repl.api as api
    real = api.compiled
    calls = []

    def boom(ctx, form):
        calls.append(1)
        ctx.state = ctx.state.put_account(13, ctx.state.account(13))   # a change in flight
        raise KeyboardInterrupt

    monkeypatch.setattr("convex_repl.api.compiled", boom)
    with pytest.raises(KeyboardInterrupt):
        ws.transact("(def a 2)", signed=False)
    monkeypatch.setattr("convex_repl.api.compiled", real)
    assert calls and ws.session.state is before

    def boom_tx(state, signed):
        calls.append(2)
        raise KeyboardInterrupt

    monkeypatch.setattr("kernel.transition.ledger.submit", boom_tx)
    with pytest.raises(KeyboardInterrupt):
        ws.transact("(def a 3)")
    assert 2 in calls and ws.session.state is before
    monkeypatch.undo()
    assert ws.session.eval("a").printed == "1"


def test_badge_text():
    from convex_repl.api import Session
    r = Session().eval("(+ 1 2)")
    b = badge(r)
    assert b.startswith(f"juice {r.juice:,} · fee {r.fee:,} coins")
