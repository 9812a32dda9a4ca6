"""The convex.core runtime: every core function, registered by name and reference code.

Importing this package loads all groups of core functions into `registry.CORE`.
"""
from kernel.cvm.registry import CORE, BY_CODE, DOCS, core  # noqa: F401
from kernel.core import control, numeric, collections, strings, predicates, accounts, peers, meta  # noqa: F401,E402
