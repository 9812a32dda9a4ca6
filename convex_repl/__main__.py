"""`python -m convex_repl` is the `convex` command."""
from .launch import main

main()
