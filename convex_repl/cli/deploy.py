"""`convex deploy`: a file's forms deployed as an actor, optionally given a CNS name, and
the address kept in ./convex-deployments.json for scripts to find again."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from convex_repl.cli.base import (ADDRESS, COST, EXIT_FAILED, EXIT_NOT_FOUND, EXIT_USAGE, FRESH,
                                  HOME, JSON, JUICE_LIMIT, NO_SAVE, Fail, _cvm_fail, _emit,
                                  _result_json, _workspace, app)

DEPLOYMENTS_FILE = "convex-deployments.json"


@app.command("deploy")
def deploy_cmd(
    file: Path = typer.Argument(..., help="A Convex Lisp file: the actor's code."),
    name: Optional[str] = typer.Option(None, "--name", "-n", show_default=False,
                                       help="Also register this CNS name for the actor."),
    arg: List[str] = typer.Option([], "--arg", show_default=False,
                                  help="A Convex Lisp value for the code to read as `args` "
                                       "(a vector); repeat for more."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    no_save: bool = NO_SAVE, address: Optional[str] = ADDRESS, cost: bool = COST,
    juice_limit: Optional[int] = JUICE_LIMIT,
) -> None:
    """Deploy a file's forms as a new actor (one signed transaction), optionally register a
    CNS name, print its address and record it in ./convex-deployments.json for scripts."""
    from lisp import ReaderError, print_value, read, read_all
    try:
        forms = read_all(file.read_text())
    except OSError as e:
        raise Fail(f"can't read {file}: {e.strerror}", EXIT_NOT_FOUND, "IO") from None
    except ReaderError as e:
        raise Fail(f"{file}: {e}", EXIT_FAILED, "SYNTAX") from None
    if not forms:
        raise Fail(f"{file}: no forms to deploy", EXIT_USAGE, "USAGE")
    try:
        args = [read(a) for a in arg]
    except ReaderError as e:
        raise Fail(f"--arg: {e}", EXIT_USAGE, "USAGE") from None
    code = ["(def args [" + " ".join(print_value(a) for a in args) + "])"]
    code += [print_value(f) for f in forms]
    source = "(deploy " + " ".join("(quote " + c + ")" for c in code) + ")"
    ws = _workspace(home, fresh, no_save, address, juice_limit)
    r = ws.transact(source)
    if not r.ok:
        raise _cvm_fail(ws, r)
    actor = r.printed
    if name is not None:
        _register_name(ws, name, actor)
    record = {"address": actor, "file": str(file), "name": name, "deployer": f"#{ws.address}"}
    _record_deployment(name or file.stem, record)
    data = _result_json(ws, r)
    data.update(record, network="local")
    _emit(as_json, data, actor + (f"  registered as {name}" if name else ""))
    if cost and not as_json:
        from convex_repl.repl.render import badge
        typer.echo(badge(r), err=True)


GOVERNANCE = 6   # owner of the CNS root (CAD014)


def _register_name(ws: Any, name: str, actor: str) -> None:
    """Register a CNS name for the actor, controlled by the deploying account. On the local
    network every genesis key is ours (as in anvil), so governance (#6, owner of the CNS root)
    creates the record; after that the deployer alone controls it."""
    from lisp import ReaderError, read
    from kernel.data.scalars import Symbol
    try:
        sym = read(name)
    except ReaderError:
        sym = None
    if type(sym) is not Symbol:
        raise Fail(f"--name: not a CNS name: {name!r} (e.g. my.counter)", EXIT_USAGE, "USAGE")
    r = ws.transact(f"(*registry*/create (quote {name}) {actor} #{ws.address})",
                    as_address=GOVERNANCE)
    if not r.ok:
        f = _cvm_fail(ws, r)
        f.message = f"deployed {actor}, but registering {name} failed: {f.message}"
        raise f


def _record_deployment(key: str, record: dict) -> None:
    """Keep the address per network in the project directory, so scripts can find it again."""
    path = Path.cwd() / DEPLOYMENTS_FILE
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        raise Fail(f"{path} is not valid JSON: fix or remove it", EXIT_FAILED, "IO") from None
    data.setdefault("local", {})[key] = record
    try:
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    except OSError as e:
        raise Fail(f"can't write {path}: {e.strerror}", EXIT_FAILED, "IO") from None
