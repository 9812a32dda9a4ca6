"""`python -m convex_repl.jupyter -f CONNECTION_FILE [--fork | --url URL]`: the kernel process
that Jupyter starts from the kernel spec."""
from convex_repl.jupyter.kernel import main

if __name__ == "__main__":
    main()
