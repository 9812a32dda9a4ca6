"""The root of the `convex` command: the typer app and its root callback (the REPL when no
command is given), exit codes, `Fail`, error reporting and `main`, and what every command
module shares: the common options, the workspace (local, or a peer with --url), printing
results. The command modules import this one and register on `app`; it imports none of them
(only the root callback reaches `session` for the REPL, when it runs).

Every command goes through the public Python API. Conventions, for every command:
  --json        machine-readable output on stdout (errors too: {"ok": false, "error": ...})
  --home DIR    the convex directory (default $CONVEX_HOME, else ~/.convex)
  --fresh       start from a clean genesis instead of the saved session
  --no-save     leave the saved session as it was
Errors are one line on stderr, `convex: error: ...`, never a traceback. Exit codes:
  0 ok · 1 the CVM raised an error or tests failed · 2 bad usage · 3 not found (file, key,
  account) · 4 not supported yet by the local CVM · 5 missing or wrong secret · 130 interrupted
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

import convex_repl

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_UNSUPPORTED, EXIT_SECRET = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130

# The order `convex --help` lists commands and groups in, whichever module defines them.
COMMANDS = ("repl", "tutorial", "eval", "transact", "query", "deploy", "deployments", "run", "test", "status",
            "key", "account", "peer", "local")


class _Commands(TyperGroup):
    """The root command group, listing its commands in the order of COMMANDS."""

    def list_commands(self, ctx: Any) -> list:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: COMMANDS.index(n) if n in COMMANDS else len(COMMANDS))


app = typer.Typer(
    name="convex",
    help="Convex Lisp toolchain: a local CVM, a REPL, and commands to evaluate, run and test "
         "Convex Lisp. With no command, starts the REPL.",
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=_Commands,
)


class Fail(Exception):
    """A one-line error with an exit code; `detail` (a source excerpt with a caret) is
    printed under it on stderr, not in JSON."""

    def __init__(self, message: str, code: int = EXIT_FAILED, kind: str = "ERROR",
                 extra: Optional[dict] = None, detail: str = ""):
        super().__init__(message)
        self.message, self.code, self.kind, self.extra = message, code, kind, extra or {}
        self.detail = detail


# --- shared options -------------------------------------------------------------------------------

JSON = typer.Option(False, "--json", help="Machine-readable JSON output.")
HOME = typer.Option(None, "--home", help="Convex directory (default $CONVEX_HOME or ~/.convex).",
                    show_default=False)
FRESH = typer.Option(False, "--fresh", help="Start from a clean genesis state.")
NO_SAVE = typer.Option(False, "--no-save", help="Do not save the session afterwards.")
JUICE_LIMIT = typer.Option(None, "--juice-limit", help="Juice limit per transaction.",
                           show_default=False)
ADDRESS = typer.Option(None, "--address", "-a", help="Act as this account (e.g. 13 or #13).",
                       show_default=False)
COST = typer.Option(False, "--cost", help="Show the cost badge (juice, fee, time) on stderr.")
KEY = typer.Option(None, "--key", show_default=False,
                   help="Sign with this stored key (convex key list); its password from "
                        "$CONVEX_KEY_PASSWORD (or --password-env).")
KEY_PASSWORD_ENV = typer.Option("CONVEX_KEY_PASSWORD", "--password-env",
                                help="Environment variable holding the keystore password "
                                     "(with --key).")

_json_mode = False


def _home(home: Optional[Path]) -> Path:
    from convex_repl.home import convex_home
    if home is not None:
        os.environ["CONVEX_HOME"] = str(home)
    try:
        return convex_home()
    except OSError as e:
        raise Fail(f"can't use the convex directory: {e}", EXIT_NOT_FOUND, "IO") from None


def _workspace(home: Optional[Path], fresh: bool, no_save: bool,
               address: Optional[str] = None, juice_limit: Optional[int] = None,
               key: Optional[str] = None, password_env: str = "CONVEX_KEY_PASSWORD",
               sign: bool = False):
    """The workspace a command works on: the saved local session, or a peer (--url,
    CONVEX_URL or a profile). `address` (-a) is the account acting for this command only:
    the saved session keeps its own acting account. The signing key is the stored key named
    `key` (--key), else CONVEX_SEED, else the account's (local) genesis key, for the commands
    that sign (`sign`); a key that is not the acting account's is refused before anything is
    sent."""
    from convex_repl.client.remote import resolve_url
    signer = _signing_key(home, key, password_env) if sign or key else None
    url = resolve_url()                 # --url, CONVEX_URL or a profile: a peer
    if url is not None:
        ws = _remote_workspace(url, address, signer[0] if signer else None)
        if signer is not None:
            _check_key(signer, ws.address, ws.peer.account(ws.address))
        return ws
    ws = _command_workspace()(_home(home), fresh=fresh, save=not no_save)
    if juice_limit is not None:
        if juice_limit <= 0:
            raise Fail("--juice-limit must be positive", EXIT_USAGE, "USAGE")
        ws.session.juice_limit = juice_limit
    for w in ws.warnings:
        _warn(w)
    if address is not None:
        n = _address(address)
        info = ws.session.account_info(n)
        if info is None:
            raise Fail(f"no account #{n}", EXIT_NOT_FOUND, "NOBODY")
        ws.kept_address = ws.session.address    # saved as it was: -a is for this command
        ws.session.address = n
    if signer is not None:
        _check_key(signer, ws.address, ws.session.account_info(ws.address))
        ws.session.key = signer[0]
    return ws


_CommandWorkspace: Any = None


def _command_workspace() -> type:
    """The local Workspace class for a command: one whose saves keep the acting account of
    the saved session when -a chose another for this command."""
    global _CommandWorkspace
    if _CommandWorkspace is None:
        from convex_repl.repl.workspace import Workspace

        class CommandWorkspace(Workspace):
            kept_address: Optional[int] = None

            def save(self) -> None:
                keep = self.kept_address
                if keep is None or keep == self.session.address:
                    return super().save()
                acting = self.session.address
                self.session.address = keep
                try:
                    super().save()
                finally:
                    self.session.address = acting

        _CommandWorkspace = CommandWorkspace
    return _CommandWorkspace


def _signing_key(home: Optional[Path], name: Optional[str],
                 password_env: str = "CONVEX_KEY_PASSWORD") -> Optional[tuple]:
    """(nacl SigningKey, what it is called) from --key NAME (the keystore, its password from
    the environment) or CONVEX_SEED (32 bytes of hex); None when neither is given."""
    from nacl.signing import SigningKey
    if name:
        from convex_repl.cli.keys import _keystore, _password
        k = _keystore(home).load(name, _password(password_env, confirm=False))
        return SigningKey(k["seed"]), f"key {name!r}"
    seed = os.environ.get("CONVEX_SEED")
    if seed:
        try:
            raw = bytes.fromhex(seed.strip().removeprefix("0x"))
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise Fail("CONVEX_SEED must be an Ed25519 seed: 32 bytes of hex", EXIT_SECRET,
                       "SECRET")
        return SigningKey(raw), "CONVEX_SEED"
    return None


def _check_key(signer: tuple, n: int, info: Optional[dict]) -> None:
    """Refuse, before anything is signed, a key that is not account #n's."""
    if info is None:
        raise Fail(f"no account #{n}", EXIT_NOT_FOUND, "NOBODY")
    pk = "0x" + bytes(signer[0].verify_key).hex()
    have = str(info.get("key") or "").lower()
    if have != pk:
        raise Fail(f"{signer[1]} ({pk[:10]}...) is not the key of #{n} "
                   f"({have[:10] + '...' if have else 'an actor, no key'}): act as the "
                   "account it controls with -a #N", EXIT_SECRET, "SECRET")


def _transact_as(ws: Any, source: str, n: int) -> Any:
    """A transaction of account #n signed with its own (local genesis) key, whatever key
    this command signs its own transactions with."""
    if getattr(ws, "remote", False):
        return ws.transact(source, as_address=n)
    key, ws.session.key = ws.session.key, None
    try:
        return ws.transact(source, as_address=n)
    finally:
        ws.session.key = key


def _take_url(args: list) -> list:
    """`--url URL` (any command, anywhere) targets a peer's REST API: it becomes CONVEX_URL."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a == "--url" and i + 1 < len(args):
            os.environ["CONVEX_URL"] = args[i + 1]
            i += 2
            continue
        if a.startswith("--url="):
            os.environ["CONVEX_URL"] = a[len("--url="):]
        else:
            out.append(a)
        i += 1
    return out


def _remote_workspace(url: str, address: Optional[str], key: Any = None):
    from convex_repl.client.remote import RemoteError
    from convex_repl.repl.remote_workspace import RemoteWorkspace
    ws = RemoteWorkspace(url, None if address is None else _address(address), key)
    try:
        if ws.session.account_info(ws.address) is None:
            raise Fail(f"no account #{ws.address} on {ws.url}", EXIT_NOT_FOUND, "NOBODY")
    except RemoteError as e:
        raise Fail(str(e), EXIT_NOT_FOUND, "CONNECTION") from None
    return ws


def _address(text: str) -> int:
    t = text.strip().lstrip("#")
    if not t.isdigit():
        raise Fail(f"not an address: {text!r} (use 13 or #13)", EXIT_USAGE, "USAGE")
    return int(t)


def _warn(msg: str) -> None:
    if not _json_mode:
        typer.echo(f"convex: warning: {msg}", err=True)


def _emit(as_json: bool, data: dict, text: Optional[str] = None) -> None:
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
    elif text is not None:
        typer.echo(text)


def _result_json(ws: Any, r: Any) -> dict:
    from convex_repl.repl.render import error_hint
    d: dict = {"ok": r.ok, "juice": r.juice, "juice_price": r.juice_price, "fee": r.fee,
               "elapsed": round(r.elapsed, 6), "address": ws.address}
    if r.memory is not None:
        d["memory"] = r.memory
    for extra in ("sequence", "tx_hash"):
        if getattr(r, extra, None) is not None:
            d[extra] = getattr(r, extra)
    if r.ok:
        d["value"] = r.printed
    else:
        d.update(error=r.error, message=r.message, trace=r.trace,
                 hint=error_hint(ws.session, r))
    return d


def _cvm_fail(ws: Any, r: Any) -> Fail:
    msg = f":{r.error}" + (f" {r.message}" if r.message else "")
    # Source that does not read is bad input (exit 2), found before anything ran (no juice)
    code = EXIT_USAGE if r.error == "SYNTAX" and not r.juice else EXIT_FAILED
    return Fail(msg, code, r.error, _result_json(ws, r))


def _read_source(forms: Optional[str]) -> str:
    if forms is None or forms == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise Fail("give the forms as an argument, or '-' to read them from stdin",
                       EXIT_USAGE, "USAGE")
        return sys.stdin.read()
    return forms


def _print_result(ws: Any, r: Any, as_json: bool, cost: bool) -> None:
    if not r.ok:
        raise _cvm_fail(ws, r)
    from convex_repl.repl.render import badge
    _emit(as_json, _result_json(ws, r), r.printed)
    if cost and not as_json:
        typer.echo(badge(r), err=True)


# --- root callback ------------------------------------------------------------------------------

def _version(value: bool) -> None:
    if value:
        typer.echo(f"convex-repl {convex_repl.__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Optional[bool] = typer.Option(
        None, "--version", "-V", callback=_version, is_eager=True,
        help="Show the version and exit."),
    home: Optional[Path] = HOME,
    fresh: bool = FRESH,
    no_save: bool = NO_SAVE,
    vi: bool = typer.Option(False, "--vi", help="Vi key bindings in the REPL."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours."),
    juice_limit: Optional[int] = JUICE_LIMIT,
) -> None:
    """Start the REPL when no command is given."""
    if ctx.invoked_subcommand is None:
        from convex_repl.cli.session import _start_repl
        _start_repl(home, fresh, no_save, vi, no_color, juice_limit)


# --- entry point ------------------------------------------------------------------------------------

def main(argv: Optional[list] = None) -> None:
    """Run the CLI; every failure becomes one line on stderr (or JSON) and an exit code."""
    global _json_mode
    args = sys.argv[1:] if argv is None else argv
    _json_mode = "--json" in args
    args = _take_url(args)
    try:
        rv = app(args=args, prog_name="convex", standalone_mode=False)
        code = rv if isinstance(rv, int) else EXIT_OK
    except Fail as f:
        code = _report(f.kind, f.message, f.code, f.extra, f.detail)
    except KeyboardInterrupt:
        code = _report("INTERRUPTED", "interrupted", EXIT_INTERRUPTED)
    except Exception as e:
        code = _exception_exit(e)
    sys.exit(code)


def _exception_exit(e: Exception) -> int:
    # Click's (or typer's vendored click's) exceptions, recognised by shape so that any
    # typer version works: Exit has exit_code only; usage errors format a message.
    from convex_repl.client.keys import BadPassword, KeyError_, KeyNotFound
    name = type(e).__name__
    if name == "Exit" and hasattr(e, "exit_code"):
        return e.exit_code
    if name == "Abort":
        return _report("INTERRUPTED", "interrupted", EXIT_INTERRUPTED)
    if hasattr(e, "format_message") and hasattr(e, "exit_code"):
        msg = e.format_message().replace("\n", " ")
        ctx = getattr(e, "ctx", None)
        if ctx is not None:
            msg += f" (see {ctx.command_path} --help)"
        return _report("USAGE", msg, e.exit_code if e.exit_code != 1 else EXIT_USAGE)
    if isinstance(e, BadPassword):
        return _report("SECRET", str(e), EXIT_SECRET)
    if isinstance(e, KeyNotFound):
        return _report("NOT_FOUND", str(e), EXIT_NOT_FOUND)
    if isinstance(e, KeyError_):
        return _report("KEY", str(e), EXIT_USAGE)
    if name == "RemoteError":           # a peer (--url) unreachable or refusing
        return _report("CONNECTION", str(e), EXIT_NOT_FOUND)
    return _report("INTERNAL", f"internal error: {type(e).__name__}: {e}", 70)


def _report(kind: str, message: str, code: int, extra: Optional[dict] = None,
            detail: str = "") -> int:
    if _json_mode:
        d = {"ok": False, "error": kind, "message": message}
        d.update(extra or {})
        d["ok"] = False
        typer.echo(json.dumps(d, ensure_ascii=False))
    else:
        typer.echo(f"convex: error: {message}", err=True)
        if detail:
            typer.echo(detail, err=True)
    return code
