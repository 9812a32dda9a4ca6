"""The machine: ops, the execution context, juice, memory accounting, functions, errors and the JIT.

Imports kernel.data and kernel.state; core functions (kernel.core) and the compiler (lisp) plug in from above.
"""
