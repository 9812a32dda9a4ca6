"""Seeing inside execution: traced runs (call trees with juice), the op-tree explorer, the step debugger, coverage and juice reports.
Imports convex_repl's public API (api), kernel (kernel.cvm.trace does the instrumenting), lisp and stdlib; never repl, testing, cli or peer."""
