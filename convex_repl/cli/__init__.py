"""The `convex` command: typer commands, one module per command group, and the fast entry point (launch).
Imports everything below it (api, client, peer, repl, testing, kernel, lisp, stdlib); nothing imports the CLI."""

__all__ = ["app", "main", "repl_main", "Fail", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE",
           "EXIT_NOT_FOUND", "EXIT_UNSUPPORTED", "EXIT_SECRET", "EXIT_INTERRUPTED"]


def __getattr__(name: str):
    """Importing this package stays cheap, so that a bare `convex` (launch.py) brings the REPL
    up without typer; the command modules load, and register on `app`, the first time one of
    the names above is asked for."""
    if name not in __all__:
        raise AttributeError(f"module 'convex_repl.cli' has no attribute '{name}'")
    import importlib
    for module in ("evaluate", "deploy", "testing", "keys", "accounts", "peer", "peer_ops",
                   "trace", "editor", "history"):
        importlib.import_module(f"convex_repl.cli.{module}")     # they register on `app`
    from convex_repl.cli import base, session
    value = session.repl_main if name == "repl_main" else getattr(base, name)
    globals()[name] = value
    return value
