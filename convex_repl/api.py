"""The public Python API: one Session serves the REPL, the CLI, scripts and tests.

    from convex_repl.api import Session
    s = Session()               # fresh local CVM at the genesis state, as a funded user
    r = s.eval("(+ 1 2)")       # all forms, in order, as ONE atomic transaction
    r.value, r.printed, r.error, r.message, r.juice
    s.fork()                    # an independent copy
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Optional

from kernel.context import Context, exit_error
from kernel.errors import ErrorValue, Exceptional, Halt, Return, Rollback
from kernel.scalars import Keyword
from kernel.state import State
from lisp import ReaderError, read_all
from lisp.expander import eval_form
from lisp.printer import display, print_value

DEFAULT_JUICE_LIMIT = 10_000_000
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))


@dataclass
class Result:
    """Outcome of one evaluation."""

    value: Any = None
    error: Optional[str] = None          # error code without colon, e.g. "CAST"
    message: Optional[str] = None        # printed error message
    juice: int = 0
    trace: list = field(default_factory=list)
    error_value: Any = None              # the CVM error code value itself

    @property
    def printed(self) -> Optional[str]:
        return None if self.error is not None else print_value(self.value)

    @property
    def ok(self) -> bool:
        return self.error is None


class Session:
    """A local CVM: a state, the account acting, and transaction-at-a-time evaluation."""

    def __init__(self, state: Optional[State] = None, address: Optional[int] = None,
                 juice_limit: int = DEFAULT_JUICE_LIMIT):
        from stdlib.genesis import FIRST_USER, genesis_state

        self.state = genesis_state() if state is None else state
        self.address = FIRST_USER if address is None else address
        self.juice_limit = juice_limit

    def fork(self) -> "Session":
        return Session(self.state, self.address, self.juice_limit)

    def eval(self, source: str) -> Result:
        """Read and evaluate every form of `source` as one atomic transaction."""
        try:
            forms = read_all(source)
        except ReaderError as e:
            return Result(error="SYNTAX", message=str(e), error_value=Keyword("SYNTAX"))
        return self.eval_forms(forms)

    def eval_forms(self, forms: list) -> Result:
        ctx = Context(self.state, self.address, juice_limit=self.juice_limit)
        try:
            value = None
            try:
                for form in forms:
                    value = eval_form(ctx, form)
                    ctx.result = value
            except (Halt, Return) as h:
                value = h.value
            except Rollback as r:
                return Result(value=r.value, juice=ctx.juice)
            except ErrorValue:
                raise
            except Exceptional as x:
                raise exit_error(x) from None
        except ErrorValue as e:
            return _error_result(e, ctx.juice)
        except RecursionError:
            return Result(error="DEPTH", message="Python recursion limit reached",
                          juice=ctx.juice, error_value=Keyword("DEPTH"))
        except MemoryError:
            return Result(error="MEMORY", message="out of memory", juice=ctx.juice,
                          error_value=Keyword("MEMORY"))
        except Exception as e:  # an interpreter bug must not escape as a Python exception
            return Result(error="UNEXPECTED", message=f"internal error: {type(e).__name__}: {e}",
                          juice=ctx.juice, error_value=Keyword("UNEXPECTED"))
        self.state = ctx.state
        return Result(value=value, juice=ctx.juice)


def _error_result(e: ErrorValue, juice: int) -> Result:
    code = e.code
    name = code.name if type(code) is Keyword else print_value(code)
    msg = None if e.message is None else display(e.message)
    trace = [t if isinstance(t, str) else f"In expression: {print_value(t)}" for t in e.trace]
    return Result(error=name, message=msg, juice=juice, trace=trace, error_value=code)


__all__ = ["Session", "Result"]
