"""Convex Lisp libraries loaded at genesis (shipped as package data) and the genesis state.
Imports the kernel and lisp (genesis compiles the libraries); nothing below imports stdlib."""
from importlib.resources import files


def source(name: str) -> str:
    """The text of a library file, e.g. source("core.cvx")."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")
