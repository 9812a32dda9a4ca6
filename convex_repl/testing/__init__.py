"""`convex test`: finding, running and reporting Convex Lisp `deftest` files.

Imports convex_repl's public API (api), lisp and stdlib only.
"""
