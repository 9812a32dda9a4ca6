"""Blocks: time, scheduled operations (CAD018), transactions in order, fee distribution, and
determinism (the same blocks from the same state give the same state hash)."""
from __future__ import annotations

import lisp
from convex_repl.api import Session
from kernel import Blob, Keyword, Symbol, value_id
from kernel.transition.ledger import genesis_signing_key
from kernel.state.state import MEMORY_POOL_GROWTH, MEMORY_POOL_GROWTH_INTERVAL
from kernel.state.transactions import Block, Invoke, Transfer, sign
from kernel.transition import (MAX_SCHEDULED_PER_BLOCK, MAX_TRANSACTIONS_PER_BLOCK, advance,
                               apply_block, apply_time, local_peer)
from stdlib.genesis import FIRST_USER, GENESIS_PEER, GENESIS_USER, genesis_state

PEER_KEY = genesis_signing_key(GENESIS_USER)        # the genesis peer's key
K13, K11 = genesis_signing_key(FIRST_USER), genesis_signing_key(GENESIS_USER)


def invoke(key, origin, seq, src):
    return sign(key, Invoke.create(origin, seq, lisp.read(src)))


def some_blocks(state):
    t = state.timestamp
    b1 = Block.create(t + 1000, [
        sign(K13, Transfer.create(FIRST_USER, 1, GENESIS_PEER, 5000)),
        invoke(K11, GENESIS_USER, 1, "(def greeting \"hello\")"),
        invoke(K13, FIRST_USER, 2, "(schedule (+ *timestamp* 5000) (def later *timestamp*))"),
        invoke(K13, FIRST_USER, 3, "(fail :NO \"not this one\")"),
    ])
    b2 = Block.create(t + 7000, [
        invoke(K13, FIRST_USER, 4, "later"),
        sign(K11, Transfer.create(GENESIS_USER, 2, FIRST_USER, 77)),
        invoke(K13, FIRST_USER, 4, "(def replayed true)"),        # sequence already used
    ])
    return [sign(PEER_KEY, b1), sign(PEER_KEY, b2)]


def run(blocks):
    state = genesis_state()
    results = []
    for b in blocks:
        br = apply_block(state, b)
        results.append(br)
        state = br.state
    return state, results


def test_same_blocks_give_the_same_state_hash():
    blocks = some_blocks(genesis_state())
    s1, r1 = run(blocks)
    s2, r2 = run(blocks)
    assert s1 is not s2
    assert value_id(s1) == value_id(s2) != value_id(genesis_state())
    assert [value_id(r) for r in r1] == [value_id(r) for r in r2]
    errors = [[r.error for r in br.results] for br in r1]
    assert errors == [[None, None, None, Keyword("NO")],
                      [None, None, Keyword("SEQUENCE")]]
    # the op scheduled for t+6000 ran at the start of the second block (time t+7000),
    # before its transactions
    assert r1[1].results[0].value == genesis_state().timestamp + 7000


def test_block_results_report_ids_and_info():
    _, (br, _) = run(some_blocks(genesis_state()))
    assert [r.id for r in br.results] == [0, 1, 2, 3]
    ok, failed = br.results[0], br.results[3]
    assert ok.info_value("fees") > 0 and ok.info_value("juice") > 0
    assert failed.info_value("source") == Keyword("CODE")


def test_fees_go_half_to_the_peer_and_the_rest_to_the_reward_pool():
    st = genesis_state()
    peer_key = local_peer(st)
    block = sign(PEER_KEY, Block.create(st.timestamp + 10, [
        sign(K13, Transfer.create(FIRST_USER, 1, GENESIS_PEER, 1))]))
    br = apply_block(st, block)
    fees = br.results[0].info_value("fees")
    after = br.state
    assert after.total_funds() == st.total_funds()
    assert after.peer(peer_key).balance - st.peer(peer_key).balance == fees // 2
    assert after.account(0).balance - st.account(0).balance == fees - fees // 2
    assert after.peer(peer_key).timestamp == st.timestamp + 10
    assert after.timestamp == st.timestamp + 10


def test_invalid_blocks_change_nothing():
    st = genesis_state()
    txs = [sign(K13, Transfer.create(FIRST_USER, 1, GENESIS_PEER, 1))]
    block = Block.create(st.timestamp + 10, txs)
    cases = [sign(K13, block),                                           # not a peer
             type(sign(PEER_KEY, block))(bytes(PEER_KEY.verify_key), bytes(64), block),
             sign(PEER_KEY, Block.create(st.timestamp - 16 * 60 * 1000, txs)),   # too old
             sign(PEER_KEY, Block.create(st.timestamp + 10, txs * (MAX_TRANSACTIONS_PER_BLOCK
                                                                    + 1)))]
    for b in cases:
        br = apply_block(st, b)
        assert br.state is st
        assert all(r.error == Keyword("PEER") for r in br.results) and len(br.results) > 0


def test_scheduled_operations_fire_when_time_advances():
    s = Session()
    r = s.transact("(schedule (+ *timestamp* 1000) (def fired *timestamp*))")
    assert r.ok
    due = s.timestamp + 1000
    assert r.value == due and len(s.state.schedule) == 1
    s.advance(999)
    assert s.eval("fired").error == "UNDECLARED" and len(s.state.schedule) == 1
    s.advance(1)
    assert s.eval("fired").value == due
    assert len(s.state.schedule) == 0


def test_scheduled_operations_run_in_time_then_scheduling_order():
    s = Session()
    t = s.timestamp
    r = s.transact(f"(def log []) "
                   f"(schedule {t + 200} (def log (conj log :b))) "
                   f"(schedule {t + 100} (def log (conj log :a))) "
                   f"(schedule {t + 200} (def log (conj log :c)))")
    assert r.ok, r.message
    s.advance(500)
    assert s.eval("log").printed == "[:a :b :c]"


def test_scheduled_operation_pays_juice_and_gets_its_memory_back():
    s = Session()
    r = s.transact("(schedule (+ *timestamp* 10) (def x 1))")
    assert r.ok and r.memory > 0            # the schedule entry uses memory
    before = s.state.account(FIRST_USER)
    state, outcomes = advance(s.state, 10)
    (o,) = outcomes
    assert o.error is None and o.juice > 0 and o.fees == o.juice * s.state.juice_price
    after = state.account(FIRST_USER)
    assert after.balance == before.balance - o.fees
    assert after.sequence == before.sequence          # not a transaction
    assert o.mem < 0 and after.memory == before.memory - o.mem
    assert state.total_funds() == s.state.total_funds()


def test_failing_scheduled_operation_is_dropped():
    s = Session()
    assert s.transact("(schedule (+ *timestamp* 10) (fail :LATER \"x\"))").ok
    assert s.transact("(schedule (+ *timestamp* 10) (def ok-after true))").ok
    before = s.state.account(FIRST_USER)
    state, outcomes = advance(s.state, 10)
    assert [o.error for o in outcomes] == [Keyword("LATER"), None]
    assert len(state.schedule) == 0
    assert state.account(FIRST_USER).environment.get(Symbol("ok-after")) is True
    assert state.account(FIRST_USER).balance < before.balance      # both paid juice


def test_scheduled_operations_in_a_block_run_before_its_transactions():
    st = genesis_state()
    t = st.timestamp
    b1 = Block.create(t, [invoke(K13, FIRST_USER, 1, f"(schedule {t + 50} (def v 1))")])
    b2 = Block.create(t + 49, [invoke(K13, FIRST_USER, 2, "(boolean (lookup-meta 'v))")])
    b3 = Block.create(t + 50, [invoke(K13, FIRST_USER, 3, "v")])
    peer = local_peer(st)
    results = []
    for b in (b1, b2, b3):
        br = apply_block(st, b, peer)
        st = br.state
        results.append(br.results[0])
    assert results[1].value is False
    assert results[2].error is None and results[2].value == 1


def test_at_most_a_hundred_scheduled_operations_per_block():
    s = Session()
    n = MAX_SCHEDULED_PER_BLOCK + 5
    r = s.transact(f"(dotimes [i {n}] (schedule (+ *timestamp* 1) (def last-run i)))")
    assert r.ok, r.message
    state, outcomes = advance(s.state, 1)
    assert len(outcomes) == MAX_SCHEDULED_PER_BLOCK and len(state.schedule) == 1
    state, outcomes = advance(state, 0)
    assert len(outcomes) == 5 and len(state.schedule) == 0


def test_memory_pool_grows_with_time():
    st = genesis_state()
    step = MEMORY_POOL_GROWTH_INTERVAL
    later = apply_time(st, (st.timestamp // step + 3) * step)
    assert later.memory_pool == st.memory_pool + 3 * MEMORY_POOL_GROWTH
    assert later.memory_value == st.memory_value
    assert apply_time(later, st.timestamp) is later          # time never goes back


def test_session_apply_block():
    s = Session()
    b = Block.create(s.timestamp + 5, [sign(K13, Transfer.create(FIRST_USER, 1, GENESIS_PEER, 9))])
    br = s.apply_block(sign(PEER_KEY, b))
    assert br.results[0].value == 9 and s.state is br.state
    assert s.timestamp == b.timestamp
    assert isinstance(local_peer(s.state), Blob)


def test_large_blocks_check_signatures_ahead_with_the_same_results():
    import kernel.transition.block as T
    from nacl.signing import SigningKey
    st = genesis_state()
    new_key = SigningKey(b"\x09" * 32)
    txs = [sign(K13, Transfer.create(FIRST_USER, i + 1 - 4 * (i > 8), GENESIS_PEER, 1))
           for i in range(70)]                  # #13's sequence numbers skip positions 5-8
    txs[5] = sign(new_key, Transfer.create(GENESIS_USER, 1, FIRST_USER, 1))     # wrong key
    txs[6] = invoke(K11, GENESIS_USER, 1,                                        # key changes
                    f"(set-key 0x{bytes(new_key.verify_key).hex()})")
    txs[7] = sign(K11, Transfer.create(GENESIS_USER, 2, FIRST_USER, 1))         # old key now
    txs[8] = sign(new_key, Transfer.create(GENESIS_USER, 2, FIRST_USER, 1))     # new key
    block = sign(PEER_KEY, Block.create(st.timestamp + 1, txs))
    assert len(txs) >= T.PARALLEL_MIN
    ahead = apply_block(st, block)
    saved = T.PARALLEL_MIN
    T.PARALLEL_MIN = 10**9
    try:
        in_turn = apply_block(st, block)
    finally:
        T.PARALLEL_MIN = saved
    assert value_id(ahead) == value_id(in_turn)
    errors = [r.error for r in ahead.results]
    assert errors[5:9] == [Keyword("SIGNATURE"), None, Keyword("SIGNATURE"), None]
    assert errors.count(None) == 70 - 2
