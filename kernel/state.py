"""Global state and accounts (CAD004/CAD005), kept as immutable values.

This is the minimal shape the CVM needs; the state issue grows it (peers, globals, schedule,
encodings as records) without changing how the interpreter reads it.
"""
from __future__ import annotations

from typing import Any, Optional

from .hashmaps import Map
from .index import Index
from .scalars import Address
from .vectors import Vector

CORE_ADDRESS = 8


class Account:
    """AccountStatus: one account's balance, environment and rights. Immutable."""

    __slots__ = ("sequence", "balance", "memory", "environment", "metadata", "holdings",
                 "controller", "key", "parent")

    def __init__(self, sequence: int = 0, balance: int = 0, memory: int = 0,
                 environment: Map = Map.EMPTY, metadata: Map = Map.EMPTY,
                 holdings: Index = Index.EMPTY, controller: Any = None, key: Any = None,
                 parent: Optional[Address] = None):
        self.sequence = sequence
        self.balance = balance
        self.memory = memory
        self.environment = environment
        self.metadata = metadata
        self.holdings = holdings
        self.controller = controller
        self.key = key
        self.parent = parent

    def with_(self, **changes: Any) -> "Account":
        a = Account.__new__(Account)
        for s in Account.__slots__:
            setattr(a, s, changes.get(s, getattr(self, s)))
        return a

    @property
    def is_actor(self) -> bool:
        return self.key is None


class State:
    """The global state: accounts by number plus global values. Immutable."""

    __slots__ = ("accounts", "timestamp", "juice_price", "globals")

    def __init__(self, accounts: Vector, timestamp: int = 0, juice_price: int = 1,
                 globals_: Any = None):
        self.accounts = accounts
        self.timestamp = timestamp
        self.juice_price = juice_price
        self.globals = globals_

    def account(self, n: int) -> Optional[Account]:
        accounts = self.accounts
        if 0 <= n < len(accounts):
            return accounts[n]
        return None

    def put_account(self, n: int, account: Account) -> "State":
        s = State.__new__(State)
        s.accounts = self.accounts.assoc(n, account)
        s.timestamp = self.timestamp
        s.juice_price = self.juice_price
        s.globals = self.globals
        return s

    def with_(self, **changes: Any) -> "State":
        s = State.__new__(State)
        for k in State.__slots__:
            setattr(s, k, changes.get(k, getattr(self, k)))
        return s
