"""Shrinking by choices: a failing case is the list of choices its generators drew, and a
smaller list (shorter, then smaller choice by choice) replays to a simpler value. Working on
choices rather than values shrinks any generator, `fmap` and `one-of` included, without
knowing how it builds its value, and a replayed case is always one the generators can make.

`shrink_choices` tries deleting runs of choices (dropping collection elements), then each
choice at 0, then a binary search down to the smallest that still fails: for a property
monotone in a choice (`(< x 100)`) that is the exact boundary; then pairs of choices
changed together: both lowered (a sender and the account it must name), or value moved to
the later one (`[57 93]` becomes `[50 100]` for a sum of at least 150). `shrink_steps` does the same
for a sequence of calls (each a list of choices): drop calls, then shrink each call.
"""
from __future__ import annotations

from typing import Callable, Optional

# test(candidate) -> the choices the failing replay actually drew (normalised), or None if
# the candidate does not fail.
Test = Callable[[list], Optional[list]]


def _key(c: list) -> tuple:
    return (len(c), c)


class Budget:
    """How many candidates a shrink may still try (each runs the test once)."""

    def __init__(self, n: int = 2000):
        self.left = n
        self.tried = 0

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        self.tried += 1
        return True


def _try(test: Test, cand: list, best: list, budget: Budget) -> Optional[list]:
    if not budget.take():
        return None
    r = test(cand)
    return r if r is not None and _key(r) < _key(best) else None


def shrink_choices(choices: list, test: Test, budget: Budget) -> list:
    """The smallest failing list of choices found from `choices` (which fails)."""
    best = list(choices)
    changed = True
    while changed and budget.left > 0:
        changed = False
        for k in (8, 4, 2, 1):
            i = len(best) - k
            while i >= 0 and budget.left > 0:
                r = _try(test, best[:i] + best[i + k:], best, budget)
                if r is not None:
                    best, changed = r, True
                i = min(i, len(best) - k) - 1
        i = 0
        while i < len(best) and budget.left > 0:
            v = best[i]
            if v > 0:
                r = _try(test, best[:i] + [0] + best[i + 1:], best, budget)
                if r is not None:
                    best, changed = r, True
                else:
                    lo, hi = 0, v           # lo passes, hi fails
                    while hi - lo > 1 and budget.left > 0 and i < len(best):
                        mid = (lo + hi) // 2
                        r = _try(test, best[:i] + [mid] + best[i + 1:], best, budget)
                        if r is not None:
                            best, hi, changed = r, mid, True
                        else:
                            lo = mid
            i += 1
        if not changed:
            best, changed = _pairs(best, test, budget, -1)      # both lower together
        if not changed:
            best, changed = _pairs(best, test, budget, +1)      # value moved later
    return best


def _pairs(best: list, test: Test, budget: Budget, sign: int, window: int = 8) -> tuple:
    """Change two choices at once, by as much as still fails: lower both by d (sign -1: a
    sender and the account it must name shrink together), or move d from the first to the
    second (sign +1: a sum over two elements reaches its limit with the first as small as
    it can be)."""
    changed = False
    for i in range(len(best)):
        for j in range(i + 1, min(len(best), i + 1 + window)):
            if budget.left <= 0 or j >= len(best):
                return best, changed
            lo, hi = 0, best[i] if sign > 0 else min(best[i], best[j])
            while hi > lo and budget.left > 0:   # the largest d that still fails
                d = (lo + hi + 1) // 2
                cand = list(best)
                cand[i] -= d
                cand[j] += sign * d
                r = _try(test, cand, best, budget)
                if r is not None and len(r) == len(best):
                    best, changed = r, True
                    hi -= d
                else:
                    hi = d - 1
    return best, changed


def shrink_steps(steps: list, test: Test, budget: Budget) -> list:
    """The smallest failing sequence found from `steps` (lists of choices, one per call):
    `test` takes a sequence and gives the failing prefix it replayed, or None."""
    best = [list(s) for s in steps]

    def size(seq: list) -> tuple:
        return (len(seq), sum(len(s) for s in seq), seq)

    def attempt(cand: list) -> Optional[list]:
        if not budget.take():
            return None
        r = test(cand)
        return r if r is not None and size(r) < size(best) else None

    changed = True
    while changed and budget.left > 0:
        changed = False
        i = 0
        while i < len(best) and budget.left > 0:
            r = attempt(best[:i] + best[i + 1:])
            if r is not None:
                best, changed = r, True
            else:
                i += 1
        for i in range(len(best)):
            if i >= len(best) or budget.left <= 0:
                break

            def one(cand: list, i: int = i) -> Optional[list]:
                seq = best[:i] + [cand] + best[i + 1:]
                r = test(seq)
                if r is None or len(r) != len(best):
                    return None if r is None or size(r) >= size(best) else _shorter(r)
                return r[i]

            shorter: list = []

            def _shorter(r: list) -> Optional[list]:
                shorter.append(r)
                return None

            small = shrink_choices(best[i], one, budget)
            if shorter:
                best, changed = min(shorter, key=size), True
                break
            if small != best[i]:
                best = best[:i] + [small] + best[i + 1:]
                changed = True
    return best


__all__ = ["Budget", "shrink_choices", "shrink_steps"]
