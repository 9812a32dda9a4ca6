"""The `convex` command line. Every command goes through the public Python API."""
from __future__ import annotations

from typing import Optional

import typer

from . import __version__

app = typer.Typer(
    name="convex",
    help="Convex Lisp toolchain: a local CVM, a REPL, and commands to evaluate, deploy and test.",
    add_completion=False,
    no_args_is_help=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"convex-repl {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Optional[bool] = typer.Option(
        None, "--version", "-V", callback=_version, is_eager=True,
        help="Show the version and exit."),
) -> None:
    """Start the REPL when no command is given."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
