"""`convex test` fixtures and cheatcodes (issue 19): setup/teardown per test and per file,
`as`, `warp`/`advance`, `set-balance`, `expect-error`, `snapshot`/`revert`; and that none of
them exist outside a test session (a normal session, the CLI, a transaction's encoding)."""
from __future__ import annotations

import json

from convex_repl.api import Session
from test_cli import run   # (exit code, stdout, stderr) of `convex args...` in-process
from test_test_props import project  # noqa: F401 (fixture: a directory with its own CONVEX_HOME)


def results(project, capsys, source: str) -> dict:
    """{test name: its JSON outcome} of a test file holding `source`."""
    (project / "test_it.cvx").write_text(source)
    code, out, _ = run(capsys, "test", "--json", "test_it.cvx")
    rep = json.loads(out)
    assert code == (0 if rep["ok"] else 1)
    assert not rep["file_errors"], rep["file_errors"]
    return {t["name"]: t for t in rep["tests"]}


def test_as_acts_as_the_account_for_calls_transfers_and_definitions(project, capsys):
    r = results(project, capsys, """
(def who (deploy '(defn caller ^:callable [] [*caller* *origin*])))
(deftest address-and-caller
  (is (= #12 (as #12 *address*)))
  (is (= [#12 #12] (as #12 (call who (caller)))))
  (is (= [*address* *address*] (call who (caller))))
  (is (= #13 *address*)))
(deftest coins-come-from-it
  (let [before (balance #12)
        mine   *balance*]
    (as #12 (transfer #11 1000))
    (is (= (- before 1000) (balance #12)))
    (is (= mine *balance*))))
(deftest definitions-land-there
  (as #12 (def planted 7))
  (is (= 7 #12/planted)))
(deftest no-such-account
  (is (throws? :NOBODY (as #999999 1))))
(deftest back-after-an-error
  (is (throws? :CAST (as #12 (+ 1 :a))))
  (is (= #13 *address*)))
""")
    assert {n: t["ok"] for n, t in r.items()} == {
        "address-and-caller": True, "coins-come-from-it": True, "definitions-land-there": True,
        "no-such-account": True, "back-after-an-error": True}


def test_warp_and_advance_move_time_and_run_scheduled_operations(project, capsys):
    r = results(project, capsys, """
(deftest warps
  (let [t *timestamp*]
    (is (= (+ t 5000) (advance 5000)))
    (is (= (+ t 5000) *timestamp*))
    (is (= 1000 (warp 1000)))
    (is (= 1000 *timestamp*))
    (is (= 2000000000000 (warp 2000000000000)))))
(deftest schedules-fall-due
  (schedule (+ *timestamp* 1000) (def fired true))
  (is (not (defined? 'fired)))
  (advance 999)
  (is (not (defined? 'fired)))
  (advance 1)
  (is (= true fired)))
(deftest bad-times
  (is (throws? :ARGUMENT (advance -1)))
  (is (throws? :CAST (warp :soon))))
""")
    assert all(t["ok"] for t in r.values()), r


def test_set_balance_and_expect_error(project, capsys):
    r = results(project, capsys, """
(deftest balances
  (is (= 42 (set-balance #12 42)))
  (is (= 42 (balance #12)))
  (set-balance *address* 0)
  (is (= 0 *balance*))
  (expect-error :FUNDS (transfer #12 1))
  (is (throws? :NOBODY (set-balance #999999 1)))
  (is (throws? :ARGUMENT (set-balance #12 -1))))
(deftest expects-the-code
  (is (= :CAST (expect-error :CAST (+ 1 :a)))))
(deftest wrong-code
  (expect-error :FUNDS (+ 1 :a)))
(deftest no-error
  (expect-error :CAST (+ 1 2)))
(deftest undone
  (expect-error :ASSERT (def gone 1) (assert false))
  (is (not (defined? 'gone))))
""")
    ok = {n: t["ok"] for n, t in r.items()}
    assert ok == {"balances": True, "expects-the-code": True, "wrong-code": False,
                  "no-error": False, "undone": True}
    assert r["wrong-code"]["message"] == "expected error :FUNDS, got :CAST from (+ 1 :a)"
    assert r["no-error"]["message"] == "expected error :CAST, got the value 3 from (+ 1 2)"
    assert (r["no-error"]["line"], r["no-error"]["column"]) == (15, 3)


def test_snapshot_and_revert(project, capsys):
    r = results(project, capsys, """
(deftest reverts
  (def x 1)
  (let [s (snapshot)]
    (def x 2)
    (set-balance #12 5)
    (let [s2 (snapshot)]
      (def x 3)
      (revert s)
      (is (= 1 x))
      (is (not (= 5 (balance #12))))
      (revert s2)
      (is (= 2 x))
      (is (= 5 (balance #12))))))
(deftest unknown
  (is (throws? :ARGUMENT (revert 7))))
(deftest ids-are-per-test
  (is (= 0 (snapshot))))
""")
    assert all(t["ok"] for t in r.values()), r


def test_fixtures_per_test_and_per_file(project, capsys):
    r = results(project, capsys, """
(def log [])
(setup-file (def log (conj log :file)) (def counter 10))
(setup (def log (conj log :test)) (def counter (inc counter)))
(teardown (is (= 11 counter) "teardown sees the test's state"))
(deftest first-test
  (is (= [:file :test] log))
  (is (= 11 counter)))
(deftest second-test
  (is (= [:file :test] log)))
(deftest breaks-teardown
  (def counter 99))
(defprop props-get-setup-too [x (gen/long 0 3)]
  (= 11 counter))
""")
    ok = {n: t["ok"] for n, t in r.items()}
    assert ok == {"first-test": True, "second-test": True, "breaks-teardown": False,
                  "props-get-setup-too": True}
    assert r["breaks-teardown"]["message"].startswith("in teardown: teardown sees the test's state")


def test_fixture_failures_say_where(project, capsys):
    (project / "test_setup.cvx").write_text(
        "(setup (+ 1 :a))\n(deftest t (is true))\n")
    (project / "test_file.cvx").write_text(
        "(deftest t (is true))\n(teardown-file (fail :STATE \"left a mess\"))\n")
    code, out, _ = run(capsys, "test", "test_setup.cvx", "test_file.cvx")
    assert code == 1
    assert "test_setup.cvx:1:8: :CAST in setup:" in out
    assert "ERROR test_file.cvx:2:1: :STATE in teardown-file: left a mess" in out
    assert "1 passed, 2 failed" in out


def test_cheatcodes_do_not_exist_outside_tests(project, capsys):
    s = Session()
    for form in ("(warp 5)", "(advance 5)", "(set-balance #12 1)", "(snapshot)", "(revert 0)",
                 "(as* #12 (fn [] 1))", "(gen/long)"):
        r = s.eval(form)
        assert r.error == "UNDECLARED", form
    code, _, err = run(capsys, "eval", "(set-balance #13 100000000000000000)")
    assert code == 1 and ":UNDECLARED set-balance" in err
    # a cheatcode's encoding names no core function: decoded (as a peer would), it is inert
    import kernel
    from convex_repl.testing.cheats import cheat_fn
    from kernel.cvm.fn import CoreFn
    f = cheat_fn("set-balance")
    back = kernel.decode(kernel.encode(f))
    assert not isinstance(back, CoreFn)
    r = Session().eval_forms([back])
    assert r.ok and not isinstance(r.value, CoreFn)
