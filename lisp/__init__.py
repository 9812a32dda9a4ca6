"""Convex Lisp text: the reader (text to CVM values) and the printer (values to text)."""
from lisp.reader import IncompleteInput, ReaderError, read, read_all
from kernel.data.printer import display, print_value

__all__ = ["read", "read_all", "print_value", "display", "ReaderError", "IncompleteInput"]
