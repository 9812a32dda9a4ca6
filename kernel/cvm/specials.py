"""Values of the special symbols (*address*, *depth*, ...), read from the context."""
from __future__ import annotations

from typing import Any

from kernel.cvm.context import Context
from kernel.data.scalars import Address


def _addr(n: "int | None") -> "Address | None":
    return None if n is None else Address(n)


def _acct(ctx: Context, field: str) -> Any:
    a = ctx.account()
    return None if a is None else getattr(a, field)


_GETTERS = {
    0: lambda ctx, d: ctx.juice,
    1: lambda ctx, d: _addr(ctx.caller),
    2: lambda ctx, d: _addr(ctx.address),
    3: lambda ctx, d: _acct(ctx, "memory"),
    4: lambda ctx, d: _acct(ctx, "balance"),
    5: lambda ctx, d: _addr(ctx.origin),
    6: lambda ctx, d: ctx.result,
    7: lambda ctx, d: ctx.state.timestamp,
    8: lambda ctx, d: d - 1,
    9: lambda ctx, d: ctx.offer,
    10: lambda ctx, d: ctx.state,
    11: lambda ctx, d: _acct(ctx, "holdings"),
    12: lambda ctx, d: _acct(ctx, "sequence"),
    13: lambda ctx, d: _acct(ctx, "key"),
    14: lambda ctx, d: ctx.state.juice_price,
    15: lambda ctx, d: ctx.scope,
    16: lambda ctx, d: ctx.limit,
    17: lambda ctx, d: _acct(ctx, "controller"),
    18: lambda ctx, d: _acct(ctx, "environment"),
    19: lambda ctx, d: _acct(ctx, "parent"),
    20: lambda ctx, d: ctx.result,
    21: lambda ctx, d: ctx.state.memory_price,
    22: lambda ctx, d: None,
    23: lambda ctx, d: None,
    24: lambda ctx, d: None,
}


def value(code: int, ctx: Context, d: int) -> Any:
    return _GETTERS[code](ctx, d)
