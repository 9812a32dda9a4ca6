"""`convex test --juice-report`, `--snapshot FILE [--check]` and `--coverage` (issue 17)."""
from __future__ import annotations

import io
import json
import sys

import pytest

from test_cli import run   # (exit code, stdout, stderr) of `convex args...` in-process

SOURCE = """\
(defn clamp [x lo hi]
  (cond (< x lo) lo
        (> x hi) hi
        x))

(defn unused [x]
  (* x 2))

(defn sum-to [n]
  (loop [i 0 acc 0]
    (if (> i n)
      acc
      (recur (inc i) (+ acc i)))))

(deftest clamp-low
  (is (= 0 (clamp -5 0 10))))

(deftest clamp-mid
  (is (= 5 (clamp 5 0 10))))

(deftest sums
  (is (= 55 (sum-to 10))))
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVEX_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "test_clamp.cvx").write_text(SOURCE)
    return tmp_path


def test_juice_report_lists_each_function_with_min_median_max(project, capsys):
    code, out, _ = run(capsys, "test", "--json", "--juice-report", "test_clamp.cvx")
    assert code == 0
    rep = json.loads(out)
    assert rep["ok"] and rep["passed"] == 3
    rows = {r["function"]: r for r in rep["juice_report"]}
    assert set(rows) == {"clamp", "sum-to"}          # the tests themselves are not listed
    clamp = rows["clamp"]
    assert clamp["calls"] == 2 and clamp["min"] < clamp["max"]
    assert clamp["min"] <= clamp["median"] <= clamp["max"]
    tests = {t["name"]: t["juice"] for t in rep["tests"]}
    assert rows["sum-to"]["max"] < tests["sums"]      # a call costs less than its test
    code, out, _ = run(capsys, "test", "--juice-report", "test_clamp.cvx")
    assert code == 0 and "juice report" in out and "sum-to" in out and "median" in out


def test_snapshot_written_then_checked_with_tolerance(project, capsys):
    snap = project / "juice.snap"
    code, out, _ = run(capsys, "test", "--snapshot", str(snap), "test_clamp.cvx")
    assert code == 0
    lines = snap.read_text().splitlines()
    assert [ln.rsplit(" ", 1)[0] for ln in lines] == [
        "test_clamp.cvx::clamp-low", "test_clamp.cvx::clamp-mid", "test_clamp.cvx::sums"]
    code, out, _ = run(capsys, "test", "--snapshot", str(snap), "--check", "test_clamp.cvx")
    assert code == 0 and "snapshot" in out and "ok" in out
    juice = int(lines[2].rsplit(" ", 1)[1])
    lines[2] = f"test_clamp.cvx::sums {juice - juice // 50}"      # 2% less than it costs
    snap.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "test", "--snapshot", str(snap), "--check", "test_clamp.cvx")
    assert code == 1 and "CHANGED  test_clamp.cvx::sums" in out
    code, out, _ = run(capsys, "test", "--snapshot", str(snap), "--check", "--tolerance", "5",
                       "test_clamp.cvx")
    assert code == 0 and "changed  test_clamp.cvx::sums" in out
    snap.write_text("\n".join(lines[:2]) + "\ntest_clamp.cvx::gone 10\n")
    code, out, _ = run(capsys, "test", "--json", "--snapshot", str(snap), "--check",
                       "test_clamp.cvx")
    check = json.loads(out)["snapshot_check"]
    assert code == 1 and not check["ok"]
    assert any(c.startswith("NEW      test_clamp.cvx::sums") for c in check["changes"])
    assert any(c.startswith("GONE     test_clamp.cvx::gone") for c in check["changes"])
    snap.write_text("not a snapshot\n")
    code, _, err = run(capsys, "test", "--snapshot", str(snap), "--check", "test_clamp.cvx")
    assert code == 2 and f"{snap}:1:1:" in err
    code, _, err = run(capsys, "test", "--check", "test_clamp.cvx")
    assert code == 2 and "--snapshot" in err


def test_coverage_lines_branches_and_lcov(project, capsys):
    code, out, _ = run(capsys, "test", "--coverage", "--lcov", "cov.info", "test_clamp.cvx")
    assert code == 0 and "coverage" in out and "test_clamp.cvx" in out
    info = (project / "cov.info").read_text().splitlines()
    assert info[:2] == ["TN:", "SF:test_clamp.cvx"] and info[-1] == "end_of_record"
    da = {int(ln[3:].split(",")[0]): int(ln.split(",")[1]) for ln in info
          if ln.startswith("DA:")}
    assert da[7] == 0                      # (* x 2) in a function no test calls
    assert da[2] == 2 and da[3] == 1       # clamp ran twice; (> x hi) tested once
    assert da[13] == 11                    # the recur ran 11 times
    assert 1 not in da and 6 not in da     # a defn line holds no op of its own
    brda = [ln[5:].split(",") for ln in info if ln.startswith("BRDA:")]
    clamp = [b for b in brda if b[0] == "2"]
    assert [b[3] for b in clamp] == ["1", "0", "1"]    # low taken, high never, else once
    loop = [b for b in brda if b[0] == "11"]
    assert [b[3] for b in loop] == ["1", "11"]         # acc once, recur for i = 0..10
    assert f"LF:{len(da)}" in info and f"LH:{sum(1 for h in da.values() if h)}" in info
    code, out, _ = run(capsys, "test", "--json", "--coverage", "--lcov", "cov.info",
                       "test_clamp.cvx")
    cov = json.loads(out)["coverage"][0]
    assert cov["lines"] == len(da) and cov["branches"] == 5 and cov["branches_hit"] == 4
