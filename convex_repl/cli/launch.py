"""The `convex` entry point. A bare `convex` (or `convex repl`, with only REPL flags) on a
terminal starts the REPL without importing the command-line machinery (typer) or the kernel
before the prompt is up: start-up time is the REPL's first impression. With piped input and
the local CVM it runs the plain REPL, also without typer. Everything else goes to
`convex_repl.cli.main`."""
from __future__ import annotations

import os
import sys

_FLAGS = ("--fresh", "--no-save", "--vi", "--no-color")


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["repl"]:
        args = args[1:]
    if all(a in _FLAGS for a in args):
        if sys.stdin.isatty() and sys.stdout.isatty():
            sys.exit(repl_fast("--fresh" in args, "--no-save" in args, "--vi" in args,
                               "--no-color" in args))
        if not sys.stdin.isatty() and not (os.environ.get("CONVEX_URL")
                                           or os.environ.get("CONVEX_PROFILE")):
            sys.exit(plain_fast("--fresh" in args, "--no-save" in args))
    from convex_repl.cli import main as cli_main
    cli_main()


def plain_fast(fresh: bool, no_save: bool) -> int:
    """Piped input to the local CVM (no peer named by CONVEX_URL or CONVEX_PROFILE), as
    `convex repl` runs it, without typer (~0.1 s of imports before the first result)."""
    from convex_repl.home import convex_home
    try:
        home = convex_home()
    except OSError as e:
        print(f"convex: error: can't use the convex directory: {e}", file=sys.stderr)
        return 3
    from convex_repl.repl.plain import run_plain
    from convex_repl.repl.workspace import Workspace
    ws = Workspace(home, fresh=fresh, save=not no_save)
    for w in ws.warnings:
        print(f"convex: warning: {w}", file=sys.stderr)
    return run_plain(ws, color=False)


def repl_fast(fresh: bool, no_save: bool, vi: bool, no_color: bool) -> int:
    from convex_repl.repl import run_repl
    from convex_repl.home import convex_home, peek_address
    try:
        home = convex_home()
    except OSError as e:
        print(f"convex: error: can't use the convex directory: {e}", file=sys.stderr)
        return 3

    def make():
        from convex_repl.repl.workspace import Workspace
        return Workspace(home, fresh=fresh, save=not no_save)

    color = not no_color and "NO_COLOR" not in os.environ
    vi = vi or os.environ.get("CONVEX_EDITING_MODE", "").lower() == "vi"
    return run_repl(make, vi=vi, color=color, home=home, address=peek_address(home, fresh))


if __name__ == "__main__":
    main()
