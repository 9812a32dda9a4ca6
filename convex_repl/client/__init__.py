"""Talking to a peer from outside: the REST client, remote sessions and the encrypted keystore.

Imports the kernel, lisp and convex_repl's public API (api, home); never the REPL, CLI or peer.
"""
