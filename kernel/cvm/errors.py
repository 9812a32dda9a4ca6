"""Exceptional CVM results, carried by Python exceptions.

The reference returns exceptional values through its Context; here they are raised, which
keeps the interpreter readable and costs nothing on the normal path. Every exception a CVM
program can observe derives from `Exceptional`; only `ErrorValue` can be caught by `try`.
"""
from __future__ import annotations

from typing import Any

from kernel.data.scalars import Keyword


class Exceptional(Exception):
    """Any non-normal CVM result: errors and non-local exits."""

    code: Any = None
    catchable = False


class ErrorValue(Exceptional):
    """A CVM error: a code (usually a keyword such as :CAST), a message and a trace."""

    catchable = True

    def __init__(self, code: Any, message: Any = None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.trace: list[str] = []
        self.address = None
        self.log = None

    def add_trace(self, line: str) -> "ErrorValue":
        if len(self.trace) < 64:
            self.trace.append(line)
        return self

    def __str__(self) -> str:
        from kernel.data.printer import print_brief

        from kernel.data.blobs import String
        from kernel.data.scalars import Char

        code = print_brief(self.code)      # any value can be an error code, however large
        m = self.message
        if m is None:
            return code
        t = type(m)
        return f"{code} {m.text if t is String else chr(m.cp) if t is Char else print_brief(m)}"


class Failure(ErrorValue):
    """An uncatchable error (e.g. running out of juice)."""

    catchable = False


class Recur(Exceptional):
    def __init__(self, args: list):
        self.args_ = args


class TailCall(Exceptional):
    def __init__(self, fn: Any, args: list):
        self.fn = fn
        self.args_ = args


class ValueExit(Exceptional):
    """Base of the exits that carry a value: return, halt, rollback, reduced."""

    def __init__(self, value: Any):
        self.value = value


class Return(ValueExit):
    code = Keyword("RETURN")


class Halt(ValueExit):
    code = Keyword("HALT")


class Rollback(ValueExit):
    code = Keyword("ROLLBACK")


class Reduced(ValueExit):
    code = Keyword("REDUCED")


def _k(name: str) -> Keyword:
    return Keyword(name)


# Error codes (CAD011)
ARGUMENT, ARITY, ASSERT, BOUNDS, CAST, COMPILE, DEPTH, EXCEPTION, EXPAND, FUNDS, JUICE, MEMORY, \
    NOBODY, SEQUENCE, STATE, SYNTAX, TODO, TRUST, UNDECLARED, UNEXPECTED, SIGNATURE, LOAD, \
    FATAL = map(_k, (
        "ARGUMENT", "ARITY", "ASSERT", "BOUNDS", "CAST", "COMPILE", "DEPTH", "EXCEPTION",
        "EXPAND", "FUNDS", "JUICE", "MEMORY", "NOBODY", "SEQUENCE", "STATE", "SYNTAX", "TODO",
        "TRUST", "UNDECLARED", "UNEXPECTED", "SIGNATURE", "LOAD", "FATAL"))


def error(code: Keyword, message: "str | None" = None) -> ErrorValue:
    from kernel.data.blobs import String

    return ErrorValue(code, None if message is None else String.of(message))


def juice_failure() -> Failure:
    from kernel.data.blobs import String

    return Failure(JUICE, String.of("Out of juice"))


def arity_error(message: str) -> ErrorValue:
    return error(ARITY, message)


def exact_arity(n: int, got: int) -> ErrorValue:
    return error(ARITY, f"Expected {n} argument(s) but got {got}")


def min_arity(n: int, got: int) -> ErrorValue:
    return error(ARITY, f"Expected at least {n} argument(s) but got {got}")


def range_arity(lo: int, hi: int, got: int) -> ErrorValue:
    return error(ARITY, f"Expected between {lo} and {hi} arguments but got {got}")


def cast_error(message: str) -> ErrorValue:
    return error(CAST, message)


def arg_cast_error(i: int, value: Any, type_name: str) -> ErrorValue:
    from kernel.cvm.types import type_name as tn

    return error(CAST, f"Can't convert argument at position {i + 1} (with type {tn(value)}) "
                       f"to type {type_name}")
