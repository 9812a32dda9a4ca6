"""The genesis state, with the reference's account layout and coin distribution.

    #0   null account (burn address)     #1   init account
    #2   foundation governance           #3-#5 foundation reserve and release funds
    #6   network governance              #7   admin
    #8   core library (convex.core)      #9   registry actor   #10 trust actor
    #11  genesis user                    #12  genesis peer controller
    #13  first user (the account a Session acts as)
    #14- the standard libraries (convex.asset, convex.fungible, asset.nft.simple, ...)

Every library is registered in the Convex Name System (CNS) kept by the registry #9, under
the name its file starts with, together with convex.core, convex.registry, convex.trust,
the alias convex.cns and init.

#2-#7 hold the unissued coins (999 of the 1000 emeralds); #2 controls #3-#7. The memory pool
starts with its reference coins; of what remains 80% goes to the users (half to #11, the rest
split between #12 and #13) and 20% is the stake of the single genesis peer, controlled by #12.
Every coin is accounted for: `State.total_funds()` is the maximum supply.

Building it evaluates Convex Lisp, so it is cached per process; states are immutable, so
every Session can start from the same object.
"""
from __future__ import annotations

from functools import lru_cache

from kernel.cvm.context import Context
from kernel.data.hashmaps import Map
from kernel.data.index import Index
from kernel.data.scalars import Address, Keyword, Symbol
from kernel.state.state import (CORE_ADDRESS, DIAMOND, EMERALD, INITIAL_ACCOUNT_ALLOWANCE,
                                MAX_SUPPLY, Account, PeerStatus, State)
from kernel.data.vectors import Vector

from stdlib import source

NULL_ADDRESS, INIT_ADDRESS, FOUNDATION, RESERVE, UNRELEASED, DISTRIBUTION, GOVERNANCE, \
    ADMIN = range(8)
REGISTRY, TRUST = 9, 10
GENESIS_USER = 11
GENESIS_PEER = 12
FIRST_USER = 13
NUM_GOVERNANCE_ACCOUNTS = 8

K = Keyword


def _doc_meta(doc: dict) -> Map:
    from lisp import read

    from kernel.data.blobs import String

    fields = []
    if "description" in doc:
        fields.append((K("description"), String.of(doc["description"])))
    if doc.get("signature"):
        sigs = []
        for s in doc["signature"]:
            try:
                params = read(s)
            except Exception:
                params = String.of(s)
            sigs.append(Map.from_pairs([(K("params"), params)]))
        fields.append((K("signature"), Vector.from_seq(sigs)))
    if doc.get("examples"):
        ex = []
        for e in doc["examples"]:
            pairs = [(K("code"), String.of(e["code"]))]
            if "result" in e:
                pairs.append((K("result"), String.of(e["result"])))
            ex.append(Map.from_pairs(pairs))
        fields.append((K("examples"), Vector.from_seq(ex)))
    if doc.get("errors"):
        fields.append((K("errors"), Map.from_pairs(
            (K(code), String.of(why)) for code, why in doc["errors"].items())))
    return Map.from_pairs(fields)


def _core_account() -> Account:
    import kernel.core  # noqa: F401  (registers the core functions)
    import lisp.expander as ex
    from kernel.cvm.registry import CORE, DOCS

    env, meta = [], []
    static, expander = K("static"), K("expander?")
    for name, f in CORE.items():
        sym = Symbol(name)
        env.append((sym, f))
        m = [(static, True)]
        if name in ex.EXPANDER_DEFS:
            m = [(expander, True)]
        if name in DOCS:
            m.append((K("doc"), _doc_meta(DOCS[name])))
        meta.append((sym, Map.from_pairs(m)))
    return Account(environment=Map.from_pairs(env), metadata=Map.from_pairs(meta))


def genesis_key(n: int):
    """Deterministic Ed25519 public key of genesis account #n (local network only)."""
    import hashlib

    from nacl.signing import SigningKey

    from kernel.data.blobs import Blob

    seed = hashlib.sha3_256(f"convex-repl local genesis account {n}".encode()).digest()
    return Blob(bytes(SigningKey(seed).verify_key))


def _governance_accounts(key) -> list:
    """#0-#7: null and init (no key, no coins), then the funds holding unissued coins."""
    ctl = Address(FOUNDATION)
    return [
        Account(),
        Account(),
        Account(balance=1 * EMERALD, key=key),
        Account(balance=248 * EMERALD, key=key, controller=ctl),
        Account(balance=740 * EMERALD, key=key, controller=ctl),
        Account(balance=10 * EMERALD - 2 * DIAMOND, key=key, controller=ctl),
        Account(balance=1 * DIAMOND, key=key, controller=ctl),
        Account(balance=1 * DIAMOND, key=key, controller=ctl),
    ]


def _run_as(state: State, address: int, src: str) -> State:
    """Evaluate Convex Lisp as an account during genesis (no juice limit, no fees)."""
    from lisp import read_all
    from lisp.expander import eval_form

    ctx = Context(state, address, juice_limit=1 << 62)
    for form in read_all(src):
        eval_form(ctx, form)
    return ctx.state


def _deploy_library(state: State, name: str) -> tuple:
    """Deploy a library actor from the governance account, which becomes its controller.
    The file's first form names the library ('convex.fungible); the rest is the actor's
    code. Returns the new state and the library's CNS name."""
    from lisp import read_all

    from kernel.cvm.binding import unwrap
    from kernel.core.actors import deploy

    forms = list(read_all(source(name)))
    cns_name = unwrap(unwrap(forms[0])[1])
    ctx = Context(state, GOVERNANCE, juice_limit=1 << 62)
    deploy(ctx, read_all(f"(set-controller #{GOVERNANCE})") + forms[1:], 0)
    return ctx.state, cns_name


def _register(state: State, name, address: int) -> State:
    """Create the CNS record name -> #address, controlled by governance (#6, the root owner)."""
    return _run_as(state, GOVERNANCE, f"(#{REGISTRY}/create '{name} #{address})")


# Libraries deployed after the user accounts (#14 onwards), in order, each registered in CNS
# under the name its file starts with. Later ones import earlier ones.
STANDARD_LIBRARIES = (
    "asset.cvx",                # convex.asset
    "fungible.cvx",             # convex.fungible
    "nft/simple.cvx",           # asset.nft.simple
    "nft/basic.cvx",            # asset.nft.basic
    "trust/whitelist.cvx",      # convex.trust.whitelist
    "trust/delegate.cvx",       # convex.trust.delegate
    "trust/ownership.cvx",      # convex.trust.ownership-monitor
    "trust/monitors.cvx",       # convex.trust.monitors
)


def _cns_base(state: State) -> State:
    """The genesis CNS records for the built-in accounts: convex.core (#8), convex.registry
    (#9), convex.trust (#10), the alias convex.cns (the registry, whose child node is the CNS
    root, so convex.cns.X names the same as X) and init (#1)."""
    for name, n in (("convex.core", CORE_ADDRESS), ("convex.registry", REGISTRY),
                    ("convex.trust", TRUST), ("init", INIT_ADDRESS)):
        state = _register(state, name, n)
    state = _run_as(state, GOVERNANCE,
                    f"(#{REGISTRY}/create 'convex.cns #{REGISTRY} #{GOVERNANCE} nil "
                    f"[#{REGISTRY} []])")
    return _run_as(state, CORE_ADDRESS,
                   '(call *registry* (register {:name "Convex core library" :description '
                   '"Core functions and macros, visible from every account."}))')


@lru_cache(maxsize=1)
def genesis_state() -> State:
    from lisp import read_all
    from lisp.expander import eval_form

    key = genesis_key(GENESIS_USER)         # the genesis key, as in a one-key reference genesis
    accounts = _governance_accounts(key) + [_core_account()]
    state = State(Vector.from_seq(accounts))
    supply = MAX_SUPPLY - sum(a.balance for a in accounts) - state.memory_value

    ctx = Context(state, CORE_ADDRESS, juice_limit=1 << 62)
    for form in read_all(source("core.cvx")):
        eval_form(ctx, form)
    state = ctx.state
    state, _ = _deploy_library(state, "registry.cvx")
    state, _ = _deploy_library(state, "trust.cvx")
    state = _cns_base(state)
    assert len(state.accounts) == GENESIS_USER

    # Users: 80% of the remaining coins, half to the genesis user, the rest shared out
    user_funds = int(supply * 0.8)
    supply -= user_funds
    users = [(GENESIS_USER, key, user_funds // 2)]
    user_funds -= users[0][2]
    rest = [(GENESIS_PEER, key), (FIRST_USER, genesis_key(FIRST_USER))]
    for i, (n, k) in enumerate(rest):
        share = user_funds // (len(rest) - i)
        users.append((n, k, share))
        user_funds -= share
    for n, k, balance in users:
        state = state.put_account(n, Account(balance=balance, key=k,
                                             memory=INITIAL_ACCOUNT_ALLOWANCE))

    # The genesis peer stakes everything left, controlled by #12
    peer = PeerStatus.create(Address(GENESIS_PEER), supply)
    state = state.with_peers(Index.EMPTY.assoc(key, peer))
    assert state.total_funds() == MAX_SUPPLY

    # The standard libraries, as actors after the first user, registered in CNS
    for lib in STANDARD_LIBRARIES:
        n = len(state.accounts)
        state, name = _deploy_library(state, lib)
        state = _register(state, name, n)
    assert state.total_funds() == MAX_SUPPLY
    return state


__all__ = ["genesis_state", "genesis_key", "FIRST_USER", "GENESIS_USER", "GENESIS_PEER",
           "STANDARD_LIBRARIES"]
