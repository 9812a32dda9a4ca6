"""`convex blocks`, `replay`, `bisect` and `state dump|load|diff`: a network's state over
time (convex_repl.history), and `fork_workspace`, the local CVM on a fork of a peer's state
that `--fork URL` gives eval, transact, query, run, test and the REPL."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import typer

from convex_repl.cli.base import (EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE, HOME, JSON, Fail,
                                  _address, _emit, _home, _workspace, app)

FORK = typer.Option(None, "--fork", metavar="URL", show_default=False,
                    help="Run on a local copy of this peer's state (fetched by value ID and "
                         "cached): any account acts without its key; nothing is sent.")
FORK_BLOCK = typer.Option(None, "--block", show_default=False,
                          help="With --fork: the state after block N (else the current one).")
FORK_ADVANCE = typer.Option(None, "--advance", min=0, metavar="MS", show_default=False,
                            help="With --fork: move the fork's time on by MS milliseconds "
                                 "first (scheduled operations that fall due run).")


def fork_workspace(url: str, block: Optional[int], home: Optional[Path],
                   address: Optional[str] = None, juice_limit: Optional[int] = None,
                   advance: Optional[int] = None) -> Any:
    """The ForkWorkspace for --fork URL [--block N] [-a #n] [--advance MS]: Fail (one line)
    when the peer can't give its state."""
    from convex_repl.client.remote import RemoteError, normalise
    from convex_repl.history.fork import ForkWorkspace
    path = _home(home)
    try:
        ws = ForkWorkspace.open(normalise(url), block, path)
    except RemoteError as e:
        raise Fail(f"can't fork {url}: {e}", EXIT_NOT_FOUND, "CONNECTION") from None
    if juice_limit is not None:
        if juice_limit <= 0:
            raise Fail("--juice-limit must be positive", EXIT_USAGE, "USAGE")
        ws.session.juice_limit = juice_limit
    if address is not None:
        n = _address(address)
        if ws.session.account_info(n) is None:
            raise Fail(f"no account #{n} on the fork of {url}", EXIT_NOT_FOUND, "NOBODY")
        ws.set_address(n)
    if advance:
        ws.session.advance(advance)         # time warp: the fork's clock only
    return ws


def _no_block_without_fork(fork: Optional[str], block: Optional[int],
                           advance: Optional[int] = None) -> None:
    if block is not None and fork is None:
        raise Fail("--block needs --fork URL here (or a query with --url)", EXIT_USAGE, "USAGE")
    if advance is not None and fork is None:
        raise Fail("--advance needs --fork URL (a network's time is its blocks'; the REPL's "
                   ":advance moves the local CVM's)", EXIT_USAGE, "USAGE")


# --- blocks -----------------------------------------------------------------------------------

def _open_log(where: Optional[str], home: Optional[Path]) -> Any:
    from convex_repl.client.remote import resolve_url
    from convex_repl.history.logs import LogError, open_log
    target = where or resolve_url()
    if target is None:
        raise Fail("give a peer's data directory, or --url URL for a live peer", EXIT_USAGE,
                   "USAGE")
    try:
        return open_log(target, _home(home) if target.startswith("http") else None)
    except LogError as e:
        raise Fail(str(e), EXIT_NOT_FOUND, "NOT_FOUND") from None


def _log_fail(e: Exception) -> Fail:
    return Fail(str(e), EXIT_NOT_FOUND, "NOT_FOUND")


@app.command("blocks")
def blocks_cmd(
    directory: Optional[str] = typer.Argument(None, help="A stopped peer's data directory "
                                              "(else --url URL: a live peer)."),
    offset: int = typer.Option(0, "--offset", min=0, help="First block listed."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="Blocks listed."),
    last: bool = typer.Option(False, "--last", help="The last --limit blocks."),
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """List blocks with their time, transaction count, the state hash after each and the
    block's hash."""
    from convex_repl.history.logs import LogError
    log = _open_log(directory, home)
    try:
        total = log.count()
        start = max(0, total - limit) if last else offset
        rows = []
        for n in range(start, min(total, start + limit)):
            rows.append(_block_row(log, n))
    except LogError as e:
        raise _log_fail(e) from None
    finally:
        log.close()
    if as_json:
        _emit(True, {"ok": True, "count": total, "offset": start, "items": rows})
        return
    typer.echo(f"{log.name}: {total} block{'s' if total != 1 else ''}")
    for r in rows:
        t = datetime.fromtimestamp(r["timestamp"] / 1000, timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S")
        pruned = "  (state pruned)" if r.get("kept") is False else ""
        typer.echo(f"{r['index']:>6}  {t}  {r['transactions']:>4} tx  state {r['state']}  "
                   f"block {r['hash'][:18]}{pruned}")


def _block_row(log: Any, n: int) -> dict:
    from convex_repl.history.logs import RemoteLog
    if isinstance(log, RemoteLog):
        it = log._item(n)
        return {"index": n, "timestamp": it["timestamp"], "transactions":
                it["transactionCount"], "state": it["state"], "results": it.get("results"),
                "hash": it["hash"]}
    row = log._row(n)
    return {"index": n, "timestamp": row[4], "transactions": row[6],
            "state": "0x" + row[3].hex(), "results": "0x" + row[2].hex(),
            "hash": "0x" + row[1].hex(), "kept": log.store.has(row[3])}


# --- replay -----------------------------------------------------------------------------------

@app.command("replay")
def replay_cmd(
    directory: Optional[str] = typer.Argument(None, help="A stopped peer's data directory "
                                              "(else --url URL: a live peer's blocks)."),
    start: int = typer.Option(0, "--from", min=0, help="Start at block N, from the stored "
                              "state after block N-1 (default: genesis)."),
    end: Optional[int] = typer.Option(None, "--to", min=0, show_default=False,
                                      help="Stop before block N."),
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """Re-execute stored blocks and check each block's state hash and results: exit 0 with
    the block count and final hash, exit 1 naming the first block that differs."""
    from convex_repl.history.logs import LogError
    from convex_repl.history.replay import replay
    log = _open_log(directory, home)
    try:
        total = log.count()
        if start > total:
            raise Fail(f"--from {start}: {log.name} has {total} blocks", EXIT_USAGE, "USAGE")
        out = replay(log, start, None if end is None else min(end, total))
    except LogError as e:
        raise _log_fail(e) from None
    finally:
        log.close()
    data = {"source": log.name, **out.as_json()}
    if out.ok:
        _emit(as_json, data, f"replayed {out.blocks} blocks ({start}..{start + out.blocks - 1},"
              f" {out.transactions} transactions) of {log.name} in {out.seconds:.2f} s: "
              f"every state and result matches; final state {out.final}")
        return
    if as_json:
        _emit(True, data)
        raise typer.Exit(EXIT_FAILED)
    raise Fail(f"block {out.bad} differs: its {out.problem} hash is {out.got} on replay, "
               f"{out.expected} in {log.name} ({out.blocks} blocks before it matched)",
               EXIT_FAILED, "DIVERGED", data)


# --- bisect -----------------------------------------------------------------------------------

@app.command("bisect")
def bisect_cmd(
    a: str = typer.Argument(..., help="A peer URL or a stopped peer's data directory."),
    b: str = typer.Argument(..., help="Another, to compare with."),
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """Find where two block logs diverge: the first block whose state differs, the first
    transaction in it, and the first differing step of that transaction's execution
    (replayed on both pre-states). Exit 0 if they agree, 1 if they diverge."""
    from convex_repl.history.bisect import bisect
    from convex_repl.history.logs import LogError
    la = _open_log(a, home)
    try:
        lb = _open_log(b, home)
        try:
            d = bisect(la, lb)
        finally:
            lb.close()
    except LogError as e:
        raise _log_fail(e) from None
    finally:
        la.close()
    diverged = d.block is not None
    if as_json:
        _emit(True, {"ok": not diverged, "diverged": diverged, **d.as_json()})
    else:
        for line in _bisect_lines(d):
            typer.echo(line)
    if diverged:
        raise typer.Exit(EXIT_FAILED)


def _bisect_lines(d: Any) -> list:
    out = [f"a: {d.a}", f"b: {d.b}"]
    if d.block is None:
        return out + [f"agree: {d.reason} ({d.common} blocks)"]
    if d.block < 0:
        return out + [f"diverge at genesis: {d.reason}"]
    out.append(f"first differing block: {d.block} (the states agree after block "
               f"{d.block - 1}; a {d.hashes.get('a_state', '')[:18]} b "
               f"{d.hashes.get('b_state', '')[:18]})")
    if d.tx is not None:
        out.append(f"first differing transaction: {d.tx} of block {d.block} ({d.reason})")
        if "a_tx" in d.hashes:
            out.append(f"  a {d.hashes['a_tx'][:18]}  {d.hashes['a_what']}")
            out.append(f"  b {d.hashes['b_tx'][:18]}  {d.hashes['b_what']}")
    else:
        out.append(d.reason)
    if d.step is not None:
        out.append(f"first differing step of its execution: step {d.step} (ops in the order they "
                   "complete: depth, op => result)")
        for s in d.context:
            out.append(f"    {s['step']:>5}  {'  ' * min(s['depth'] or 0, 10)}{s['op']}"
                       f"  => {s['result']}")
        for name, s in zip("ab", d.sides):
            pad = "  " * min(s["depth"] or 0, 10)
            out.append(f"  {name} {s['step']:>5}  {pad}{s['op']}  => {s['result']}"
                       f"  (juice {s['juice']})")
    return out


# --- state dump, load, diff ---------------------------------------------------------------------

state_app = typer.Typer(help="State files (CAD3): dump, load, diff.", no_args_is_help=True)
app.add_typer(state_app, name="state")


def _state_of(spec: str, home: Optional[Path]) -> tuple:
    """(state, description) for a state file, a data directory (DIR or DIR@N: after block
    N), a peer URL (URL or URL@N) or `local` (the saved session)."""
    from convex_repl.history.logs import LogError, open_log
    from convex_repl.history.statefile import StateFileError, load
    if spec == "local":
        ws = _local(home)
        return ws.session.state, "the saved session"
    base, at = spec, None
    head, sep, tail = spec.rpartition("@")
    if sep and tail.lstrip("-").isdigit():
        base, at = head, int(tail)
    if base.startswith(("http://", "https://")):
        from convex_repl.client.remote import RemoteError
        from convex_repl.history.fetch import fetch_state
        try:
            f = fetch_state(base, at, _home(home))
        except RemoteError as e:
            raise Fail(str(e), EXIT_NOT_FOUND, "CONNECTION") from None
        return f.state, f"{base}" + ("" if at is None else f" after block {at}")
    p = Path(base)
    if p.is_dir():
        try:
            log = open_log(base)
            try:
                n = log.count() - 1 if at is None else at
                return log.state(n), f"{base} after block {n}"
            finally:
                log.close()
        except LogError as e:
            raise Fail(str(e), EXIT_NOT_FOUND, "NOT_FOUND") from None
    if not p.exists():
        raise Fail(f"no such state file, data directory or URL: {spec}", EXIT_NOT_FOUND, "IO")
    try:
        return load(p), str(p)
    except StateFileError as e:
        raise Fail(str(e), EXIT_USAGE, "FORMAT") from None


def _local(home: Optional[Path]) -> Any:
    from convex_repl.client.remote import resolve_url
    import os
    url = os.environ.pop("CONVEX_URL", None) if resolve_url() else None
    try:
        return _workspace(home, False, False)
    finally:
        if url is not None:
            os.environ["CONVEX_URL"] = url


@state_app.command("dump")
def state_dump(
    file: Path = typer.Argument(..., help="The file to write (CAD3)."),
    source: Optional[str] = typer.Option(None, "--from", show_default=False,
                                         help="local (default; with --url: the peer), a "
                                              "URL, a data directory, or a state file; "
                                              "@N: after block N."),
    block: Optional[int] = typer.Option(None, "--block", show_default=False,
                                        help="With --url: the state after block N."),
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """Write a state to a file: the saved session's, a peer's (--url, --block), a data
    directory's."""
    from convex_repl.client.remote import resolve_url
    from convex_repl.history.statefile import dump
    if source is None:
        url = resolve_url()
        source = "local" if url is None else url + ("" if block is None else f"@{block}")
    elif block is not None:
        source += f"@{block}"
    state, what = _state_of(source, home)
    try:
        size, h = dump(state, file)
    except OSError as e:
        raise Fail(f"can't write {file}: {e.strerror}", EXIT_NOT_FOUND, "IO") from None
    _emit(as_json, {"ok": True, "file": str(file), "bytes": size, "state": h, "from": what},
          f"wrote {what}'s state {h} to {file} ({size:,} bytes)")


@state_app.command("load")
def state_load(
    file: Path = typer.Argument(..., help="A state file (convex state dump)."),
    address: Optional[str] = typer.Option(None, "--address", "-a", show_default=False,
                                          help="Act as this account afterwards."),
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """Make a state file the saved session's state (kept as its snapshot; the journal of
    transactions starts again from it)."""
    from convex_repl.history.statefile import StateFileError, load
    try:
        state = load(file)
    except StateFileError as e:
        raise Fail(str(e), EXIT_NOT_FOUND if "can't read" in str(e) else EXIT_USAGE,
                   "FORMAT") from None
    ws = _local(home)
    if not ws.snapshots:
        raise Fail("this build saves sessions as a journal only (states don't survive CAD3 "
                   "here): a loaded state could not be kept", EXIT_FAILED, "UNSUPPORTED")
    ws.session.state = state
    ws.entries = []
    if address is not None:
        n = _address(address)
        if state.account(n) is None:
            raise Fail(f"no account #{n} in {file}", EXIT_NOT_FOUND, "NOBODY")
        ws.session.address = n
    elif state.account(ws.session.address) is None:
        from stdlib.genesis import FIRST_USER
        ws.session.address = FIRST_USER
    ws.save()
    h = "0x" + state.value_id().hex()
    _emit(as_json, {"ok": True, "file": str(file), "state": h, "address": ws.address},
          f"the saved session now has the state {h} from {file} (acting as #{ws.address})")


@state_app.command("diff")
def state_diff(
    a: str = typer.Argument(..., help="A state file, data directory (DIR@N), URL (URL@N) "
                            "or local."),
    b: str = typer.Argument(..., help="Another."),
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """What changed from state A to state B: globals, accounts added, balances, sequences,
    keys, controllers, definitions. Exit 0 if they are the same, 1 if they differ."""
    from convex_repl.history.statefile import diff
    sa, wa = _state_of(a, home)
    sb, wb = _state_of(b, home)
    changes = diff(sa, sb)
    ha, hb = "0x" + sa.value_id().hex(), "0x" + sb.value_id().hex()
    if as_json:
        _emit(True, {"ok": True, "same": not changes, "a": ha, "b": hb,
                     "changes": [c.as_json() for c in changes]})
    else:
        typer.echo(f"a: {wa} {ha}\nb: {wb} {hb}")
        typer.echo("the same state" if not changes else
                   f"{len(changes)} change{'s' if len(changes) != 1 else ''}:")
        for c in changes:
            typer.echo("  " + c.line())
    if changes:
        raise typer.Exit(EXIT_FAILED)
