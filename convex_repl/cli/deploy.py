"""`convex deploy`: a file's forms deployed as an actor, optionally given a CNS name, and
the deployment kept, per network, in ./convex-deployments.json for scripts to find again;
`convex deployments` lists what that file holds.

A deployment is planned before anything is signed: the CNS name's record is read and the
deploying account's right to create or update it checked with queries, so a name it may not
touch fails before any actor exists. The actor and its name are then made in ONE transaction
(deploy, then create or update the record) whenever the deployer may write the record
itself; only a new top-level name on a local network, which governance (#6, owner of the CNS
root, whose genesis key is local) must create, takes a transaction of #6 first, creating the
record empty and controlled by the deployer. A failed deployment leaves no actor. `--dry-run`
runs the same plan as a query on the target and prints the cost; `--upgrade` runs the file's
code again inside an existing actor the deployer controls (one deployed `--upgradable`).

convex-deployments.json maps a network id to {name: record}: "local" for the local CVM
(the saved session), a network's genesis state hash ("0x...") for a peer. A record has the
actor's `address`, `name` (CNS, or null), `file`, `deployer`, `tx` (transaction hash),
`time` (UTC), and for a peer the `url` it was deployed through. An older file (only "local",
records without tx or time) reads the same way.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, List, Optional

import typer

from convex_repl.cli.base import (ADDRESS, COST, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE, FRESH,
                                  HOME, JSON, JUICE_LIMIT, KEY, KEY_PASSWORD_ENV, NO_SAVE, Fail,
                                  _cvm_fail, _emit, _result_json, _transact_as, _workspace, app)

DEPLOYMENTS_FILE = "convex-deployments.json"
LOCAL = "local"
GOVERNANCE = 6   # owner of the CNS root (CAD014)


@app.command("deploy")
def deploy_cmd(
    file: Path = typer.Argument(..., help="A Convex Lisp file: the actor's code."),
    name: Optional[str] = typer.Option(None, "--name", "-n", show_default=False,
                                       help="Also register this CNS name for the actor (or "
                                            "point the deployer's existing one at it)."),
    arg: List[str] = typer.Option([], "--arg", show_default=False,
                                  help="A Convex Lisp value for the code to read as `args` "
                                       "(a vector); repeat for more."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Run the deployment as a query on "
                                 "the target and print its cost: nothing is signed or "
                                 "changed."),
    upgradable: bool = typer.Option(False, "--upgradable", help="Make the deploying account "
                                    "the actor's controller, so that --upgrade may change "
                                    "its code later."),
    upgrade: bool = typer.Option(False, "--upgrade", help="Run the file's code again in the "
                                 "actor deployed before (--name's, else this file's record "
                                 "in convex-deployments.json), which the deployer controls: "
                                 "its address and name stay."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    no_save: bool = NO_SAVE, address: Optional[str] = ADDRESS, cost: bool = COST,
    juice_limit: Optional[int] = JUICE_LIMIT,
    key: Optional[str] = KEY, password_env: str = KEY_PASSWORD_ENV,
) -> None:
    """Deploy a file's forms as a new actor (one signed transaction, with its CNS name if
    given), print its address and record it in ./convex-deployments.json for scripts."""
    code = _code(file, arg)
    sym = _cns_name(name) if name is not None else None
    ws = _workspace(home, fresh, no_save or dry_run, address, juice_limit, key, password_env,
                    sign=not dry_run)
    network, url = _network(ws)
    record_key = name or file.stem
    if upgrade:
        actor = _upgrade_target(ws, network, record_key, name)
        plan = {"action": "upgrade", "actor": actor}
        source = _upgrade_source(actor, code)
    else:
        if upgradable:
            code = [f"(set-controller #{ws.address})"] + code
        plan = {"action": "deploy", "cns": _cns_plan(ws, sym) if sym else None, "name": sym}
        source = _deploy_source(code, sym, plan["cns"])
    if dry_run:
        _dry_run(ws, network, url, name, plan, source, as_json)
        return
    _estimate(ws, source, plan, False)  # whether it would work, before anything is signed
    if plan.get("cns") == "governance":         # a new name only governance may create
        r = _transact_as(ws, f"(*registry*/create (quote {sym}) nil #{ws.address})",
                         GOVERNANCE)
        if not r.ok:
            f = _cvm_fail(ws, r)
            f.message = f"creating the CNS name {name} failed, nothing deployed: {f.message}"
            raise f
    r = ws.transact(source)
    if not r.ok:
        f = _cvm_fail(ws, r)
        what = "upgrading " + plan["actor"] if upgrade else "deploying"
        left = (f"; the CNS name {name} was created empty (controlled by #{ws.address}): the "
                "next deploy with this name fills it" if plan.get("cns") == "governance"
                else "")
        f.message = f"{what} failed, nothing was deployed{left}: {f.message}"
        raise f
    actor = plan["actor"] if upgrade else r.printed
    record = {"address": actor, "file": str(file), "name": name, "deployer": f"#{ws.address}",
              "tx": r.tx_hash, "time": _now()}
    if url is not None:
        record["url"] = url
    if upgrade:
        record.update(upgraded=True, upgradable=True)
    elif upgradable:
        record["upgradable"] = True
    _record_deployment(network, record_key, record)
    data = _result_json(ws, r)
    data.update(record, network=network, value=actor)
    note = ("  upgraded in place" if upgrade else "") + (f"  registered as {name}"
                                                          if name and not upgrade else "")
    _emit(as_json, data, actor + note)
    if cost and not as_json:
        from convex_repl.repl.render import badge
        typer.echo(badge(r), err=True)


# --- the code and the plan ------------------------------------------------------------------

def _code(file: Path, arg: List[str]) -> list:
    """The actor's code: `(def args [...])`, then the file's forms, each printed."""
    from lisp import ReaderError, print_value, read, read_all
    try:
        forms = read_all(file.read_text())
    except OSError as e:
        raise Fail(f"can't read {file}: {e.strerror}", EXIT_NOT_FOUND, "IO") from None
    except ReaderError as e:
        raise Fail(f"{file}: {e}", EXIT_USAGE, "SYNTAX") from None
    if not forms:
        raise Fail(f"{file}: no forms to deploy", EXIT_USAGE, "USAGE")
    try:
        args = [read(a) for a in arg]
    except ReaderError as e:
        raise Fail(f"--arg: {e}", EXIT_USAGE, "USAGE") from None
    return (["(def args [" + " ".join(print_value(a) for a in args) + "])"]
            + [print_value(f) for f in forms])


def _cns_name(name: str) -> str:
    from lisp import ReaderError, read
    from kernel.data.scalars import Symbol
    try:
        sym = read(name)
    except ReaderError:
        sym = None
    if type(sym) is not Symbol:
        raise Fail(f"--name: not a CNS name: {name!r} (e.g. my.counter)", EXIT_USAGE, "USAGE")
    return name


def _deploy_source(code: list, sym: Optional[str], cns: Optional[str]) -> str:
    """The transaction: deploy the code and, in the same transaction, point the CNS name at
    the new actor ("update": the record exists, or governance has just created it) or create
    the record ("create"), controlled by the deployer."""
    deploy = "(deploy " + " ".join("(quote " + c + ")" for c in code) + ")"
    if sym is None or cns is None:
        return deploy
    write = ("(*registry*/create (quote {0}) actor *address*)" if cns == "create" else
             "(*registry*/update (quote {0}) actor)").format(sym)
    return f"(let [actor {deploy}] {write} actor)"


def _upgrade_source(actor: str, code: list) -> str:
    # each form compiled and run in the actor in turn, as deploy does (a macro defined by one
    # form is usable by the next)
    return "(do " + " ".join(f"(eval-as {actor} (quote {c}))" for c in code) + " " + actor + ")"


def _query_as(ws: Any, source: str, n: int) -> Any:
    if getattr(ws, "remote", False):
        return ws.peer.query(source, n)
    return ws.session.as_account(n).query(source)


def _cns_plan(ws: Any, sym: str) -> str:
    """How the name will be written, found with queries before anything is signed:
    "update" (the deployer controls the record), "create" (the deployer may create it),
    "governance" (a new name that #6 creates, on a network whose #6 key is local)."""
    rec = _query_as(ws, f"(*registry*/read (quote {sym}))", ws.address)
    if not rec.ok:
        raise _cvm_fail(ws, rec)
    if rec.value is not None:
        r = _query_as(ws, f"(*registry*/update (quote {sym}) *address*)", ws.address)
        if r.ok:
            return "update"
        ctrl = _printed_part(rec, 1)
        raise Fail(f"the CNS name {sym} is controlled by {ctrl}, and #{ws.address} may not "
                   f"update it ({r.error}: {r.message}): nothing deployed; choose another "
                   "--name, or deploy as its controller (-a)", EXIT_FAILED, "TRUST")
    r = _query_as(ws, f"(*registry*/create (quote {sym}) nil *address*)", ws.address)
    if r.ok:
        return "create"
    g = _query_as(ws, f"(*registry*/create (quote {sym}) nil #{ws.address})", GOVERNANCE)
    if g.ok and _have_key(ws, GOVERNANCE):
        return "governance"
    raise Fail(f"#{ws.address} may not create the CNS name {sym} ({r.error}: {r.message}), and "
               f"governance (#{GOVERNANCE}) can't create it for it here: nothing deployed",
               EXIT_FAILED, "TRUST")


def _printed_part(r: Any, i: int) -> str:
    try:
        from lisp import print_value
        return print_value(r.value[i])
    except Exception:
        return "another account"


def _have_key(ws: Any, n: int) -> bool:
    """Do we hold account #n's key (a local genesis key)?"""
    if not getattr(ws, "remote", False):
        return True                     # every key of the local CVM is local
    acct = ws.peer.account(n)
    return acct is not None and ws.peer.signing_key(n, acct.get("key")) is not None


def _upgrade_target(ws: Any, network: str, record_key: str, name: Optional[str]) -> str:
    """The actor an upgrade changes: the CNS name's, else the deployment record's; refused
    before anything is signed unless the deployer controls it."""
    actor = None
    if name is not None:
        r = _query_as(ws, f"(*registry*/resolve (quote {_cns_name(name)}))", ws.address)
        if r.ok and r.value is not None:
            actor = r.printed
    if actor is None:
        rec = _read_deployments().get(network, {}).get(record_key)
        actor = rec.get("address") if isinstance(rec, dict) else None
    if not actor:
        raise Fail(f"--upgrade: no actor deployed as {record_key} on {network} (neither CNS "
                   f"nor {DEPLOYMENTS_FILE} knows one)", EXIT_NOT_FOUND, "NOT_FOUND")
    r = _query_as(ws, f"(eval-as {actor} nil)", ws.address)
    if not r.ok:
        raise Fail(f"--upgrade: #{ws.address} may not change the code of {actor} "
                   f"(:{r.error} {r.message}): only an actor deployed with --upgradable by "
                   "this account can be upgraded", EXIT_FAILED, "TRUST")
    return actor


# --- dry run ---------------------------------------------------------------------------------

def _estimate(ws: Any, source: str, plan: dict, dry_run: bool) -> tuple:
    """(result, memory, exact) of the deployment run on the target without signing or
    changing anything; Fail if it would fail (nothing deployed)."""
    cns, name = plan.get("cns"), plan.get("name")
    if getattr(ws, "remote", False):
        query_as = None
        if cns == "governance":     # no record yet: the query runs as #6 would, creating it
            source = source.replace(f"(*registry*/update (quote {name}) actor)",
                                    f"(*registry*/create (quote {name}) actor #{ws.address})")
            query_as = GOVERNANCE
        r = ws.peer.estimate(source, ws.address, query_as)
        memory, exact = None, False
    else:
        r = _local_estimate(ws, source, plan)
        memory, exact = r.memory, True
    if not r.ok:
        f = _cvm_fail(ws, r)
        f.message = ("dry run: the deployment would fail: " if dry_run else
                     "the deployment would fail, nothing deployed: ") + f.message
        raise f
    return r, memory, exact


def _dry_run(ws: Any, network: str, url: Optional[str], name: Optional[str], plan: dict,
             source: str, as_json: bool) -> None:
    """The deployment run as a query on the target: the address it would get, its juice and
    fee, nothing signed or changed."""
    cns = plan.get("cns")
    r, memory, exact = _estimate(ws, source, plan, True)
    allowance = (ws.session.account_info(ws.address) or {}).get("memory")
    data = {"ok": True, "dry_run": True, "network": network, "address": r.printed,
            "deployer": f"#{ws.address}", "action": plan["action"], "name": name,
            "cns": cns, "juice": r.juice, "juice_price": r.juice_price, "fee": r.fee,
            "fee_exact": exact, "memory": memory, "allowance": allowance}
    if url:
        data["url"] = url
    what = ("would upgrade" if plan["action"] == "upgrade" else "would deploy")
    lines = [f"dry run on {network}{' (' + url + ')' if url else ''}: nothing signed or "
             "changed",
             f"  {what:<14} {r.printed} as #{ws.address}"]
    if name:
        lines.append(f"  {'CNS name':<14} {name}: " + {
            "update": "would point at it (the deployer controls the record)",
            "create": "would be created, controlled by the deployer",
            "governance": f"would be created by governance #{GOVERNANCE}, controlled by "
                          "the deployer"}.get(cns or "", "unchanged"))
    lines.append(f"  {'juice':<14} {r.juice:,} at juice price {r.juice_price}")
    if exact:
        lines.append(f"  {'fee':<14} {r.fee:,} coins (memory {memory or 0:+,} bytes)")
    else:
        lines.append(f"  {'fee':<14} ~{r.fee:,} coins for juice, plus memory beyond the "
                     f"allowance ({allowance:,} bytes)" if allowance is not None else
                     f"  {'fee':<14} ~{r.fee:,} coins for juice, plus memory")
    _emit(as_json, data, "\n".join(lines))


def _local_estimate(ws: Any, source: str, plan: dict) -> Any:
    """The transaction's exact outcome on a throwaway copy of the local state, in which the
    acting account's key is replaced by a throwaway one (no real key is used); the CNS
    record governance would create first is created there first."""
    from nacl.signing import SigningKey

    from convex_repl.api import Session
    from kernel.data.blobs import Blob
    state = ws.session.state
    key = SigningKey.generate()
    acct = state.account(ws.address)
    state = state.put_account(ws.address, acct.with_(key=Blob(bytes(key.verify_key))))
    s = Session(state, ws.address, ws.session.juice_limit)
    s.key = key
    if plan.get("cns") == "governance":
        s.as_account(GOVERNANCE).transact(
            f"(*registry*/create (quote {plan['name']}) nil #{ws.address})")
    return s.transact(source)


# --- the records -----------------------------------------------------------------------------

def _network(ws: Any) -> tuple:
    """(network id, URL): "local" for the local CVM, a peer's genesis hash."""
    if not getattr(ws, "remote", False):
        return LOCAL, None
    return ws.peer.network_id or ws.url, ws.url


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _read_deployments() -> dict:
    path = Path.cwd() / DEPLOYMENTS_FILE
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        raise Fail(f"{path} is not valid JSON: fix or remove it", EXIT_FAILED, "IO") from None
    if not isinstance(data, dict):
        raise Fail(f"{path} is not a map of networks: fix or remove it", EXIT_FAILED, "IO")
    return data


def _record_deployment(network: str, key: str, record: dict) -> None:
    """Keep the deployment under its network in the project directory, so scripts can find
    it again; a name deployed before on the same network keeps its previous address."""
    path = Path.cwd() / DEPLOYMENTS_FILE
    data = _read_deployments()
    section = data.setdefault(network, {})
    old = section.get(key)
    if isinstance(old, dict) and old.get("address") not in (None, record["address"]):
        record["previous"] = old["address"]
    section[key] = record
    try:
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    except OSError as e:
        raise Fail(f"can't write {path}: {e.strerror}", EXIT_FAILED, "IO") from None


@app.command("deployments")
def deployments_cmd(
    network: Optional[str] = typer.Option(None, "--network", show_default=False,
                                          help="Only this network: 'local', a network id "
                                               "(genesis hash, or its start) or a peer's "
                                               "URL."),
    as_json: bool = JSON,
) -> None:
    """List the deployments recorded in ./convex-deployments.json, by network."""
    data = _read_deployments()
    if network is not None:
        wanted = _network_id(network, data)
        data = {k: v for k, v in data.items() if k == wanted}
    if as_json:
        _emit(True, {"ok": True, "networks": data})
        return
    if not data:
        typer.echo(f"no deployments recorded{' for ' + network if network else ''} in "
                   f"./{DEPLOYMENTS_FILE}")
        return
    for net, recs in data.items():
        urls = sorted({r.get("url") for r in recs.values() if isinstance(r, dict)
                       and r.get("url")})
        typer.echo(net + (f"  ({', '.join(urls)})" if urls else ""))
        for k, r in sorted(recs.items()):
            if not isinstance(r, dict):
                continue
            when = f"  {r['time']}" if r.get("time") else ""
            how = ("  (upgraded)" if r.get("upgraded") else
                   "  (upgradable)" if r.get("upgradable") else "")
            typer.echo(f"  {k:<20} {r.get('address', '?'):<8} by {r.get('deployer', '?')}"
                       f"{when}  {r.get('file', '')}{how}")


def _network_id(text: str, data: dict) -> str:
    """The network id `text` names: itself, the one id it starts, the network a peer at
    this URL belongs to (asked of the peer), or the one whose records have this URL."""
    if text in data or text == LOCAL:
        return text
    if "://" in text or ":" in text:
        from convex_repl.client.remote import Remote, RemoteError, normalise
        url = normalise(text)
        for net, recs in data.items():
            if any(isinstance(r, dict) and r.get("url") == url for r in recs.values()):
                return net
        try:
            return Remote(url).network_id or url
        except RemoteError as e:
            raise Fail(str(e), EXIT_NOT_FOUND, "CONNECTION") from None
    found = [k for k in data if k.lower().startswith(text.lower())]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise Fail(f"--network {text} could be {', '.join(found)}: give more of it",
                   EXIT_USAGE, "USAGE")
    return text
