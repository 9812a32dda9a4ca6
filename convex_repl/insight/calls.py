"""Call traces: the tree of calls a traced run made (kernel.cvm.trace.Call), as JSON for
tools and as a rich tree for people, each call with its arguments, result or error and the
juice it used including its callees; `depth` cuts the tree below that many levels. When
the run's source positions are known (`where`: coverage.SourceMap.where), each call made
from that source says where: `file:line:col`."""
from __future__ import annotations

from typing import Any, Optional

from kernel.data.printer import display_brief, print_brief
from kernel.data.scalars import Keyword

from convex_repl.insight.run import Traced

ARG_CHARS = 60          # characters of one argument or result shown in the tree


def _code(v: Any) -> Optional[str]:
    if v is None:
        return None
    return v.name if type(v) is Keyword else print_brief(v)


def call_json(c: Any, depth: Optional[int], level: int = 1, where: Any = None) -> dict:
    d: dict = {"fn": c.fn, "address": None if c.address is None else f"#{c.address}",
               "args": [print_brief(a, 10_000) for a in c.args],
               "result": None if c.error is not None else print_brief(c.result, 10_000),
               "error": _code(c.error), "juice": c.juice}
    if c.error is not None and c.message is not None:
        d["message"] = display_brief(c.message)
    if c.recurs:
        d["recurs"] = c.recurs
    at = where(c.site) if where is not None and c.site is not None else None
    if at is not None:
        d["at"] = at
    if depth is not None and level >= depth:
        d["calls"] = []
        hidden = len(c.calls) + c.omitted
        if hidden:
            d["omitted"] = hidden
    else:
        d["calls"] = [call_json(k, depth, level + 1, where) for k in c.calls]
        if c.omitted:
            d["omitted"] = c.omitted
    return d


def trace_json(t: Traced, depth: Optional[int] = None, where: Any = None) -> dict:
    """{"value", "error", "message", "juice", "calls": [...]}: the root is the whole run."""
    r = t.result
    root = t.recorder.root
    out: dict = {"value": r.printed if r.ok else None, "error": r.error, "juice": r.juice,
                 "calls": [] if depth == 0 else [call_json(k, depth, 1, where)
                                                 for k in root.calls]}
    if not r.ok:
        out["message"] = r.message
    if root.omitted:
        out["omitted"] = root.omitted
    return out


def call_label(c: Any, home: Optional[int], where: Any = None) -> Any:
    """One call as a rich Text: `(#22/bump 5) => 10  [512 juice]`."""
    from rich.text import Text
    elsewhere = c.address not in (None, home)
    name = c.fn if c.core or not elsewhere else f"#{c.address}/{c.fn}"
    args = " ".join(print_brief(a, ARG_CHARS) for a in c.args)
    t = Text()
    t.append(f"({name}{' ' if args else ''}{args})", style="bold")
    if c.core and elsewhere:
        t.append(f" in #{c.address}")
    if c.error is not None:
        msg = "" if c.message is None else " " + display_brief(c.message)[:ARG_CHARS]
        t.append(f" !! :{_code(c.error)}{msg}", style="red")
    else:
        t.append(" => " + print_brief(c.result, ARG_CHARS), style="green")
    extra = f", {c.recurs} recur{'s' if c.recurs != 1 else ''}" if c.recurs else ""
    t.append(f"  [{c.juice:,} juice{extra}]", style="cyan")
    at = where(c.site) if where is not None and c.site is not None else None
    if at is not None:
        t.append(f"  {at}", style="dim")
    return t


def result_head(r: Any, chars: int) -> Any:
    """A run's outcome as the head of a rich Tree: `=> value` (cut to `chars`) in green, or
    `!! :CODE message` in red; the caller appends what it says about juice."""
    from rich.text import Text
    head = Text()
    if r.ok:
        head.append("=> " + print_brief(r.value, chars), style="green")
    else:
        head.append(f"!! :{r.error} {r.message or ''}".rstrip(), style="red")
    return head


def trace_tree(t: Traced, home: Optional[int] = None, depth: Optional[int] = None,
               where: Any = None) -> Any:
    """The call tree as a rich Tree, rooted at the run's result and total juice."""
    from rich.text import Text
    from rich.tree import Tree
    r = t.result
    head = result_head(r, ARG_CHARS)
    head.append(f"  [{r.juice:,} juice in all]", style="cyan")
    tree = Tree(head)

    def add(parent: Any, c: Any, level: int) -> None:
        branch = parent.add(call_label(c, home, where))
        if depth is not None and level >= depth:
            hidden = len(c.calls) + c.omitted
            if hidden:
                branch.add(Text(f"… {hidden} call{'s' if hidden != 1 else ''} below "
                                "(depth limit)", style="dim"))
            return
        for k in c.calls:
            add(branch, k, level + 1)
        if c.omitted:
            branch.add(Text(f"… {c.omitted} more call{'s' if c.omitted != 1 else ''} below, "
                            "not recorded (depth or count limit)", style="dim"))

    root = t.recorder.root
    if depth != 0:
        for c in root.calls:
            add(tree, c, 1)
    if root.omitted:
        tree.add(Text(f"… {root.omitted} more calls not recorded", style="dim"))
    if not root.calls and not root.omitted:
        tree.add(Text("no function calls", style="dim"))
    return tree


__all__ = ["trace_json", "trace_tree", "call_json", "call_label"]
