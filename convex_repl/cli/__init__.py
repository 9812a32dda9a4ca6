"""The `convex` command: typer commands, one module per command group, and the fast entry point (launch).
Imports everything below it (api, client, peer, repl, testing, kernel, lisp, stdlib); nothing imports the CLI."""
from convex_repl.cli.base import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NOT_FOUND, EXIT_OK,
                                  EXIT_SECRET, EXIT_UNSUPPORTED, EXIT_USAGE, Fail, app, main)
# each command module registers its commands on `app` as it is imported
from convex_repl.cli import session, evaluate, deploy, testing, keys, accounts, peer
from convex_repl.cli.session import repl_main

__all__ = ["app", "main", "repl_main", "Fail", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE",
           "EXIT_NOT_FOUND", "EXIT_UNSUPPORTED", "EXIT_SECRET", "EXIT_INTERRUPTED",
           "session", "evaluate", "deploy", "testing", "keys", "accounts", "peer"]
