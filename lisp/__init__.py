"""Convex Lisp: the reader (text to values), the expander and the on-chain compiler (values to ops).
Imports the kernel; the kernel reaches the compiler only through kernel.cvm.lang. `print_value`
and `display` are the kernel's printer (kernel.data.printer), offered here with `read`."""
from lisp.reader import IncompleteInput, Positions, ReaderError, read, read_all, read_positioned
from kernel.data.printer import display, print_value

__all__ = ["read", "read_all", "read_positioned", "Positions", "print_value", "display",
           "ReaderError", "IncompleteInput"]
