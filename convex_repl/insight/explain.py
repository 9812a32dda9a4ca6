"""The op-tree explorer: the ops compiled from a form as written, each with how often it ran
and the juice it charged itself, from a traced run (kernel.cvm.trace.Recorder's op
statistics). A function's body sits under the `fn` that made it; bodies of functions
defined before the form (and called by it) follow as trees of their own. `total` is a
node's juice with everything under it, so the hot path (from each root, the child with the
largest total) shows where the juice went. Expanding and compiling the form is reported
apart: it is juice too, spent before any op runs.
"""
from __future__ import annotations

from typing import Any, Optional

from kernel.cvm import ops as O
from kernel.data.printer import print_brief

from convex_repl.insight.calls import result_head
from convex_repl.insight.run import Traced

CODE_CHARS = 70
MAX_NODES = 2000        # nodes per explained run; past this the tree is cut with a note


def op_children(op: Any) -> list:
    """The ops an op runs directly, in order (a lambda: the bodies of its functions)."""
    t = type(op)
    if t is O.Invoke:
        return [op.fn, *op.args]
    if t in (O.Do, O.Cond, O.Query, O.Try, O.Let):
        return list(op.ops)
    if t in (O.Def, O.SetLocal):
        return [] if op.op is None else [op.op]
    if t is O.Lookup:
        return [] if op.address is None else [op.address]
    if t is O.Lambda:
        return [b for b in fn_bodies(op.fn)]
    return []


def fn_bodies(f: Any) -> list:
    from kernel.cvm.fn import Fn, MultiFn
    if isinstance(f, Fn):
        return [f.body] if isinstance(f.body, O.Op) else []
    if isinstance(f, MultiFn):
        try:
            return [g.body for g in f._functions() if isinstance(g, Fn)
                    and isinstance(g.body, O.Op)]
        except Exception:       # a function vector only known by its hash
            return []
    return []


def _label(op: Any) -> str:
    t = type(op)
    if t is O.Lambda:
        return "fn"
    if t is O.Let:
        return "loop" if op.is_loop else "let"
    return {"Invoke": "call", "SetLocal": "set!", "Constant": "const"}.get(
        t.__name__, t.__name__.lower())


class Node:
    __slots__ = ("op", "count", "juice", "total", "children", "hot")

    def __init__(self, op: Any, count: int, juice: int):
        self.op, self.count, self.juice = op, count, juice
        self.total = juice
        self.children: list = []
        self.hot = False


def build(t: Traced) -> dict:
    """{"roots": [Node], "functions": [(name, address, Node)], "compile_juice": int,
    "cut": bool}: the explained trees of a traced run."""
    stats = t.recorder.stats
    budget = [MAX_NODES]
    seen_bodies: set = set()

    def node(op: Any, parent_id: int) -> Optional[Node]:
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        st = stats.get((parent_id, id(op)))
        n = Node(op, st.count if st else 0, st.juice if st else 0)
        lam = type(op) is O.Lambda
        for c in op_children(op):
            if lam:
                seen_bodies.add(id(c))
            k = node(c, 0 if lam else id(op))
            if k is not None:
                n.children.append(k)
                n.total += k.total
        return n

    roots = [n for n in (node(op, 0) for op in t.roots if op is not None) if n is not None]
    functions = []
    for name, addr, body in _called_bodies(t):
        if id(body) in seen_bodies:
            continue
        seen_bodies.add(id(body))
        n = node(body, 0)
        if n is not None:
            functions.append((name, addr, n))
    for n in roots + [f[2] for f in functions]:
        _mark_hot(n)
    ran = sum(n.total for n in roots) + sum(f[2].total for f in functions)
    return {"roots": roots, "functions": functions, "cut": budget[0] <= 0,
            "compile_juice": max(0, t.result.juice - ran)}


def _called_bodies(t: Traced) -> list:
    """(name, address, body op) of each closure the run called, first call first."""
    out, seen, todo = [], set(), list(reversed(t.recorder.root.calls))
    while todo:
        c = todo.pop()
        for b in fn_bodies(c._fn_value) if c._fn_value is not None else ():
            if id(b) not in seen:
                seen.add(id(b))
                out.append((c.fn, c.address, b))
        todo.extend(reversed(c.calls))
    return out


def _mark_hot(n: Node) -> None:
    while n is not None and n.total > 0:
        n.hot = True
        n = max(n.children, key=lambda k: k.total, default=None)


def node_json(n: Node) -> dict:
    return {"op": _label(n.op), "code": print_brief(n.op, CODE_CHARS), "count": n.count,
            "juice": n.juice, "total": n.total, "hot": n.hot,
            "children": [node_json(k) for k in n.children]}


def explain_json(t: Traced) -> dict:
    b = build(t)
    r = t.result
    out = {"value": r.printed if r.ok else None, "error": r.error, "juice": r.juice,
           "compile_juice": b["compile_juice"], "ops": [node_json(n) for n in b["roots"]],
           "functions": [{"name": name, "address": None if a is None else f"#{a}",
                          "body": node_json(n)} for name, a, n in b["functions"]]}
    if b["cut"]:
        out["cut"] = MAX_NODES
    return out


def _text(n: Node) -> Any:
    from rich.text import Text
    style = "bold yellow" if n.hot else ("dim" if n.count == 0 else "")
    t = Text()
    t.append(f"{_label(n.op):<6} ", style=style)
    t.append(print_brief(n.op, CODE_CHARS), style=style)
    t.append(f"  ×{n.count:,}", style="cyan" if n.count else "dim")
    t.append(f"  {n.juice:,} juice", style="cyan" if n.juice else "dim")
    if n.children and n.total != n.juice:
        t.append(f" (total {n.total:,})", style="dim")
    return t


def explain_tree(t: Traced) -> Any:
    """The explained run as a rich Tree: the hot path in bold yellow, ops that never ran dim."""
    from rich.text import Text
    from rich.tree import Tree
    b = build(t)
    r = t.result
    head = result_head(r, CODE_CHARS)
    head.append(f"  [{r.juice:,} juice: {r.juice - b['compile_juice']:,} running ops, "
                f"{b['compile_juice']:,} expanding and compiling]", style="cyan")
    tree = Tree(head)

    def add(parent: Any, n: Node) -> None:
        br = parent.add(_text(n))
        for k in n.children:
            add(br, k)

    for n in b["roots"]:
        add(tree, n)
    for name, a, n in b["functions"]:
        br = tree.add(Text(f"body of {name}" + ("" if a is None else f" (#{a})")
                           + " (defined before this form)", style="bold"))
        add(br, n)
    if b["cut"]:
        tree.add(Text(f"… cut at {MAX_NODES} ops", style="dim"))
    tree.add(Text("×N: times the op ran · juice: what it charged itself · total: with "
                  "everything under it · hot path in bold", style="dim"))
    return tree


__all__ = ["build", "explain_json", "explain_tree", "op_children", "fn_bodies"]
