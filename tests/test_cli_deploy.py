"""`convex deploy` of the tutorial's example actor, then `convex eval` in a new process
calling it by address and by CNS name, with --json output and the deployments file."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

COUNTER = Path(__file__).resolve().parents[1] / "tutorials" / "examples" / "counter.cvx"


def convex(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CONVEX_HOME=str(tmp / "home"))
    return subprocess.run([sys.executable, "-m", "convex_repl", *args], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=120)


def test_deploy_then_call_from_a_new_process(tmp_path):
    r = convex(tmp_path, "deploy", str(COUNTER), "--name", "my.counter", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and out["name"] == "my.counter" and out["network"] == "local"
    actor = out["address"]
    assert actor.startswith("#")

    first = convex(tmp_path, "eval", f"(call {actor} (increment))", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["value"] == "1"
    by_name = convex(tmp_path, "eval", "(call @my.counter (increment))")
    assert by_name.returncode == 0 and by_name.stdout.strip() == "2"

    recorded = json.loads((tmp_path / "convex-deployments.json").read_text())
    assert recorded["local"]["my.counter"]["address"] == actor


def test_deploy_args_and_errors(tmp_path):
    r = convex(tmp_path, "deploy", str(COUNTER), "--arg", "10")
    assert r.returncode == 0, r.stderr
    actor = r.stdout.strip()
    q = convex(tmp_path, "query", f"(call {actor} (value))")
    assert q.stdout.strip() == "10"

    missing = convex(tmp_path, "deploy", "no-such-file.cvx")
    assert missing.returncode == 3 and missing.stderr.count("\n") == 1
    assert "Traceback" not in missing.stderr
    bad = convex(tmp_path, "deploy", str(COUNTER), "--arg", "(oops")
    assert bad.returncode == 2 and "--arg" in bad.stderr


# --- issue 14: records per network, dry runs, CNS rights, upgrades (a real peer process) ------

import pytest  # noqa: E402

from test_peer_process import ROOT, start_peer, stop  # noqa: E402


@pytest.fixture(scope="module")
def peer():
    p, info = start_peer()
    yield info["url"]
    stop(p)


def cli(tmp: Path, *args: str, env: dict = None) -> tuple:
    e = {"PYTHONPATH": ROOT, "NO_COLOR": "1"}
    e.update(env or {})
    r = subprocess.run([sys.executable, "-m", "convex_repl", *args], cwd=tmp,
                       env=dict({k: v for k, v in os.environ.items()
                                 if k not in ("CONVEX_URL", "CONVEX_SEED")},
                                CONVEX_HOME=str(tmp / "home"), **e),
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def _accounts(tmp: Path, *url: str) -> int:
    rc, out, err = cli(tmp, "query", *url, "(count (:accounts *state*))")
    assert rc == 0, err
    return int(out)


def test_records_per_network_and_old_files(peer, tmp_path):
    # an old-format file (only "local", no tx or time) is read and kept
    old = {"local": {"old.thing": {"address": "#20", "deployer": "#13", "file": "x.cvx",
                                   "name": None}}}
    (tmp_path / "convex-deployments.json").write_text(json.dumps(old))
    rc, out, err = cli(tmp_path, "deploy", str(COUNTER), "--name", "my.counter", "--json")
    assert rc == 0, err
    local = json.loads(out)
    rc, out, err = cli(tmp_path, "deploy", "--url", peer, str(COUNTER), "--name",
                       "my.counter", "--json")
    assert rc == 0, err
    remote = json.loads(out)
    net = remote["network"]
    assert local["network"] == "local" and net.startswith("0x") and len(net) == 66
    data = json.loads((tmp_path / "convex-deployments.json").read_text())
    assert data["local"]["old.thing"] == old["local"]["old.thing"]
    assert data["local"]["my.counter"]["address"] == local["address"]
    rec = data[net]["my.counter"]
    assert rec["address"] == remote["address"] and rec["url"] == peer
    assert rec["deployer"] == "#13" and len(rec["tx"]) == 64 and rec["time"].endswith("Z")
    # the one on the peer answers there
    rc, out, err = cli(tmp_path, "eval", "--url", peer, "(call @my.counter (increment))")
    assert rc == 0 and out.strip() == "1", err
    # convex deployments: all, one network (by name, id prefix or URL), JSON
    rc, out, err = cli(tmp_path, "deployments")
    assert rc == 0 and "local" in out and net in out and "old.thing" in out
    rc, out, err = cli(tmp_path, "deployments", "--network", peer, "--json")
    assert list(json.loads(out)["networks"]) == [net]
    rc, out, err = cli(tmp_path, "deployments", "--network", net[:10])
    assert rc == 0 and net in out and "old.thing" not in out
    rc, out, err = cli(tmp_path, "deployments", "--network", "local", "--json")
    assert set(json.loads(out)["networks"]["local"]) == {"old.thing", "my.counter"}


def test_redeploy_same_name_dry_run_and_forbidden_names(peer, tmp_path):
    for url in ((), ("--url", peer)):
        rc, out, err = cli(tmp_path, "deploy", *url, str(COUNTER), "--name", "re.counter")
        assert rc == 0, err
        first = out.split()[0]
        # a dry run: the cost, nothing signed or changed
        n = _accounts(tmp_path, *url)
        rc, out, err = cli(tmp_path, "deploy", *url, str(COUNTER), "--name", "re.counter",
                           "--dry-run", "--json")
        assert rc == 0, err
        d = json.loads(out)
        assert d["dry_run"] and d["cns"] == "update" and d["juice"] > 0 and d["fee"] > 0
        assert d["juice_price"] == 10 and d["address"] == f"#{n}"
        assert _accounts(tmp_path, *url) == n
        # redeploying with the same name points the deployer's record at the new actor
        rc, out, err = cli(tmp_path, "deploy", *url, str(COUNTER), "--name", "re.counter")
        assert rc == 0, err
        second = out.split()[0]
        assert second != first
        rc, out, err = cli(tmp_path, "query", *url, "@re.counter")
        assert out.strip() == second
        # a name the deployer does not control fails before anything is deployed
        n = _accounts(tmp_path, *url)
        rc, out, err = cli(tmp_path, "deploy", *url, "-a", "11", str(COUNTER), "--name",
                           "re.counter")
        assert rc == 1 and "controlled by #13" in err and "nothing deployed" in err
        rc, out, err = cli(tmp_path, "deploy", *url, str(COUNTER), "--name", "convex.asset")
        assert rc == 1 and "TRUST" in err
        assert _accounts(tmp_path, *url) == n
    recs = json.loads((tmp_path / "convex-deployments.json").read_text())
    assert len(recs) == 2 and all(r["re.counter"]["previous"] for r in recs.values())


def test_upgrade_an_upgradable_actor(peer, tmp_path):
    v2 = tmp_path / "v2.cvx"
    v2.write_text("(def total (if (defined? 'total) total 0))\n"
                  "(defn increment ^{:callable true} [] (def total (+ total 10)) total)\n"
                  "(defn version ^{:callable true} [] 2)\n")
    for url in ((), ("--url", peer)):
        rc, out, err = cli(tmp_path, "deploy", *url, str(COUNTER), "--name", "up.counter",
                           "--upgradable")
        assert rc == 0, err
        actor = out.split()[0]
        assert cli(tmp_path, "eval", *url, "(call @up.counter (increment))")[1].strip() == "1"
        rc, out, err = cli(tmp_path, "deploy", *url, str(v2), "--name", "up.counter",
                           "--upgrade", "--dry-run")
        assert rc == 0 and "would upgrade" in out and actor in out, err
        rc, out, err = cli(tmp_path, "deploy", *url, str(v2), "--name", "up.counter",
                           "--upgrade")
        assert rc == 0 and out.split()[0] == actor, err
        rc, out, err = cli(tmp_path, "eval", *url,
                           "[(call @up.counter (increment)) (call @up.counter (version))]")
        assert out.strip() == "[11 2]", err
        # only the controller may upgrade; an actor deployed without --upgradable can't be
        rc, out, err = cli(tmp_path, "deploy", *url, "-a", "11", str(v2), "--name",
                           "up.counter", "--upgrade")
        assert rc == 1 and "may not change the code" in err
        rc, out, err = cli(tmp_path, "deploy", *url, str(COUNTER), "--name", "fixed.counter")
        assert rc == 0, err
        rc, out, err = cli(tmp_path, "deploy", *url, str(v2), "--name", "fixed.counter",
                           "--upgrade")
        assert rc == 1 and "--upgradable" in err


def test_a_failing_deployment_leaves_nothing(peer, tmp_path):
    broken = tmp_path / "broken.cvx"
    broken.write_text('(def x 1)\n(fail :OOPS "broken actor")\n')
    for url in ((), ("--url", peer)):
        rc, out, err = cli(tmp_path, "query", *url,
                           "[(count (:accounts *state*)) (balance #13)]")
        before = out.strip()
        rc, out, err = cli(tmp_path, "deploy", *url, str(broken), "--name", "broken.one")
        assert rc == 1 and "nothing deployed" in err and ":OOPS" in err
        assert err.count("\n") == 1
        rc, out, err = cli(tmp_path, "query", *url,
                           "[(count (:accounts *state*)) (balance #13) "
                           "(*registry*/read 'broken.one)]")
        assert out.strip() == before[:-1] + " nil]"         # no actor, no fee, no name
    assert not (tmp_path / "convex-deployments.json").exists()
