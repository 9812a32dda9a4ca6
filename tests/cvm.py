"""Helpers shared by the core-function tests: evaluate Convex Lisp in a fresh fork of the
genesis state and look at the result."""
from __future__ import annotations

from convex_repl.api import Result, Session
from kernel.cvm.context import Context
from kernel.state.state import Account, State
from kernel.data.vectors import Vector

_GENESIS: "Session | None" = None


def session() -> Session:
    """A fresh session at the genesis state (genesis is built once per test run)."""
    global _GENESIS
    if _GENESIS is None:
        _GENESIS = Session()
    return _GENESIS.fork()


def ok(src: str) -> Result:
    """Evaluate src, which must succeed."""
    r = session().eval(src)
    assert r.error is None, f"{src} failed with {r.error}: {r.message}"
    return r


def err(src: str) -> str:
    """Evaluate src, which must fail; the error code."""
    r = session().eval(src)
    assert r.error is not None, f"{src} should fail but gave {r.printed}"
    return r.error


def same(src: str, expect: str) -> None:
    """src evaluates to a value Convex-equal (`=`) to that of expect."""
    r = session().eval(f"(= {src} {expect})")
    assert r.error is None, f"{src}: {r.error} {r.message}"
    assert r.value is True, f"{src} gave {session().eval(src).printed}, wanted {expect}"


def fresh_ctx(limit: int = 1_000_000) -> Context:
    """A bare context over 14 empty accounts, acting as #13, for calling core functions."""
    state = State(Vector.from_seq([Account() for _ in range(14)]))
    return Context(state, 13, juice_limit=limit)
