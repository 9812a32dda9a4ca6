"""convex-repl: the user's side of the toolchain (REPL, CLI, keys, peers, clients)."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("convex-repl")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+source"
