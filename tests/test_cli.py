"""The `convex` command line: results, --json everywhere, one-line errors and exit codes."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from convex_repl.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "convex-home"
    monkeypatch.setenv("CONVEX_HOME", str(h))
    monkeypatch.delenv("CONVEX_KEY_PASSWORD", raising=False)
    monkeypatch.delenv("CONVEX_MNEMONIC", raising=False)
    monkeypatch.delenv("CONVEX_SEED", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    return h


def run(capsys, *args: str) -> tuple:
    """(exit code, stdout, stderr) of `convex args...` run in-process."""
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def js(capsys, *args: str) -> tuple:
    code, out, err = run(capsys, *args, "--json")
    assert err == "", err
    return code, json.loads(out)


def test_eval_prints_the_value_and_persists(home, capsys):
    assert run(capsys, "eval", "(defn sq [x] (* x x)) (sq 12)") == (0, "144\n", "")
    assert run(capsys, "eval", "(sq 3)")[:2] == (0, "9\n")
    assert (home / "session.json").exists()


def test_eval_json_has_value_and_costs(home, capsys):
    code, d = js(capsys, "eval", "(+ 1 2)")
    assert code == 0
    assert d["ok"] is True and d["value"] == "3"
    assert d["juice"] > 0 and d["fee"] >= d["juice"] * d["juice_price"] and d["address"] == 13
    assert "elapsed" in d


def test_cvm_error_is_one_line_exit_1(home, capsys):
    code, out, err = run(capsys, "eval", "(count 1)")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("convex: error: :CAST")


def test_cvm_error_json(home, capsys):
    code, d = js(capsys, "eval", "(count 1)")
    assert code == 1
    assert d["ok"] is False and d["error"] == "CAST"
    assert d["trace"] == ["In expression: (count 1)"]
    assert "count" in d["hint"] and d["juice"] > 0


def test_syntax_error_is_bad_input_exit_2(home, capsys, tmp_path):
    code, out, err = run(capsys, "eval", "(+ 1")
    assert code == 2 and ":SYNTAX" in err and err.count("\n") == 1
    f = tmp_path / "bad.cvx"
    f.write_text("(def a\n")
    assert run(capsys, "run", str(f))[0] == 2
    assert run(capsys, "deploy", str(f))[0] == 2
    code, out, err = run(capsys, "eval", "(count 1)")      # a CVM error stays 1
    assert code == 1


def test_usage_errors_are_one_line_exit_2(home, capsys):
    code, out, err = run(capsys, "eval", "--nonsense")
    assert code == 2 and err.count("\n") == 1 and "--nonsense" in err
    code, out, err = run(capsys, "frobnicate")
    assert code == 2 and err.count("\n") == 1
    code, d = js(capsys, "frobnicate")
    assert code == 2 and d["error"] == "USAGE"


def test_eval_reads_stdin(home, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("(* 6 7)"))
    assert run(capsys, "eval", "-")[:2] == (0, "42\n")


def test_query_keeps_no_state(home, capsys):
    assert run(capsys, "query", "(def q 1) q")[:2] == (0, "1\n")
    assert run(capsys, "eval", "q")[0] == 1


def test_fresh_and_no_save(home, capsys):
    run(capsys, "eval", "(def keep 1)")
    assert run(capsys, "eval", "--fresh", "--no-save", "keep")[0] == 1
    assert run(capsys, "eval", "keep")[:2] == (0, "1\n")
    run(capsys, "eval", "--no-save", "(def keep 2)")
    assert run(capsys, "eval", "keep")[:2] == (0, "1\n")


def test_transact_and_address(home, capsys):
    assert run(capsys, "transact", "*address*")[:2] == (0, "#13\n")
    assert run(capsys, "eval", "--address", "#11", "*address*")[:2] == (0, "#11\n")
    code, out, err = run(capsys, "eval", "-a", "999", "1")
    assert code == 3 and "no account #999" in err


def test_juice_limit_and_dev_mode(home, capsys):
    code, out, err = run(capsys, "eval", "--dev", "--juice-limit", "1000", "(loop [] (recur))")
    assert code == 1 and ":JUICE" in err
    code, d = js(capsys, "eval", "--dev", "(+ 1 2)")
    assert d["value"] == "3" and d["fee"] == d["juice"] * d["juice_price"]
    code, before = js(capsys, "account", "balance")
    code, d = js(capsys, "eval", "(+ 1 2)")
    code, after = js(capsys, "account", "balance")
    assert after["balance"] == before["balance"] - d["fee"]      # a signed transaction pays


def test_transact_has_sequence(home, capsys):
    code, d1 = js(capsys, "transact", "(+ 1 2)")
    code, d2 = js(capsys, "transact", "(+ 1 2)")
    assert d2["sequence"] == d1["sequence"] + 1 and len(d1["tx_hash"]) == 64


def test_run_file_form_per_transaction(home, capsys, tmp_path):
    f = tmp_path / "prog.cvx"
    f.write_text("(def a 1)\n(def b (+ a 1))\n; comment\n[a b]\n")
    assert run(capsys, "run", str(f))[:2] == (0, "[1 2]\n")
    code, d = js(capsys, "run", str(f))
    assert code == 0 and d["value"] == "[1 2]" and len(d["results"]) == 3


def test_run_stops_at_failing_form_and_keeps_earlier(home, capsys, tmp_path):
    f = tmp_path / "bad.cvx"
    f.write_text("(def x 10)\n(count 1)\n(def y 2)\n")
    code, out, err = run(capsys, "run", str(f))
    assert code == 1 and "form 2 of 3" in err and ":CAST" in err
    assert run(capsys, "eval", "x")[:2] == (0, "10\n")
    assert run(capsys, "eval", "(defined? 'y)")[:2] == (0, "false\n")


def test_run_atomic_rolls_back_everything(home, capsys, tmp_path):
    f = tmp_path / "bad.cvx"
    f.write_text("(def z 10)\n(count 1)\n")
    assert run(capsys, "run", "--atomic", str(f))[0] == 1
    assert run(capsys, "eval", "(defined? 'z)")[:2] == (0, "false\n")


def test_run_missing_file(home, capsys):
    code, out, err = run(capsys, "run", "/nonexistent/x.cvx")
    assert code == 3 and err.startswith("convex: error: can't read")
    code, d = js(capsys, "run", "/nonexistent/x.cvx")
    assert code == 3 and d["ok"] is False


def test_status_and_account_commands(home, capsys):
    code, d = js(capsys, "status")
    assert code == 0 and d["address"] == 13 and d["accounts"] >= 14 and d["juice_price"] >= 1
    assert run(capsys, "status")[0] == 0
    code, d = js(capsys, "account", "info")
    assert code == 0 and d["address"] == 13 and d["actor"] is False and d["balance"] > 0
    code, d = js(capsys, "account", "balance", "#11")
    assert code == 0 and d["balance"] > 0
    code, out, err = run(capsys, "account", "info", "#500")
    assert code == 3 and "no account #500" in err


def test_account_create_and_fund_say_when_unsupported(home, capsys):
    from convex_repl.api import Session
    s = Session()
    for cmd, core in ((["account", "create"], "create-account"),
                      (["account", "fund", "#13", "5"], "transfer")):
        code, out, err = run(capsys, *cmd)
        if s.lookup(core) is None:
            assert code == 4 and core in err and err.count("\n") == 1
        else:
            assert code == 0


def test_test_command(home, capsys, tmp_path):
    d = tmp_path / "suite"
    d.mkdir()
    (d / "test_math.cvx").write_text(
        "(defn sq [x] (* x x))\n"
        "(deftest squares (is (= 4 (sq 2))) (is (= 9 (sq 3))))\n"
        "(deftest wrong (is (= 5 (sq 2))))\n"
        "(deftest raises (is (throws? :CAST (sq :a))) (is (not (throws? (sq 1)))))\n")
    code, out, err = run(capsys, "test", str(d))
    assert code == 1
    assert "PASS squares" in out and "FAIL wrong" in out and "PASS raises" in out
    assert "expected 5, got 4" in out
    assert "2 passed, 1 failed" in out
    code, j = js(capsys, "test", str(d))
    assert code == 1 and j["passed"] == 2 and j["failed"] == 1
    assert all(t["juice"] > 0 for t in j["tests"])
    code, out, err = run(capsys, "test", str(d), "-k", "squ")
    assert code == 0 and "1 passed, 0 failed" in out


def test_test_command_file_errors(home, capsys, tmp_path):
    f = tmp_path / "test_broken.cvx"
    f.write_text("(deftest t (is true))\n(undefined-thing)\n")
    code, out, err = run(capsys, "test", str(f))
    assert code == 1 and "ERROR" in out and "UNDECLARED" in out
    code, out, err = run(capsys, "test", str(tmp_path / "nope"))
    assert code == 3


def test_keys_never_prompt_without_terminal(home, capsys):
    code, out, err = run(capsys, "key", "generate")
    assert code == 5 and "CONVEX_KEY_PASSWORD" in err and err.count("\n") == 1
    code, out, err = run(capsys, "key", "import")
    assert code == 5 and "CONVEX_MNEMONIC" in err


def test_key_generate_list_export_import(home, capsys, monkeypatch):
    monkeypatch.setenv("CONVEX_KEY_PASSWORD", "correct horse")
    code, g = js(capsys, "key", "generate", "--name", "alice")
    assert code == 0 and len(g["mnemonic"].split()) == 12
    assert g["public_key"].startswith("0x") and len(g["public_key"]) == 66
    stored = (home / "keys" / "alice.json").read_text()
    assert g["mnemonic"].split()[0] not in stored.split('"')   # encrypted, not in clear
    code, lst = js(capsys, "key", "list")
    assert [k["name"] for k in lst["keys"]] == ["alice"]
    code, ex = js(capsys, "key", "export", "alice")
    assert code == 0 and ex["mnemonic"] == g["mnemonic"] and ex["public_key"] == g["public_key"]
    # the same mnemonic imported gives the same key
    monkeypatch.setenv("CONVEX_MNEMONIC", g["mnemonic"])
    code, im = js(capsys, "key", "import", "--name", "alice2")
    assert code == 0 and im["public_key"] == g["public_key"]
    # wrong password, missing key, duplicate name
    monkeypatch.setenv("CONVEX_KEY_PASSWORD", "wrong")
    code, out, err = run(capsys, "key", "export", "alice")
    assert code == 5 and "wrong password" in err
    code, out, err = run(capsys, "key", "export", "bob")
    assert code == 3
    code, out, err = run(capsys, "key", "import", "--name", "alice")
    assert code == 2 and "exists" in err


def test_key_import_seed_and_bad_mnemonic(home, capsys, monkeypatch):
    monkeypatch.setenv("CONVEX_KEY_PASSWORD", "pw")
    monkeypatch.setenv("CONVEX_SEED", "00" * 32)
    from convex_repl.client.keys import public_key
    code, d = js(capsys, "key", "import", "--name", "zero")
    assert code == 0 and d["public_key"] == "0x" + public_key(bytes(32)).hex()
    monkeypatch.setenv("CONVEX_MNEMONIC", "not a real mnemonic at all")
    code, out, err = run(capsys, "key", "import", "--name", "x")
    assert code == 2 and "BIP39" in err


def test_bip39_reference_vector():
    # BIP39 test vector (Trezor): all-zero entropy, passphrase "TREZOR"
    from convex_repl.client.keys import seed_from_mnemonic
    words = ("abandon " * 11 + "about").strip()
    seed = seed_from_mnemonic(words, "TREZOR")
    assert seed.hex() == "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e5349553"


def test_plain_repl_from_stdin(home, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("(def a\n  5)\n(+ a 1)\n:undo\n:env\n"))
    code, out, err = run(capsys, "--no-color")
    assert code == 0
    assert "6" in out and "undone" in out and "juice" in out


def test_subprocess_no_traceback_and_version():
    env = dict(os.environ, PYTHONPATH=str(ROOT), CONVEX_HOME="/nonexistent-dir/\0bad")
    p = subprocess.run([sys.executable, "-m", "convex_repl", "--version"], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("convex-repl ")
    p = subprocess.run([sys.executable, "-m", "convex_repl", "eval", "(+ 1 :x)"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), CONVEX_HOME=os.devnull))
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("convex: error:")
    del env
