"""Which modules are compiled ahead of time (setup.py builds them with Cython), and the import
hook that uses a compiled module only while it is current.

Python prefers an extension module to the `.py` beside it, so after an edit the old build
would run silently. The hook (installed by `kernel` and `convex_repl` before anything else
imports these modules) loads the source instead when the `.py` is newer than the build, or
when CONVEX_PURE_PYTHON=1 (the pure-Python fallback, e.g. to compare the two or debug with
Python tools); reinstalling (`pip install -e .`) builds them again. Only the standard
library is imported here: setup.py reads COMPILED before anything is installed.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from typing import Any, Optional

# The state transition's and the peer's hot path (issue 16): values and their encoding,
# records, transactions, block application, memory accounting, the peer's producer. The
# CVM's interpreter and the JIT's generated code stay Python.
COMPILED = (
    "kernel.data.cell", "kernel.data.scalars", "kernel.data.blobs", "kernel.data.vectors",
    "kernel.data.hashmaps", "kernel.data.records", "kernel.state.state",
    "kernel.state.transactions", "kernel.cvm.memory", "kernel.transition.block",
    "kernel.transition.overlay", "kernel.transition.transaction", "convex_repl.peer.peer",
    "convex_repl.peer.side_checks", "convex_repl.peer.tickets",
)
_NAMES = frozenset(COMPILED)
_EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def pure_python() -> bool:
    return bool(os.environ.get("CONVEX_PURE_PYTHON"))


def source_instead(built: str, source: str) -> bool:
    """True when the module at `source` must be loaded rather than its build at `built`:
    pure Python asked for, or the source edited since the build."""
    if pure_python():
        return True
    try:
        return os.path.getmtime(source) > os.path.getmtime(built)
    except OSError:
        return False


class _CurrentBuildFinder:
    """A meta path finder for COMPILED only: the usual spec, unless that is a build that
    `source_instead` rejects, then the source's."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> Optional[Any]:
        if name not in _NAMES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        origin = spec.origin if spec is not None else None
        if origin is None or not origin.endswith(_EXTENSIONS):
            return spec
        source = os.path.join(os.path.dirname(origin), name.rpartition(".")[2] + ".py")
        if os.path.exists(source) and source_instead(origin, source):
            return importlib.util.spec_from_file_location(name, source)
        return spec


def install() -> None:
    """Put the hook first on sys.meta_path (once)."""
    if not any(f is _CurrentBuildFinder for f in sys.meta_path):
        sys.meta_path.insert(0, _CurrentBuildFinder)


def loaded() -> dict:
    """{module name: True if it runs compiled} for the COMPILED modules imported so far."""
    return {n: sys.modules[n].__file__.endswith(_EXTENSIONS) for n in COMPILED
            if n in sys.modules}


__all__ = ["COMPILED", "install", "loaded", "pure_python", "source_instead"]
