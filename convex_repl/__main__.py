"""`python -m convex_repl` is the `convex` command."""
from convex_repl.launch import main

main()
