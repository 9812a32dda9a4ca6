"""Convex Lisp in notebooks: the Jupyter kernel (on ipykernel), its kernel spec, and notebooks made from the lessons.
Imports the REPL (a notebook is a REPL session), editor (docs for inspection) and convex_repl's home; only the CLI imports it."""
