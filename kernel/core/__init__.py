"""The convex.core runtime: every core function, registered by name and reference code.
Imports kernel.data, kernel.state and kernel.cvm; the compiler only through kernel.cvm.lang.

Importing this package loads all groups of core functions into `registry.CORE`, in this
order (genesis builds the core environment from it). arithmetic and actors register nothing:
they hold what numeric and accounts compute with.
"""
from kernel.cvm.registry import CORE, BY_CODE, DOCS, core  # noqa: F401
from kernel.core import (control, arithmetic, numeric, collections, sequences, strings, predicates,
                         actors, accounts, peers, meta)

__all__ = ["CORE", "BY_CODE", "DOCS", "core", "control", "arithmetic", "numeric", "collections",
           "sequences", "strings", "predicates", "actors", "accounts", "peers", "meta"]
