"""A peer's configuration file (`convex peer start --config peer.toml`): every option of the
command line as a TOML key of the same name (without `--`); what the command line gives wins.

    host = "0.0.0.0"
    protocol-port = 18888
    data = "peer-data"              # relative paths are relative to the file
    peer = ["10.0.0.2:18888"]
    log-format = "json"
    [limit]
    connections = 128

Mistakes are errors naming the file, the line and the key (an unknown key, a value of the
wrong type or outside its choices), raised as ConfigError with one line of text: a file
that says something the peer would silently ignore is worse than no file.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Optional

from convex_repl.peer.store import Store

# key -> its kind: "str", "int", "bool", "path", "list" (of strings), "limit" (a table, or a
# list of "NAME=VALUE"), or a tuple of the allowed strings
OPTIONS: dict = {
    "host": "str", "port": "int", "data": "path", "no-faucet": "bool", "faucet-max": "int",
    "json": "bool", "verbose": "bool", "cluster": "int", "index": "int",
    "protocol-port": "int", "peer": "list", "outgoing": "int", "limit": "limit",
    "join": "str", "key": "str", "advertise": "str",
    "log-format": ("text", "json"), "log-level": ("debug", "info", "warning", "error"),
    "keep-states": "int", "sync": Store.SYNC,
}


class ConfigError(ValueError):
    """A configuration file that can't be used, with where and why."""


def _toml() -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
        return tomllib
    import tomli                        # the same parser, before Python 3.11
    return tomli


def load(path: Path, limit_names: Any = None) -> dict:
    """The options `path` sets, by parameter name (`protocol_port`), checked and converted
    (paths resolved against the file's directory, limits as "NAME=VALUE" strings, their
    names among `limit_names` when given)."""
    toml = _toml()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: can't read the configuration file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        doc = toml.loads(text)
    except toml.TOMLDecodeError as e:
        raise ConfigError(f"{path}:{_position(str(e))} {_reason(str(e))}") from None
    out: dict = {}
    for key, value in doc.items():
        where = f"{path}:{_line_of(text, key)}"
        kind = OPTIONS.get(key.replace("_", "-"))
        if kind is None:
            raise ConfigError(f"{where}: unknown key {key!r} (the keys are the options of "
                              f"`convex peer start`: {', '.join(OPTIONS)})")
        name = key.replace("-", "_")
        out[name] = _value(kind, value, key, where, Path(path).resolve().parent, text)
    for item in out.get("limit") or ():
        lname, _, amount = item.partition("=")
        line = _line_of(text, lname, "limit")
        lwhere = f"{path}:{line if line != '?' else _line_of(text, 'limit')}"
        if limit_names is not None and lname not in limit_names:
            raise ConfigError(f"{lwhere}: limit.{lname}: unknown limit (one of "
                              f"{', '.join(limit_names)})")
        try:
            ok = float(amount.replace("_", "")) > 0
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(f"{lwhere}: limit.{lname}: expected a positive number, not "
                              f"{amount}")
    return out


def _value(kind: Any, v: Any, key: str, where: str, base: Path, text: str) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{where}: {key}: expected {expected}, not {_show(v)}")
    if isinstance(kind, tuple):
        if v not in kind:
            raise bad(" or ".join(repr(k) for k in kind))
        return v
    if kind == "bool":
        if not isinstance(v, bool):
            raise bad("true or false")
        return v
    if kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise bad("an integer")
        if v < 0:
            raise bad("an integer of 0 or more")
        return v
    if kind in ("str", "path"):
        if not isinstance(v, str) or not v:
            raise bad("a string")
        return base / Path(v).expanduser() if kind == "path" else v
    if kind == "list":
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list) or not all(isinstance(x, str) and x for x in items):
            raise bad('a list of strings like ["HOST:PORT"]')
        return list(items)
    # limit: a table {name = value} or a list of "NAME=VALUE"
    if isinstance(v, dict):
        out = []
        for name, x in v.items():
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise ConfigError(f"{path_of(where)}:{_line_of(text, name, 'limit')}: "
                                  f"limit.{name}: expected a number, not {_show(x)}")
            out.append(f"{name}={x}")
        return out
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return list(v)
    raise bad('a table [limit] of NAME = VALUE (or a list of "NAME=VALUE")')


def path_of(where: str) -> str:
    return where.rsplit(":", 1)[0]


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, (dict, list)):
        return "a table" if isinstance(v, dict) else "a list"
    return str(v)


def _line_of(text: str, key: str, table: Optional[str] = None) -> str:
    """The line (1-based, as text) where `key` is set at the top level or in [table]; "?"
    when it can't be found (a dotted or quoted-in-a-strange-way key)."""
    current = None
    pattern = re.compile(r'\s*(?:"' + re.escape(key) + r'"|\'' + re.escape(key) + r"'|"
                         + re.escape(key) + r")\s*=")
    for i, line in enumerate(text.splitlines(), 1):
        head = re.match(r"\s*\[\s*([^\]]+?)\s*\]", line)
        if head:
            current = head.group(1).strip('"\'')
            continue
        if current == table and pattern.match(line):
            return str(i)
    if table is None:                  # a table header: [limit]
        for i, line in enumerate(text.splitlines(), 1):
            if re.match(r"\s*\[\s*" + re.escape(key) + r"\s*\]", line):
                return str(i)
    return "?"


def _position(message: str) -> str:
    m = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if m:
        return f"{m.group(1)}:{m.group(2)}:"
    m = re.search(r"\(at end of document\)", message)
    return "end:" if m else ""


def _reason(message: str) -> str:
    return re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)


__all__ = ["ConfigError", "OPTIONS", "load"]
