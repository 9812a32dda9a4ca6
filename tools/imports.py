"""The import graph between our packages, and its cycles.

Every import counts, also those inside functions (a lazy import is still an arrow), except
those under `if TYPE_CHECKING:`. A module belongs to the innermost package (a folder with an
`__init__.py`) holding it; an import of a name from a package counts as an import of the
submodule of that name when there is one.

    python tools/imports.py            # the package graph; exit 1 if packages form a cycle
    python tools/imports.py --modules  # also every module-level arrow between packages
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = ("kernel", "lisp", "stdlib", "convex_repl")


def modules(root: Path = ROOT) -> dict:
    """module name -> (path, whether it is a package's __init__)."""
    out = {}
    for top in TOP:
        for path in sorted((root / top).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            init = parts[-1] == "__init__"
            if init:
                parts.pop()
            out[".".join(parts)] = (path, init)
    return out


def package_of(name: str, mods: dict) -> str:
    """The innermost package holding module `name` (a package's __init__ is its own). A
    package's `__main__` is a script that `python -m` runs and nothing imports: it stands on
    its own, above everything it imports."""
    if mods[name][1] or name.endswith(".__main__"):
        return name
    return name.rpartition(".")[0]


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports_of(name: str, mods: dict) -> set:
    """The modules of ours that module `name` imports."""
    path, init = mods[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = name if init else name.rpartition(".")[0]
    found: set = set()

    def resolve(target: str) -> None:
        while target and target not in mods:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for sub in child.orelse:
                    walk(sub)
                continue
            if isinstance(child, ast.Import):
                for a in child.names:
                    resolve(a.name)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = here.split(".")
                    up = up[:len(up) - child.level + 1]
                    base = ".".join(up + ([base] if base else []))
                for a in child.names:
                    sub = f"{base}.{a.name}" if base else a.name
                    resolve(sub if sub in mods else base)
            walk(child)

    walk(tree)
    return found


def package_graph(mods: dict) -> tuple:
    """(package -> packages it imports, (package, package) -> [module arrows])."""
    graph: dict = {}
    arrows: dict = {}
    for name in sorted(mods):
        src = package_of(name, mods)
        graph.setdefault(src, set())
        for target in sorted(imports_of(name, mods)):
            dst = package_of(target, mods)
            if dst != src:
                graph[src].add(dst)
                arrows.setdefault((src, dst), []).append(f"{name} -> {target}")
    return graph, arrows


def cycles(graph: dict) -> list:
    """The strongly connected components with more than one package (Tarjan, iterative)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on: set = set()
    out: list = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main(argv: list) -> int:
    mods = modules()
    graph, arrows = package_graph(mods)
    for pkg in sorted(graph):
        print(f"{pkg:28} -> {', '.join(sorted(graph[pkg])) or '-'}")
        if "--modules" in argv:
            for dst in sorted(graph[pkg]):
                for a in arrows[(pkg, dst)]:
                    print(f"{'':32}{a}")
    found = cycles(graph)
    for comp in found:
        print("CYCLE between packages: " + ", ".join(comp))
        for a in comp:
            for b in comp:
                for arrow in arrows.get((a, b), [])[:3]:
                    print(f"    {arrow}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
