"""Account and actor core functions through the Session API: balances and transfers, memory
allowance, actor calls (offers, scopes, boundaries), deploy, eval-as / query-as, controllers,
parents, keys, holdings, undef, log and schedule. Normal, edge and error cases."""
from __future__ import annotations

import pytest

from convex_repl.api import Session
from kernel.cvm.context import Context
from kernel.cvm.registry import BY_CODE, CORE, DOCS
from tests.cvm import err, ok, same, session

ACTOR_ECHO = ("(def act (deploy '(do (defn receive-coin ^{:callable true} [sender amount data] "
              "(accept amount)) (defn echo-offer ^{:callable true} [] *offer*))))")


def as_account(s: Session, n: int) -> Session:
    return Session(s.state, n)


# --- codes and docs -----------------------------------------------------------------------------

CODES = {"account": 36, "balance": 37, "transfer": 38, "set-memory": 39, "transfer-memory": 40,
         "eval-as": 18, "query-as": 19, "schedule*": 20, "callable?": 30, "undef*": 31,
         "get-holding": 96, "set-holding": 97, "set-controller": 98, "set-parent": 99,
         "set-key": 100, "log": 384, "accept": 385, "call*": 386, "deploy": 387,
         "set-stake": 64, "create-peer": 65, "set-peer-data": 66, "set-peer-stake": 67}


@pytest.mark.parametrize("name,code", sorted(CODES.items()))
def test_reference_codes_and_docs(name, code):
    assert CORE[name].code == code and BY_CODE[code] is CORE[name]
    d = DOCS[name]
    assert d["description"] and d["signature"] and d["examples"]


@pytest.mark.parametrize("name", sorted(CODES))
def test_documented_results_hold(name):
    for ex in DOCS[name]["examples"]:
        if "result" in ex:
            assert ok(ex["code"]).printed == ex["result"], ex["code"]


# --- account / balance --------------------------------------------------------------------------

def test_account_and_balance():
    same("(:balance (account *address*))", "*balance*")
    same("(account #67896876)", "nil")
    same("(balance #666788)", "nil")
    same("(balance #8)", "0")
    same("(> (balance *address*) 0)", "true")
    for src in ("(account nil)", "(account 8)", "(account :foo)", "(account [])",
                "(account 'foo)", "(balance nil)", "(balance 0x00)", "(balance 1)"):
        assert err(src) == "CAST", src
    for src in ("(account)", "(account 1 2)", "(balance)", "(balance 1 2)"):
        assert err(src) == "ARITY", src


def test_account_and_actor_predicates():
    same("(account? *address*)", "true")
    same("(account? *registry*)", "true")
    for x in ('"deadbeef"', "0x1234", "0x0000000000000008", ":foo", "nil", "[]", "'foo",
              "#77777777", "8"):
        same(f"(account? {x})", "false")
    same("(actor? #8)", "true")
    same("(actor? *address*)", "false")
    for x in ("8", ":foo", "nil", "[#8]", "#99999999", '"abc"'):
        same(f"(actor? {x})", "false")
    same("(actor? (deploy '(def a 1)))", "true")
    assert err("(actor?)") == "ARITY"
    assert err("(actor? :foo :bar)") == "ARITY"
    assert err("(account? 1 2)") == "ARITY"


# --- transfer -----------------------------------------------------------------------------------

def test_transfer_to_users():
    same("(transfer *address* 1337)", "1337")
    same("(let [b *balance*] (transfer *address* 1337) (- *balance* b))", "0")
    same("(let [b (balance #11)] (transfer #11 1000) (- (balance #11) b))", "1000")
    same("(let [b *balance*] (transfer #11 1000) (- b *balance*))", "1000")
    same("(let [a (create-account *key*)] (transfer a 55) (balance a))", "55")
    same("(transfer #11 0)", "0")


def test_transfer_errors():
    assert err("(transfer (address 666666) 1337)") == "NOBODY"
    assert err("(transfer *address* -1000)") == "ARGUMENT"
    assert err("(transfer *address* 9223372036854775807)") == "ARGUMENT"
    assert err("(transfer *address* 9223372036854775808)") == "CAST"
    assert err("(transfer *address* 999999999999999999)") == "FUNDS"
    assert err("(transfer :foo 1)") == "CAST"
    assert err("(transfer *address* :foo)") == "CAST"
    for src in ("(transfer)", "(transfer 1)", "(transfer 1 2 3)"):
        assert err(src) == "ARITY"


def test_transfer_to_actors_goes_through_receive_coin():
    same(f"(do {ACTOR_ECHO} [(transfer act 100) (balance act)])", "[100 100]")
    half = ("(deploy '(defn receive-coin ^{:callable true} [s amount data] "
            "(accept (long (/ amount 2)))))")
    same(f"(let [r {half}] [(transfer r 100) (balance r)])", "[50 50]")
    none = "(deploy '(defn receive-coin ^{:callable true} [s amount data] (accept 0)))"
    same(f"(let [r {none} b *balance*] [(transfer r 100) (balance r) (- b *balance*)])",
         "[0 0 0]")
    assert err("(transfer #8 1337)") == "STATE"          # no receive-coin
    same("(let [b (balance #0)] (transfer #0 1000) (- (balance #0) b))", "1000")   # burn


def test_transferring_the_balance_away_runs_out_of_juice():
    # as in the reference, the juice limit shrinks to what the remaining balance can pay
    assert err("(transfer #12 *balance*)") == "JUICE"
    same("(do (transfer #12 (- *balance* 100000)) *juice-limit*)", "10000")


# --- memory -------------------------------------------------------------------------------------

def test_set_memory():
    same("(set-memory *memory*)", "0")
    same("(do (set-memory 0) *memory*)", "0")
    same("(< (let [b *balance*] (set-memory (inc *memory*)) (- *balance* b)) 0)", "true")
    same("(> (let [b *balance*] (set-memory (dec *memory*)) (- *balance* b)) 0)", "true")
    same("(<= *memory-price* (set-memory (inc *memory*)))", "true")
    # the pool keeps its constant product and every coin stays accounted for
    s = session()
    before = s.state
    assert s.eval("(set-memory 20000)").error is None
    after = s.state
    assert after.total_funds() == before.total_funds()
    assert after.total_memory() == before.total_memory()
    assert err("(set-memory 1000000000000000000)") == "FUNDS"
    for src in ("(set-memory -1)", "(set-memory -10000000)", "(set-memory -9223372036854775808)"):
        assert err(src) == "ARGUMENT"
    assert err("(set-memory :foo)") == "CAST"
    assert err("(set-memory nil)") == "CAST"
    assert err("(set-memory)") == "ARITY"
    assert err("(set-memory 1 2)") == "ARITY"


def test_transfer_memory():
    same("*memory*", "10000")
    same("[(transfer-memory *address* 1337) *memory*]", "[1337 10000]")
    same("(do (transfer-memory #11 1337) [*memory* (:allowance (account #11))])", "[8663 11337]")
    same("(do (transfer-memory #11 10000) *memory*)", "0")
    assert err("(transfer-memory *address* -1000)") == "ARGUMENT"
    assert err("(transfer-memory #88888888 0)") == "NOBODY"
    assert err("(transfer-memory *address* 10001)") == "MEMORY"
    assert err("(transfer-memory -1000 1000)") == "CAST"
    assert err("(transfer-memory *address* :foo)") == "CAST"
    for src in ("(transfer-memory -1000)", "(transfer-memory)", "(transfer-memory *address* 100 100)"):
        assert err(src) == "ARITY"


# --- accept, call, offers -----------------------------------------------------------------------

def test_accept_outside_a_call():
    same("(accept 0)", "0")
    same("(accept *offer*)", "0")
    same("(accept (byte 0))", "0")
    assert err("(accept :foo)") == "CAST"
    assert err("(accept 0.3)") == "CAST"
    assert err("(accept -1)") == "ARGUMENT"
    assert err("(accept 1)") == "STATE"
    assert err("(accept)") == "ARITY"
    assert err("(accept 1 2)") == "ARITY"


def test_offers_accept_and_refund():
    same(f"(do {ACTOR_ECHO} (transfer act 100) [(call act 999 (echo-offer)) (balance act)])",
         "[999 100]")
    same(f"(do {ACTOR_ECHO} [(call act 666 (receive-coin *address* 350 nil)) (balance act)])",
         "[350 350]")
    # the unaccepted part of the offer comes back
    same(f"(do {ACTOR_ECHO} (let [b *balance*] (call act 666 (receive-coin *address* 350 nil)) "
         "(- b *balance*)))", "350")
    refund = ("(def act (deploy '(defn receive-coin ^{:callable true} [sender amount refund data] "
              "(accept amount) (transfer *caller* refund))))")
    same(f"(do {refund} [(call act 666 (receive-coin *address* 350 100 nil)) (balance act)])",
         "[100 250]")
    same(f"(do {ACTOR_ECHO} (call act 99999999999999 (echo-offer)))", "99999999999999")
    assert err(f"(do {ACTOR_ECHO} (call act 999999999999999999 (echo-offer)))") == "FUNDS"


def test_call_basics_and_errors():
    ctr = "(def ctr (deploy '(do (defn foo ^{:callable true} [] :bar))))"
    same(f"(do {ctr} [(call ctr (foo)) (call ctr 100 (foo))])", "[:bar :bar]")
    assert err(f"(do {ctr} (call ctr :foo (bad-fn 1 2)))") == "CAST"
    assert err(f"(do {ctr} (call ctr 12 (bad-fn 1 2)))") == "STATE"
    assert err(f"(do {ctr} (call ctr foo))") == "COMPILE"
    assert err(f"(do {ctr} (call ctr [foo]))") == "COMPILE"
    assert err("(call #666666 12 (bad-fn 1 2))") == "NOBODY"
    assert err(f"(do {ctr} (call ctr -12 (foo)))") == "ARGUMENT"
    assert err("(call #666666 -12 (bad-fn 1 2))") == "NOBODY"   # bad actor before bad offer
    assert err("(call)") == "ARITY"
    assert err("(call 12)") == "ARITY"


def test_callable_metadata_is_required():
    defs = ("(def c (deploy '(do (defn private [] :priv) (def ^{:callable true} trap :GOTCHA) "
            "(defn public ^{:callable true} [] :pub) (defn kw ^:callable [] :kw))))")
    same(f"(do {defs} [(call c (public)) (call c (kw))])", "[:pub :kw]")
    assert err(f"(do {defs} (call c (private)))") == "STATE"
    assert err(f"(do {defs} (call c (trap)))") == "STATE"
    same(f"(do {defs} [(callable? c 'public) (callable? c 'private) (callable? c 'trap) "
         "(callable? c 'nope) (callable? [c nil] 'public) (callable? [c 1] 'private)])",
         "[true false false false true false]")


def test_callable_q():
    for x in ("#1", "[#1 nil]", "[#1 #5675]"):
        same(f"(callable? {x})", "true")
    # an address of no account is not callable (Core.CALLABLE_Q checks the account exists)
    for x in ("[#1 #5675 #5875]", "nil", ":foo", "[]", "#6666666"):
        same(f"(callable? {x})", "false")
    same("(callable? #6666666 'something)", "false")
    for src in ("(callable? #8 :public)", "(callable? :foo :foo)", "(callable? nil :foo)",
                "(callable? #8 nil)", "(callable? #8 1)"):
        assert err(src) == "CAST", src
    assert err("(callable?)") == "ARITY"
    assert err("(callable? 1 2 3)") == "ARITY"


def test_call_star():
    ctr = "(def ctr (deploy '(do :foo (defn f ^{:callable true} [x] (inc x)))))"
    same(f"(do {ctr} (call* ctr 0 'f 8))", "9")
    assert err(f"(do {ctr} (call* ctr 0 :f 8))") == "CAST"
    assert err(f"(do {ctr} (call* ctr :foo 'f 1))") == "CAST"
    assert err(f"(do {ctr} (call* ctr 12 'bad-fn 1 2))") == "STATE"
    assert err(f"(do {ctr} (call* ctr 0 'f))") == "ARITY"       # the actor function's arity
    for src in ("(call*)", "(call* 12)", "(call* 1 2)"):
        assert err(src) == "ARITY"
    assert err("(call* :foo 0 'f)") == "CAST"
    assert err("(call* [#8] 0 'f)") == "CAST"
    assert err("(call* [:x :y] 0 'f)") == "CAST"


def test_call_context_switch():
    ctr = ("(def ctr (deploy '(do (defn foo ^{:callable true} [] (call *address* (bar))) "
           "(defn bar ^{:callable true} [] (= *address* *caller*)) "
           "(defn who ^{:callable true} [] [*address* *caller* *origin* *offer* *scope* *result*]))))")
    same(f"(do {ctr} [(call ctr (foo)) (call ctr (bar))])", "[true false]")
    same(f"(do {ctr} (call ctr 7 (who)))", "[ctr *address* *address* 7 nil nil]")
    same(f"(do {ctr} (call [ctr :sc] (who)))", "[ctr *address* *address* 0 :sc nil]")
    same(f"(do {ctr} (call* [ctr [1 2]] 0 'who))", "[ctr *address* *address* 0 [1 2] nil]")
    # nothing leaks back out of the call
    same(f"(do {ctr} (call [ctr :sc] 5 (who)) [*address* *caller* *offer* *scope*])",
         "[*address* nil 0 nil]")


def test_actor_state_changes_roll_back_on_error():
    s = session()
    s.eval("(def act (deploy '(do (defn set-and-fail ^{:callable true} [x] (def foo x) "
           "(fail :NOPE (str x))))))")
    r = s.eval("(call act (set-and-fail 100))")
    assert r.error == "NOPE"
    assert any("Calling Actor" in t and "set-and-fail" in t for t in r.trace)
    assert s.eval("(defined? act 'foo)").printed == "false"
    # a caught error also leaves the caller's offer untouched
    same("(let [a (deploy '(defn f ^:callable [] (accept 50) (fail :X \"no\"))) b *balance*] "
         "(try (call a 100 (f)) nil) [(- b *balance*) (balance a)])", "[0 0]")


def test_halt_rollback_return_at_the_call_boundary():
    act = ("(def act (deploy '(do (def g :foo) "
           "(defn h ^{:callable true} [] (def g 3) (halt 2) 1) "
           "(defn r ^{:callable true} [] (def g 4) (accept 10) (rollback 5) 1) "
           "(defn t ^{:callable true} [] (def g 6) (return 7) 1))))")
    same(f"(do {act} [(call act (h)) act/g])", "[2 3]")
    same(f"(do {act} [(call act 10 (r)) act/g (balance act)])", "[5 :foo 0]")
    same(f"(do {act} [(call act (t)) act/g])", "[7 6]")
    # the caller goes on after the boundary
    same(f"(do {act} (call act (h)) :after)", ":after")


def test_stray_exits_become_exception_errors():
    s = session()
    s.eval("(def act (deploy `(do (defn foo ^{:callable true} [] (reduced 1)))))")
    assert s.eval("(reduce (fn [_ _] (call act (foo))) nil [nil])").error == "EXCEPTION"


def test_deep_actor_recursion_is_a_depth_error():
    assert err("(do (def act (deploy '(defn f ^:callable [] (call *address* (f))))) "
               "(call act (f)))") == "DEPTH"


# --- deploy -------------------------------------------------------------------------------------

def test_deploy():
    same("(= *address* (let [ad (deploy '(def c *caller*))] ad/c))", "true")
    same("(let [cfn '(do 1)] (= (deploy cfn) (deploy cfn)))", "false")
    same("(let [a (deploy '(def x 1) '(def y (inc x)))] [a/x a/y (balance a) (:key (account a))])",
         "[1 2 0 nil]")
    same("(address? (deploy '(fn [] :foo :bar)))", "true")
    same("(let [n (count (:accounts *state*))] (= (address n) (deploy nil)))", "true")
    assert err("(deploy '(+ 1 :foo))") == "CAST"
    assert err("(deploy '(count))") == "ARITY"
    assert err("(deploy '(def a :foo) '(address a))") == "CAST"
    assert err("(deploy)") == "ARITY"
    # a failed deploy creates no account
    same("(let [n (count (:accounts *state*))] (try (deploy '(fail)) nil) "
         "(= n (count (:accounts *state*))))", "true")
    # halt keeps the deployment; rollback undoes it (the address is still returned)
    same("(let [a (deploy '(def x 1) '(halt 2) '(def x 3))] a/x)", "1")
    same("(let [a (deploy '(rollback 2))] (account a))", "nil")


def test_create_account():
    same("(= (query (create-account *key*)) (query (create-account *key*)))", "true")
    same("(let [a (create-account *key*)] [(= *key* (:key (account a))) (actor? a) (balance a)])",
         "[true false 0]")
    same("(let [n (count (:accounts *state*))] (dotimes [i 20] (create-account *key*)) "
         "(- (count (:accounts *state*)) n))", "20")
    for src in ("(create-account :foo)", "(create-account 1)", "(create-account nil)",
                "(create-account #666666)"):
        assert err(src) == "CAST", src
    assert err("(create-account 0x1234)") == "ARGUMENT"
    assert err("(create-account)") == "ARITY"
    assert err("(create-account 1 2)") == "ARITY"


def test_parent_lookup():
    src = ("(do (def dad (deploy `(defn baz [x] :foo) `(set-controller ~*address*) "
           "`(def CONST ^:static :bar))) "
           "(def son (deploy `(set-parent ~dad) `(set-controller ~*address*))) "
           "[(query-as son `(baz 'convex.core)) (son/baz :x) (query-as son '*parent*) "
           "(= dad (query-as son '*parent*))])")
    same(src, "[:foo :foo (query-as son '*parent*) true]")


# --- eval-as / query-as -------------------------------------------------------------------------

def test_eval_as_self():
    assert ok("(eval-as *address* (list 'str \\f \\o \\o))").printed == '"foo"'
    same("(eval-as *address* '[*address* *caller* *offer*])", "[*address* *address* 0]")
    assert err("(eval-as *registry* '1)") == "TRUST"
    assert err("(eval-as #0 '(def a 1))") == "TRUST"
    assert err("(eval-as #100000 1)") == "NOBODY"
    assert err("(eval-as nil 2)") == "CAST"
    assert err("(eval-as :foo 2)") == "CAST"
    assert err("(eval-as 1)") == "ARITY"
    assert err("(eval-as 1 2 3)") == "ARITY"


def test_eval_and_eval_as_juice():
    # the same execution juice, apart from the *address* argument
    s = session()
    a = s.fork().eval("(eval 1)").juice
    b = s.fork().eval("(eval-as *address* 1)").juice
    c = s.fork().eval("(query-as *address* 1)").juice
    assert b == c and b > a


def test_eval_as_trusted_user():
    s = session()
    assert s.eval("(set-controller #11)").printed == "#11"
    v = as_account(s, 11)
    assert v.fork().eval("(eval-as #13 '(+ 1 2))").printed == "3"
    assert v.fork().eval("(eval-as #13 '*address*)").printed == "#13"
    assert v.fork().eval("(eval-as #13 '*caller*)").printed == "#11"
    for exit_ in ("return", "halt", "rollback"):
        assert v.fork().eval(f"(eval-as #13 '({exit_} :foo))").printed == ":foo"
    assert v.fork().eval("(eval-as #13 '(assert false))").error == "ASSERT"
    # state changes made as #13 stay, except after rollback
    w = v.fork()
    w.eval("(eval-as #13 '(def made-by-11 1))")
    assert w.eval("#13/made-by-11").printed == "1"
    w.eval("(eval-as #13 '(do (def gone 1) (rollback 0)))")
    assert w.eval("(defined? #13 'gone)").printed == "false"


def test_eval_as_untrusted_user():
    s = session()
    s.eval("(set-controller nil)")
    assert as_account(s, 11).eval("(eval-as #13 '(+ 1 2))").error == "TRUST"
    s = session()
    s.eval("(set-controller #12)")
    assert as_account(s, 11).eval("(eval-as #13 '(+ 1 2))").error == "TRUST"


def test_eval_as_with_trust_monitors():
    s = session()
    s.eval("(def m (deploy '(defn check-trusted? ^{:callable true} [subject action obj] "
           "(= subject #11))))")
    s.eval("(set-controller m)")
    assert as_account(s, 11).eval("(eval-as #13 '(+ 1 2))").printed == "3"
    assert as_account(s, 12).eval("(eval-as #13 '(+ 1 2))").error == "TRUST"
    s = session()
    s.eval("(def m (deploy '(defn check-trusted? ^{:callable true} [subject action obj] "
           "(= subject *scope*))))")
    s.eval("(set-controller [m #11])")
    assert as_account(s, 11).eval("(eval-as #13 '(+ 1 2))").printed == "3"
    assert as_account(s, 12).eval("(eval-as #13 '(+ 1 2))").error == "TRUST"
    # a monitor that fails counts as a refusal
    s = session()
    s.eval("(def m (deploy '(defn check-trusted? ^{:callable true} [s a o] (fail :BOOM \"x\"))))")
    s.eval("(set-controller m)")
    assert as_account(s, 11).eval("(eval-as #13 1)").error == "TRUST"


def test_eval_as_in_actor_clears_offer():
    same("(do (def ACTOR (deploy '[(defn ^:callable off [] (eval-as *address* '*offer*))])) "
         "(call ACTOR 5678 (off)))", "0")


def test_query_as():
    same("(query-as #0 '[*origin* *address* *caller*])", "[*origin* #0 *address*]")
    same("(query-as *address* '[*origin* *address* *caller*])", "[*origin* *address* *address*]")
    same("(do (query-as #8 '(halt 777)) 666)", "666")
    same("(query-as #0 '(rollback 5))", "5")
    s = session()
    before = s.state
    assert s.eval("(query-as #0 '(def foo 1234))").printed == "1234"
    assert s.state is before
    assert err("(query-as #8888 '1)") == "NOBODY"
    assert err("(query-as nil '1)") == "CAST"
    assert err("(query-as :foo 1)") == "CAST"
    assert err("(query-as *address* 1 2)") == "ARITY"
    assert err("(query-as *address* (count 1))") == "CAST"
    assert err("(query-as #0 '(eval-as #8 1))") == "TRUST"


# --- controller, parent, key --------------------------------------------------------------------

def test_set_controller():
    same("(set-controller #11)", "#11")
    same("(set-controller (address 11))", "#11")
    same("(set-controller nil)", "nil")
    same("(do (set-controller #11) *controller*)", "#11")
    same("(set-controller [#11 :random-scope])", "[#11 :random-scope]")
    assert err("(set-controller [#11])") == "CAST"
    assert err("(set-controller [:foo :bar])") == "CAST"
    assert err("(set-controller [#9999999 :nonce])") == "NOBODY"
    assert err("(set-controller #666666)") == "NOBODY"
    assert err("(set-controller :foo)") == "CAST"
    assert err("(set-controller (address nil))") == "CAST"
    assert err("(set-controller)") == "ARITY"
    assert err("(set-controller 1 2)") == "ARITY"


def test_set_parent():
    same("(set-parent #11)", "#11")
    same("(do (set-parent #11) *parent*)", "#11")
    same("(do (set-parent #11) (set-parent nil) *parent*)", "nil")
    assert err("(set-parent #99999)") == "NOBODY"
    assert err("(set-parent *address*)") == "ARGUMENT"
    assert err("(set-parent :foo)") == "CAST"
    assert err("(set-parent [#8 :foo])") == "CAST"
    assert err("(set-parent (address nil))") == "CAST"
    assert err("(set-parent)") == "ARITY"
    assert err("(set-parent 1 2)") == "ARITY"


def test_set_key():
    zero = "0x" + "00" * 32
    same(f"(set-key {zero})", zero)
    same(f"(do (set-key {zero}) *key*)", zero)
    same("(do (set-key nil) [*key* (actor? *address*)])", "[nil true]")
    same(f"(do (def k {zero}) (def a (deploy `(set-key ~k))) (= k (:key (account a))))", "true")
    assert err("(set-key :foo)") == "CAST"
    assert err("(set-key #8)") == "CAST"
    assert err("(set-key 0x00)") == "ARGUMENT"
    assert err("(set-key)") == "ARITY"
    assert err("(set-key 0x 0x)") == "ARITY"


# --- holdings -----------------------------------------------------------------------------------

def test_holdings():
    same("*holdings*", "(index)")
    same("(get-holding *address*)", "nil")
    same("(do (set-holding #11 [1 2]) (get-holding #11))", "[1 2]")
    # the holding is recorded on the target account, under the setter's address
    same("(do (set-holding #11 :x) (get (:holdings (account #11)) *address*))", ":x")
    same("(do (set-holding *address* 5) *holdings*)", "(index *address* 5)")
    same("(do (set-holding *address* 5) (set-holding *address* nil) (:holdings (account *address*)))",
         "nil")
    # an actor sets holdings for the callers it serves
    same("(let [t (deploy '(defn give ^:callable [n] (set-holding *caller* n)))] "
         "(call t (give 42)) [(get *holdings* t) (query-as t '(get-holding #13))])", "[42 42]")
    same("(get-holding #99999999)", "nil")
    assert err("(set-holding #99999999 1)") == "NOBODY"
    assert err("(get-holding :foo)") == "CAST"
    assert err("(set-holding 1 2)") == "CAST"
    assert err("(get-holding)") == "ARITY"
    assert err("(set-holding #11)") == "ARITY"


# --- undef --------------------------------------------------------------------------------------

def test_undef():
    for src in ("(undef count)", "(undef foo)", "(undef *balance*)", "(undef bar)"):
        same(src, "nil")
    same("(do (def a 1) (def v [a 2]) (undef a) v)", "[1 2]")
    same("(do (def a 1) (undef a) (defined? 'a))", "false")
    same("(do (def ^:foo v 1) (undef v) (lookup-meta 'v))", "nil")
    same("(undef* 'nothing-here)", "nil")
    assert err("(do (def a 1) (undef a) a)") == "UNDECLARED"
    assert err("(undef* :foo)") == "ARGUMENT"
    assert err("(undef* 1)") == "ARGUMENT"
    assert err("(undef a b)") == "ARITY"
    assert err("(undef)") == "ARITY"
    assert err("(undef*)") == "ARITY"


def test_undef_of_a_core_name_keeps_the_core_definition():
    same("(do (undef count) (count [1 2]))", "2")


# --- log ----------------------------------------------------------------------------------------

def _ctx(src: str) -> Context:
    from lisp import read_all
    from lisp.expander import eval_form
    from stdlib.genesis import genesis_state
    ctx = Context(genesis_state(), 13)
    for f in read_all(src):
        eval_form(ctx, f)
    return ctx


def test_log():
    same("(log 1 2)", "[1 2]")
    same("(log)", "[]")
    ctx = _ctx("(log 1 2) (log 3 4)")
    assert [str(e) for e in ctx.log] == ["[#13 nil nil [1 2]]", "[#13 nil nil [3 4]]"]


def test_log_in_actors_and_rollback():
    ctx = _ctx("(def a (deploy '(do (defn event ^{:callable true} [& args] (apply log args)) "
               "(defn non-event ^{:callable true} [& args] (rollback (apply log args))))))"
               "(call [a :sc] (event 1 2)) (call a (non-event 3 4)) (query (log 5))")
    assert len(ctx.log) == 1
    entry = ctx.log[0]
    assert str(entry[1]) == ":sc" and str(entry[3]) == "[1 2]"
    from kernel.data.scalars import Symbol
    assert entry[0] == ctx.lookup_value(13, Symbol("a"))


def test_log_juice():
    base = ok("(vector 1 2)").juice
    assert ok("(log 1 2)").juice == base + 1000    # the reference's LOG cost on top


# --- schedule -----------------------------------------------------------------------------------

def test_schedule():
    s = session()
    t0 = s.state.timestamp
    assert s.eval("(schedule (+ *timestamp* 1000) (def a 2))").printed == str(t0 + 1000)
    sched = s.state.schedule
    assert len(sched) == 1
    key, items = sched.entry_at(0)
    assert int.from_bytes(key.data, "big") == t0 + 1000
    assert str(items[0][0]) == "#13"
    assert s.eval("a").error == "UNDECLARED"        # not run yet
    # past timestamps are scheduled for now; same-time entries keep their order
    assert s.eval("(schedule 0 (def b 1))").printed == str(t0)
    s.eval("(schedule* (+ *timestamp* 1000) (compile '(def c 3)))")
    assert len(s.state.schedule.get(key)) == 2


def test_schedule_juice_grows_with_delay():
    near = ok("(schedule (+ *timestamp* 1) :x)").juice
    far = ok("(schedule (+ *timestamp* 360000000) :x)").juice
    assert far - near == 1000


def test_schedule_errors():
    for src in ("(schedule)", "(schedule 1)", "(schedule 1 2 3)", "(schedule :foo 2 3)"):
        assert err(src) == "ARITY"
    assert err("(schedule :foo (def a 2))") == "CAST"
    assert err("(schedule nil (def a 2))") == "CAST"
    assert err("(schedule* (+ *timestamp* 1) '(def a 2))") == "CAST"
    assert err("(schedule* (+ *timestamp* 1))") == "ARITY"
    assert err("(schedule* (+ *timestamp* 1) :foo :bar)") == "ARITY"
    assert err("(schedule 99999999999999999999 :x)") == "CAST"


# --- scope --------------------------------------------------------------------------------------

def test_scope():
    same("(scope [#17 :foo])", ":foo")
    same("(scope #11)", "nil")
    same("(scope [#11 nil])", "nil")
    assert err("(scope :foo)") == "CAST"
    assert err("(scope [#1 2 3])") == "CAST"
    assert err("(scope)") == "ARITY"
