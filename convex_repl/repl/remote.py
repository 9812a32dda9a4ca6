"""REPL commands for working against a peer: `:connect URL` sends every input to the peer's
REST API (transactions signed here, queries), with the same results, errors and cost badges
as locally; `:disconnect` goes back to the local CVM, as it was.

`connect(repl, workspace)` and `disconnect(repl)` are what the commands do, for other
commands that connect the REPL (`:local start`)."""
from __future__ import annotations

from typing import Any

from convex_repl.repl.app import Repl
from convex_repl.repl.commands import command


def connect(repl: Repl, remote: Any) -> bool:
    """Make `remote` (a RemoteWorkspace) the REPL's workspace, once its account is found on
    the peer; the local one is kept for `disconnect`. False (with one line said) if not."""
    from convex_repl.client.remote import RemoteError
    address = remote.address
    try:
        info = remote.session.account_info(address)
    except RemoteError as e:
        repl.out.warn(str(e))
        return False
    if info is None:
        repl.out.warn(f"no account #{address} on {remote.url}")
        return False
    if not getattr(repl.ws, "remote", False):
        repl.local_ws = repl.ws
    repl._ws = remote
    if repl.mode == "eval":
        repl.mode = "transact"          # a peer runs signed transactions only
    repl.out.info(f"connected to {remote.url} as #{address} (balance {info['balance']:,}); "
                  ":disconnect goes back to the local CVM")
    return True


def disconnect(repl: Repl) -> bool:
    """Back to the local CVM as it was before `connect`; False if not connected."""
    local = getattr(repl, "local_ws", None)
    if not getattr(repl.ws, "remote", False) or local is None:
        return False
    repl._ws = local
    repl.local_ws = None
    return True


@command("connect", ":connect URL [#n]",
         "work against a peer's REST API (e.g. http://127.0.0.1:8080), acting as #n")
def _connect(repl: Repl, arg: str) -> None:
    from convex_repl.repl.remote_workspace import RemoteWorkspace
    parts = arg.split()
    if not parts:
        url = getattr(repl.ws, "url", None)
        repl.out.info(f"connected to {url}" if url else "not connected (local CVM); usage: "
                      ":connect URL [#n]")
        return
    address = repl.ws.address
    if len(parts) > 1:
        try:
            address = int(parts[1].lstrip("#"))
        except ValueError:
            repl.out.warn("usage: :connect URL [#n]")
            return
    connect(repl, RemoteWorkspace(parts[0], address))


@command("disconnect", ":disconnect", "back to the local CVM after :connect")
def _disconnect(repl: Repl, arg: str) -> None:
    repl.out.info("back to the local CVM" if disconnect(repl) else "not connected")
