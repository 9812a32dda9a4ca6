"""Convex Lisp text: the reader (text to CVM values) and the printer (values to text)."""
from .reader import IncompleteInput, ReaderError, read, read_all
from .printer import display, print_value

__all__ = ["read", "read_all", "print_value", "display", "ReaderError", "IncompleteInput"]
