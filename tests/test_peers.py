"""Peers and stake: create-peer, set-peer-stake, set-stake, get-stake, get-peer-stake,
set-peer-data and evict-peer. Every operation keeps the total of all funds constant."""
from __future__ import annotations

from convex_repl.api import Session
from kernel.state.state import MAX_SUPPLY, MINIMUM_EFFECTIVE_STAKE
from stdlib.genesis import GENESIS_PEER, GENESIS_USER, genesis_key
from tests.cvm import err, ok, same, session

KEY = "0x1234567812345678123456781234567812345678123456781234567812345678"
PK = "0x42ae93b185bd2ba64fd9b0304fec81a4d4809221a5b68de4da041b48c85bcc2e"
BIG = 2 * MINIMUM_EFFECTIVE_STAKE


def genesis_peer_key() -> str:
    return "0x" + genesis_key(GENESIS_USER).data.hex()


def check_funds(s: Session) -> None:
    assert s.state.total_funds() == MAX_SUPPLY


def test_genesis_peer():
    same(f"(> (get-peer-stake {genesis_peer_key()}) 0)", "true")
    same(f"(get-stake {genesis_peer_key()} *address*)", "0")
    same(f"(get-in *state* [:peers {genesis_peer_key()} :controller])", f"#{GENESIS_PEER}")
    same(f"(get-peer-stake {KEY})", "nil")
    same(f"(get-stake {KEY} *address*)", "nil")
    assert err("(get-peer-stake :foo)") == "CAST"
    assert err("(get-stake :foo *address*)") == "CAST"
    assert err(f"(get-stake {KEY} :foo)") == "CAST"
    assert err("(get-peer-stake)") == "ARITY"
    assert err(f"(get-stake {KEY})") == "ARITY"


def test_create_and_set_peer_stake():
    s = session()
    stk = 1_000_000
    assert s.eval(f"(set-peer-stake {KEY} {stk})").error == "STATE"    # no such peer yet
    assert s.eval(f"(create-peer {KEY} {stk})").error is None
    check_funds(s)
    assert s.eval(f"(get-peer-stake {KEY})").printed == str(stk)
    assert s.eval(f"(get-stake {KEY} *address*)").printed == "0"
    assert s.eval(f"(get-in *state* [:peers {KEY} :timestamp])").printed == "-1"
    assert s.eval(f"(get-in *state* [:peers {KEY} :balance])").printed == str(stk)
    assert s.eval(f"(set-peer-stake {KEY} {3 * stk})").printed == str(2 * stk)
    check_funds(s)
    assert s.eval(f"(get-peer-stake {KEY})").printed == str(3 * stk)
    assert s.eval(f"(set-peer-stake {KEY} 999999999999999999)").error == "FUNDS"
    assert s.eval(f"(set-peer-stake {KEY} (+ 1 {3 * stk} *balance*))").error == "FUNDS"
    assert s.eval(f"(set-peer-stake {KEY} -1)").error == "ARGUMENT"
    assert s.eval(f"(set-peer-stake {KEY} 0)").printed == str(-3 * stk)
    assert s.eval(f"(get-peer-stake {KEY})").printed == "0"
    check_funds(s)
    # only the controller may change the peer's own stake
    assert Session(s.state, 11).eval(f"(set-peer-stake {KEY} 5)").error == "STATE"
    for src in (f"(set-peer-stake {KEY})", "(set-peer-stake)", f"(set-peer-stake {KEY} :foo :bar)"):
        assert s.fork().eval(src).error == "ARITY"


def test_create_peer_errors():
    s = session()
    s.eval(f"(def hero-peer {PK})")
    assert s.fork().eval("(create-peer hero-peer 1000)").error is None
    t = s.fork()
    t.eval("(create-peer hero-peer 1000)")
    assert t.eval("(create-peer hero-peer 1000)").error == "STATE"
    assert s.fork().eval("(create-peer hero-peer 0)").error == "ARGUMENT"
    assert s.fork().eval("(create-peer hero-peer -5)").error == "ARGUMENT"
    for src in ("(create-peer *address* 1234)", "(create-peer :foo 1234)",
                "(create-peer hero-peer :foo)", "(create-peer hero-peer nil)"):
        assert s.fork().eval(src).error == "CAST", src
    # a blob of the wrong length is a bad argument, not a bad type (Core.CREATE_PEER)
    assert s.fork().eval("(create-peer 0x1234 10)").error == "ARGUMENT"
    assert s.fork().eval("(create-peer hero-peer)").error == "ARITY"
    assert s.fork().eval("(create-peer hero-peer 1000 :foo)").error == "ARITY"
    assert err(f"(create-peer {PK} *balance*)") == "JUICE"     # nothing left to pay juice
    assert err(f"(create-peer {PK} (inc *balance*))") == "FUNDS"


def test_delegated_stake():
    s = session()
    gp = genesis_peer_key()
    ps0 = s.eval(f"(get-in *state* [:peers {gp} :balance])").value
    assert s.eval(f"(set-stake {gp} 1000000)").printed == "1000000"
    check_funds(s)
    assert s.eval(f"(get-stake {gp} *address*)").printed == "1000000"
    assert s.eval(f"(get-in *state* [:peers {gp} :balance])").value == ps0 + 1_000_000
    assert s.eval(f"(get-in *state* [:peers {gp} :delegated-stake])").printed == "1000000"
    assert s.eval(f"(set-stake {gp} 400000)").printed == "-600000"
    assert s.eval(f"(set-stake {gp} 0)").printed == "-400000"
    assert s.eval(f"(get-in *state* [:peers {gp} :stakes])").printed == "nil"
    check_funds(s)
    assert err(f"(set-stake {KEY} 1234)") == "STATE"
    assert err("(set-stake *address* 1234)") == "CAST"
    assert err("(set-stake 0x12 1234)") == "ARGUMENT"
    assert err("(set-stake :foo 1234)") == "CAST"
    assert err(f"(set-stake {gp} :foo)") == "CAST"
    assert err(f"(set-stake {gp} nil)") == "CAST"
    assert err(f"(set-stake {gp} -1)") == "ARGUMENT"
    assert err(f"(set-stake {gp} 999999999999999999)") == "FUNDS"
    assert err(f"(set-stake {gp})") == "ARITY"
    assert err(f"(set-stake {gp} 1000 :foo)") == "ARITY"


def test_evict_peer():
    s = session()
    s.eval(f"(create-peer {PK} {BIG})")
    check_funds(s)
    assert s.eval(f"(get-in *state* [:peers {PK} :stake])").printed == str(BIG)
    assert s.eval(f"(evict-peer {PK})").printed == str(-BIG)
    assert s.eval(f"(get-peer-stake {PK})").printed == "nil"
    check_funds(s)
    # evicting a peer that does not exist changes nothing
    assert s.eval(f"(evict-peer {PK})").error is None


def test_evict_peer_refunds_delegators():
    s = session()
    s.eval(f"(create-peer {PK} {BIG})")
    s.eval("(def USER (deploy '(set-controller *caller*) "
           "'(defn ^:callable receive-coin [& args] (accept *offer*))))")
    s.eval("(transfer USER 10000000)")
    assert s.eval(f"(eval-as USER '(set-stake {PK} 7000000))").printed == "7000000"
    check_funds(s)
    assert s.eval("(balance USER)").printed == "3000000"
    assert s.eval(f"(get-stake {PK} USER)").printed == "7000000"
    # the delegator may not evict a well-staked peer
    assert s.fork().eval(f"(eval-as USER '(evict-peer {PK}))").error == "STATE"
    assert s.eval(f"(evict-peer {PK})").printed == str(-BIG)
    assert s.eval("(balance USER)").printed == "10000000"
    check_funds(s)


def test_evict_peer_limits():
    gp = genesis_peer_key()
    # the genesis peer is well staked and not ours
    assert err(f"(evict-peer {gp})") == "STATE"
    # the last peer can never go
    s = Session(session().state, GENESIS_PEER)
    assert s.eval(f"(evict-peer {gp})").error == "STATE"
    # a poorly staked peer can be evicted by anyone
    t = session()
    t.eval(f"(create-peer {PK} 1000)")
    assert Session(t.state, 11).eval(f"(evict-peer {PK})").printed == "-1000"
    for src in ("(evict-peer nil)", "(evict-peer [])"):
        assert err(src) == "CAST"
    assert err("(evict-peer 0x)") == "ARGUMENT"      # Core.EVICT_PEER: a blob, not 32 bytes
    assert err("(evict-peer :foo :bar)") == "ARITY"
    assert err("(evict-peer)") == "ARITY"


def test_set_peer_data():
    s = Session(session().state, GENESIS_PEER)      # #12 controls the genesis peer
    gp = genesis_peer_key()
    s.eval(f"(def peer-key {gp})")
    assert s.eval("(set-peer-data peer-key {:url \"new_hostname:1234\"})").error is None
    assert s.eval("(get-in *state* [:peers peer-key :metadata :url])").printed == \
        '"new_hostname:1234"'
    assert s.eval("(set-peer-data peer-key {})").error is None
    assert s.eval("(get-in *state* [:peers peer-key :metadata :url])").printed == "nil"
    assert s.eval("(set-peer-data peer-key nil)").printed == "nil"
    for src in ("(set-peer-data peer-key :fail)", "(set-peer-data peer-key (index))",
                f"(set-peer-data peer-key {KEY})", "(set-peer-data 12 {})",
                "(set-peer-data nil {})"):
        assert s.fork().eval(src).error == "CAST", src
    for src in ("(set-peer-data)", "(set-peer-data peer-key)",
                "(set-peer-data peer-key {:url \"test\"} 2)"):
        assert s.fork().eval(src).error == "ARITY"
    # another account taking the peer's key still does not control the peer
    h = Session(s.state, 13)
    assert h.eval(f"(do (set-key {gp}) (set-peer-data {gp} {{:url \"hijack\"}}))").error == "STATE"
    # an account with no peer under its key
    assert ok("(do (set-key nil) 1)").printed == "1"
    assert err(f"(do (set-key nil) (set-peer-data {gp} {{}}))") == "STATE"
