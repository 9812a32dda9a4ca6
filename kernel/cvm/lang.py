"""The CVM's door to its compiler. `eval`, `deploy`, `eval-as`, `query-as` and transactions that
carry a form run the on-chain expander and compiler, which live a layer above (lisp): lisp
installs its `eval_form` here when its expander is imported, so the kernel never imports lisp
and data flows one way (reader -> expander -> compiler -> ops -> context/state).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

_eval_form: Optional[Callable] = None


def install(eval_form: Callable) -> None:
    """Called once by lisp.expander: expand, compile and run a form in a context."""
    global _eval_form
    _eval_form = eval_form


def eval_form(ctx: Any, form: Any, d: int = 0) -> Any:
    """Expand, compile and run `form` in `ctx` with the installed compiler."""
    if _eval_form is None:
        raise RuntimeError("no Convex Lisp compiler installed: import lisp.expander first")
    return _eval_form(ctx, form, d)
