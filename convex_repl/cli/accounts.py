"""`convex account ...`: accounts of the workspace (info, balance, create, fund); creating
and funding need `create-account` and `transfer` in the CVM."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from convex_repl.cli.base import (ADDRESS, EXIT_NOT_FOUND, EXIT_UNSUPPORTED, EXIT_USAGE, FRESH,
                                  HOME, JSON, KEY, KEY_PASSWORD_ENV, NO_SAVE, Fail, _address,
                                  _cvm_fail, _emit, _transact_as, _workspace, app)
from convex_repl.cli.keys import _keystore

account_app = typer.Typer(help="Accounts: info, balance, create, fund, use.",
                          no_args_is_help=True)
app.add_typer(account_app, name="account")


def _account(ws: Any, address: Optional[str]) -> tuple:
    """(n, account info) for `address` (default: the acting account); NOBODY if absent."""
    n = ws.address if address is None else _address(address)
    info = ws.session.account_info(n)
    if info is None:
        raise Fail(f"no account #{n}", EXIT_NOT_FOUND, "NOBODY")
    return n, info


@account_app.command("info")
def account_info(
    address: Optional[str] = typer.Argument(None, help="Account (default: the acting one)."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
) -> None:
    """Facts about an account: balance, sequence, key, definitions."""
    ws = _workspace(home, fresh, True)
    n, info = _account(ws, address)
    lines = [f"account     #{n}{'  (acting)' if n == ws.address else ''}",
             f"kind        {'actor' if info['actor'] else 'user'}",
             f"balance     {info['balance']:,}", f"sequence    {info['sequence']}",
             f"key         {info['key'] or '-'}", f"definitions {info['definitions']}"]
    if info["controller"]:
        lines.append(f"controller  {info['controller']}")
    _emit(as_json, {"ok": True, **info}, "\n".join(lines))


@account_app.command("balance")
def account_balance(
    address: Optional[str] = typer.Argument(None, help="Account (default: the acting one)."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
) -> None:
    """An account's balance in coins."""
    ws = _workspace(home, fresh, True)
    n, info = _account(ws, address)
    _emit(as_json, {"ok": True, "address": n, "balance": info["balance"]}, str(info["balance"]))


def _needs_core(ws: Any, name: str, what: str) -> None:
    if ws.session.lookup(name) is None:
        raise Fail(f"{what} needs `{name}`, which this local CVM does not have yet "
                   "(accounts and transfers are being added to the state)",
                   EXIT_UNSUPPORTED, "UNSUPPORTED")


@account_app.command("create")
def account_create(
    key: Optional[str] = typer.Option(None, "--key", help="Public key (0x...) or a stored "
                                      "key's name; default: the acting account's key."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    no_save: bool = NO_SAVE, address: Optional[str] = ADDRESS,
) -> None:
    """Create a user account for a public key (uses `create-account`), paid by the acting
    account (-a; signed with CONVEX_SEED or its local genesis key)."""
    ws = _workspace(home, fresh, no_save, address, sign=True)
    _needs_core(ws, "create-account", "creating an account")
    pk = _public_key_arg(home, key) if key else ws.session.account_info()["key"]
    r = ws.transact(f"(create-account {pk})")
    if not r.ok:
        raise _cvm_fail(ws, r)
    _emit(as_json, {"ok": True, "address": r.printed, "key": pk}, f"created {r.printed}")


def _public_key_arg(home: Optional[Path], key: str) -> str:
    if key.startswith("0x"):
        return key
    for k in _keystore(home).list():
        if k["name"] == key:
            return k["public_key"]
    raise Fail(f"no key named {key!r}", EXIT_NOT_FOUND, "NOT_FOUND")


@account_app.command("fund")
def account_fund(
    address: str = typer.Argument(..., help="Account to fund."),
    amount: int = typer.Argument(1_000_000_000, help="Coins."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    no_save: bool = NO_SAVE, payer: Optional[str] = typer.Option(
        None, "--from", show_default=False, help="Pay from this account (default: the "
        "local genesis user #11), signing as -a/--key would."),
    key: Optional[str] = KEY, password_env: str = KEY_PASSWORD_ENV,
) -> None:
    """Give an account coins from the local genesis user, or from --from (uses
    `transfer`)."""
    n = _address(address)
    ws = _workspace(home, fresh, no_save, payer, key=key, password_env=password_env,
                    sign=payer is not None or key is not None)
    if ws.session.account_info(n) is None:
        raise Fail(f"no account #{n}", EXIT_NOT_FOUND, "NOBODY")
    _needs_core(ws, "transfer", "funding an account")
    from stdlib.genesis import GENESIS_USER
    if payer is not None or key is not None:
        r = ws.transact(f"(transfer #{n} {amount})")
    else:
        r = _transact_as(ws, f"(transfer #{n} {amount})", GENESIS_USER)
    if not r.ok:
        raise _cvm_fail(ws, r)
    bal = ws.session.account_info(n)["balance"]
    _emit(as_json, {"ok": True, "address": n, "balance": bal}, f"#{n} balance {bal:,}")


@account_app.command("use")
def account_use(
    address: str = typer.Argument(..., help="The account to act as from now on."),
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """Make an account the saved session's acting account, for every later command (-a
    acts as an account for one command only)."""
    ws = _workspace(home, False, False)
    if getattr(ws, "remote", False):
        raise Fail("with a peer (--url), the account acting is -a's, or the profile's "
                   "\"address\" (CONVEX_PROFILE)", EXIT_USAGE, "USAGE")
    n = _address(address)
    if ws.session.account_info(n) is None:
        raise Fail(f"no account #{n}", EXIT_NOT_FOUND, "NOBODY")
    ws.set_address(n)
    _emit(as_json, {"ok": True, "address": n}, f"acting as #{n} from now on")
