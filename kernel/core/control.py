"""Control flow core functions: non-local exits (recur, tailcall*, return, halt, rollback)
and raising errors (fail). Each raises the matching exceptional; `context.invoke` and the
op boundaries decide where it stops."""
from __future__ import annotations

from typing import Any

from kernel.cvm import juice as J
from kernel.cvm.errors import (ARGUMENT, ASSERT, ErrorValue, Halt, Recur, Return, Rollback,
                               TailCall, arg_cast_error, error)
from kernel.cvm.fn import is_fn
from kernel.cvm.registry import core


@core("recur", 196, doc={
    "description": "Restarts the innermost loop or function with new values for its bindings. "
                   "Only valid in tail position of a loop or fn body.",
    "signature": ["[& args]"],
    "examples": [{"code": "(loop [i 0] (if (< i 3) (recur (inc i)) i))", "result": "3"}],
    "errors": {"ARITY": "if the number of values differs from the loop's bindings"}})
def _recur(ctx, args: list, d: int) -> Any:
    ctx.charge(J.RECUR)
    raise Recur(args)


@core("tailcall*", 197, arity=(1, None), doc={
    "description": "Calls a function in tail position without growing the call depth; "
                   "usually written as (tailcall (f args...)).",
    "signature": ["[f & args]"],
    "examples": [{"code": "(do (defn count-down [n] (if (> n 0) (tailcall (count-down (dec n))) :done)) (count-down 100))", "result": ":done"}],
    "errors": {"CAST": "if f is not a function"}})
def _tailcall(ctx, args: list, d: int) -> Any:
    f = args[0]
    if not is_fn(f) and not _callable_data(f):
        raise arg_cast_error(0, f, "Function")
    ctx.charge(J.RECUR)
    raise TailCall(f, args[1:])


def _callable_data(f: Any) -> bool:
    from kernel.cvm.context import data_fn_for
    return data_fn_for(f) is not None


@core("rollback", 208, arity=1, doc={
    "description": "Ends the current transaction or actor call, undoing its state changes, "
                   "and returns the given value.",
    "signature": ["[value]"],
    "examples": [{"code": "(do (def a 1) (rollback :undone))", "result": ":undone"}]})
def _rollback(ctx, args: list, d: int) -> Any:
    ctx.charge(J.RETURN)
    raise Rollback(args[0])


@core("halt", 209, arity=(0, 1), doc={
    "description": "Ends the current transaction or actor call successfully, keeping state "
                   "changes, with the given value (or nil).",
    "signature": ["[]", "[value]"],
    "examples": [{"code": "(do (halt 1) 2)", "result": "1"}]})
def _halt(ctx, args: list, d: int) -> Any:
    ctx.charge(J.RETURN)
    raise Halt(args[0] if args else None)


@core("return", 210, arity=1, doc={
    "description": "Returns a value from the enclosing function immediately.",
    "signature": ["[value]"],
    "examples": [{"code": "((fn [] (return 1) 2))", "result": "1"}]})
def _return(ctx, args: list, d: int) -> Any:
    ctx.charge(J.RETURN)
    raise Return(args[0])


@core("fail", 211, arity=(0, 2), doc={
    "description": "Raises an error. With no arguments the code is :ASSERT; with one it is "
                   "the message; with two, an error code and a message.",
    "signature": ["[]", "[message]", "[code message]"],
    "examples": [{"code": "(fail :STATE \"not ready\")"}],
    "errors": {"ASSERT": "by default",
               "ARGUMENT": "if an error code is given but is nil"}})
def _fail(ctx, args: list, d: int) -> Any:
    ctx.charge(J.RETURN)
    if not args:
        raise error(ASSERT)
    if len(args) == 1:
        raise ErrorValue(ASSERT, args[0])
    code = args[0]
    if code is None:        # as the reference: an explicit error code cannot be nil
        raise error(ARGUMENT, "Error code cannot be nil")
    raise ErrorValue(code, args[1])
