"""`python -m convex_repl` is the `convex` command."""
from convex_repl.cli.launch import main

main()
