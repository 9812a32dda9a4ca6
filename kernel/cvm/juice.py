"""Juice costs: the one table of what every CVM operation charges (CAD007).

Values follow the reference implementation so that juice totals agree to the unit.
"""
from __future__ import annotations

TRANSACTION = 500           # base cost of any top-level transaction
TRANSACTION_PER_BYTE = 20   # per byte of storage size of a signed transaction
SUB_TRANSACTION = 100

CONSTANT = 5                # Constant op
DEF = 100                   # Def op
LOOKUP = 15                 # Local op (lexical lookup)
LOOKUP_DYNAMIC = 40         # Lookup op (environment lookup)
DO = 5
TRY = 50
LET = 30
COND_OP = 20
LAMBDA = 100
CALL_OP = 100
BUILD_DATA = 50
BUILD_PER_ELEMENT = 50
BUILD_PER_BYTE = 1
MAP = 100
REDUCE = 100
EQUALS = 20
NUMERIC_COMPARE = 10
APPLY = 50
HASH = 1000
HASH_PER_BYTE = 20
CHEAP_OP = 10
SIMPLE_FN = 20
STR = SIMPLE_FN
ARITHMETIC = SIMPLE_FN
ADDRESS = 20
BALANCE = 50
BLOB = 20
GET = 30
KEYWORD = 20
SYMBOL = 20
TRANSFER = 200
RECUR = 30
DEPLOY_CONTRACT = 1000
EVAL = 500
COMPILE_CONSTANT = 30
COMPILE_LOOKUP = 50
COMPILE_NODE = 200
EXPAND_CONSTANT = 40
EXPAND_SEQUENCE = 100
SCHEDULE = 800
SCHEDULE_MILLIS_PER_JUICE_UNIT = 360000
RETURN = 20
ACCEPT = TRANSFER
SYNTAX = SIMPLE_FN
META = CHEAP_OP
ASSOC = BUILD_DATA + BUILD_PER_ELEMENT * 2
SET_COMPARE_PER_ELEMENT = 10
CREATE_ACCOUNT = 100
QUERY = CHEAP_OP
LOG = 1000
SPECIAL = CHEAP_OP
SET_BANG = 20
PEER_UPDATE = 1000
MIN_NUMERIC_COST = 8
MEMORY_TRADE = 200

LONG_MAX = (1 << 63) - 1


def sat_add(a: int, b: int) -> int:
    """Saturating add: never exceeds the largest long."""
    if a < 0 or b < 0:
        return LONG_MAX
    return min(a + b, LONG_MAX)


def sat_mul(a: int, b: int) -> int:
    if a < 0 or b < 0:
        return LONG_MAX
    return min(a * b, LONG_MAX)


def add_mul(a: int, b: int, c: int) -> int:
    return sat_add(a, sat_mul(b, c))


# Elements a core function may copy within its fixed cost: one vector chunk. Past that, work
# that copies a structure (apply spreading its arguments, cons or next rebuilding a sequence)
# pays per element as building one does, so no call does far more work than it is charged.
COPY_FREE = 16


def copy_cost(n: int) -> int:
    """Juice for copying n elements, beyond the COPY_FREE a fixed cost covers."""
    return sat_mul(BUILD_PER_ELEMENT, n - COPY_FREE) if n > COPY_FREE else 0


def build_data_cost(n: int) -> int:
    return add_mul(BUILD_DATA, BUILD_PER_ELEMENT, n)


def build_string_cost(n: int) -> int:
    return add_mul(STR, BUILD_PER_BYTE, n)


def build_blob_cost(n: int) -> int:
    return add_mul(BLOB, BUILD_PER_BYTE, n)


def numeric_cost(x) -> int:
    """Base cost of a numeric argument: its byte length, at least 8 (negative: not numeric)."""
    t = type(x)
    if t is int:
        if -(1 << 63) <= x < (1 << 63):
            return MIN_NUMERIC_COST
        return max(MIN_NUMERIC_COST, (x + (x < 0)).bit_length() // 8 + 1)
    if t is float:
        return MIN_NUMERIC_COST
    return -1
