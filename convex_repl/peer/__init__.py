"""A Convex peer: state and mempool, CPoS cluster, binary protocol, REST server, store, launcher.

Imports the kernel, stdlib and convex_repl's public API; usable without the REPL or the CLI.
"""
