"""`convex peer info`, `stake`, `unstake` and `announce`: an operator's view and control of
the peer records in the state, through a peer's REST API (--url) or the local session.

    convex peer info [PEERKEY] --url U [--json]
    convex peer stake PEERKEY AMOUNT --url U -a A [--key NAME]    create-peer or set-peer-stake
    convex peer unstake PEERKEY --url U -a A [--key NAME]         set-peer-stake to 0
    convex peer announce PEERKEY HOST:PORT --url U -a A           set-peer-data {:url ...}

Records are read with one query of `(:peers *state*)`; a record's weight in consensus is its
own stake plus the stake delegated to it (as the peers count it: cpos.stakes_of), and its
share is that weight over the sum of all of them. Transactions are signed as `convex
transact` signs them (-a, --key NAME or CONVEX_SEED); the account acting is the controller.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

import typer

from convex_repl.cli.base import (ADDRESS, EXIT_NOT_FOUND, EXIT_USAGE, HOME, JSON, KEY,
                                  KEY_PASSWORD_ENV, Fail, _cvm_fail, _emit, _workspace)
from convex_repl.cli.peer import peer_app

PEERS = ("(reduce (fn [acc [k p]] (conj acc [k (:controller p) (:stake p) "
         "(:delegated-stake p) (:metadata p)])) [] (:peers *state*))")


def _peer_key(home: Optional[Path], text: str) -> str:
    """A peer key as 0x + 64 hex digits, from hex or the name of a stored key."""
    t = text.strip()
    if re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", t):
        return "0x" + t.removeprefix("0x").lower()
    if t.startswith("0x") or re.fullmatch(r"[0-9a-fA-F]+", t):
        raise Fail(f"{text!r} is not a peer key: 32 bytes, 0x and 64 hex digits", EXIT_USAGE,
                   "USAGE")
    from convex_repl.cli.keys import _keystore
    for k in _keystore(home).list():
        if k["name"] == t:
            return k["public_key"]
    raise Fail(f"{text!r} is neither a peer key (0x and 64 hex digits) nor a stored key "
               "(convex key list)", EXIT_NOT_FOUND, "NOT_FOUND")


def _data(v: Any) -> Any:
    """A metadata value as JSON: strings as text, anything else as printed."""
    from kernel.data.blobs import String
    from lisp import print_value
    return v.text if isinstance(v, String) else print_value(v)


def peer_records(ws: Any) -> list:
    """Every peer record of the state the workspace sees, largest weight first."""
    r = ws.query(PEERS)
    if not r.ok:
        raise _cvm_fail(ws, r)
    out = []
    for k, controller, stake, delegated, meta in r.value:
        data = {} if meta is None else {(mk.name if hasattr(mk, "name") else _data(mk)):
                                        _data(mv) for mk, mv in meta.items()}
        out.append({"key": "0x" + k.data.hex(), "controller": controller.n, "stake": stake,
                    "delegated-stake": delegated, "weight": stake + delegated,
                    "url": data.get("url"), "data": data})
    total = sum(p["weight"] for p in out)
    for p in out:
        p["share"] = round(p["weight"] / total, 6) if total else 0.0
    out.sort(key=lambda p: (-p["weight"], p["key"]))
    return out


@peer_app.command("info")
def peer_info(
    peer_key: Optional[str] = typer.Argument(None, help="One peer's key (0x...) or stored key "
                                             "name; default: every peer."),
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """The peer records in the state (--url: a peer's): key, controller, own and delegated
    stake, share of the total stake, :url and other peer data."""
    ws = _workspace(home, False, True)
    peers = peer_records(ws)
    total = sum(p["weight"] for p in peers)
    if peer_key is not None:
        k = _peer_key(home, peer_key)
        peers = [p for p in peers if p["key"] == k]
        if not peers:
            raise Fail(f"no peer record for {k} (convex peer stake creates one)", EXIT_NOT_FOUND,
                       "NOT_FOUND")
    if as_json:
        _emit(True, {"ok": True, "total-stake": total, "peers": peers})
        return
    for p in peers:
        extra = {k: v for k, v in p["data"].items() if k != "url"}
        typer.echo(f"{p['key']}\n  controller #{p['controller']}   stake {p['stake']:,}   "
                   f"delegated {p['delegated-stake']:,}   share {100 * p['share']:.2f}%"
                   f"\n  url {p['url'] or '-'}" + (f"   data {extra}" if extra else ""))
    typer.echo(f"{len(peers)} peer{'s' if len(peers) != 1 else ''}, total stake {total:,}")


def _transact(ws: Any, source: str) -> Any:
    r = ws.transact(source)
    if not r.ok:
        raise _cvm_fail(ws, r)
    return r


@peer_app.command("stake")
def peer_stake(
    peer_key: str = typer.Argument(..., help="The peer's key (0x...) or stored key name."),
    amount: int = typer.Argument(..., help="The peer's own stake, in copper coins (1 Convex "
                                 "Coin = 1,000,000,000)."),
    as_json: bool = JSON, home: Optional[Path] = HOME, address: Optional[str] = ADDRESS,
    key: Optional[str] = KEY, password_env: str = KEY_PASSWORD_ENV,
) -> None:
    """Set a peer's stake as its controller (-a): `create-peer` when the key has no record
    yet (the acting account becomes its controller), else `set-peer-stake`."""
    k = _peer_key(home, peer_key)
    if amount < 0:
        raise Fail("the stake can't be negative", EXIT_USAGE, "USAGE")
    ws = _workspace(home, False, True, address, None, key, password_env, sign=True)
    known = {p["key"]: p for p in peer_records(ws)}
    created = k not in known
    if created and amount == 0:
        raise Fail(f"no peer record for {k}: nothing to unstake", EXIT_NOT_FOUND, "NOT_FOUND")
    form = f"(create-peer {k} {amount})" if created else f"(set-peer-stake {k} {amount})"
    r = _transact(ws, form)
    _emit(as_json, {"ok": True, "peer": k, "stake": amount, "created": created,
                    "controller": ws.address, "tx": getattr(r, "tx_hash", None)},
          f"peer {k[:18]}... {'created with' if created else 'now has'} stake {amount:,} "
          f"(controller #{ws.address})")


@peer_app.command("unstake")
def peer_unstake(
    peer_key: str = typer.Argument(..., help="The peer's key (0x...) or stored key name."),
    as_json: bool = JSON, home: Optional[Path] = HOME, address: Optional[str] = ADDRESS,
    key: Optional[str] = KEY, password_env: str = KEY_PASSWORD_ENV,
) -> None:
    """Withdraw a peer's own stake to its controller (-a): `set-peer-stake` to 0. Its
    voting weight goes once that is confirmed (delegated stake stays its delegators')."""
    peer_stake(peer_key, 0, as_json, home, address, key, password_env)


@peer_app.command("announce")
def peer_announce(
    peer_key: str = typer.Argument(..., help="The peer's key (0x...) or stored key name."),
    url: str = typer.Argument(..., help="HOST:PORT where the peer takes protocol "
                              "connections."),
    as_json: bool = JSON, home: Optional[Path] = HOME, address: Optional[str] = ADDRESS,
    key: Optional[str] = KEY, password_env: str = KEY_PASSWORD_ENV,
) -> None:
    """Announce where a peer listens: `set-peer-data` with {:url "HOST:PORT"}, sent by its
    controller (-a), whose account key must be the peer's key (as the reference requires)."""
    k = _peer_key(home, peer_key)
    host, _, port = url.rpartition(":")
    if not host or not port.isdigit() or '"' in url or "\\" in url:
        raise Fail(f"{url!r} is not HOST:PORT", EXIT_USAGE, "USAGE")
    ws = _workspace(home, False, True, address, None, key, password_env, sign=True)
    info = ws.session.account_info(ws.address) or {}
    if (info.get("key") or "").lower() != k:
        raise Fail(f"set-peer-data is sent by the peer's controller account whose key is the "
                   f"peer key: #{ws.address}'s key is {info.get('key') or 'none'}",
                   EXIT_USAGE, "USAGE")
    _transact(ws, f'(set-peer-data {k} {{:url "{url}"}})')
    _emit(as_json, {"ok": True, "peer": k, "url": url}, f"peer {k[:18]}... announced at {url}")


__all__ = ["peer_records"]
