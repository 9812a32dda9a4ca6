"""convex-repl, the user's side: the public Session API (api), home, the Pygments lexer, and the
client, peer, repl, testing and cli packages; api imports only kernel, lisp and stdlib."""


def __getattr__(name: str):
    # The version is looked up on first use: importlib.metadata costs ~40 ms at start-up.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version
        try:
            v = version("convex-repl")
        except PackageNotFoundError:  # running from a source tree without installing
            v = "0.0.0+source"
        globals()["__version__"] = v
        return v
    raise AttributeError(name)
