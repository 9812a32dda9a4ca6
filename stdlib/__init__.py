"""Convex Lisp libraries loaded at genesis (shipped as package data)."""
from importlib.resources import files


def source(name: str) -> str:
    """The text of a library file, e.g. source("core.cvx")."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")
