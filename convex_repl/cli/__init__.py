"""The `convex` command line. Every command goes through the public Python API.

Conventions, for every command:
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
from typing import Any, List, Optional

import typer

import convex_repl

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_UNSUPPORTED, EXIT_SECRET = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="convex",
    help="Convex Lisp toolchain: a local CVM, a REPL, and commands to evaluate, run and test "
         "Convex Lisp. With no command, starts the REPL.",
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
key_app = typer.Typer(help="Ed25519 keys: generate, list, import, export (encrypted keystore).",
                      no_args_is_help=True)
account_app = typer.Typer(help="Accounts of the local CVM: create, info, balance, fund.",
                          no_args_is_help=True)
app.add_typer(key_app, name="key")
app.add_typer(account_app, name="account")
from convex_repl.cli.peer import local_app, peer_app  # noqa: E402  (convex peer start, convex local start)
app.add_typer(peer_app, name="peer")
app.add_typer(local_app, name="local")


class Fail(Exception):
    """A one-line error with an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED, kind: str = "ERROR",
                 extra: Optional[dict] = None):
        super().__init__(message)
        self.message, self.code, self.kind, self.extra = message, code, kind, extra or {}


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
               address: Optional[str] = None, juice_limit: Optional[int] = None):
    from convex_repl.client.remote import resolve_url
    url = resolve_url()                 # --url, CONVEX_URL or a profile: a peer
    if url is not None:
        return _remote_workspace(url, address)
    from convex_repl.repl.workspace import Workspace
    ws = Workspace(_home(home), fresh=fresh, save=not no_save)
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
        ws.session.address = n
    return ws


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


def _remote_workspace(url: str, address: Optional[str]):
    from convex_repl.client.remote import RemoteError
    from convex_repl.repl.remote_workspace import RemoteWorkspace
    ws = RemoteWorkspace(url, None if address is None else _address(address))
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
    return Fail(msg, EXIT_FAILED, r.error, _result_json(ws, r))


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


# --- REPL -------------------------------------------------------------------------------------------

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
        _start_repl(home, fresh, no_save, vi, no_color, juice_limit)


@app.command("repl")
def repl_cmd(
    home: Optional[Path] = HOME,
    fresh: bool = FRESH,
    no_save: bool = NO_SAVE,
    vi: bool = typer.Option(False, "--vi", help="Vi key bindings."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours."),
    juice_limit: Optional[int] = JUICE_LIMIT,
) -> None:
    """The interactive convex> REPL (the default command)."""
    _start_repl(home, fresh, no_save, vi, no_color, juice_limit)


def _start_repl(home, fresh, no_save, vi, no_color, juice_limit=None) -> None:
    raise typer.Exit(repl_main(home, fresh, no_save, vi, no_color, juice_limit))


def repl_main(home=None, fresh=False, no_save=False, vi=False, no_color=False,
              juice_limit=None) -> int:
    """Start the REPL (a terminal one, or a plain one reading stdin); the exit code."""
    try:
        return _repl_main(home, fresh, no_save, vi, no_color, juice_limit)
    except Fail as f:
        return _report(f.kind, f.message, f.code, f.extra)


def _repl_main(home, fresh, no_save, vi, no_color, juice_limit) -> int:
    color = not no_color and "NO_COLOR" not in os.environ
    vi = vi or os.environ.get("CONVEX_EDITING_MODE", "").lower() == "vi"
    if sys.stdin.isatty() and sys.stdout.isatty():
        from convex_repl.repl import run_repl
        from convex_repl.home import peek_address
        path = _home(home)
        # The workspace (kernel imports, genesis, replay) loads in the background while the
        # prompt comes up; the first evaluation waits for it.
        code = run_repl(lambda: _workspace(home, fresh, no_save, juice_limit=juice_limit),
                        vi=vi, color=color, home=path,
                        address=peek_address(path, fresh))
    else:
        ws = _workspace(home, fresh, no_save, juice_limit=juice_limit)
        code = _run_plain(ws, color=False)
    return code


def _run_plain(ws: Any, color: bool, repl: Any = None) -> int:
    """The REPL without a terminal: inputs from stdin (each complete form group), output
    without prompts. Exit code 1 if any evaluation failed."""
    from convex_repl.repl.render import Printer
    from convex_repl.repl import Quit, Repl, is_complete
    if repl is None:
        repl = Repl(ws, Printer(color=color))
    buf = ""
    for line in sys.stdin:
        buf += line
        if not is_complete(buf):
            continue
        text, buf = buf, ""
        try:
            repl.handle(text)
        except Quit:
            buf = ""
            break
    if buf.strip():
        try:
            repl.handle(buf)
        except Quit:
            pass
    return EXIT_FAILED if repl.errors else EXIT_OK


# --- tutorial -------------------------------------------------------------------------------------

@app.command("tutorial")
def tutorial_cmd(
    lesson: Optional[int] = typer.Argument(None, help="Lesson number (default: resume where "
                                           "you were, or lesson 1)."),
    list_: bool = typer.Option(False, "--list", "-l", help="List the lessons and your "
                               "progress."),
    check: bool = typer.Option(False, "--check", help="Run the lessons' code blocks and "
                               "check their shown results (the doctest), then exit."),
    home: Optional[Path] = HOME,
    vi: bool = typer.Option(False, "--vi", help="Vi key bindings."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours."),
) -> None:
    """Learn Convex Lisp: interactive lessons in the REPL. Each step shows code to type (or
    Ctrl-T inserts it); your result is checked against the lesson's. Progress is kept in the
    convex directory."""
    from convex_repl.repl import tutorial as tut
    lessons = tut.load_lessons()
    if not lessons:
        raise Fail(f"no lessons found in {tut.tutorials_dir()}", EXIT_NOT_FOUND, "IO")
    if lesson is not None and not any(ls.number == lesson for ls in lessons):
        raise Fail(f"no lesson {lesson} (convex tutorial --list)", EXIT_NOT_FOUND, "NOT_FOUND")
    path = _home(home)
    if list_:
        progress = tut.Progress(path)
        for line in tut.lesson_list(lessons, progress):
            typer.echo(line)
        typer.echo("convex tutorial resumes where you were; convex tutorial N starts lesson N.")
        return
    if check:
        raise typer.Exit(_check_lessons(tut, lessons, lesson))
    from convex_repl.repl.workspace import Workspace

    def make():
        return Workspace(path, fresh=True, save=False)

    def start(repl):
        return tut.attach(repl, lesson, path, make, exit_on_quit=True, fresh_workspace=True)

    color = not no_color and "NO_COLOR" not in os.environ
    vi = vi or os.environ.get("CONVEX_EDITING_MODE", "").lower() == "vi"
    if sys.stdin.isatty() and sys.stdout.isatty():
        from convex_repl.repl import run_repl
        raise typer.Exit(run_repl(make, vi=vi, color=color, home=path, tutorial=start))
    from convex_repl.repl.render import Printer
    from convex_repl.repl import Repl
    repl = Repl(make(), Printer(color=False))
    if start(repl) is None:
        raise typer.Exit(EXIT_NOT_FOUND)
    _run_plain(repl.ws, False, repl)
    raise typer.Exit(EXIT_OK)


def _check_lessons(tut: Any, lessons: list, only: Optional[int]) -> int:
    failed = 0
    for ls in lessons:
        if only is not None and ls.number != only:
            continue
        bad = tut.check_lesson(ls)
        ran = len(ls.local_steps)
        peer = len(ls.steps) - ran
        if peer:      # run against a peer started for the check
            bad += tut.check_peer_steps(ls)
            ran += peer
        typer.echo(f"{'ok  ' if not bad else 'FAIL'} {ls.path.name}: "
                   f"{ran - len(bad)} of {ran} steps")
        for m in bad:
            typer.echo(str(m))
        failed += len(bad)
    return EXIT_FAILED if failed else EXIT_OK


# --- evaluation ---------------------------------------------------------------------------------

COST = typer.Option(False, "--cost", help="Show the cost badge (juice, fee, time) on stderr.")
DEV = typer.Option(False, "--dev", help="Unsigned development mode: no fees, no sequence "
                   "number (--juice-limit applies).")


@app.command("eval")
def eval_cmd(
    forms: Optional[str] = typer.Argument(None, help="Convex Lisp forms ('-' reads stdin)."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    no_save: bool = NO_SAVE, address: Optional[str] = ADDRESS, cost: bool = COST,
    juice_limit: Optional[int] = JUICE_LIMIT, dev: bool = DEV,
) -> None:
    """Evaluate forms as one signed transaction against the saved session (fees are paid)
    and print the result; --dev runs them unsigned, without fees."""
    src = _read_source(forms)
    ws = _workspace(home, fresh, no_save, address, juice_limit)
    _print_result(ws, ws.transact(src, signed=not dev), as_json, cost)


@app.command("transact")
def transact_cmd(
    forms: Optional[str] = typer.Argument(None, help="Convex Lisp forms ('-' reads stdin)."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    no_save: bool = NO_SAVE, address: Optional[str] = ADDRESS, cost: bool = COST,
    juice_limit: Optional[int] = JUICE_LIMIT,
) -> None:
    """Submit forms as one signed transaction: sequence number, fees, memory accounting."""
    src = _read_source(forms)
    ws = _workspace(home, fresh, no_save, address, juice_limit)
    _print_result(ws, ws.transact(src), as_json, cost)


@app.command("query")
def query_cmd(
    forms: Optional[str] = typer.Argument(None, help="Convex Lisp forms ('-' reads stdin)."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    address: Optional[str] = ADDRESS, cost: bool = COST,
    juice_limit: Optional[int] = JUICE_LIMIT,
    block: Optional[int] = typer.Option(None, "--block", show_default=False,
                                        help="With --url: query the state after block N."),
) -> None:
    """Evaluate forms as a query: the result, with no state change kept."""
    src = _read_source(forms)
    ws = _workspace(home, fresh, True, address, juice_limit)
    if block is None:
        _print_result(ws, ws.query(src), as_json, cost)
    elif not getattr(ws, "remote", False):
        raise Fail("--block needs a peer (--url): the local CVM keeps no blocks", EXIT_USAGE,
                   "USAGE")
    else:
        _print_result(ws, ws.query(src, block=block), as_json, cost)


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


@app.command("run")
def run_cmd(
    file: Path = typer.Argument(..., help="A Convex Lisp file."),
    atomic: bool = typer.Option(False, "--atomic", help="All forms as one transaction."),
    as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH,
    no_save: bool = NO_SAVE, address: Optional[str] = ADDRESS, cost: bool = COST,
    juice_limit: Optional[int] = JUICE_LIMIT, dev: bool = DEV,
) -> None:
    """Run a file: one transaction per top-level form (stops at the first error), or all
    forms as one with --atomic. Prints the last result."""
    from lisp import ReaderError, read_all
    try:
        text = file.read_text()
    except OSError as e:
        raise Fail(f"can't read {file}: {e.strerror}", EXIT_NOT_FOUND, "IO") from None
    ws = _workspace(home, fresh, no_save, address, juice_limit)
    if atomic:
        _print_result(ws, ws.transact(text, signed=not dev), as_json, cost)
        return
    try:
        forms = read_all(text)
    except ReaderError as e:
        raise Fail(f"{file}: {e}", EXIT_FAILED, "SYNTAX") from None
    results, total, r = [], 0, None
    for i, form in enumerate(forms):
        r = ws.transact_form(form, signed=not dev)
        total += r.juice
        results.append(_result_json(ws, r))
        if not r.ok:
            f = _cvm_fail(ws, r)
            f.message = f"form {i + 1} of {len(forms)}: {f.message}"
            f.extra = {"ok": False, "error": r.error, "message": r.message, "form": i + 1,
                       "results": results, "juice": total}
            raise f
    if as_json:
        _emit(True, {"ok": True, "results": results, "juice": total,
                     "value": results[-1]["value"] if results else None})
    else:
        if r is not None:
            typer.echo(r.printed)
        if cost:
            typer.echo(f"{len(forms)} transactions · juice {total:,}", err=True)


# --- tests ------------------------------------------------------------------------------------------

@app.command("test")
def test_cmd(
    paths: Optional[List[str]] = typer.Argument(None, help="Test files or directories "
                                                "(default: tests/ if present, else .)."),
    k: Optional[str] = typer.Option(None, "-k", help="Only tests whose name (or file) "
                                    "contains this text."),
    watch: bool = typer.Option(False, "--watch", help="Re-run when a test file changes."),
    as_json: bool = JSON,
) -> None:
    """Run Convex Lisp tests written with deftest / is / throws? (stdlib/test.cvx)."""
    from convex_repl.testing import runner as testrunner
    paths = list(paths or (["tests"] if Path("tests").is_dir() else ["."]))
    try:
        testrunner.discover(paths)
    except FileNotFoundError as e:
        raise Fail(f"no such file or directory: {e}", EXIT_NOT_FOUND, "IO") from None

    def show(t):
        if as_json:
            return
        if t.ok:
            typer.echo(f"PASS {t.name:<32} juice {t.juice:>10,}   {t.file}")
        else:
            typer.secho(f"FAIL {t.name:<32} juice {t.juice:>10,}   {t.file}", fg="red")
            typer.echo(f"     :{t.error} {t.message or ''}")

    def once() -> int:
        rep = testrunner.run(paths, k, show)
        if as_json:
            _emit(True, rep.as_json())
        else:
            for fe in rep.file_errors:
                typer.secho(f"ERROR {fe['file']}: :{fe['error']} {fe['message']}", fg="red")
            total = sum(t.juice for t in rep.tests)
            typer.echo(f"{rep.passed} passed, {rep.failed} failed · juice {total:,}")
        return EXIT_OK if rep.failed == 0 else EXIT_FAILED

    code = once()
    if not watch:
        raise typer.Exit(code)
    import time
    seen = testrunner.snapshot_mtimes(paths)
    try:
        while True:
            time.sleep(0.5)
            now = testrunner.snapshot_mtimes(paths)
            if now != seen:
                seen = now
                if not as_json:
                    typer.echo("--- change detected, re-running ---")
                code = once()
    except KeyboardInterrupt:
        raise typer.Exit(code)


# --- keys --------------------------------------------------------------------------------------------

PASSWORD_ENV = typer.Option("CONVEX_KEY_PASSWORD", "--password-env",
                            help="Environment variable holding the keystore password.")


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty() and not os.environ.get("CI")


def _password(env: str, confirm: bool) -> str:
    pw = os.environ.get(env)
    if pw:
        return pw
    if not _interactive():
        raise Fail(f"no password: set {env} (never prompted when not interactive)",
                   EXIT_SECRET, "SECRET")
    import getpass
    pw = getpass.getpass("Keystore password: ")
    if confirm and getpass.getpass("Again: ") != pw:
        raise Fail("the passwords differ", EXIT_SECRET, "SECRET")
    if not pw:
        raise Fail("empty password", EXIT_SECRET, "SECRET")
    return pw


def _keystore(home: Optional[Path]):
    from convex_repl.client.keys import Keystore
    return Keystore(_home(home))


@key_app.command("generate")
def key_generate(
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Key name (default: "
                                       "the public key's first 8 hex digits)."),
    words: int = typer.Option(12, "--words", help="Mnemonic length: 12, 15, 18, 21 or 24."),
    password_env: str = PASSWORD_ENV,
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """Generate a key pair from a new BIP39 mnemonic and store it encrypted. The mnemonic is
    shown once: write it down. Passphrase (optional) from CONVEX_MNEMONIC_PASSPHRASE."""
    from convex_repl.client.keys import generate_mnemonic, seed_from_mnemonic
    ks = _keystore(home)
    pw = _password(password_env, confirm=True)
    m = generate_mnemonic(words)
    seed = seed_from_mnemonic(m, os.environ.get("CONVEX_MNEMONIC_PASSPHRASE", ""))
    info = ks.save(name, seed, pw, mnemonic=m)
    _emit(as_json, {"ok": True, **info, "mnemonic": m},
          f"key {info['name']}\npublic key {info['public_key']}\nmnemonic   {m}\n"
          f"(write the mnemonic down: it is the only way to recover the key)")


@key_app.command("list")
def key_list(as_json: bool = JSON, home: Optional[Path] = HOME) -> None:
    """List stored keys (names and public keys)."""
    keys = _keystore(home).list()
    if as_json:
        _emit(True, {"ok": True, "keys": keys})
        return
    if not keys:
        typer.echo("no keys (convex key generate makes one)")
    for k in keys:
        typer.echo(f"{k['name']:<20} {k['public_key']}")


@key_app.command("import")
def key_import(
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Key name."),
    mnemonic_env: str = typer.Option("CONVEX_MNEMONIC", "--mnemonic-env",
                                     help="Environment variable holding the mnemonic."),
    seed_env: str = typer.Option("CONVEX_SEED", "--seed-env",
                                 help="Environment variable holding a 32-byte hex seed "
                                      "(used when no mnemonic is given)."),
    password_env: str = PASSWORD_ENV,
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a key of that name."),
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """Import a key from a mnemonic or seed taken from the environment (or typed, on a
    terminal); it is stored encrypted."""
    from convex_repl.client.keys import seed_from_mnemonic
    m = os.environ.get(mnemonic_env)
    seed_hex = os.environ.get(seed_env)
    if not m and not seed_hex:
        if not _interactive():
            raise Fail(f"no secret: set {mnemonic_env} (or {seed_env})", EXIT_SECRET, "SECRET")
        import getpass
        m = getpass.getpass("Mnemonic words: ")
    if m:
        seed = seed_from_mnemonic(m, os.environ.get("CONVEX_MNEMONIC_PASSPHRASE", ""))
        m = " ".join(m.split())
    else:
        try:
            seed = bytes.fromhex(seed_hex.strip().removeprefix("0x"))
        except ValueError:
            seed = b""
        if len(seed) != 32:
            raise Fail(f"{seed_env} must be 32 bytes of hex", EXIT_USAGE, "USAGE")
        m = None
    pw = _password(password_env, confirm=True)
    info = _keystore(home).save(name, seed, pw, mnemonic=m, overwrite=overwrite)
    _emit(as_json, {"ok": True, **info}, f"imported {info['name']} {info['public_key']}")


@key_app.command("export")
def key_export(
    name: str = typer.Argument(..., help="Key name (convex key list)."),
    password_env: str = PASSWORD_ENV,
    as_json: bool = JSON, home: Optional[Path] = HOME,
) -> None:
    """Print a key's secret: its mnemonic (when it has one) and Ed25519 seed."""
    pw = _password(password_env, confirm=False)
    k = _keystore(home).load(name, pw)
    data = {"ok": True, "name": k["name"], "public_key": k["public_key"],
            "seed": "0x" + k["seed"].hex(), "mnemonic": k["mnemonic"]}
    text = f"public key {k['public_key']}\nseed       {data['seed']}"
    if k["mnemonic"]:
        text += f"\nmnemonic   {k['mnemonic']}"
    _emit(as_json, data, text)


# --- accounts and status -------------------------------------------------------------------------

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
    no_save: bool = NO_SAVE,
) -> None:
    """Create a user account for a public key (uses `create-account`)."""
    ws = _workspace(home, fresh, no_save)
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
    no_save: bool = NO_SAVE,
) -> None:
    """Give an account coins from the local genesis user (uses `transfer`)."""
    ws = _workspace(home, fresh, no_save)
    n = _address(address)
    if ws.session.account_info(n) is None:
        raise Fail(f"no account #{n}", EXIT_NOT_FOUND, "NOBODY")
    _needs_core(ws, "transfer", "funding an account")
    from stdlib.genesis import GENESIS_USER
    r = ws.transact(f"(transfer #{n} {amount})", as_address=GENESIS_USER)
    if not r.ok:
        raise _cvm_fail(ws, r)
    bal = ws.session.account_info(n)["balance"]
    _emit(as_json, {"ok": True, "address": n, "balance": bal}, f"#{n} balance {bal:,}")


@app.command("status")
def status_cmd(as_json: bool = JSON, home: Optional[Path] = HOME, fresh: bool = FRESH) -> None:
    """The local CVM: saved session, acting account, accounts, timestamp, juice price
    (with --url: the peer's status)."""
    ws = _workspace(home, fresh, True)
    if getattr(ws, "remote", False):
        _emit(as_json, *ws.status_report())
        return
    s = ws.session
    data = {"ok": True, "home": str(ws.home), "address": ws.address,
            "accounts": s.account_count(), "timestamp": s.timestamp,
            "juice_price": s.juice_price, "transactions": len(ws.entries),
            "checkpoints": sorted(ws.checkpoints),
            "persistence": "snapshot" if ws.snapshot_path.exists() else "journal replay",
            "version": convex_repl.__version__}
    text = "\n".join([
        f"convex-repl {convex_repl.__version__} · local CVM",
        f"home          {data['home']}",
        f"acting as     #{data['address']}",
        f"accounts      {data['accounts']}",
        f"timestamp     {data['timestamp']}",
        f"juice price   {data['juice_price']}",
        f"transactions  {data['transactions']} saved ({data['persistence']})",
        f"checkpoints   {', '.join(data['checkpoints']) or '-'}"])
    _emit(as_json, data, text)


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
        code = _report(f.kind, f.message, f.code, f.extra)
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


def _report(kind: str, message: str, code: int, extra: Optional[dict] = None) -> int:
    if _json_mode:
        d = {"ok": False, "error": kind, "message": message}
        d.update(extra or {})
        d["ok"] = False
        typer.echo(json.dumps(d, ensure_ascii=False))
    else:
        typer.echo(f"convex: error: {message}", err=True)
    return code


if __name__ == "__main__":
    main()
