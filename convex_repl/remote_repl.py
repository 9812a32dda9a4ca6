"""REPL commands for working against a peer: `:connect URL` sends every input to the peer's
REST API (transactions signed here, queries), with the same results, errors and cost badges
as locally; `:disconnect` goes back to the local CVM, as it was."""
from __future__ import annotations

from .repl import Repl, command


@command("connect", ":connect URL [#n]",
         "work against a peer's REST API (e.g. http://127.0.0.1:8080), acting as #n")
def _connect(repl: Repl, arg: str) -> None:
    from .remote import RemoteError, RemoteWorkspace
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
    remote = RemoteWorkspace(parts[0], address)
    try:
        info = remote.session.account_info(address)
    except RemoteError as e:
        repl.out.warn(str(e))
        return
    if info is None:
        repl.out.warn(f"no account #{address} on {remote.url}")
        return
    if not getattr(repl.ws, "remote", False):
        repl.local_ws = repl.ws
    repl._ws = remote
    if repl.mode == "eval":
        repl.mode = "transact"          # a peer runs signed transactions only
    repl.out.info(f"connected to {remote.url} as #{address} (balance {info['balance']:,}); "
                  ":disconnect goes back to the local CVM")


@command("disconnect", ":disconnect", "back to the local CVM after :connect")
def _disconnect(repl: Repl, arg: str) -> None:
    local = getattr(repl, "local_ws", None)
    if not getattr(repl.ws, "remote", False) or local is None:
        repl.out.info("not connected")
        return
    repl._ws = local
    repl.local_ws = None
    repl.out.info("back to the local CVM")
