"""`convex test`: finding, running and reporting Convex Lisp `deftest` files, with juice reports, snapshots and coverage.
Imports convex_repl's public API (api), insight (tracing and coverage), kernel, lisp and stdlib only.
"""
