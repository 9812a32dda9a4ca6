"""`convex test` property tests, generators, shrinking, invariant tests and the runner's
outputs: file:line and expression, the summary line, JSON, JUnit XML, -j, --runs, --seed,
watch mode (issue 19)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from test_cli import run   # (exit code, stdout, stderr) of `convex args...` in-process

ROOT = Path(__file__).resolve().parent.parent
TOKEN = ROOT / "tutorials" / "examples" / "test_token.cvx"
CONVEX = [sys.executable, "-m", "convex_repl"]
SMALL = "(defprop small [x (gen/long 0 1000)] (< x 100))\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVEX_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def outcomes(capsys, *args: str) -> dict:
    code, out, _ = run(capsys, "test", "--json", *args)
    rep = json.loads(out)
    assert code == (0 if rep["ok"] else 1)
    return {t["name"]: t for t in rep["tests"]}


def shell(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONVEX_HOME=str(tmp / "home"), NO_COLOR="1", PYTHONPATH=str(ROOT))
    return subprocess.run(CONVEX + list(args), capture_output=True, text=True, cwd=tmp,
                          env=env, timeout=120)


# --- acceptance ------------------------------------------------------------------------------

def test_small_property_shrinks_to_exactly_100_with_a_seed_that_reproduces_it(tmp_path):
    (tmp_path / "test_small.cvx").write_text(SMALL)
    p = shell(tmp_path, "test", "test_small.cvx")
    assert p.returncode == 1, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("FAIL small")
    assert lines[1].strip().startswith("test_small.cvx:1:38: :ASSERT property not true: "
                                       "(< x 100) (falsified on run ")
    assert "seed 0)" in lines[1]
    assert lines[2:4] == ["         1 | " + SMALL.strip(),
                          "           | " + " " * 37 + "^"]     # the expression that failed
    assert lines[4].strip() == "counterexample: x = 100"
    assert lines[-1].startswith("0 passed, 1 failed")
    for seed in ("7", "123456"):
        a = shell(tmp_path, "test", "test_small.cvx", "--seed", seed)
        b = shell(tmp_path, "test", "test_small.cvx", "--seed", seed)
        assert a.returncode == 1 and a.stdout == b.stdout      # the seed reproduces it
        assert f"seed {seed})" in a.stdout and "counterexample: x = 100" in a.stdout


def test_invariant_finds_the_planted_self_transfer_bug_with_a_shrunk_sequence(project, capsys):
    t = outcomes(capsys, str(TOKEN))
    assert [n for n, x in t.items() if not x["ok"]] == ["total-supply"]
    inv = t["total-supply"]
    assert inv["kind"] == "invariant" and inv["error"] == "ASSERT"
    assert inv["message"].startswith("the supply is constant: expected 3000, got 3001")
    assert (inv["line"], inv["column"]) == (53, 3)
    # one call: the first sender transferring 1 token to itself (the actor is #23)
    assert inv["calls"] == ["#11 (call #23 (transfer #11 1))"]
    found = int(inv["message"].split("shrunk from ")[1].split()[0])
    assert found >= 1
    lengths = {found}
    for seed in range(1, 6):                       # other seeds find the same minimal call
        t = outcomes(capsys, str(TOKEN), "--seed", str(seed), "-k", "total-supply")
        assert t["total-supply"]["calls"] == ["#11 (call #23 (transfer #11 1))"]
        lengths.add(int(t["total-supply"]["message"].split("shrunk from ")[1].split()[0]))
    assert max(lengths) > 1                        # from longer sequences


# --- properties and generators --------------------------------------------------------------

def test_properties_pass_run_the_requested_cases_and_meter_generation_apart(project, capsys):
    (project / "test_p.cvx").write_text("""
(defprop commutes [a (gen/long) b (gen/long -1000 1000)]
  (= (+ a b) (+ b a)))
(defprop cheap-gen [x (gen/long 0 9)]
  (= x x))
(defprop dear-gen [x (gen/fmap (fn [v] (loop [i 0] (if (< i 300) (recur (inc i)) v)))
                              (gen/long 0 9))]
  (= x x))
""")
    t = outcomes(capsys, "test_p.cvx", "--runs", "37")
    assert all(x["ok"] and x["cases"] == 37 and x["kind"] == "prop" for x in t.values())
    # the body's juice is the test's; generating costs more in dear-gen, the test no more
    assert t["cheap-gen"]["juice"] == t["dear-gen"]["juice"] > 0
    assert t["dear-gen"]["gen_juice"] > 5 * t["cheap-gen"]["gen_juice"] > 0


def test_each_generator_makes_values_of_its_kind_deterministically(project, capsys):
    (project / "test_g.cvx").write_text("""
(defprop longs [x (gen/long 5 9) y (gen/long)]
  (and (<= 5 x 9) (long? y)))
(defprop kinds [a (gen/address) k (gen/keyword) s (gen/string) b (gen/blob) f (gen/boolean)]
  (and (address? a) (account a) (keyword? k) (str? s) (blob? b) (boolean? f)))
(defprop colls [v (gen/vector (gen/long 0 3)) m (gen/map (gen/keyword) (gen/long 0 1))
                t (gen/tuple (gen/long 1 1) (gen/elements [:x :y]))]
  (and (vector? v) (reduce (fn [ok e] (and ok (<= 0 e 3))) true v) (map? m) (= 1 (first t))
       (contains-key? #{:x :y} (second t))))
(defprop choices [o (gen/one-of [(gen/long 0 0) (gen/keyword)]) f (gen/fmap inc (gen/long 0 0))]
  (and (or (= 0 o) (keyword? o)) (= 1 f)))
(defprop see-values [v (gen/vector (gen/one-of [(gen/long) (gen/string) (gen/blob)]))]
  (< (count v) 12))
(deftest generate (is (<= 0 (gen/generate (gen/long 0 3)) 3)))
""")
    a = outcomes(capsys, "test_g.cvx", "--seed", "5")
    assert {n: x["ok"] for n, x in a.items()} == {
        "longs": True, "kinds": True, "colls": True, "choices": True, "see-values": False,
        "generate": True}
    assert a == outcomes(capsys, "test_g.cvx", "--seed", "5") or all(
        a[n]["juice"] == x["juice"] and a[n]["message"] == x["message"]
        for n, x in outcomes(capsys, "test_g.cvx", "--seed", "5").items())


def test_shrinking_gives_minimal_collections_and_strings(project, capsys):
    (project / "test_s.cvx").write_text("""
(defprop short-vectors [v (gen/vector (gen/long 0 100))]
  (< (count v) 3))
(defprop small-sums [v (gen/vector (gen/long 0 100))]
  (< (reduce + 0 v) 150))
(defprop no-z [s (gen/string)]
  (not (contains-key? (set (vec s)) \\z)))
(defprop pairs [a (gen/long 0 50) b (gen/long 0 50)]
  (is (< (+ a b) 60)))
""")
    t = outcomes(capsys, "test_s.cvx", "--runs", "200")
    assert t["short-vectors"]["counterexample"] == ["v = [0 0 0]"]
    v = json.loads(t["small-sums"]["counterexample"][0][4:].replace(" ", ","))
    assert v == [50, 100]                # two elements reach 150 (each at most 100), the
    #                                      first as small as it can be
    assert t["no-z"]["counterexample"] == ['s = "z"']
    ce = t["pairs"]["counterexample"]
    a, b = (int(x.split(" = ")[1]) for x in ce)
    assert a + b == 60                             # on the boundary
    assert t["pairs"]["error"] == "ASSERT" and t["pairs"]["message"].startswith(
        "not true: (< (+ a b) 60)")
    assert t["pairs"]["line"] == 9                 # the failing `is`


def test_bad_generators_and_bindings_are_reported_not_raised(project, capsys):
    (project / "test_bad.cvx").write_text(
        "(defprop backwards [x (gen/long 9 1)] true)\n"
        "(defprop raises [x (gen/fmap (fn [v] (+ v :a)) (gen/long 0 1))] true)\n")
    t = outcomes(capsys, "test_bad.cvx")
    assert t["backwards"]["error"] == "ARGUMENT"
    assert "gen/long: hi is below lo" in t["backwards"]["message"]
    assert t["raises"]["error"] == "CAST" and t["raises"]["message"].startswith("in a generator")
    (project / "test_pairs.cvx").write_text("(defprop odd [x] true)\n")
    code, out, _ = run(capsys, "test", "test_pairs.cvx")
    assert code == 1
    assert "test_pairs.cvx:1:1: :ARGUMENT" in out and "bindings must be pairs" in out


# --- invariants ---------------------------------------------------------------------------------

COUNTER = """
(def counter
  (deploy
   '(do
      (def n 0)
      (defn bump ^:callable [k] (cond (> k 1) (fail :ARGUMENT "too big")) (def n (+ n k)))
      (defn noop ^:callable [] nil)
      (defn value ^:callable [] n))))
(definvariant below-three
  {:actor counter :actions {:bump [(gen/long 0 5)] :noop []} :senders [#11 #12 #13]
   :depth 30}
  (< (call counter (value)) 3))
(definvariant holds
  {:actor counter :actions {:noop []} :depth 3}
  (= 0 (call counter (value))))
(definvariant bad-options {:actor 5 :actions {}} true)
(definvariant typo {:actor counter :actions {:bmup [(gen/long 0 1)]}} true)
(definvariant from-the-start {:actor counter :actions {:noop []}} (= 1 (call counter (value))))
"""


def test_invariant_sequences_shrink_to_the_fewest_simplest_calls(project, capsys):
    (project / "test_inv.cvx").write_text(COUNTER)
    t = outcomes(capsys, "test_inv.cvx", "--runs", "20")
    below = t["below-three"]
    assert not below["ok"] and below["message"].startswith("invariant not true: "
                                                           "(< (call counter (value)) 3)")
    # three bumps of 1 are the fewest calls that reach 3 (a bump over 1 is undone), from the
    # first sender; the sequence that found it was longer
    assert below["calls"] == ["#11 (call #23 (bump 1))"] * 3
    assert "shrunk from " in below["message"] and int(
        below["message"].split("shrunk from ")[1].split()[0]) > 3
    assert t["holds"]["ok"] and t["holds"]["cases"] == 20
    assert t["bad-options"]["error"] == "ARGUMENT"
    assert ":actor must be the actor's address" in t["bad-options"]["message"]
    # an action the actor can't be called with would make every call fail and be undone:
    # refused rather than passing having tested nothing
    assert not t["typo"]["ok"] and t["typo"]["cases"] == 0
    assert t["typo"]["message"].endswith("#23 has no callable function bmup")
    start = t["from-the-start"]
    assert start["message"] == ("invariant not true: (= 1 (call counter (value))) "
                                "(broken before any call)") and start["calls"] == []


# --- runner outputs -----------------------------------------------------------------------------

def test_text_summary_junit_and_parallel_files(project, capsys):
    (project / "test_a.cvx").write_text(SMALL + "(deftest fine (is (= 2 (+ 1 1))))\n")
    (project / "test_b.cvx").write_text("(deftest wrong (is (= 3 (+ 1 1))))\n")
    (project / "test_c.cvx").write_text("(deftest t (is true))\n(nope)\n")
    code, serial, _ = run(capsys, "test", ".", "--junit", "serial.xml")
    assert code == 1
    assert "PASS fine" in serial and "FAIL small" in serial and "FAIL wrong" in serial
    assert "test_b.cvx:1:16: :ASSERT expected 3, got 2 in (= 3 (+ 1 1))" in serial
    assert "ERROR test_c.cvx:2:1: :UNDECLARED" in serial
    assert serial.splitlines()[-1].startswith("1 passed, 3 failed")
    code, parallel, _ = run(capsys, "test", ".", "-j", "2", "--junit", "parallel.xml")
    assert code == 1
    strip = lambda text: [ln.rsplit("   ", 1)[0] for ln in text.splitlines()]  # noqa: E731
    assert strip(parallel) == strip(serial)      # same outcomes, same order
    x = ET.parse(project / "parallel.xml").getroot()
    assert x.tag == "testsuites"
    assert (x.get("tests"), x.get("failures"), x.get("errors")) == ("3", "2", "1")
    suites = {s.get("name"): s for s in x}
    assert set(suites) == {"test_a.cvx", "test_b.cvx", "test_c.cvx"}
    small = suites["test_a.cvx"].find("testcase[@name='small']")
    fail = small.find("failure")
    assert fail.get("type") == "ASSERT" and "test_a.cvx:1:38" in fail.get("message")
    assert "counterexample: x = 100" in fail.text
    props = {p.get("name"): p.get("value") for p in small.find("properties")}
    assert props["kind"] == "prop" and props["seed"] == "0" and int(props["juice"]) > 0
    err = suites["test_c.cvx"].find("testcase/error")
    assert err.get("type") == "UNDECLARED" and "test_c.cvx:2:1" in err.get("message")
    ET.parse(project / "serial.xml")             # well-formed too


def test_usage_errors(project, capsys):
    (project / "test_a.cvx").write_text(SMALL)
    for args, text in ((["--runs", "0"], "--runs"), (["-j", "2", "--coverage"], "-j")):
        code, _, err = run(capsys, "test", "test_a.cvx", *args)
        assert code == 2 and text in err and err.count("\n") == 1


def test_watch_mode_reruns_on_change(tmp_path):
    f = tmp_path / "test_w.cvx"
    f.write_text("(deftest w (is (= 1 2)))\n")
    env = dict(os.environ, CONVEX_HOME=str(tmp_path / "home"), NO_COLOR="1",
               PYTHONPATH=str(ROOT))
    p = subprocess.Popen(CONVEX + ["test", "--watch", "test_w.cvx"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    import threading
    killer = threading.Timer(90, p.kill)        # readline must not wait forever
    killer.start()
    try:
        seen = []
        deadline = time.time() + 60
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("0 passed, 1 failed"):
                time.sleep(0.6)
                f.write_text("(deftest w (is (= 2 2)))\n")
            if line.startswith("1 passed, 0 failed"):
                break
        text = "".join(seen)
        assert "--- change detected, re-running ---" in text and "PASS w" in text
    finally:
        killer.cancel()
        p.kill()
        p.wait()


def test_fork_base_is_a_test_session_with_cheatcodes_and_gen(project, capsys, monkeypatch):
    """`--fork URL` starts each file from the fork's state, made a test session too (the
    real fork is tests/test_history.py's; here a stand-in for the fetched state)."""
    from types import SimpleNamespace
    from convex_repl.api import Session
    from convex_repl.cli import history
    from convex_repl.testing import runner
    forked = Session()
    forked.eval("(def x 6)")
    monkeypatch.setattr(runner, "_BASE", None)
    monkeypatch.setattr(history, "fork_workspace",
                        lambda url, block, home: SimpleNamespace(session=forked.fork()))
    (project / "test_f.cvx").write_text(
        "(deftest from-the-fork (is (= 6 x)) (set-balance #12 1) (is (= 1 (balance #12))))\n"
        "(defprop on-the-fork [y (gen/long 0 5)] (< y x))\n")
    t = outcomes(capsys, "test_f.cvx", "--fork", "http://peer.invalid")
    assert t["from-the-fork"]["ok"] and t["on-the-fork"]["ok"]
    assert t["on-the-fork"]["cases"] == 100


def test_the_fixed_token_keeps_its_invariant(project, capsys):
    """The same file with transfer writing the sender's balance before reading the
    receiver's: every test passes, the invariant over every sequence tried."""
    text = TOKEN.read_text()
    start = text.index("        (let [from *caller*")
    end = text.index("          amount)))))")
    fixed = text[:start] + """        (let [fb (get balances *caller* 0)]
          (cond (not (<= 0 amount fb)) (fail :FUNDS "not enough tokens"))
          (def balances (assoc balances *caller* (- fb amount)))
          (def balances (assoc balances to (+ (get balances to 0) amount)))
""" + text[end:]
    (project / "test_fixed.cvx").write_text(fixed)
    t = outcomes(capsys, "test_fixed.cvx", "--runs", "25")
    assert all(x["ok"] for x in t.values()), t
    assert t["total-supply"]["cases"] == 25 and t["total-supply"]["juice"] > 25 * 20 * 1000


def test_generators_called_in_a_deftest_are_seeded_per_test(project, capsys):
    (project / "test_d.cvx").write_text(
        "(deftest direct (is (= -1 (gen/generate (gen/long 0 1000)))))\n")
    got = {}
    for seed in ("0", "0", "3"):
        t = outcomes(capsys, "test_d.cvx", "--seed", seed)["direct"]
        value = int(t["message"].split("got ")[1].split()[0])
        assert 0 <= value <= 1000
        assert got.setdefault(seed, value) == value      # the same seed, the same value
    assert got["0"] != got["3"]


def test_shrinking_keeps_to_the_failure_it_found(project, capsys):
    """Values under 10 fail another way (:CAST); shrinking the :STATE failure must not
    slip into that other bug."""
    (project / "test_slip.cvx").write_text(
        "(defprop slips [x (gen/long 0 1000)]\n"
        "  (cond (< x 10) (+ x :oops) (< x 500) true (fail :STATE \"big\")))\n")
    t = outcomes(capsys, "test_slip.cvx")["slips"]
    assert t["error"] == "STATE" and t["counterexample"] == ["x = 500"]
    assert (t["line"], t["column"]) == (2, 45)
