"""Convex Lisp in editors: the formatter, the analysis of a file (diagnostics, definitions, docs, juice) and the language server.
Imports convex_repl's api, repl (completion, rendering), testing, kernel, lisp and stdlib; the CLI and jupyter import it, nothing below."""
