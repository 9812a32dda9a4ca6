"""`convex test`: finding, running and reporting test files (deftest, defprop with the gen library and shrinking, definvariant), fixtures and test-only cheatcodes, JUnit XML and parallel files; juice reports, snapshots, coverage.
Imports convex_repl's public API (api), insight (tracing and coverage), kernel, lisp and stdlib only.
"""
