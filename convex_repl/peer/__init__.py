"""A Convex peer: state and mempool, CPoS cluster, binary protocol, REST API, store, launcher.

Imports the kernel, lisp, stdlib and convex_repl's public API; usable without the REPL or the CLI.
"""
