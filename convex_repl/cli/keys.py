"""`convex key ...`: Ed25519 keys in the encrypted keystore of the convex directory
(generate, list, import, export), and the keystore password, never prompted for when not
interactive."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from convex_repl.cli.base import EXIT_SECRET, EXIT_USAGE, HOME, JSON, Fail, _emit, _home, app

key_app = typer.Typer(help="Ed25519 keys: generate, list, import, export (encrypted keystore).",
                      no_args_is_help=True)
app.add_typer(key_app, name="key")

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
