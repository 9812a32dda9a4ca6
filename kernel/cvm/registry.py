"""Registration of core functions.

`@core(name, code, arity=..., doc=...)` turns a Python function `impl(ctx, args, d)` into a
CoreFn: `code` is the reference's core definition number (its encoding is 0xed + VLQ code, so
ops that embed core functions hash the same as in the reference); `arity` is an exact count,
`(min, None)` for variadic or `(min, max)`; the wrapper raises the reference's :ARITY errors.
`doc` is a dict with "description", "signature" (list of parameter vectors as source text),
"examples" (list of {"code": ..., "result": ...}) and "errors" ({"CAST": "when ..."}), in
our own words; genesis turns it into the definition's :doc metadata.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

from kernel.cvm.errors import exact_arity, min_arity, range_arity
from kernel.cvm.fn import CoreFn

CORE: dict[str, CoreFn] = {}
BY_CODE: dict[int, CoreFn] = {}
DOCS: dict[str, dict] = {}

Arity = Union[None, int, tuple]


def _checked(impl: Callable, arity: Arity) -> Callable:
    if arity is None:
        return impl
    if isinstance(arity, int):
        n = arity

        def exact(ctx, args, d):
            if len(args) != n:
                raise exact_arity(n, len(args))
            return impl(ctx, args, d)
        return exact
    lo, hi = arity
    if hi is None:
        def at_least(ctx, args, d):
            if len(args) < lo:
                raise min_arity(lo, len(args))
            return impl(ctx, args, d)
        return at_least

    def between(ctx, args, d):
        if not lo <= len(args) <= hi:
            raise range_arity(lo, hi, len(args))
        return impl(ctx, args, d)
    return between


def core(name: str, code: int, arity: Arity = None, doc: Optional[dict] = None) -> Callable:
    def register(impl: Callable[[Any, list, int], Any]) -> CoreFn:
        if name in CORE:
            raise ValueError(f"duplicate core function {name}")
        if code in BY_CODE:
            raise ValueError(f"duplicate core code {code} ({name}, {BY_CODE[code].name})")
        f = CoreFn(name, code, _checked(impl, arity))
        CORE[name] = BY_CODE[code] = f
        if doc:
            DOCS[name] = doc
        return f
    return register


def doc_of(description: str, signature: list, examples: list, errors: Optional[dict] = None) -> dict:
    """The documentation map of a core function (its :doc metadata)."""
    d = {"description": description, "signature": signature,
         "examples": [{"code": c, "result": r} for c, r in examples]}
    if errors:
        d["errors"] = errors
    return d
