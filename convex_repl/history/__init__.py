"""State over time: forks of a peer's state (fetched cell by cell by value ID, cached on disk), replaying and checking a block log, bisecting two diverging logs, state files (dump, load, diff).
Imports convex_repl's api, client, peer (the store), insight (traced replays), repl (the local workspace a fork is) and the kernel, lisp, stdlib; never cli."""
