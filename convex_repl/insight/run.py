"""A traced run: forms evaluated as a query (nothing kept) or as a development-mode
transaction on a state, with a kernel.cvm.trace.Recorder watching, giving the value or
error, the juice (the same as the untraced run: `Session.query` of the same source costs
the same) and the compiled op of each form for the explorer.

The forms run as `Session._run` runs them: each expanded and compiled, then run at depth 1,
so expansion and compilation juice count as they do there."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from kernel.cvm.context import Context
from kernel.cvm.trace import Recorder, tracing
from lisp.expander import expand_compile

from convex_repl.api import DEFAULT_JUICE_LIMIT, Result, execute, read_forms


@dataclass
class Traced:
    """A traced run: `result` as Session.eval gives it, the recorder, the ops compiled
    for each form that ran (in order; the last is the failing one's, None if it did not
    compile) and the state after (the state before for a query)."""

    result: Result
    recorder: Recorder
    roots: list = field(default_factory=list)
    state: Any = None
    smap: Any = None            # coverage.SourceMap when the source's positions are known


def run_traced(state: Any, address: int, source: Any, recorder: Optional[Recorder] = None,
               juice_limit: int = DEFAULT_JUICE_LIMIT, commit: bool = False,
               smap: Any = None) -> Traced:
    """Evaluate source text (or read forms) on `state` as `address`, traced; with `smap`
    (coverage.SourceMap of the source the forms were read from), the compiled ops are
    matched to their positions."""
    rec = recorder or Recorder()
    forms, bad = read_forms(source)
    if bad is not None:
        return Traced(bad, rec, [], state)
    ctx = Context(state, address, juice_limit=juice_limit)
    roots: list = []
    with tracing(rec):
        r = run_forms(ctx, forms, roots, smap)
    return Traced(r, rec, roots, ctx.state if commit and r.ok else state, smap)


def run_tx_traced(state: Any, signed: Any, recorder: Optional[Recorder] = None) -> Traced:
    """Apply one signed transaction to `state` as the network does (checks, fees, memory),
    traced; `result.juice` is its execution juice, as a TxResult's."""
    from kernel.state.transactions import Multi
    from kernel.transition.transaction import apply_signed
    from convex_repl.api import TxResult
    rec = recorder or Recorder()
    with tracing(rec):
        o = apply_signed(state, signed)
    r = TxResult.from_outcome(o, signed, unwrap=type(signed.value) is Multi)
    return Traced(r, rec, [], o.state)


def run_forms(ctx: Context, forms: list, roots: list, smap: Any = None) -> Result:
    """Expand, compile (never from Session's cache: the compiler must be seen) and run each
    form in `ctx`, appending the ops to `roots` (so a failure is in form len(roots) - 1,
    whose op is None if it failed to compile); the Result as Session.eval gives it, the
    state after in `ctx.state`. `smap` (a coverage.SourceMap) learns where each op came from."""
    def ops():
        for i, form in enumerate(forms):
            roots.append(None)          # (a form that fails to compile stays None)
            roots[-1] = _compile(ctx, form, i, smap)
            yield roots[-1]
    return execute(ctx, ops())


def _compile(ctx: Context, form: Any, i: int, smap: Any) -> Any:
    if smap is None:
        return expand_compile(ctx, form, 0)
    from lisp import compiler
    compiler.FORM_SINK = sink = []
    try:
        return expand_compile(ctx, form, 0)
    finally:
        compiler.FORM_SINK = None
        smap.add(i, sink)


__all__ = ["Traced", "run_traced", "run_tx_traced", "run_forms"]
