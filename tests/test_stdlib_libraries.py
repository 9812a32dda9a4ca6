"""The standard libraries deployed at genesis: registry/CNS (#9), convex.trust (#10),
convex.asset, convex.fungible, asset.nft.simple / basic and the trust monitor actors.

Each library has a Convex Lisp test file in tests/cvx/ written with deftest / is /
throws? (the test library of `convex test`, stdlib/test.cvx). This module runs those files the
way `convex test` does: a fresh session at genesis with the test library loaded, the file's
top-level forms evaluated in order (one transaction each), then every deftest called as a
query. A few checks that need Python (genesis layout, several accounts) follow.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from convex_repl.api import Session
from lisp import read_all

CVX_TESTS = Path(__file__).parent / "cvx"

# Used only if stdlib/test.cvx is absent: the same three macros, reduced to what the
# library tests use (a test is a function of no arguments registered by name).
_FALLBACK_TEST_LIB = """
(def deftest-registry [])
(defmacro deftest [name & body]
  `(do (def ~name (fn [] ~@body true))
       (def deftest-registry (conj deftest-registry (quote ~name)))
       (quote ~name)))
(defmacro is [form & more]
  (let [what (cond (empty? more) "" (str (first more) ": "))]
    `(cond ~form true (fail :ASSERT (str ~what "not true: " (quote ~form))))))
(defmacro throws? [a & more]
  (cond (empty? more)
    `(try (do ~a false) true)
    `(try (do ~(first more) false) (= ~a *result*))))
"""

_BASE = None


def _base() -> Session:
    global _BASE
    if _BASE is None:
        from importlib.resources import files
        lib = files("stdlib").joinpath("test.cvx")
        s = Session()
        r = s.eval(lib.read_text(encoding="utf-8") if lib.is_file() else _FALLBACK_TEST_LIB)
        assert r.error is None, f"test library failed to load: {r.error} {r.message}"
        _BASE = s
    return _BASE.fork()


def run_cvx_file(path) -> list:
    """Run a Convex Lisp test file; a list of (test name, Result) pairs. A failing top-level
    form is reported as a test named after it."""
    from kernel.data.printer import print_value
    s = _base()
    for form in read_all(Path(path).read_text(encoding="utf-8")):
        r = s.eval_forms([form])
        if r.error is not None:
            return [(f"loading {print_value(form)[:60]}", r)]
    names = []
    for sym in s.eval("deftest-registry").value:
        if sym.name not in names:
            names.append(sym.name)
    return [(n, s.fork().eval(f"(query ({n}))")) for n in names]


def _cases() -> list:
    out = []
    for f in sorted(CVX_TESTS.glob("*_test.cvx")):
        out.append(pytest.param(f, id=f.stem))
    return out


@pytest.mark.parametrize("path", _cases())
def test_library_tests_in_convex_lisp(path):
    results = run_cvx_file(path)
    assert results, f"no tests in {path.name}"
    failures = [f"{n}: :{r.error} {r.message}" for n, r in results if r.error is not None]
    assert not failures, "\n".join(failures)


def test_every_library_has_a_test_file():
    from stdlib.genesis import STANDARD_LIBRARIES
    files = {f.name for f in CVX_TESTS.glob("*_test.cvx")}
    assert {"registry_test.cvx", "trust_test.cvx", "names_test.cvx", "asset_test.cvx",
            "fungible_test.cvx", "nft_test.cvx", "monitors_test.cvx"} <= files
    assert len(STANDARD_LIBRARIES) == 8


# --- genesis ----------------------------------------------------------------------------------

def _session() -> Session:
    return Session()


def test_libraries_are_registered_under_their_file_names():
    from lisp import read
    from stdlib import source
    from stdlib.genesis import STANDARD_LIBRARIES
    s = _session()
    for i, lib in enumerate(STANDARD_LIBRARIES):
        name = read_all(source(lib))[0]
        name = name[1] if not hasattr(name, "datum") else name.datum[1]
        r = s.eval(f"(resolve {name})")
        assert r.printed == f"#{14 + i}", (lib, r.printed, r.error)
        assert s.eval(f"(*registry*/read '{name})").printed == f"[#{14 + i} #6 nil nil]"
    assert read("@convex.asset") is not None


def test_cns_tree_at_genesis():
    s = _session()
    assert s.eval("(*registry*/read 'convex)").printed == '[nil #6 nil [#9 ["convex"]]]'
    assert s.eval("(*registry*/read 'convex.cns)").printed == "[#9 #6 nil [#9 []]]"
    assert s.eval("(*registry*/read 'init)").printed == "[#1 #6 nil nil]"
    assert s.eval("(get *registry*/cns-owners [])").printed == "#6"


def test_governance_can_create_root_names_and_users_cannot():
    s = _session()
    gov = Session(s.state, 6)
    assert gov.eval("(*registry*/create 'lab #6)").printed == "[#6 #6 nil nil]"
    user = Session(gov.state, 13)
    assert user.eval("(*registry*/create 'mine #13)").error == "TRUST"
    assert user.eval("(*registry*/create 'lab.mine #13)").error == "TRUST"
    assert user.eval("(*registry*/update 'lab #13)").error == "TRUST"
    assert user.eval("(*registry*/create 'convex.asset #13)").error == "TRUST"
    assert user.eval("(call [*registry* []] (change-control #13))").error == "TRUST"
    assert user.eval("(resolve convex.asset)").printed == "#14"
    # numeric top-level names are reserved even for governance
    assert gov.eval("(*registry*/create (symbol \"42\") #6)").error == "ARGUMENT"


def test_node_owner_and_record_controller_are_separate():
    s = _session()
    gov = Session(s.state, 6)
    # governance opens lab.team (making the nodes on the way) and hands its node to #13
    r = gov.eval("(*registry*/create 'lab.team.placeholder nil)")
    assert r.error is None, r.message
    assert gov.eval("(get *registry*/cns-owners [\"lab\" \"team\"])").printed == "#6"
    r = gov.eval("(#10/change-control [*registry* [\"lab\" \"team\"]] #13)")
    assert r.printed == ":OK", r.message
    assert gov.eval("(get *registry*/cns-owners [\"lab\" \"team\"])").printed == "#13"
    user = Session(gov.state, 13)
    assert user.eval("(*registry*/create 'lab.team.app #14 #12)").printed == "[#14 #12 nil nil]"
    # #13 owns the node but does not control the record: it cannot update it, only delete it
    assert user.eval("(*registry*/update 'lab.team.app #15)").error == "TRUST"
    other = Session(user.state, 12)
    assert other.eval("(*registry*/update 'lab.team.app #15)").printed == "[#15 #12 nil nil]"
    assert other.eval("(resolve lab.team.app)").printed == "#15"
    assert other.eval("(*registry*/control 'lab.team.app #11)").printed == "[#15 #11 nil nil]"
    # the controller cannot add names to a node it does not own, nor delete them
    assert other.eval("(*registry*/create 'lab.team.other #12)").error == "TRUST"
    assert other.eval("(*registry*/delete 'lab.team.app)").error == "TRUST"
    user.state = other.state
    assert user.eval("(*registry*/delete 'lab.team.app)").printed == "true"
    assert user.eval("(resolve lab.team.app)").printed == "nil"
    assert user.eval("(*registry*/delete 'lab.team.app)").printed == "false"
    # the node owner hands the node over (the second capability of a full transfer)
    assert user.eval("(#10/change-control [*registry* [\"lab\" \"team\"]] #12)").printed == ":OK"
    assert user.eval("(*registry*/create 'lab.team.again #13)").error == "TRUST"


def test_session_stays_fast():
    import time
    Session()
    t = time.perf_counter()
    for _ in range(100):
        Session().eval("@convex.asset")
    assert time.perf_counter() - t < 2.0
