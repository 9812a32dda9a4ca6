"""The genesis state: reference account layout, the core account (#8) holding convex.core
(Python core functions plus the Convex Lisp definitions in core.cvx), and funded users.

Building it evaluates Convex Lisp, so it is cached per process; states are immutable, so
every Session can start from the same object.
"""
from __future__ import annotations

from functools import lru_cache

from kernel.context import Context
from kernel.hashmaps import Map
from kernel.scalars import Keyword, Symbol
from kernel.state import CORE_ADDRESS, Account, State
from kernel.vectors import Vector

from . import source

NUM_ACCOUNTS = 14          # #0 .. #13
GENESIS_USER = 11
FIRST_USER = 13
USER_BALANCE = 1_000_000_000_000_000   # provisional until the state issue sets reference supply

K = Keyword


def _doc_meta(doc: dict) -> Map:
    from lisp import read

    from kernel.blobs import String

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
    from kernel.core.registry import CORE, DOCS

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

    from kernel.blobs import Blob

    seed = hashlib.sha3_256(f"convex-repl local genesis account {n}".encode()).digest()
    return Blob(bytes(SigningKey(seed).verify_key))


@lru_cache(maxsize=1)
def genesis_state() -> State:
    from lisp import read_all
    from lisp.expander import eval_form

    accounts = [Account() for _ in range(NUM_ACCOUNTS)]
    accounts[CORE_ADDRESS] = _core_account()
    for n in (GENESIS_USER, FIRST_USER):
        accounts[n] = Account(balance=USER_BALANCE, key=genesis_key(n))
    state = State(Vector.from_seq(accounts))
    ctx = Context(state, CORE_ADDRESS, juice_limit=1 << 62)
    for form in read_all(source("core.cvx")):
        eval_form(ctx, form)
    return ctx.state


__all__ = ["genesis_state", "genesis_key", "FIRST_USER"]
