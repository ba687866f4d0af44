"""Polish: a tabu search that brings a part's last out-of-band cells into the band.

Why it exists (issue 28): after growth, the engine's steps (start, repair chains of up to
``CHAIN`` cells, descent on squared deviations) left 1–3% of the cells that could be in the
band just outside it. Printed per village, they were of two kinds: cells a few households
over or under in villages whose mean sits near an edge of the band, where no single block
fits the need and only an exchange does (give 30, take 25 back); and cells whose surplus
had to travel further than a chain reaches, to slack at the other end of the village. A
descent cannot do either: both pass through a plan that is worse for a step.

How: each step draws one out-of-band cell and looks at its single-block moves only (it
gives a boundary block to a neighbouring cell, or takes one from it); the one that lowers
the penalty most is taken even when every move makes things worse; a block that moved may
not move again for a few steps (tabu), unless that would give the best plan seen. The
penalty is the households outside the band; then, far smaller, the squared distance from
the mean (the cells stay evenly loaded) and the households away from their current cell
(the fewest move). The best plan seen is kept: the fewest cells out of the band, then the
smallest penalty. Contiguity is checked before every move, a cell is never emptied, locked
cells are never touched, and blocks heavier than the band's ceiling never move.

A cell that holds such a heavy block is outside the band whatever is done; its ceiling is
left out of the penalty, so it may keep a few households more where that lets the other
cells of its village into the band (the count of cells is chosen for this,
``engine._counts_to_try``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from gridmap.rebalance.engine import _Part

SMOOTH = 1e-5  # weight of the squared distance from the mean, per household²
HOME = 1e-3  # weight of a household away from its current cell
EPS = 1e-9


def polish(part: _Part, *, steps: int, patience: int, seed: int = 0) -> int:
    """Run the tabu search on ``part`` in place; returns the number of blocks moved.

    Stops when no free cell is outside the band, after ``steps`` moves, or ``patience``
    moves after the last improvement, and leaves the best plan seen.
    """
    pen = _Penalty(part)
    rng = np.random.default_rng(seed)
    tabu: dict[int, int] = {}
    now = pen.score()
    best, best_label = now, dict(part.label)
    last_better = 0
    moves = 0
    part.journal.clear()
    for step in range(steps):
        bad = sorted(c for c in part.members if pen.gap(c, part.load[c]) > EPS)
        if not bad or step - last_better > patience:
            break
        # one out-of-band cell a step, drawn at random: its moves only (cheap, and the
        # draw varies the search where several cells are out)
        options = _moves(part, pen, bad[int(rng.integers(len(bad)))])
        order = sorted(options, key=lambda o: (sum(options[o][1:]), rng.random()))
        for block, dst in order:
            d_out, d_gap, d_smooth = options[(block, dst)]
            after = (now[0] + d_out, now[1] + d_gap, now[2] + d_smooth)
            if tabu.get(block, -1) >= step and not _better(after, best):
                continue
            src = part.label[block]
            if len(part.members[src]) < 2 or not part._connected(part.members[src], block):
                continue
            part._set(block, dst)
            tabu[block] = step + int(rng.integers(3, 8))
            moves += 1
            now = after
            break
        if _better(now, best):
            best, best_label, last_better = now, dict(part.label), step
    for b, cell in best_label.items():
        if part.label[b] != cell:
            part._set(b, cell)
    part.journal.clear()
    return moves


class _Penalty:
    """Households outside the band per cell, and the far smaller terms after it."""

    def __init__(self, part: _Part) -> None:
        self.part = part
        self.load = part.b.load
        self.current = part.b.current
        self.heavy_blocks = {b for b in part.blocks if self.load[b] > part.hi}
        self.heavy = {part.label[b] for b in self.heavy_blocks}
        self.lo, self.hi, self.locked = part.lo, part.hi, part.locked
        light = [c for c in part.members if part._free(c) and c not in self.heavy]
        self.mean = sum(part.load[c] for c in light) / len(light) if light else part.target

    def gap(self, cell: str, value: float) -> float:
        if cell in self.locked:
            return 0.0
        if value < self.lo:
            return self.lo - value
        return value - self.hi if value > self.hi and cell not in self.heavy else 0.0

    def smooth(self, cell: str, value: float) -> float:
        if cell in self.locked:
            return 0.0
        if cell in self.heavy:
            return HOME * max(0.0, value - self.hi)  # absorb no more than needed
        return SMOOTH * (value - self.mean) ** 2

    def away(self, b: int, cell: str) -> float:
        current = self.current
        return HOME * float(self.load[b]) if current is not None and current[b] != cell else 0.0

    def score(self) -> tuple[float, float, float]:
        part = self.part
        cells = list(part.members)
        out = float(sum(self.gap(c, part.load[c]) > EPS for c in cells))
        households = sum(self.gap(c, part.load[c]) for c in cells)
        rest = sum(self.smooth(c, part.load[c]) for c in cells)
        return out, households, rest + sum(self.away(b, part.label[b]) for b in part.blocks)


def _moves(
    part: _Part, pen: _Penalty, cell: str
) -> dict[tuple[int, str], tuple[float, float, float]]:
    """The single-block moves out of ``cell`` (above the band) or into it (below).

    Each with the change it makes to the cells out, the households out and the rest.
    """
    give = part.load[cell] > part.hi
    options: dict[tuple[int, str], tuple[float, float, float]] = {}
    for b in part.members[cell]:
        for n in part.b.neighbours[b]:
            if n not in part.inside or part.label[n] == cell:
                continue
            other = part.label[n]
            if not part._free(other):
                continue
            block, src, dst = (b, cell, other) if give else (n, other, cell)
            if block in pen.heavy_blocks or (block, dst) in options:
                continue
            w = pen.load[block]
            ls, ld = part.load[src], part.load[dst]
            gaps = (pen.gap(src, ls - w), pen.gap(dst, ld + w), pen.gap(src, ls), pen.gap(dst, ld))
            d_out = float(sum(g > EPS for g in gaps[:2]) - sum(g > EPS for g in gaps[2:]))
            d_gap = gaps[0] + gaps[1] - gaps[2] - gaps[3]
            d_smooth = (
                pen.smooth(src, ls - w) + pen.smooth(dst, ld + w) - pen.smooth(src, ls)
                - pen.smooth(dst, ld) + pen.away(block, dst) - pen.away(block, src)
            )  # fmt: skip
            options[(block, dst)] = (d_out, d_gap, d_smooth)
    return options


def _better(a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    """Fewer cells out of the band, then fewer households out, then the smaller rest."""
    for x, y in zip(a, b, strict=True):
        if x < y - EPS:
            return True
        if x > y + EPS:
            return False
    return False
