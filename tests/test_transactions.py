"""Transactions (CAD010): record encodings, Ed25519 signing, and applying them to the state
with the checks, fees and results of the reference; the Session API for them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from convex_repl.api import Session, TxResult
from kernel import (Address, Blob, DenseRecord, Keyword, List, Map, Signed, String, Symbol,
                    Vector, decode, decode_multi, encode, encode_multi, value_id)
from kernel.cvm import juice as J
from kernel.transition.ledger import genesis_signing_key, signing_key_for
from kernel.state.transactions import (Block, BlockResult, Call, Invoke, Multi, Result, Transfer,
                                       sign, storage_size, verify)
from kernel.transition import apply_signed, apply_transaction, transaction_juice
from lisp import print_value, read
from stdlib.genesis import FIRST_USER, GENESIS_PEER, GENESIS_USER, genesis_key, genesis_state

ROWS = [json.loads(line) for line in
        Path("/work/shared/conformance/encoding-more.jsonl").read_text().splitlines() if line]
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
USER = FIRST_USER
KEY = genesis_signing_key(USER)

_BASE: "Session | None" = None


def session() -> Session:
    global _BASE
    if _BASE is None:
        _BASE = Session()
    return _BASE.fork()


def account(s, n=USER):
    return s.state.account(n) if isinstance(s, Session) else s.account(n)


# --- encodings ----------------------------------------------------------------------------

def test_transaction_vectors_decode_to_transaction_records():
    expected = {
        "d104ea0110ea021203e8": Transfer.create(1, 0, 2, 1000),
        "d003ea011081031102110132012b": Invoke.create(1, 0, List.of(Symbol("+"), 1, 2)),
        "d003ea0c11051101": Invoke.create(12, 5, 1),
    }
    rows = [r for r in ROWS if r["type"] == "transaction"]
    assert {r["encoding"] for r in rows} == set(expected)
    for r in rows:
        enc = bytes.fromhex(r["encoding"])
        tx = decode(enc)
        built = expected[r["encoding"]]
        assert type(tx) is type(built)
        assert encode(built) == enc and encode(tx) == enc
        assert tx == built and value_id(tx) == value_id(built)


def test_transaction_fields():
    t = decode(bytes.fromhex("d104ea0110ea021203e8"))
    assert (t.origin, t.sequence, t.target, t.amount) == (Address(1), 0, Address(2), 1000)
    assert t.get(Keyword("amount")) == 1000 and t.get(Keyword("target")) == Address(2)
    i = decode(bytes.fromhex("d003ea011081031102110132012b"))
    assert i.command == read("(+ 1 2)")
    assert i.with_sequence(7).sequence == 7 and i.sequence == 0


def test_signed_vectors_verify_and_sign_to_the_same_bytes():
    key = SigningKey(RFC8032_SEED)
    rows = [r for r in ROWS if r["type"] == "signed"]
    assert len(rows) == 2
    for r in rows:
        enc = bytes.fromhex(r["encoding"])
        signed = decode(enc)
        assert type(signed) is Signed and verify(signed)
        assert verify(signed, Blob(bytes(key.verify_key)))
        assert not verify(signed, genesis_key(USER))
        # Ed25519 is deterministic: signing the value again gives the very same bytes
        assert encode(sign(key, signed.value)) == enc
    tampered = Signed(bytes(key.verify_key), bytes(64), 1)
    assert not verify(tampered)


def test_signature_covers_the_ref_encoding():
    key = SigningKey(RFC8032_SEED)
    small = Invoke.create(12, 5, 1)
    big = Invoke.create(12, 5, String.of("x" * 137))      # 145 bytes: a branch
    assert key.verify_key.verify(encode(small), sign(key, small).signature)
    assert len(encode(big)) > 140
    assert key.verify_key.verify(b"\x20" + value_id(big), sign(key, big).signature)


@pytest.mark.parametrize("make", [
    lambda: Transfer.create(13, 1, 12, 5),
    lambda: Invoke.create(13, 2, read("(def a [1 2 3])")),
    lambda: Call.create(13, 3, 9, "lookup", [Symbol("x")], offer=10),
    lambda: Multi.create(13, 4, Multi.ALL, [Transfer.create(13, 0, 12, 1)]),
    lambda: Block.create(1000, [sign(KEY, Transfer.create(13, 1, 12, 5))]),
    lambda: Result.create(3, Keyword("ok"), None, Vector.of(Vector.of(1)),
                          Map.from_pairs([(Keyword("juice"), 5)])),
    lambda: BlockResult.create(genesis_state(), [Result.create(0, 1)]),
])
def test_records_round_trip(make):
    v = make()
    d = decode_multi(encode_multi(v))
    assert type(d) is type(v) and d == v and encode(d) == encode(v)


def test_invalid_fields_fall_back_to_generic_records():
    bad = [DenseRecord(0xD1, Vector.of(Address(1), 0, 5, 1000)),          # target not address
           DenseRecord(0xD1, Vector.of(Address(1), -1, Address(2), 1)),    # negative sequence
           DenseRecord(0xD0, Vector.of(1, 0, 2)),                          # origin not address
           DenseRecord(0xD3, Vector.of(Address(1), 0, 7, Vector.EMPTY)),   # bad mode
           DenseRecord(0xD6, Vector.of(1, 2, 3)),                          # wrong count
           DenseRecord(0xDD, Vector.of(Keyword("x"), 1, None, None, None))]  # id not a long
    for r in bad:
        d = decode(encode(r))
        assert type(d) is DenseRecord and d == r


def test_result_prints_like_the_reader_reads():
    r = Result.create(1, Keyword("ok"), None, None, None)
    assert print_value(r) == "#Result {:id 1,:result :ok}"
    back = read(print_value(r))
    assert back == r and encode(back) == encode(r)


def test_transaction_juice_is_base_plus_bytes():
    t = Transfer.create(13, 1, 12, 5)
    assert storage_size(t) == len(encode(t))
    assert transaction_juice(t) == J.TRANSACTION + J.TRANSACTION_PER_BYTE * len(encode(t))


def test_genesis_signing_keys_match_genesis_public_keys():
    for n in (GENESIS_USER, FIRST_USER):
        assert bytes(genesis_signing_key(n).verify_key) == genesis_key(n).data
    st = genesis_state()
    for n in (2, 7, GENESIS_USER, GENESIS_PEER, FIRST_USER):
        sk = signing_key_for(st, n)
        assert sk is not None and Blob(bytes(sk.verify_key)) == st.account(n).key
    assert signing_key_for(st, 8) is None        # the core library is an actor


# --- applying transactions --------------------------------------------------------------------

def signed_transfer(state, amount=1000, target=GENESIS_PEER, seq=None, key=KEY, origin=USER):
    if seq is None:
        seq = state.account(origin).sequence + 1
    return sign(key, Transfer.create(origin, seq, target, amount))


def test_transfer_fees_are_exact_and_funds_conserved():
    s = session()
    st = s.state
    tx = Transfer.create(USER, 1, GENESIS_PEER, 1000)
    o = apply_signed(st, sign(KEY, tx))
    assert o.error is None and o.value == 1000
    price = st.juice_price
    assert o.juice == J.TRANSFER
    assert o.fees == (J.TRANSFER + transaction_juice(tx)) * price
    after = o.state
    assert account(st).balance - account(after).balance == 1000 + o.fees
    assert account(after, GENESIS_PEER).balance - account(st, GENESIS_PEER).balance == 1000
    assert account(after).sequence == account(st).sequence + 1
    # fees leave the origin here; a block hands them to the peer and #0 (test_blocks.py)
    assert st.total_funds() - after.total_funds() == o.fees


def _unchanged(before, o):
    assert o.state is before, "nothing may change"
    assert o.fees == 0


def test_replayed_sequence_changes_nothing():
    s = session()
    signed = signed_transfer(s.state)
    o1 = apply_signed(s.state, signed)
    assert o1.error is None
    o2 = apply_signed(o1.state, signed)
    assert o2.error == Keyword("SEQUENCE") and o2.source == Keyword("CVM")
    _unchanged(o1.state, o2)


def test_sequence_gap_changes_nothing():
    s = session()
    o = apply_signed(s.state, signed_transfer(s.state, seq=account(s).sequence + 2))
    assert o.error == Keyword("SEQUENCE")
    _unchanged(s.state, o)


def test_bad_signature_changes_nothing():
    s = session()
    wrong = SigningKey(b"\x07" * 32)
    o = apply_signed(s.state, signed_transfer(s.state, key=wrong))
    assert o.error == Keyword("SIGNATURE")
    _unchanged(s.state, o)
    # a valid signature by the right key, over a different value, also fails
    good = signed_transfer(s.state)
    forged = Signed(good.public_key, good.signature, Transfer.create(USER, 1, GENESIS_PEER, 10**9))
    o = apply_signed(s.state, forged)
    assert o.error == Keyword("SIGNATURE")
    _unchanged(s.state, o)


def test_missing_account_changes_nothing():
    s = session()
    n = len(s.state.accounts) + 5
    o = apply_signed(s.state, sign(KEY, Transfer.create(n, 1, USER, 1)))
    assert o.error == Keyword("NOBODY")
    _unchanged(s.state, o)


def test_actor_origin_is_a_state_error():
    s = session()
    o = apply_signed(s.state, sign(KEY, Invoke.create(8, 1, 1)))
    assert o.error == Keyword("STATE")
    _unchanged(s.state, o)


def poor_account(s, balance):
    """A new user account with `balance` coins and its key: (number, key)."""
    key = SigningKey(b"\x05" * 32)
    r = s.eval(f"(let [a (create-account 0x{bytes(key.verify_key).hex()})] "
               f"(transfer a {balance}) a)")
    assert r.ok, r.message
    return r.value.n, key


def test_too_little_balance_for_any_juice_changes_nothing():
    s = session()
    n, key = poor_account(s, J.TRANSACTION * s.state.juice_price)   # exactly the base cost
    o = apply_signed(s.state, sign(key, Invoke.create(n, 1, 1)))
    assert o.error == Keyword("JUICE")
    _unchanged(s.state, o)


def test_balance_below_fees_takes_it_all_and_rolls_back():
    s = session()
    price = s.state.juice_price
    n, key = poor_account(s, (J.TRANSACTION + 100) * price)   # some juice, not enough for fees
    o = apply_signed(s.state, sign(key, Invoke.create(n, 1, read("(def x 1)"))))
    assert o.error == Keyword("JUICE") and o.source == Keyword("CVM")
    after = account(o.state, n)
    assert after.balance == 0 and o.fees == (J.TRANSACTION + 100) * price
    assert after.sequence == 1
    assert after.environment.get(Symbol("x")) is None


def test_failing_code_pays_fees_and_changes_nothing_else():
    s = session()
    st = s.state
    tx = Invoke.create(USER, 1, read("(do (def x 1) (transfer #12 500) (fail :NOPE \"no\"))"))
    o = apply_signed(st, sign(KEY, tx))
    assert o.error == Keyword("NOPE") and o.value == String.of("no")
    assert o.source == Keyword("CODE") and o.mem == 0
    assert o.fees == (o.juice + transaction_juice(tx)) * st.juice_price
    before, after = account(st), account(o.state)
    assert after.balance == before.balance - o.fees
    assert after.sequence == before.sequence + 1 and after.memory == before.memory
    assert after.environment == before.environment
    assert account(o.state, GENESIS_PEER) == account(st, GENESIS_PEER)
    res = o.result(0)
    assert res.error == Keyword("NOPE") and res.info_value("source") == Keyword("CODE")
    assert res.info_value("eaddr") == Address(USER)
    assert len(res.info_value("trace")) >= 1


def test_juice_exhaustion_is_a_cvm_error():
    s = session()
    tx = Invoke.create(USER, 1, read("(loop [] (recur))"))
    o = apply_signed(s.state, sign(KEY, tx))
    assert o.error == Keyword("JUICE") and o.source == Keyword("CVM")
    assert o.fees > 0 and account(o.state).sequence == 1


def test_call_transaction():
    s = session()
    r = s.eval("(def act (deploy '(do (def v 0) (defn put ^:callable [x] (def v x) x))))")
    assert r.ok
    act = r.value
    o = apply_signed(s.state, sign(KEY, Call.create(USER, 1, act, "put", [42])))
    assert o.error is None and o.value == 42
    assert account(o.state, act.n).environment.get(Symbol("v")) == 42


def test_multi_transaction_modes():
    s = session()
    t_ok = Invoke.create(USER, 0, read("(def a 1)"))
    t_bad = Invoke.create(USER, 0, read("(fail :BAD \"bad\")"))
    t_ok2 = Invoke.create(USER, 0, read("(def b 2)"))
    def env(o):
        return account(o.state).environment

    o = apply_signed(s.state, sign(KEY, Multi.create(USER, 1, Multi.ANY, [t_ok, t_bad, t_ok2])))
    assert o.error is None and [r.error for r in o.value] == [None, Keyword("BAD"), None]
    assert env(o).get(Symbol("a")) == 1 and env(o).get(Symbol("b")) == 2
    o = apply_signed(s.state, sign(KEY, Multi.create(USER, 1, Multi.ALL, [t_ok, t_bad, t_ok2])))
    assert o.error == Keyword("CHILD") and len(o.value) == 2
    assert env(o).get(Symbol("a")) is None and account(o.state).sequence == 1
    o = apply_signed(s.state, sign(KEY, Multi.create(USER, 1, Multi.UNTIL, [t_ok, t_bad, t_ok2])))
    assert o.error is None and len(o.value) == 2 and env(o).get(Symbol("b")) is None
    o = apply_signed(s.state, sign(KEY, Multi.create(USER, 1, Multi.FIRST, [t_bad, t_ok, t_ok2])))
    assert len(o.value) == 2 and env(o).get(Symbol("a")) == 1 and env(o).get(Symbol("b")) is None
    other = Invoke.create(GENESIS_USER, 0, read("(def c 3)"))       # not controlled by USER
    o = apply_signed(s.state, sign(KEY, Multi.create(USER, 1, Multi.ANY, [other])))
    assert o.value[0].error == Keyword("TRUST")


def test_apply_transaction_skips_only_signature_and_sequence():
    s = session()
    o = apply_transaction(s.state, Transfer.create(USER, 99, GENESIS_PEER, 7))
    assert o.error is None and account(o.state).sequence == account(s).sequence + 1


# --- the Session API ------------------------------------------------------------------------------

def test_transact_is_a_signed_transaction_with_fees():
    s = session()
    bal, seq = account(s).balance, account(s).sequence
    r = s.transact("(def x 10) (* x x)")
    assert isinstance(r, TxResult) and r.ok and r.value == 100
    assert r.sequence == seq + 1 and account(s).sequence == seq + 1
    assert r.fee > r.juice * r.juice_price > 0          # the per-transaction cost is on top
    assert account(s).balance == bal - r.fee
    assert r.record.info_value("fees") == r.fee and r.tx_hash and len(r.tx_hash) == 64
    assert s.state.total_funds() == genesis_state().total_funds()


def test_transact_forms_run_in_order_like_eval():
    s = session()
    r = s.transact("(defmacro twice [x] `(* 2 ~x)) (twice 21)")
    assert r.ok and r.value == 42
    r = s.transact([read("(def y 1)"), read("(inc y)")])
    assert r.ok and r.value == 2


def test_transact_failure_reports_the_error_and_keeps_only_fees():
    s = session()
    before = account(s)
    r = s.transact("(def z 1) (fail :OOPS \"bad\")")
    assert r.error == "OOPS" and r.message == "bad" and r.source == "CODE"
    after = account(s)
    assert after.environment.get(Symbol("z")) is None
    assert after.balance == before.balance - r.fee and after.sequence == before.sequence + 1
    r = s.transact("(+ 1")
    assert r.error == "SYNTAX" and account(s).sequence == after.sequence


def test_eval_stays_the_fee_less_development_mode():
    s = session()
    before = account(s)
    r = s.eval("(def q 5)")
    assert r.ok
    after = account(s)
    assert after.sequence == before.sequence and after.balance == before.balance
    assert after.memory == before.memory


def test_query_never_changes_state():
    s = session()
    if not hasattr(s, "query"):
        pytest.skip("Session.query comes with the REPL's API work")
    h = s.state_hash()
    r = s.query("(def w 1) (transfer #12 100) w")
    assert r.ok and r.value == 1
    assert s.state_hash() == h


def test_as_account_shares_the_state_and_signs_with_genesis_keys():
    s = session()
    g = s.as_account(GENESIS_USER)
    assert g.signing_key is not None
    bal = account(s).balance
    r = g.transact(f"(transfer #{USER} 12345)")
    assert r.ok and r.value == 12345
    assert account(s).balance == bal + 12345          # the original session sees it
    assert account(s, GENESIS_USER).sequence == 1
    f = s.fork()
    f.transact("(def only-in-fork 1)")
    assert account(s).environment.get(Symbol("only-in-fork")) is None


def test_as_account_with_a_given_key():
    s = session()
    n, key = poor_account(s, 10**12)
    r = s.as_account(n).transact("1")                  # no known key: refused
    assert r.error == "SIGNATURE" and r.fee == 0
    r = s.as_account(n, key).transact("(def mine true) *address*")
    assert r.ok and r.value == Address(n)
    r = s.as_account(n, bytes(key)).transact("mine")   # a seed works too
    assert r.ok and r.value is True


def test_submit_prepared_signed_transactions():
    s = session()
    signed = sign(KEY, Transfer.create(USER, account(s).sequence + 1, GENESIS_PEER, 5))
    r = s.submit(signed)
    assert r.ok and r.value == 5
    r = s.submit(signed)
    assert r.error == "SEQUENCE" and r.source == "CVM" and r.fee == 0
    r = s.submit(sign(KEY, Invoke.create(USER, account(s).sequence + 1, 1)))
    assert r.ok
    assert s.submit(Signed(bytes(32), bytes(64), 1)).error == "FORMAT"


def test_state_hash_is_the_state_value_id():
    s = session()
    assert s.state_hash() == value_id(s.state).hex()
    h = s.state_hash()
    s.transact("(def a 1)")
    assert s.state_hash() != h
