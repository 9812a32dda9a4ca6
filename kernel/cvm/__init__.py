"""The machine: ops, the execution context, juice, memory accounting, functions, errors and the JIT.

Imports kernel.data and kernel.state; core functions (kernel.core) and the compiler (lisp) plug in from above.
"""
from kernel.cvm import printing  # noqa: F401,E402  (ops and functions print as Lisp)
