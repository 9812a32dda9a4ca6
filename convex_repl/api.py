"""The public Python API: one Session serves the REPL, the CLI, scripts and tests.

    from convex_repl.api import Session
    s = Session()               # fresh local CVM at the genesis state, as a funded user
    r = s.eval("(+ 1 2)")       # all forms, in order, as ONE atomic transaction
    r.value, r.printed, r.error, r.message, r.juice
    s.fork()                    # an independent copy
    r = s.transact("(def x 1)") # a signed transaction: sequence, fees, memory accounting
    r.fee, r.memory, r.source   # coins paid, memory charged for, CODE / CVM on error
    s.as_account(11)            # a session acting as #11 on the same state (its genesis key)
    s.advance(60_000)           # time moves on; scheduled operations that fall due run
    s.state_hash()              # hex value ID of the state
    s.query("(+ 1 2)")          # evaluate without keeping any state change
    r.elapsed, r.fee, r.memory  # seconds, juice * juice price, memory delta (None if unknown)

Evaluation never lets a Python exception out, except KeyboardInterrupt: it propagates to the
caller (the REPL cancels with Ctrl-C) and the session's state is left as it was, because
`state` is only replaced when a transaction completes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional

from kernel.cvm.context import LOOKUP_DEPTH, Context, exit_error
from kernel.cvm.ops import Op
from kernel.data.cell import BranchRef, Cell
from kernel.state.state import CORE_ADDRESS
from kernel.cvm.errors import ErrorValue, Exceptional, Halt, Return, Rollback
from kernel.data.scalars import Keyword
from kernel.state.state import State
from kernel.transition import TRACE_TEXT_LIMIT
from lisp import ReaderError, read_all
from lisp import compiler as _compiler
from lisp.expander import expand_compile
from kernel.data.printer import display, display_brief, print_brief, print_head

DEFAULT_JUICE_LIMIT = 10_000_000

# Characters of a result's text made for the user (Result.printed, the CLI): a value that
# shares its parts can print to text exponentially longer than itself, so the text is cut
# here, with too_large(limit) after it.
PRINT_LIMIT = 4_000_000


def too_large(limit: int) -> str:
    """What follows a result's text cut at `limit` characters."""
    return (f" ... (value too large to print: only its first {limit:,} characters are shown; "
            "use (count ...) or look at a part of it)")


def print_result(v: Any, limit: int = PRINT_LIMIT) -> str:
    """A result's printed text, in full when at most `limit` characters, else its first
    `limit` characters followed by too_large(limit). The work follows `limit`."""
    text, more = print_head(v, limit)
    return text + too_large(limit) if more else text


@dataclass
class Result:
    """Outcome of one evaluation."""

    value: Any = None
    error: Optional[str] = None          # error code without colon, e.g. "CAST"
    message: Optional[str] = None        # printed error message
    juice: int = 0
    trace: list = field(default_factory=list)
    error_value: Any = None              # the CVM error code value itself
    elapsed: float = 0.0                 # wall-clock seconds of the evaluation
    juice_price: int = 1                 # coins per unit of juice when it ran
    memory: Optional[int] = None         # change of the account's memory, None if not tracked
    error_fn: Optional[str] = None       # name of the innermost function called when it failed
    error_fn_address: Optional[int] = None   # account defining it, when known

    @property
    def fee(self) -> int:
        """Coins this transaction costs: juice used times the juice price."""
        return self.juice * self.juice_price

    @property
    def printed(self) -> Optional[str]:
        """The value's canonical printed text (None on error); cut after PRINT_LIMIT
        characters, with a note saying so (print_value makes the full text)."""
        return None if self.error is not None else print_result(self.value)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class TxResult(Result):
    """Outcome of a signed transaction (Session.transact / submit). `juice` is execution
    juice; `fee` every coin paid (juice, per-transaction cost and memory bought); `memory`
    the change of the state's memory size it was charged for (negative: allowance given
    back; for a MEMORY failure, the growth that could not be paid for; 0 if it failed
    otherwise)."""

    elapsed: float = 0.0                 # wall-clock seconds
    juice_price: int = 1                 # coins per unit of juice when it ran
    memory: Optional[int] = None         # memory size change charged for
    fee: int = 0                         # total coins paid
    source: Optional[str] = None         # CODE (raised by code) or CVM (by the transition)
    sequence: Optional[int] = None       # the transaction's sequence number
    tx_hash: Optional[str] = None        # hex value ID of the signed transaction
    log: Any = None                      # log entries (a CVM vector) or None
    record: Any = None                   # the CVM Result record (#Result {...})

    @classmethod
    def from_outcome(cls, o: Any, signed: Any, unwrap: bool = False) -> "TxResult":
        from kernel.state.transactions import Result as CVMResult
        value, code = o.value, o.error
        if unwrap and o.error is None and value is not None and len(value) > 0:
            value = value[len(value) - 1].value          # the last form's value
        elif unwrap and code == Keyword("CHILD") and value is not None and len(value) > 0:
            last = value[len(value) - 1]                   # the form that failed
            if isinstance(last, CVMResult):
                value, code = last.value, last.error
        r = cls(value=None if code is not None else value, juice=o.juice,
                juice_price=o.juice_price, memory=o.mem, fee=o.fees, log=o.log,
                sequence=getattr(signed.value, "sequence", None),
                tx_hash=signed.value_id().hex(), record=o.result())
        if code is not None:
            r.error = code.name if type(code) is Keyword else print_brief(code)
            r.error_value = code
            r.message = None if value is None else display_brief(value)
            r.trace = [display(t) for t in (o.trace or ())]
        if o.source is not None:
            r.source = o.source.name
        return r


def read_forms(source: Any, result_type: Any = None) -> tuple:
    """(forms, None) for source text or already-read forms; (None, a SYNTAX result of
    result_type, Result by default) when the text does not read."""
    if not isinstance(source, str):
        return list(source), None
    forms = _READ_CACHE.get(source)
    if forms is not None:
        return list(forms), None
    try:
        forms = read_all(source)
    except ReaderError as e:
        return None, (result_type or Result)(error="SYNTAX", message=str(e),
                                             error_value=Keyword("SYNTAX"))
    if len(source) <= _CACHED_TEXT:
        _remember(_READ_CACHE, source, tuple(forms))
    return forms, None


# --- compiled-form cache ----------------------------------------------------------------------
# Repeated source (a REPL loop, a script evaluating the same text) skips reading, expanding
# and compiling. Reading is a pure function of the text. Expansion and compilation depend on
# the form, the acting account and the definitions they consult: `_Recording` notes every
# account whose environment, metadata or parent a lookup walked through, and an entry holds
# those fields (immutable values, compared by identity), so a `def`, `undef` or new parent in
# any of them makes it stale. Only expansions by the built-in expanders and the core
# library's macros (pure functions of the form) are kept: a macro defined elsewhere may read
# anything (*balance*, *juice*, other accounts), so such a form is compiled every time, as is
# one whose expansion or compilation failed or changed the state. A hit charges the juice
# expansion and compilation took, when it fits in the limit (else the full path runs and
# fails exactly as before; so does one that an early juice check would have refused), so
# values, errors and juice are the same.

_CACHED_TEXT = 4096        # longest source text whose forms are kept
_CACHE_SIZE = 512          # entries in each cache, the oldest dropped first
_READ_CACHE: dict = {}
_COMPILED: dict = {}       # (form value ID, address) -> (deps, juice, juice needed, op)


def _remember(cache: dict, key: Any, value: Any) -> None:
    cache[key] = value
    if len(cache) > _CACHE_SIZE:
        try:
            del cache[next(iter(cache))]
        except (KeyError, RuntimeError, StopIteration):
            pass


class _Recording(Context):
    """A context that notes which accounts' definitions expansion and compilation read,
    whether any expander outside the core library ran, and the most juice any early check
    asked to be available (`need`)."""

    __slots__ = ("deps", "pure", "need")

    def check_juice(self, amount: int) -> None:
        if self.juice + amount > self.need:
            self.need = self.juice + amount
        Context.check_juice(self, amount)

    def _definer(self, addr: Optional[int], sym: Any) -> Optional[tuple]:
        """Context._definer, noting each account it walks through."""
        state, deps = self.state, self.deps
        n = self.address if addr is None else addr
        for _ in range(LOOKUP_DEPTH):
            deps.add(n)
            acct = state.account(n)
            if acct is None:
                return None
            v = acct.environment.get(sym, _MISSING)
            if v is not _MISSING:
                return n, acct, v
            if n == CORE_ADDRESS:
                return None
            n = CORE_ADDRESS if acct.parent is None else acct.parent.n
        return None

    def lookup_meta(self, addr: Optional[int], sym: Any) -> Any:
        meta = Context.lookup_meta(self, addr, sym)
        if meta is not None and meta.get(_EXPANDER) not in (None, False) \
                and self.defining_address(addr, sym) != CORE_ADDRESS:
            self.pure = False
        return meta

    def account(self, n: Optional[int] = None) -> Any:
        self.deps.add(self.address if n is None else n)
        return Context.account(self, n)


def _fields(state: State, n: int) -> tuple:
    a = state.account(n)
    return (n, None, None, None) if a is None else (n, a._f[6], a._f[7], a._f[8])


def _still(state: State, deps: tuple) -> bool:
    for n, env, meta, parent in deps:
        a = state.account(n)
        if a is None:
            if env is not None or meta is not None or parent is not None:
                return False
        else:
            f = a._f
            if f[6] is not env or f[7] is not meta or f[8] is not parent:
                return False
    return True


def compiled(ctx: Context, form: Any) -> Any:
    """The op for a top-level form, as `expand_compile(ctx, form, 0)` makes it (juice
    included), from the cache when its definitions have not changed."""
    if isinstance(form, Op):
        return form
    if _compiler.FORM_SINK is not None:     # someone (coverage) watches the compiler at work
        return expand_compile(ctx, form, 0)
    key = None
    if isinstance(form, Cell) and type(form) is not BranchRef:
        key = (form.value_id(), ctx.address)
        hit = _COMPILED.get(key)
        if hit is not None:
            deps, juice, need, op = hit
            if ctx.juice + need <= ctx.limit and _still(ctx.state, deps):
                ctx.juice += juice
                return op
    rec = _Recording.__new__(_Recording)
    for name in _CONTEXT_SLOTS:
        setattr(rec, name, getattr(ctx, name))
    rec.deps, rec.pure, rec.need = set(), True, ctx.juice
    state, log, limit, juice = ctx.state, ctx.log, ctx.limit, ctx.juice
    try:
        op = expand_compile(rec, form, 0)
    finally:
        for name in _CONTEXT_SLOTS:
            setattr(ctx, name, getattr(rec, name))
    if (key is not None and rec.pure and ctx.state is state and ctx.log is log
            and ctx.limit == limit):
        _remember(_COMPILED, key, (tuple(_fields(state, n) for n in sorted(rec.deps)),
                                   ctx.juice - juice, max(ctx.juice, rec.need) - juice, op))
    return op


_CONTEXT_SLOTS = Context.__slots__
_MISSING = object()
_EXPANDER = Keyword("expander?")


def execute(ctx: Context, ops: Any) -> Result:
    """Run top-level ops in `ctx` one after another, as the body of a transaction: `ops`
    yields each op when it is needed (compiling it may fail like running it). The Result
    of the last (or the exit that ended them: halt, return, rollback, an error), with the
    juice used; the state after is `ctx.state`. Never a Python exception: the interpreter's
    own limits and bugs are :DEPTH, :MEMORY or :UNEXPECTED results. A rollback leaves
    `ctx.state` as it was."""
    start = ctx.state
    try:
        value = None
        try:
            for op in ops:
                value = op.run(ctx, None, 1)
                ctx.result = value
        except (Halt, Return) as h:
            value = h.value
        except Rollback as r:
            ctx.state = start
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
    return Result(value=value, juice=ctx.juice)


class Session:
    """A local CVM: a state, the account acting, and transaction-at-a-time evaluation."""

    def __init__(self, state: Optional[State] = None, address: Optional[int] = None,
                 juice_limit: int = DEFAULT_JUICE_LIMIT):
        from stdlib.genesis import FIRST_USER, genesis_state

        self._ledger: list = [None]      # shared with the sessions made by as_account
        self.state = genesis_state() if state is None else state
        self.address = FIRST_USER if address is None else address
        self.juice_limit = juice_limit
        self.key: Any = None            # signing key (None: the account's genesis key)

    def fork(self) -> "Session":
        return Session(self.state, self.address, self.juice_limit)

    def eval(self, source: str) -> Result:
        """Read and evaluate every form of `source` as one atomic transaction, in development
        mode: unsigned, with no fees, sequence number or memory accounting (`transact` runs
        a real signed transaction)."""
        forms, bad = read_forms(source)
        return bad if bad is not None else self.eval_forms(forms)

    def query(self, source: str) -> Result:
        """Evaluate like `eval`, but keep no state change (a query, as in the reference)."""
        forms, bad = read_forms(source)
        return bad if bad is not None else self.eval_forms(forms, commit=False)

    def eval_forms(self, forms: list, commit: bool = True) -> Result:
        """Evaluate already-read forms as one transaction; `commit=False` makes it a query.
        The result carries juice, fee (juice price), elapsed time and memory delta."""
        before = self.state
        t0 = time.perf_counter()
        r = self._run(forms, commit)
        r.elapsed = time.perf_counter() - t0
        r.juice_price = getattr(before, "juice_price", 1) or 1
        if r.error is None:
            m0 = _memory(before, self.address)
            m1 = _memory(self.state, self.address)
            if m0 is not None and m1 is not None and m0 != m1:
                r.memory = m1 - m0
        return r

    def _run(self, forms: list, commit: bool) -> Result:
        ctx = Context(self.state, self.address, juice_limit=self.juice_limit)
        r = execute(ctx, (compiled(ctx, form) for form in forms))
        if commit and r.error is None:
            self.state = ctx.state
        return r

    # --- looking at the state (no juice, no transaction) -----------------------------------
    @property
    def juice_price(self) -> int:
        return getattr(self.state, "juice_price", 1) or 1

    def account_count(self) -> int:
        return len(self.state.accounts)

    def account_info(self, addr: Optional[int] = None) -> Optional[dict]:
        """Plain-Python facts about an account, or None if there is no such account."""
        n = self.address if addr is None else addr
        a = self.state.account(n)
        if a is None:
            return None
        key = getattr(a, "key", None)
        parent = getattr(a, "parent", None)
        controller = getattr(a, "controller", None)
        return {
            "address": n,
            "balance": a.balance,
            "sequence": a.sequence,
            "memory": a.memory,
            "actor": key is None,
            "key": None if key is None else _brief(key),
            "controller": None if controller is None else _brief(controller),
            "parent": None if parent is None else _brief(parent),
            "definitions": len(a.environment),
        }

    def accounts(self) -> list:
        return [self.account_info(n) for n in range(self.account_count())]

    def definitions(self, addr: Optional[int] = None) -> list:
        """(name, value, metadata) of the definitions in an account's own environment."""
        n = self.address if addr is None else addr
        a = self.state.account(n)
        if a is None:
            return []
        out = []
        for sym, v in a.environment.items():
            out.append((sym.name, v, a.metadata.get(sym)))
        out.sort(key=lambda t: t[0])
        return out

    def visible_names(self, addr: Optional[int] = None) -> list:
        """Names a symbol can resolve to from an account: its own, its parents', the core."""
        from kernel.state.state import CORE_ADDRESS

        names, n, seen = set(), self.address if addr is None else addr, set()
        while n is not None and n not in seen:
            seen.add(n)
            a = self.state.account(n)
            if a is None:
                break
            names.update(sym.name for sym in a.environment.keys())
            if n == CORE_ADDRESS:
                break
            parent = getattr(a, "parent", None)
            n = CORE_ADDRESS if parent is None else parent.n
        return sorted(names)

    def metadata(self, name: str, addr: Optional[int] = None) -> Any:
        """The metadata map of a definition as seen from `addr` (walking parents to the
        core), or None if the name is not defined."""
        from kernel.data.scalars import Symbol

        ctx = Context(self.state, self.address)
        return ctx.lookup_meta(addr, Symbol(name))

    def doc(self, name: str, addr: Optional[int] = None) -> Optional[dict]:
        """The :doc metadata of a definition as plain Python: description, signature
        (list of parameter texts), examples, errors ({code: why}); None if undocumented."""
        meta = self.metadata(name, addr)
        if meta is None:
            return None
        d = meta.get(Keyword("doc"))
        if d is None:
            return None
        return _doc_to_python(d)

    def lookup(self, name: str, addr: Optional[int] = None) -> Any:
        from kernel.data.scalars import Symbol

        ctx = Context(self.state, self.address)
        return ctx.lookup_value(addr, Symbol(name), None)

    # --- signed transactions and time (kernel/ledger.py, kernel/transition.py) ------------
    # `eval` is the development mode: forms run directly as this account, unsigned, with no
    # fees, no sequence number and no memory accounting. `transact` does what the network
    # does: a signed transaction in a block, checked, charged and accounted.

    @property
    def state(self) -> State:
        """The current state (shared with the sessions `as_account` makes)."""
        return self._ledger[0]

    @state.setter
    def state(self, new: State) -> None:
        self._ledger[0] = new

    @property
    def timestamp(self) -> int:
        return self.state.timestamp

    def advance(self, ms: int) -> int:
        """Move time forward by `ms` milliseconds as an empty block would: the memory pool
        grows at each growth interval and the scheduled operations that fall due run, each
        paying for its juice and memory (CAD018). Returns the new timestamp."""
        if ms < 0:
            raise ValueError("time only moves forward")
        from kernel.transition.ledger import advance_time
        self.state, _ = advance_time(self.state, ms)
        return self.state.timestamp

    def state_hash(self) -> str:
        """Hex SHA3-256 value ID of the state: equal states, equal hashes."""
        return self.state.value_id().hex()

    @property
    def signing_key(self) -> Any:
        """The nacl SigningKey this session signs with: the one given to `as_account`, else
        the account's local genesis key (None if its key is not a genesis key)."""
        if self.key is not None:
            return self.key
        from kernel.transition.ledger import signing_key_for
        return signing_key_for(self.state, self.address)

    def as_account(self, address: int, key: Any = None) -> "Session":
        """A session acting as account #address on the same state: what either does, both
        see. It signs with `key` (a nacl SigningKey or its 32-byte seed), by default the
        account's genesis key when it is a genesis account."""
        s = Session(self.state, address, self.juice_limit)
        s._ledger = self._ledger
        if key is not None and not hasattr(key, "verify_key"):
            from nacl.signing import SigningKey
            key = SigningKey(bytes(key))
        s.key = key
        return s

    def transact(self, source: Any) -> "TxResult":
        """Run source text (or already-read forms) as ONE signed transaction from this
        account, in a block of its own at the current time: the sequence number must be the
        next one and goes up; fees (juice used plus the per-transaction juice, at the juice
        price) are paid; memory the state grows by comes out of the allowance, else is bought
        from the pool, else the transaction fails with MEMORY and is rolled back (fees still
        paid). Several forms run in order, all or nothing (a Multi transaction)."""
        t0 = time.perf_counter()
        forms, bad = read_forms(source, TxResult)
        if bad is not None:
            return bad
        try:
            from kernel.transition.ledger import command_transaction
            from kernel.state.transactions import sign
            key = self.signing_key
            if key is None:             # no key we know: the CVM refuses the signature
                from nacl.signing import SigningKey
                key = SigningKey.generate()
            tx = command_transaction(self.state, self.address, forms or [None])
            signed = sign(key, tx)
        except Exception as e:          # an interpreter bug must not escape
            return TxResult(error="FATAL", message=f"{type(e).__name__}: {e}",
                            error_value=Keyword("FATAL"))
        return self.submit(signed, _unwrap=len(forms) > 1, _t0=t0)

    def submit(self, signed: Any, _unwrap: bool = False, _t0: Optional[float] = None
               ) -> "TxResult":
        """Apply a prepared Signed transaction (of any account) in a block of its own."""
        t0 = time.perf_counter() if _t0 is None else _t0
        try:
            from kernel.transition.ledger import submit
            self.state, outcome = submit(self.state, signed)
            r = TxResult.from_outcome(outcome, signed, _unwrap)
        except Exception as e:
            r = TxResult(error="FATAL", message=f"{type(e).__name__}: {e}",
                         error_value=Keyword("FATAL"))
        r.elapsed = time.perf_counter() - t0
        return r

    def apply_block(self, block: Any, peer_key: Any = None) -> Any:
        """Apply a Block (a bare one from a trusted local peer, whose key may be given, or
        one signed by a staked peer); returns the BlockResult record."""
        from kernel.transition import apply_block, local_peer
        br = apply_block(self.state, block,
                         local_peer(self.state) if peer_key is None else peer_key)
        self.state = br.state
        return br


def _memory(state: State, n: int) -> Optional[int]:
    a = state.account(n)
    return None if a is None else getattr(a, "memory", None)


def _brief(v: Any) -> str:
    """A value in account facts or documentation, which may be anything: printed in brief."""
    return print_brief(v, 10_000)


def _doc_to_python(d: Any) -> dict:
    from kernel.data.hashmaps import Map

    # Metadata is any value (shown after an error too, for its hint): named in brief.
    if not isinstance(d, Map):
        return {"description": display_brief(d)}
    out: dict = {}
    v = d.get(Keyword("description"))
    if v is not None:
        out["description"] = display_brief(v)
    sigs = d.get(Keyword("signature"))
    if sigs is not None:
        try:
            out["signature"] = [_brief(s.get(Keyword("params")) if isinstance(s, Map)
                                       else s) for s in sigs]
        except TypeError:
            out["signature"] = [_brief(sigs)]
    ex = d.get(Keyword("examples"))
    if ex is not None:
        items = []
        try:
            for e in ex:
                if isinstance(e, Map):
                    code, res = e.get(Keyword("code")), e.get(Keyword("result"))
                    items.append({"code": display_brief(code) if code is not None else "",
                                  **({"result": display_brief(res)} if res is not None else {})})
        except TypeError:
            pass
        out["examples"] = items
    errs = d.get(Keyword("errors"))
    if isinstance(errs, Map):
        out["errors"] = {(k.name if type(k) is Keyword else _brief(k)): display_brief(v)
                         for k, v in errs.items()}
    return out


def _failing_fn(e: ErrorValue) -> tuple:
    """(name, defining address) of the function the innermost traced call invoked."""
    from kernel.cvm import ops as O
    from kernel.cvm.fn import CoreFn
    from kernel.data.scalars import Address

    for t in e.trace:
        if isinstance(t, str):
            continue
        f = getattr(t, "fn", None)
        if isinstance(f, O.Constant) and isinstance(f.value, CoreFn):
            return f.value.name, 8
        if isinstance(f, O.Lookup):
            a = f.address
            n = a.value.n if isinstance(a, O.Constant) and type(a.value) is Address else None
            return f.symbol.name, n
        return None, None
    return None, None


def _error_result(e: ErrorValue, juice: int) -> Result:
    code = e.code
    name = code.name if type(code) is Keyword else print_brief(code)  # codes can be any value
    msg = None if e.message is None else display_brief(e.message)
    trace = [t if isinstance(t, str) else f"In expression: {print_brief(t, TRACE_TEXT_LIMIT)}"
             for t in e.trace]
    try:
        fn, fn_addr = _failing_fn(e)
    except Exception:
        fn, fn_addr = None, None
    return Result(error=name, message=msg, juice=juice, trace=trace, error_value=code,
                  error_fn=fn, error_fn_address=fn_addr)


__all__ = ["Session", "Result", "print_result", "PRINT_LIMIT"]
