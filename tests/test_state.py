"""State, account and peer records: encodings (dense records 0xd5 / 0xd8 / 0xd9 with the
reference's field order), map behaviour, decoding, and the genesis layout and coin supply."""
from __future__ import annotations

import pytest

import kernel
from kernel import DenseRecord, Index, Keyword, Map, Vector
from kernel.data.blobs import Blob
from kernel.data.scalars import Address, Symbol
from kernel.state.state import (EMERALD, INITIAL_GLOBALS, INITIAL_TIMESTAMP, MAX_SUPPLY, Account,
                                PeerStatus, State)
from stdlib.genesis import FIRST_USER, GENESIS_PEER, GENESIS_USER, genesis_key, genesis_state
from tests.cvm import err, ok, same

K = Keyword
KEY = Blob(bytes(range(32)))


# --- encodings ------------------------------------------------------------------------------------

def test_empty_account_encoding():
    # tag d8, 9 fields: sequence 0, key nil, balance 0, allowance 0, then five nils
    assert kernel.encode(Account()).hex() == "d809" + "10" + "00" + "10" + "10" + "00" * 5


def test_account_encoding_is_dense_record_of_fields_in_reference_order():
    a = Account(sequence=3, balance=1000, memory=77, key=KEY,
                holdings=Index.EMPTY.assoc(Address(127), K("foo")), controller=Address(9),
                environment=Map.from_pairs([(Symbol("x"), 1)]),
                metadata=Map.from_pairs([(Symbol("x"), Map.EMPTY)]), parent=Address(8))
    fields = (3, KEY, 1000, 77, a.holdings, Address(9), a.environment, a.metadata, Address(8))
    generic = DenseRecord(0xD8, Vector.from_seq(fields))
    assert kernel.encode(a) == kernel.encode(generic)
    assert kernel.value_id(a) == kernel.value_id(generic)
    assert a == generic
    assert [k.name for k in a.keys()] == ["sequence", "key", "balance", "allowance", "holdings",
                                          "controller", "environment", "metadata", "parent"]


def test_account_round_trip_decodes_to_account():
    a = Account(sequence=1, balance=5, key=KEY, controller=Vector.of(Address(3), K("s")))
    b = kernel.decode(kernel.encode(a))
    assert type(b) is Account and b == a and b.balance == 5 and b.key == KEY


def test_peer_status_encoding():
    p = PeerStatus.create(Address(12), 1000)
    # controller, stake, stakes (empty Index), delegated stake, metadata, timestamp -1, balance
    assert kernel.encode(p).hex() == "d907" + "ea0c" + "1203e8" + "8400" + "10" + "00" + "11ff" \
        + "1203e8"
    assert type(kernel.decode(kernel.encode(p))) is PeerStatus
    assert [k.name for k in p.keys()] == ["controller", "stake", "stakes", "delegated-stake",
                                          "metadata", "timestamp", "balance"]


def test_state_encoding():
    s = State(Vector.of(Account()))
    enc = kernel.encode(s)
    assert enc[0] == 0xD5 and enc[1] == 4
    generic = DenseRecord(0xD5, Vector.of(s.accounts, Index.EMPTY, INITIAL_GLOBALS, Index.EMPTY))
    assert enc == kernel.encode(generic)
    assert type(kernel.decode(enc)) is State
    assert [k.name for k in s.keys()] == ["accounts", "peers", "globals", "schedule"]


def test_invalid_fields_decode_as_generic_dense_records():
    for hexs in ("d803110111021103", "d90100", "d500", "d8090000000000000000ff"[:18]):
        try:
            v = kernel.decode(bytes.fromhex(hexs))
        except kernel.DecodeError:
            continue
        assert type(v) is DenseRecord
        assert kernel.encode(v).hex() == hexs


def test_globals_reference_values():
    s = genesis_state()
    assert s.timestamp == INITIAL_TIMESTAMP
    assert s.juice_price == 10
    assert s.memory_pool == 1_000_000 and s.memory_value == 1_000_000 * 1_000_000
    assert s.memory_price == 1_000_000.0
    assert s.block_number == -1


def test_globals_are_the_references_six():
    """State.GLOBAL_SYMBOLS: timestamp fees juice-price memory memory-value block; genesis
    (Constants.INITIAL_GLOBALS) has block -1, each block applied counts one (prepareBlock)."""
    from kernel.state.state import GLOBAL_NAMES
    from kernel.state.transactions import Block
    from kernel.transition import apply_block_outcomes, local_peer
    assert GLOBAL_NAMES == ("timestamp", "fees", "juice-price", "memory", "memory-value", "block")
    s = genesis_state()
    assert list(s.globals) == [INITIAL_TIMESTAMP, 0, 10, 1_000_000, 10**12, -1]
    same("(:globals *state*)", f"[{INITIAL_TIMESTAMP} 0 10 1000000 1000000000000 -1]")
    s1, _ = apply_block_outcomes(s, Block.create(INITIAL_TIMESTAMP + 5, []), local_peer(s))
    s2, _ = apply_block_outcomes(s1, Block.create(INITIAL_TIMESTAMP + 9, []), local_peer(s))
    assert (s1.block_number, s2.block_number) == (0, 1) and s2.timestamp == INITIAL_TIMESTAMP + 9
    assert list(s2.globals)[1:5] == list(s.globals)[1:5]


def test_state_with_five_globals_still_reads():
    """A state stored before the block number (five globals) decodes, reads as block -1 and
    gets the sixth global with its next block."""
    from kernel.state.state import INITIAL_GLOBALS
    s = genesis_state()
    old = s.with_globals(INITIAL_GLOBALS.slice(0, 5))
    back = kernel.decode_multi(kernel.encode_multi(old))
    assert type(back) is State and back.block_number == -1
    assert list(old.with_next_block().globals) == list(INITIAL_GLOBALS.slice(0, 5)) + [0]


# --- records behave as maps ---------------------------------------------------------------------

def test_records_are_maps():
    same("(map? (account #0))", "true")
    same("(coll? (account #0))", "true")
    same("(count (account #0))", "9")
    same("(keys (account #0))",
         "[:sequence :key :balance :allowance :holdings :controller :environment :metadata :parent]")
    same("(:balance (account #13))", "*balance*")
    same("((account #13) :allowance)", "*memory*")
    same("(get (account #13) :nope 7)", "7")
    same("(contains-key? (account #13) :key)", "true")
    same("(contains-key? (account #13) 1)", "false")
    same("(first (account #0))", "[:sequence 0]")
    same("(assoc (account #0) :balance 3)", "(assoc (into {} (account #0)) :balance 3)")
    same("(dissoc (account #0) :nope)", "(account #0)")
    same("(empty (account #0))", "{}")
    same("(keys *state*)", "[:accounts :peers :globals :schedule]")
    same("(*state* :accounts)", "(:accounts *state*)")
    same("(*state* [982788] :foo)", ":foo")
    same("(get-in *state* [:accounts 13 :balance])", "*balance*")
    same("(count (:globals *state*))", "6")
    same("(= (account #13) (account #13))", "true")
    same("(= (account #11) (account #13))", "false")


def test_record_printing_is_map_like():
    assert ok("(account #0)").printed == ("{:sequence 0,:key nil,:balance 0,:allowance 0,"
                                          ":holdings nil,:controller nil,:environment nil,"
                                          ":metadata nil,:parent nil}")


def test_state_encoding_and_hash_from_lisp():
    same("(blob? (hash (encoding *state*)))", "true")
    same("(= (hash (encoding *state*)) (hash (encoding *state*)))", "true")
    same("(= (encoding *state*) (do (def x 1) (encoding *state*)))", "false")
    same("(count (encoding (account #13)))", "(count (encoding (account #13)))")


def test_updates_share_structure_and_stay_cheap():
    s = genesis_state()
    a = s.account(FIRST_USER)
    s2 = s.put_account(FIRST_USER, a.with_balance(a.balance - 1))
    assert s2.account(CORE := 8) is s.account(CORE)
    assert s2.peers is s.peers and s2.globals is s.globals
    assert s.account(FIRST_USER).balance == a.balance       # the original is untouched


def test_put_account_appends_at_count():
    s = State(Vector.of(Account()))
    s = s.put_account(1, Account(balance=3))
    assert len(s.accounts) == 2 and s.account(1).balance == 3 and s.account(2) is None


def test_state_with_keeps_the_repl_api():
    s = genesis_state()
    t = s.with_(timestamp=s.timestamp + 5)
    assert t.timestamp == s.timestamp + 5 and t.accounts is s.accounts
    with pytest.raises(TypeError):
        s.with_(nonsense=1)


# --- genesis ------------------------------------------------------------------------------------

def test_genesis_layout():
    from stdlib.genesis import STANDARD_LIBRARIES
    s = genesis_state()
    assert len(s.accounts) == 14 + len(STANDARD_LIBRARIES)     # libraries from #14 on
    for n in range(14, len(s.accounts)):
        assert s.account(n).is_actor and s.account(n).controller == Address(6)
    for n in (0, 1):
        a = s.account(n)
        assert a.key is None and a.balance == 0
    for n in range(2, 8):
        assert s.account(n).key is not None
    for n in range(3, 8):
        assert s.account(n).controller == Address(2)
    for n in (8, 9, 10):
        assert s.account(n).is_actor
    assert s.account(9).controller == Address(6) and s.account(10).controller == Address(6)
    assert s.account(11).key == genesis_key(GENESIS_USER) == s.account(12).key
    assert s.account(13).key == genesis_key(FIRST_USER)
    for n in (11, 12, 13):
        assert s.account(n).memory == 10_000


def test_genesis_coins():
    s = genesis_state()
    assert s.total_funds() == MAX_SUPPLY
    governance = sum(s.account(n).balance for n in range(8))
    assert governance == 999 * EMERALD
    users = [s.account(n).balance for n in (GENESIS_USER, GENESIS_PEER, FIRST_USER)]
    assert users[0] == users[1] + users[2]
    assert len(s.peers) == 1
    peer = s.peer(genesis_key(GENESIS_USER))
    assert peer.controller == Address(GENESIS_PEER) and peer.stake_shares == peer.balance > 0
    same("(coin-supply)", "1000000000000000")


def test_genesis_core_and_libraries():
    same("*registry*", "#9")
    same("(actor? *registry*)", "true")
    same("(actor? #10)", "true")
    same("(:controller (account #9))", "#6")
    same("(callable? #9 'nothing)", "false")


def test_genesis_is_cached_and_sessions_are_fast():
    import time

    from convex_repl.api import Session
    assert genesis_state() is genesis_state()
    t = time.perf_counter()
    for _ in range(100):
        Session()
    assert time.perf_counter() - t < 1.0
    assert Session().address == FIRST_USER


def test_def_in_a_loop_stays_cheap():
    r = ok("(dotimes [i 2000] (def x i)) x")
    assert r.printed == "1999"


def test_holdings_special_is_an_empty_index():
    same("*holdings*", "(index)")
    assert err("(*state* :a :b :c)") == "ARITY"
