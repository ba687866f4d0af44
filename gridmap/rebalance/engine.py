"""Grid rebalancing: blocks → balanced, contiguous, nested, compact cells, close to the plan.

Cells are as close to the plan in force as the balance allows.

How
---
Every village is solved on its own (cells never cross a village boundary), and within a
village every connected part on its own (a cell is one connected polygon, so a village in
two pieces needs a cell per piece). A part may have any number of cells ``k`` that can all
lie in the band (``why_not_divides``: their mean must, and a block above the floor fills a
cell on its own); from a current plan the counts are tried in order of the households they
must move (``count_moves``; keeping the count moves nobody for the count's sake), the best
kept (step 6). Without a current plan, the count nearest the rounded ``load / target``.

1. **Start.** From the current plan where there is one: blocks keep their cell. Cells that
   are now too many are merged (the lightest into its lightest neighbour). Too few, and a
   new cell is *carved* from the heaviest cell's border with its heaviest neighbour, taking
   frontier blocks from whichever cell can best spare them — or, the other way tried, the
   heaviest cell is *split* in two from its far end. Without a current plan, ``k`` seeds are
   spread by farthest-point sampling and grown block by block, the lightest region first,
   each taking the frontier block nearest its seed; then each region is reseeded at its
   load-weighted centre and grown again, a few rounds (Lloyd-style), from a few first seeds.
2. **Repair.** An out-of-band cell gives (or takes) a boundary block; a neighbour pushed
   out of the band passes load on, along a chain of up to ``CHAIN`` cells (a depth-first
   search, undone where it leads nowhere). Blocks returning to their current cell and the
   smallest block that covers the need go first, so the fewest households move. This
   finds what a descent on squared deviations cannot: load flowing through a cell that is
   already in the band.
3. **Balance.** While a cell is still outside the band ``target × (1 ± tolerance)``, move
   one boundary block between neighbouring cells: the move that most reduces the sum of
   squared deviations from the part's mean, keeping the donor connected; ties go to a block
   returning to its current cell, then to the more compact result. Then repair again.
4. **Settle.** Moves that never cost balance: blocks go back to their current cell where it
   borders them; in a part solved afresh, boundary blocks join the neighbour they share
   more boundary with (shorter cuts, more compact cells).
5. **Polish.** A plan that still leaves a cell out of the band that could be in goes
   through a tabu search (``polish``): single-block moves that may make things worse for a
   step, so that load travels further than a chain and blocks are exchanged.
6. **Choose.** From a current plan, the part is solved with carving and with splitting, and
   afresh (cells named after the current cells they overlap most) if both leave a cell out
   of the band while the load divides. The best has the fewest cells out of the band, then
   the fewest households moved: balance first, then as little change as it allows. No
   further count is tried once a balanced plan moves at most ``NEAR`` × what it must move.
7. **Report.** What cannot be balanced is reported with its reason, never hidden: a part
   whose mean is outside the band (its load does not divide into ``k`` cells), a block
   heavier than the upper bound, a cell that no contiguous move brings into the band.

Why it is safe: contiguity is an invariant (checked before each move; a current cell in
pieces is reported, then left for the planner), nesting holds by construction, totals are
preserved (blocks are only relabelled), locked cells are never touched (their blocks do not
move and nothing moves into them), a repair chain that fails is undone move by move from
a journal. Deterministic: no randomness but the first seed, drawn from ``seed``.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from numpy.typing import NDArray

from gridmap.areas import codes
from gridmap.rebalance.polish import polish

STARTS = 4  # growths from different first seeds, for a part without a current plan
CHAIN, WIDTH, REPAIR_BUDGET = 4, 6, 1000
# the tabu search (polish): steps without progress before it gives up, at least 60 and more
# in a small part, where a step is cheap (~6,000 block-steps a part); at most 5× that
POLISH_PATIENCE, POLISH_WORK = 60, 6000
NEAR = 1.5  # stop trying counts at a balanced plan that moves ≤ NEAR × the next one's floor


@dataclass
class Blocks:
    """Building blocks in a projected CRS (metres), with their loads and adjacency."""

    ids: NDArray[np.object_]
    village: NDArray[np.object_]
    load: NDArray[np.float64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    area: NDArray[np.float64]
    perimeter: NDArray[np.float64]
    neighbours: list[dict[int, float]]  # block → {neighbour: shared boundary length}
    current: NDArray[np.object_] | None = None  # current cell code per block (None: new)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_polygons(
        cls, ids: Sequence[object], village: Sequence[str], load: Sequence[float],
        polygons: NDArray[np.object_], current: Sequence[str | None] | None = None,
    ) -> Blocks:  # fmt: skip
        """Blocks from polygons in metres; neighbours share a boundary of positive length."""
        polygons = np.asarray(polygons, dtype=object)
        n = len(polygons)
        tree = shapely.STRtree(polygons)
        left, right = tree.query(polygons, predicate="intersects")
        keep = left < right
        left, right = left[keep], right[keep]
        shared = shapely.length(shapely.intersection(polygons[left], polygons[right]))
        neighbours: list[dict[int, float]] = [{} for _ in range(n)]
        for a, b, s in zip(left.tolist(), right.tolist(), shared.tolist(), strict=True):
            if s > 1e-6:
                neighbours[a][b] = s
                neighbours[b][a] = s
        centroids = shapely.centroid(polygons)
        return cls(
            ids=np.asarray(ids, dtype=object), village=np.asarray(village, dtype=object),
            load=np.asarray(load, dtype=float), x=shapely.get_x(centroids),
            y=shapely.get_y(centroids), area=shapely.area(polygons),
            perimeter=shapely.length(shapely.boundary(polygons)), neighbours=neighbours,
            current=None if current is None else np.asarray(current, dtype=object),
        )  # fmt: skip


@dataclass
class Problem:
    """Something that could not be balanced, and why."""

    village: str
    cell: str | None
    reason: str


@dataclass
class Result:
    """Cell code per block, per-cell figures and what could not be balanced."""

    labels: NDArray[np.object_]
    cells: list[dict[str, object]]
    problems: list[Problem] = field(default_factory=list)
    moves: int = 0

    def within(self) -> float:
        """Share of cells within the band."""
        return float(np.mean([c["within"] for c in self.cells])) if self.cells else 1.0


def cell_counts(load: float, target: float, tolerance: float) -> range:
    """The numbers of cells a part of ``load`` may have with every cell in the band.

    ``k`` cells can all lie within ``target × (1 ± tolerance)`` only if their mean does:
    from ``ceil(load / upper)`` to ``floor(load / lower)``. Empty when the load does not
    divide (e.g. 560 households with a band of 360–440: one cell is too heavy, two too
    light). The one rule for the engine's choice of count and for ``moves_lower_bound``.
    """
    lo, hi = target * (1 - tolerance), target * (1 + tolerance)
    eps = 1e-9
    fewest = max(1, int(np.ceil(load / hi - eps)))
    most = int(np.floor(load / lo + eps)) if lo > 0 else fewest
    return range(fewest, most + 1)


def why_not_divides(
    loads: NDArray[np.float64], k: int, lo: float, hi: float, *, absorb: bool = True
) -> str | None:
    """Why ``k`` cells of blocks with ``loads`` cannot all lie in the band ``lo``–``hi``.

    None when nothing proves it (the count is *feasible*); else the reason, each a proof:

    - the mean of the ``k`` cells must lie in the band (``cell_counts``);
    - a block above the ceiling puts its cell above the band whatever is done: that cell
      is left out, and may keep any surplus (``absorb``; without, it keeps none);
    - a block above the floor fills a cell on its own beyond the floor, and two such never
      share a cell (together above the ceiling, while ``2·lo > hi``): the other cells must
      still reach the floor from what is left. A village of 1,822 households in 5 cells
      (mean 364) with a block of 390 leaves 1,432 for 4 cells: 358 each, below 360.

    The one rule for the counts the engine tries, its report of a part that does not
    divide, and so for which cells the benchmark counts as feasible.
    """
    total = float(loads.sum())
    heavy = loads[loads > hi]
    big = loads[(loads > lo) & (loads <= hi)] if 2 * lo > hi else loads[:0]
    cells = k - len(heavy) - len(big)
    rest = total - float(heavy.sum()) - float(big.sum())
    eps = 1e-9
    if len(heavy) == 0 and not lo - eps <= total / k <= hi + eps:
        return (f"{total:,.0f} in {k} cell{'s' if k > 1 else ''} is {total / k:,.0f} each, "
                f"outside {lo:,.0f}–{hi:,.0f}")  # fmt: skip
    if cells < 0:
        return (f"{len(heavy) + len(big)} blocks above {lo:,.0f} need a cell each, more than "
                f"{k} cells")  # fmt: skip
    if rest < cells * lo - eps:
        return (f"beside {len(heavy) + len(big)} block{'s' if len(heavy) + len(big) > 1 else ''}"
                f" of {', '.join(f'{w:,.0f}' for w in sorted(np.r_[heavy, big])[::-1][:3])}"
                f"{'…' if len(heavy) + len(big) > 3 else ''} (a cell each), {rest:,.0f} in "
                f"{cells} cell{'s' if cells > 1 else ''} is {rest / cells:,.0f} each, below "
                f"{lo:,.0f}")  # fmt: skip
    room = cells * hi + float((hi - big).sum())
    if len(heavy) and not absorb and rest > room + eps:
        return f"beside the blocks above {hi:,.0f}, {rest:,.0f} does not fit in {k} cells"
    return None


def infeasible_cells(
    blocks: Blocks, labels: NDArray[np.object_], target: float, tolerance: float
) -> set[str]:
    """The cells of ``labels`` that no plan with as many cells brings into the band.

    Per connected part of a village (cells never cross one): all its cells where its load
    does not divide into them (``why_not_divides``), else the cells holding a block above
    the band's ceiling. The honest denominator of "within the band where it can be", for
    any plan (ours or METIS's).
    """
    lo, hi = target * (1 - tolerance), target * (1 + tolerance)
    out: set[str] = set()
    for village in sorted(set(blocks.village.tolist())):
        for part in _components(blocks, np.flatnonzero(blocks.village == village)):
            cells = {str(labels[b]) for b in part}
            if why_not_divides(blocks.load[part], len(cells), lo, hi) is not None:
                out |= cells
            else:
                out |= {str(labels[b]) for b in part if blocks.load[b] > hi}
    return out


def _counts_to_try(
    loads: NDArray[np.float64], target: float, tolerance: float, now: int | None
) -> list[int]:
    """The cell counts a part is solved with: every feasible one, nearest to ``now`` first.

    Feasible: ``why_not_divides`` finds no reason against it, blocks above the ceiling
    keeping no surplus. Where none is and there are such blocks, the count that lets the
    most other cells reach the floor, the heavy cells keeping the surplus (they are out of
    the band anyway). Where still none, ``cell_counts`` of the load, or the rounded count:
    the part is reported as not dividing. Without a current plan (``now`` None) only the
    one nearest the rounded count.
    """
    load = float(loads.sum())
    lo, hi = target * (1 - tolerance), target * (1 + tolerance)
    rounded = max(1, round(load / target))
    upto = int(load / lo) + int((loads > hi).sum()) + 2 if lo > 0 else rounded
    allowed = [
        k for k in range(1, upto + 1) if why_not_divides(loads, k, lo, hi, absorb=False) is None
    ]
    if not allowed:
        absorbing = [k for k in range(1, upto + 1) if why_not_divides(loads, k, lo, hi) is None]
        allowed = absorbing[-1:] if (loads > hi).any() else []
    if not allowed:
        allowed = list(cell_counts(load, target, tolerance)) or [rounded]
    if now is None:
        return [min(allowed, key=lambda k: (abs(k - rounded), k))]
    return sorted(allowed, key=lambda k: (abs(k - now), k))


def rebalance(
    blocks: Blocks, target: float, *, tolerance: float = 0.1, locked: set[str] | None = None,
    seed: int = 0, max_moves: int | None = None,
) -> Result:  # fmt: skip
    """Assign every block to a cell (see the module's docstring)."""
    if target <= 0:
        raise ValueError("the target load must be positive")
    locked = locked or set()
    labels = np.empty(len(blocks), dtype=object)
    problems: list[Problem] = []
    moves = 0
    lo, hi = target * (1 - tolerance), target * (1 + tolerance)
    for village in sorted(set(blocks.village.tolist())):
        members = np.flatnonzero(blocks.village == village)
        parts = _components(blocks, members)
        taken: set[str] = set()
        if blocks.current is not None:
            taken = {str(c) for c in blocks.current[members] if c is not None}
        namer = _Namer(village, taken)
        if len(parts) > 1:
            total = blocks.load[members].sum()
            want = max(1, round(total / target))
            got = sum(max(1, round(blocks.load[p].sum() / target)) for p in parts)
            if got != want:
                problems.append(Problem(village, None, (
                    f"the village is in {len(parts)} separate parts: it gets {got} cells "
                    f"(one at least per part) where its load would give {want}")))  # fmt: skip
        for part in parts:
            solver = _solve_part(blocks, part, target, lo, hi, locked, namer, seed, max_moves)
            namer = solver.namer
            moves += solver.moves
            problems.extend(Problem(village, c, r) for c, r in solver.problems)
            for b, cell in solver.label.items():
                labels[b] = cell
    return Result(labels, cell_table(blocks, labels, target, tolerance), problems, moves)


def _solve_part(
    blocks: Blocks, part: list[int], target: float, lo: float, hi: float, locked: set[str],
    namer: _Namer, seed: int, max_moves: int | None,
) -> _Part:  # fmt: skip
    """Solve one part every way that applies and keep the best.

    From a current plan: new cells carved out of the cells that grew, or cut from the
    heaviest cell; and, if both leave a cell out of the band while the part's load divides
    and nothing in it is locked, the part solved afresh (its cells named after the current
    cells they overlap most). The best is the one with the fewest cells out of the band,
    then the fewest households moved, then the first of that order — balance first, then
    as close to the current plan as the balance allows.

    Counts are tried in order of the households they must move (``count_moves``), and no
    further once a plan with every cell in the band moves no more than ``NEAR`` times what
    the next count must: that count could do little better, if at all (and time grew with
    the counts tried: 20 s for 20,000 blocks after five years of growth). A plan that
    leaves a cell out that could be in is polished first (``polish``).
    """
    has_current = blocks.current is not None and any(blocks.current[b] is not None for b in part)
    ways = ["carve", "split", "fresh"] if has_current else ["fresh"]
    now = None
    olds: list[float] = []
    if has_current:
        assert blocks.current is not None
        by_cell: dict[object, float] = defaultdict(float)
        for b in part:
            if blocks.current[b] is not None:
                by_cell[blocks.current[b]] += float(blocks.load[b])
        olds = list(by_cell.values())
        now = len(olds)
    tolerance = hi / target - 1
    tried: list[tuple[tuple[int, float], int, _Part]] = []
    counts = _counts_to_try(blocks.load[part], target, tolerance, now)
    if has_current:
        counts.sort(key=lambda k: count_moves(k, olds, lo))
    for k in counts:
        for way in ways:
            best = min(tried, key=lambda t: t[:2], default=None)
            if (
                best is not None
                and best[2].clean()
                and best[0][1] <= NEAR * count_moves(k, olds, lo)
            ):
                break  # this count cannot move (much) fewer
            if way == "fresh" and best is not None:
                solver = best[2]
                if solver.clean() or not solver.divides() or locked & set(solver.members):
                    break
            solver = _Part(blocks, part, target, lo, hi, locked, namer.copy(), seed, way, k)
            solver.moves = solver.solve(max_moves)
            if way == "fresh" and has_current:
                solver.keep_current_names()
            # polish a plan that leaves a cell out, if it could beat the best so far: move
            # fewer than a balanced one, or have no more cells out than one polished in vain
            promising = best is None or (
                solver.moved() < best[0][1] if best[2].clean()
                else solver.out_of_band() <= best[0][0]
            )  # fmt: skip
            made = len(solver.members) == solver.k
            if max_moves != 0 and promising and made and not solver.clean() and solver.divides():
                patience = max(POLISH_PATIENCE, POLISH_WORK // len(part))
                solver.moves += polish(solver, steps=5 * patience, patience=patience, seed=seed)
            solver.finish()
            tried.append(((solver.out_of_band(), solver.moved()), len(tried), solver))
    current = {str(blocks.current[b]) for b in part} if has_current else set()  # type: ignore[index]
    fresh_k = _counts_to_try(blocks.load[part], target, tolerance, None)[0]
    if (
        has_current
        and not any(t[2].clean() for t in tried)
        and not locked & current
        and why_not_divides(blocks.load[part], fresh_k, lo, hi) is None
    ):
        solver = _afresh(blocks, part, target, lo, hi, namer, seed, max_moves, fresh_k)
        tried.append(((solver.out_of_band(), solver.moved()), len(tried), solver))
    return min(tried, key=lambda t: t[:2])[2]


def _afresh(
    blocks: Blocks, part: list[int], target: float, lo: float, hi: float, namer: _Namer,
    seed: int, max_moves: int | None, k: int,
) -> _Part:  # fmt: skip
    """The part solved as if it had no current plan, then named after the current cells.

    Where nothing from the plan balances, starting from it must never balance worse than
    starting afresh (a test says so); the fresh way above is not the same (it prefers
    blocks in their current cell at every tie).
    """
    blind = replace(blocks, current=None)
    solver = _Part(blind, part, target, lo, hi, set(), _Namer(namer.village, set()), seed,
                   "fresh", k)  # fmt: skip
    solver.moves = solver.solve(max_moves)
    if max_moves != 0 and len(solver.members) == k and not solver.clean() and solver.divides():
        patience = max(POLISH_PATIENCE, POLISH_WORK // len(part))
        solver.moves += polish(solver, steps=5 * patience, patience=patience, seed=seed)
    solver.b, solver.namer = blocks, namer.copy()
    solver.keep_current_names(new_codes=True)
    solver.finish()
    return solver


def count_moves(k: int, loads: Sequence[float], lo: float) -> float:
    """Households any plan of ``k`` cells in the band must move from cells of ``loads``.

    Each cell beyond the current ones must be filled to the band's floor ``lo``, all from
    other cells; where there are fewer, the cells whose codes vanish empty — at best the
    lightest. Keeping the count moves nobody for the count's sake. The one rule behind the
    engine's order of counts and ``moves_lower_bound``.
    """
    if k >= len(loads):
        return (k - len(loads)) * lo
    return float(sum(sorted(loads)[: len(loads) - k]))


class _Namer:
    """New cell codes within a village: the next numbers not in use."""

    def __init__(self, village: str, taken: set[str]) -> None:
        self.village = village
        self.taken = set(taken)
        self.next = 1

    def copy(self) -> _Namer:
        other = _Namer(self.village, self.taken)
        other.next = self.next
        return other

    def __call__(self) -> str:
        while True:
            code = codes.child(self.village, self.next)
            self.next += 1
            if code not in self.taken:
                self.taken.add(code)
                return code


def _components(blocks: Blocks, members: NDArray[np.int64]) -> list[list[int]]:
    inside = set(members.tolist())
    seen: set[int] = set()
    parts = []
    for start in members.tolist():
        if start in seen:
            continue
        stack, part = [start], []
        seen.add(start)
        while stack:
            b = stack.pop()
            part.append(b)
            for n in blocks.neighbours[b]:
                if n in inside and n not in seen:
                    seen.add(n)
                    stack.append(n)
        parts.append(sorted(part))
    return parts


class _Part:
    """One connected part of a village."""

    def __init__(
        self, blocks: Blocks, part: list[int], target: float, lo: float, hi: float,
        locked: set[str], namer: _Namer, seed: int, way: str = "carve", k: int | None = None,
    ) -> None:  # fmt: skip
        self.b = blocks
        self.way = way
        self.moves = 0
        self.blocks = part
        self.inside = set(part)
        self.target, self.lo, self.hi = target, lo, hi
        self.locked = locked
        self.namer = namer
        self.seed = seed
        self.total = float(blocks.load[part].sum())
        self.k = k if k is not None else max(1, round(self.total / target))
        self.label: dict[int, str] = {}
        self.members: dict[str, set[int]] = defaultdict(set)
        self.load: dict[str, float] = defaultdict(float)
        self.problems: list[tuple[str | None, str]] = []
        self.journal: list[tuple[int, str]] = []  # (block, cell it left), for undo
        self.checked: list[tuple[str | None, str]] = []  # problems found before balancing

    def _undo(self, mark: int) -> None:
        """Take back every move since the journal was ``mark`` long."""
        while len(self.journal) > mark:
            b, cell = self.journal.pop()
            self._set(b, cell)
            self.journal.pop()  # the move back is not itself a move to undo

    # -- bookkeeping ---------------------------------------------------------------------

    def _set(self, b: int, cell: str) -> None:
        old = self.label.get(b)
        if old is not None:
            self.members[old].discard(b)
            self.load[old] -= self.b.load[b]
            if not self.members[old]:
                del self.members[old]
                del self.load[old]
        if old is not None:
            self.journal.append((b, old))
        self.label[b] = cell
        self.members[cell].add(b)
        self.load[cell] += self.b.load[b]

    def _connected(self, cells: set[int], without: int | None = None) -> bool:
        rest = cells - {without} if without is not None else cells
        if not rest:
            return True
        start = next(iter(rest))
        seen, stack = {start}, [start]
        while stack:
            x = stack.pop()
            for n in self.b.neighbours[x]:
                if n in rest and n not in seen:
                    seen.add(n)
                    stack.append(n)
        return len(seen) == len(rest)

    def _free(self, cell: str) -> bool:
        return cell not in self.locked

    def _adjacent_cells(self, cell: str) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for b in self.members[cell]:
            for n, s in self.b.neighbours[b].items():
                if n in self.inside and self.label[n] != cell:
                    out[self.label[n]] += s
        return out

    # -- start ---------------------------------------------------------------------------

    def solve(self, max_moves: int | None) -> int:
        current = self.b.current
        if (
            self.way != "fresh"
            and current is not None
            and any(current[b] is not None for b in self.blocks)
        ):
            self._from_current()
        else:
            self._grow_best(STARTS)
        self._check_blocks()
        self.checked = list(self.problems)
        moves = self._repair() if max_moves != 0 else 0
        moves += self._balance(max_moves)
        moves += self._repair() if max_moves != 0 else 0
        moves += self._settle() if max_moves != 0 else 0
        self._report()
        return moves

    def finish(self) -> None:
        """Report again what is out of the band (after cells were renamed or polished)."""
        self.problems = list(self.checked)
        self._report()

    def clean(self) -> bool:
        """No free cell out of the band but those a block above the ceiling puts there."""
        heavy = {self.label[b] for b in self.blocks if self.b.load[b] > self.hi}
        return not any(
            self._free(c) and c not in heavy and self._out_of_band(c) > 1e-9 for c in self.members
        )

    def divides(self) -> bool:
        """Whether the part's ``k`` cells can all lie in the band (``why_not_divides``)."""
        return why_not_divides(self.b.load[self.blocks], self.k, self.lo, self.hi) is None

    def out_of_band(self) -> int:
        """Free cells outside the band, and the cells of the ``k`` that could not be made."""
        missing = max(0, self.k - len(self.members))
        return missing + sum(self._free(c) and self._out_of_band(c) > 1e-9 for c in self.members)

    def moved(self) -> float:
        """Households whose cell differs from the current plan."""
        current = self.b.current
        if current is None:
            return 0.0
        return float(sum(self.b.load[b] for b in self.blocks
                         if current[b] is not None and current[b] != self.label[b]))  # fmt: skip

    def keep_current_names(self, *, new_codes: bool = False) -> None:
        """Name fresh cells after the current cells they share most households with.

        With ``new_codes``, the others get new codes from the namer (their codes were
        made without knowing the current ones).
        """
        assert self.b.current is not None
        shared: dict[tuple[str, str], float] = defaultdict(float)
        for b in self.blocks:
            if self.b.current[b] is not None:
                shared[(self.label[b], str(self.b.current[b]))] += self.b.load[b] + 1e-9
        rename: dict[str, str] = {}
        used: set[str] = set()
        for (new, old), _ in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0])):
            if new not in rename and old not in used:
                rename[new] = old
                used.add(old)
        if new_codes:
            for new in sorted(self.members):
                if new not in rename:
                    rename[new] = self.namer()
        for b in self.blocks:
            cell = self.label[b]
            if cell in rename:
                self.label[b] = rename[cell]
        self.members = defaultdict(set)
        self.load = defaultdict(float)
        for b in self.blocks:
            self.members[self.label[b]].add(b)
            self.load[self.label[b]] += self.b.load[b]

    def _from_current(self) -> None:
        assert self.b.current is not None
        unassigned = []
        for b in self.blocks:
            cell = self.b.current[b]
            if cell is None:
                unassigned.append(b)
            else:
                self._set(b, str(cell))
        # blocks new to the plan join the neighbouring cell they share most boundary with
        while unassigned:
            progress = []
            for b in unassigned:
                shared: dict[str, float] = defaultdict(float)
                for n, s in self.b.neighbours[b].items():
                    if n in self.label and self._free(self.label[n]):
                        shared[self.label[n]] += s
                if shared:
                    self._set(b, max(sorted(shared), key=shared.__getitem__))
                    progress.append(b)
            if not progress:
                cell = self.namer()
                for b in unassigned:
                    self._set(b, cell)
                break
            unassigned = [b for b in unassigned if b not in self.label]
        for cell in sorted(self.members):
            if not self._connected(self.members[cell]):
                self.problems.append((cell, "the current cell is in separate pieces"))
        free = [c for c in self.members if self._free(c)]
        # too many cells: merge the lightest into its lightest free neighbour
        while len(self.members) > self.k and len(free) > 1:
            light = min(sorted(free), key=self.load.__getitem__)
            near = [c for c in self._adjacent_cells(light) if self._free(c)]
            if not near:
                break
            into = min(sorted(near), key=self.load.__getitem__)
            for b in list(self.members[light]):
                self._set(b, into)
            free = [c for c in self.members if self._free(c)]
        # too few: split the heaviest free cell in two
        unsplittable: set[str] = set()
        while len(self.members) < self.k:
            free = [
                c for c in self.members
                if self._free(c) and len(self.members[c]) > 1 and c not in unsplittable
            ]  # fmt: skip
            if not free:
                break
            heavy = max(sorted(free), key=self.load.__getitem__)
            cut = self._carve if self.way == "carve" else self._split
            if not cut(heavy):
                unsplittable.add(heavy)

    def _split(self, cell: str) -> bool:
        """Cut ``cell`` in two (a region grown from its far end); False if nothing moved."""
        blocks = self.members[cell]
        cx = np.mean([self.b.x[b] for b in blocks])
        cy = np.mean([self.b.y[b] for b in blocks])
        far = max(sorted(blocks), key=lambda b: (self.b.x[b] - cx) ** 2 + (self.b.y[b] - cy) ** 2)
        new = self.namer()
        half = self.load[cell] / 2
        frontier = [(0.0, far)]
        taken = 0.0
        while frontier and taken < half:
            _, b = heapq.heappop(frontier)
            if self.label[b] != cell or len(self.members[cell]) < 2:
                continue
            if not self._connected(self.members[cell], b):
                continue
            self._set(b, new)
            taken += self.b.load[b]
            for n in self.b.neighbours[b]:
                if n in blocks:
                    d = (self.b.x[n] - self.b.x[far]) ** 2 + (self.b.y[n] - self.b.y[far]) ** 2
                    heapq.heappush(frontier, (d, n))
        return taken > 0 or new in self.members

    def _carve(self, cell: str) -> bool:
        """Cut a new cell out of ``cell`` and its neighbours; False if nothing moved.

        The new cell starts at the block of ``cell`` bordering the heaviest neighbouring
        cell and takes frontier blocks from whichever cell can best spare them (the most
        load left above the floor after giving), so a new cell is paid for by the cells
        that grew rather than by halving one of them. It stops at the floor of the band,
        or later while its donors are still above the ceiling: every household it takes
        beyond that would only have to move again.
        """
        near = self._adjacent_cells(cell)
        edge = [
            b for b in self.members[cell]
            if any(n in self.inside and self.label[n] != cell for n in self.b.neighbours[b])
        ]  # fmt: skip
        if near and edge:
            heavy = max(sorted(near), key=self.load.__getitem__)
            edge = [
                b for b in edge
                if any(n in self.inside and self.label[n] == heavy for n in self.b.neighbours[b])
            ] or edge  # fmt: skip
        first = min(sorted(edge or self.members[cell]), key=lambda b: self.b.load[b])
        if not self._connected(self.members[cell], first) or len(self.members[cell]) < 2:
            return False
        new = self.namer()
        self._set(first, new)
        sx, sy = self.b.x[first], self.b.y[first]
        while True:
            options = []
            for x in self.members[new]:
                for b in self.b.neighbours[x]:
                    if b not in self.inside or self.label[b] == new:
                        continue
                    donor = self.label[b]
                    w = self.b.load[b]
                    if not self._free(donor) or self.load[new] + w > self.hi + 1e-9:
                        continue
                    if self.load[new] >= self.lo and self.load[donor] <= self.hi + 1e-9:
                        continue  # the new cell is full enough and the donor need not give
                    spare = self.load[donor] - w - self.lo
                    d = (self.b.x[b] - sx) ** 2 + (self.b.y[b] - sy) ** 2
                    options.append((spare < 0, -spare if spare >= 0 else d, d, b))
            moved = False
            for *_, b in sorted(options):
                donor = self.label[b]
                if len(self.members[donor]) > 1 and self._connected(self.members[donor], b):
                    self._set(b, new)
                    moved = True
                    break
            if not moved:
                return True

    def _settle(self, passes: int = 8) -> int:
        """Last touches that never cost balance: blocks go home, boundaries shorten.

        A block away from its current cell goes back to it if that cell borders it; in a
        part solved afresh, a boundary block joins the neighbouring cell it shares more
        boundary with than with its own (the cut gets shorter, the cells more compact).
        Either only when no cell goes further out of the band and the giver stays in one
        piece. Returns the number of block moves.
        """
        current = self.b.current if self.way != "fresh" else None
        moves = 0
        for _ in range(passes):
            changed = False
            for b in self.blocks:
                cell = self.label[b]
                if not self._free(cell) or len(self.members[cell]) < 2:
                    continue
                shared: dict[str, float] = defaultdict(float)
                for n, length in self.b.neighbours[b].items():
                    if n in self.inside:
                        shared[self.label[n]] += length
                if current is not None:
                    home = current[b]
                    goals = [str(home)] if home is not None and home != cell else []
                else:
                    goals = [c for c in sorted(shared) if shared[c] > shared[cell] + 1e-6]
                for to in goals:
                    if to not in shared or to == cell or not self._free(to):
                        continue
                    w = self.b.load[b]
                    la, lb = self.load[cell], self.load[to]
                    worse = (self._band_gap(la - w) + self._band_gap(lb + w)
                             > self._band_gap(la) + self._band_gap(lb) + 1e-9)  # fmt: skip
                    if worse or not self._connected(self.members[cell], b):
                        continue
                    self._set(b, to)
                    moves += 1
                    changed = True
                    break
            if not changed:
                break
        return moves

    def _band_gap(self, load: float) -> float:
        return max(0.0, load - self.hi) + max(0.0, self.lo - load)

    # -- repair: load along a chain of cells --------------------------------------------

    def _repair(self) -> int:
        """Bring out-of-band cells into the band by chains of single-block moves.

        An overfull cell gives a boundary block to a neighbour; if that overfills the
        neighbour, it gives on in turn (a depth-first search, at most ``CHAIN`` cells long,
        the ``WIDTH`` most promising blocks at each step, undone when it leads nowhere).
        Underfull cells take the same way. Blocks going back to their current cell and the
        smallest block that covers the need are tried first: the fewest households move.
        Returns the number of block moves kept.
        """
        before = dict(self.label)
        self.journal.clear()
        for _ in range(3):
            bad = sorted(c for c in self.members if self._free(c) and self._out_of_band(c) > 1e-9)
            progress = False
            for cell in bad:
                if cell not in self.members or self._out_of_band(cell) <= 1e-9:
                    continue
                budget = [REPAIR_BUDGET]
                if self.load[cell] > self.hi:
                    progress |= self._shed(cell, {cell}, CHAIN, budget)
                else:
                    progress |= self._take(cell, {cell}, CHAIN, budget)
            if not progress:
                break
        return sum(before[b] != self.label[b] for b in before)

    def _order(self, w: float, need: float, home: bool, spill: bool) -> tuple[object, ...]:
        cover = (0, w) if w >= need - 1e-9 else (1, -w)  # the smallest that covers, or the largest
        return (spill, not home, cover)

    def _shed(self, cell: str, path: set[str], depth: int, budget: list[int]) -> bool:
        """Move load out of ``cell`` down to the ceiling (never below the floor)."""
        mark = len(self.journal)
        while self.load[cell] > self.hi + 1e-9:
            need = self.load[cell] - self.hi
            options = []
            for b in sorted(self.members[cell]):
                w = self.b.load[b]
                if w <= 0 or self.load[cell] - w < self.lo - 1e-9:
                    continue
                for to in sorted({self.label[n] for n in self.b.neighbours[b] if n in self.inside}):
                    if to in path or not self._free(to):
                        continue
                    spill = self.load[to] + w > self.hi + 1e-9
                    if spill and depth <= 1:
                        continue
                    home = self.b.current is not None and self.b.current[b] == to
                    options.append((self._order(w, need, home, spill), b, to))
            if not self._chain(cell, sorted(options), path, depth, budget, out=True):
                self._undo(mark)
                return False
        return True

    def _take(self, cell: str, path: set[str], depth: int, budget: list[int]) -> bool:
        """Move load into ``cell`` up to the floor (never above the ceiling)."""
        mark = len(self.journal)
        while self.load[cell] < self.lo - 1e-9:
            need = self.lo - self.load[cell]
            options = []
            border = {n for x in self.members[cell] for n in self.b.neighbours[x]}
            for b in sorted(border):
                if b not in self.inside:
                    continue
                src, w = self.label[b], self.b.load[b]
                if src in path or not self._free(src):
                    continue
                if w <= 0 or self.load[cell] + w > self.hi + 1e-9:
                    continue
                spill = self.load[src] - w < self.lo - 1e-9
                if spill and depth <= 1:
                    continue
                home = self.b.current is not None and self.b.current[b] == cell
                options.append((self._order(w, need, home, spill), b, src))
            if not self._chain(cell, sorted(options), path, depth, budget, out=False):
                self._undo(mark)
                return False
        return True

    def _chain(
        self, cell: str, options: list[tuple[object, int, str]], path: set[str], depth: int,
        budget: list[int], *, out: bool,
    ) -> bool:  # fmt: skip
        """Try the best ``WIDTH`` options: one block moves, the other cell is repaired on."""
        for _, b, other in options[:WIDTH]:
            budget[0] -= 1
            if budget[0] < 0:
                return False
            giver = cell if out else other
            if len(self.members[giver]) < 2 or not self._connected(self.members[giver], b):
                continue
            mark = len(self.journal)
            self._set(b, other if out else cell)
            if out and (
                self.load[other] <= self.hi + 1e-9
                or self._shed(other, path | {other}, depth - 1, budget)
            ):
                return True
            if not out and (
                self.load[other] >= self.lo - 1e-9
                or self._take(other, path | {other}, depth - 1, budget)
            ):
                return True
            self._undo(mark)
        return False

    def _grow_best(self, starts: int) -> None:
        """Grow from a few first seeds; keep the most balanced, then the shortest cut."""
        best: tuple[float, float, dict[int, str]] | None = None
        first = self.namer.next
        for start in range(starts):
            self.namer.next = first
            self.namer.taken -= {c for c in self.members}
            self.label, self.members, self.load = {}, defaultdict(set), defaultdict(float)
            self._grow(self.blocks, self.k, seed=self.seed + start)
            off = sum(self._out_of_band(c) for c in self.members)
            cut = sum(self._perimeter(c) for c in self.members)
            if best is None or (round(off, 6), round(cut, 3)) < (
                round(best[0], 6),
                round(best[1], 3),
            ):
                best = (off, cut, dict(self.label))
        assert best is not None
        self.label, self.members, self.load = {}, defaultdict(set), defaultdict(float)
        for b, cell in best[2].items():
            self._set(b, cell)

    def _grow(self, blocks: list[int], k: int, *, seed: int, rounds: int = 6) -> None:
        """Grow ``k`` regions from seeds; reseed at each region's centre and grow again."""
        xy = np.column_stack([self.b.x[blocks], self.b.y[blocks]])
        w = np.maximum(self.b.load[blocks], 1e-6)
        rng = np.random.default_rng(seed)
        seeds = [int(rng.integers(len(blocks)))]
        dist = np.hypot(*(xy - xy[seeds[0]]).T)
        for _ in range(1, min(k, len(blocks))):
            nxt = int(np.argmax(dist))
            seeds.append(nxt)
            dist = np.minimum(dist, np.hypot(*(xy - xy[nxt]).T))
        points = xy[seeds]
        region = np.zeros(len(blocks), dtype=np.int64)
        for _ in range(rounds):
            region = self._grow_once(blocks, points)
            mass = np.bincount(region, weights=w, minlength=len(points))
            sums = np.column_stack(
                [np.bincount(region, weights=w * xy[:, i], minlength=len(points)) for i in (0, 1)]
            )
            centres = np.where(mass[:, None] > 0, sums / np.maximum(mass, 1e-300)[:, None], points)
            if np.allclose(centres, points):
                break
            points = centres
        cells = [self.namer() for _ in range(len(points))]
        for i, b in enumerate(blocks):
            self._set(b, cells[region[i]])

    def _grow_once(self, blocks: list[int], points: NDArray[np.float64]) -> NDArray[np.int64]:
        """One growth from seed points: the lightest region takes its nearest frontier block."""
        index = {b: i for i, b in enumerate(blocks)}
        xy = np.column_stack([self.b.x[blocks], self.b.y[blocks]])
        region = np.full(len(blocks), -1, dtype=np.int64)
        load = np.zeros(len(points))
        frontiers: list[list[tuple[float, int]]] = [[] for _ in points]
        for r, p in enumerate(points):
            start = int(np.argmin(np.hypot(*(xy - p).T) + (region >= 0) * 1e18))
            region[start] = r
            load[r] += self.b.load[blocks[start]]
            self._push(frontiers[r], blocks[start], p, index, region)
        left = int((region < 0).sum())
        while left:
            for r in sorted(range(len(points)), key=lambda r: (load[r], r)):
                grew = False
                while frontiers[r]:
                    _, b = heapq.heappop(frontiers[r])
                    if region[index[b]] < 0:
                        region[index[b]] = r
                        load[r] += self.b.load[b]
                        self._push(frontiers[r], b, points[r], index, region)
                        left -= 1
                        grew = True
                        break
                if grew:
                    break
            else:
                break  # nothing can grow: leave the rest to the nearest region below
        for i in np.flatnonzero(region < 0):
            region[i] = int(np.argmin(np.hypot(*(points - xy[i]).T)))
        return region

    def _push(
        self, frontier: list[tuple[float, int]], b: int, point: NDArray[np.float64],
        index: dict[int, int], region: NDArray[np.int64],
    ) -> None:  # fmt: skip
        for n in self.b.neighbours[b]:
            if n in index and region[index[n]] < 0:
                d = float((self.b.x[n] - point[0]) ** 2 + (self.b.y[n] - point[1]) ** 2)
                heapq.heappush(frontier, (d, n))

    def _check_blocks(self) -> None:
        why = why_not_divides(self.b.load[self.blocks], self.k, self.lo, self.hi)
        if why is not None:
            self.problems.append(
                (None, f"{why}: the load does not divide into cells of the target size")
            )

    # -- balance -------------------------------------------------------------------------

    def _out_of_band(self, cell: str) -> float:
        load = self.load[cell]
        return max(0.0, load - self.hi) + max(0.0, self.lo - load)

    def _perimeter(self, cell: str) -> float:
        members = self.members[cell]
        inner = sum(s for b in members for n, s in self.b.neighbours[b].items() if n in members)
        return float(sum(self.b.perimeter[b] for b in members) - inner)

    def _balance(self, max_moves: int | None) -> int:
        moves = 0
        free = [c for c in self.members if self._free(c)]
        fixed = sum(self.load[c] for c in self.members if not self._free(c))
        mean = (self.total - fixed) / len(free) if free else 0.0
        limit = max_moves if max_moves is not None else 20 * len(self.blocks) + 100
        tried: set[tuple[int, str]] = set()
        while moves < limit:
            bad = [c for c in self.members if self._free(c) and self._out_of_band(c) > 1e-9]
            if not bad:
                break
            move = self._best_move(bad, mean, tried)
            if move is None:
                break
            b, to = move
            tried.add((b, self.label[b]))  # never move it straight back
            self._set(b, to)
            moves += 1
        return moves

    def _best_move(
        self, bad: list[str], mean: float, tried: set[tuple[int, str]]
    ) -> tuple[int, str] | None:
        # cells whose blocks may move: the bad ones and their neighbours (load flows along
        # chains), then every free cell of the part if that finds nothing
        near = set(bad)
        for c in bad:
            near.update(self._adjacent_cells(c))
        for scope in (near, set(self.members)):
            candidates = []
            for cell in sorted(scope):
                if not self._free(cell) or len(self.members[cell]) < 2:
                    continue
                for b in sorted(self.members[cell]):
                    w = self.b.load[b]
                    for n in self.b.neighbours[b]:
                        if n not in self.inside:
                            continue
                        to = self.label[n]
                        if to == cell or not self._free(to) or (b, to) in tried:
                            continue
                        la, lb = self.load[cell], self.load[to]
                        gain = ((la - mean) ** 2 + (lb - mean) ** 2
                                - (la - w - mean) ** 2 - (lb + w - mean) ** 2)  # fmt: skip
                        if gain <= 1e-9:
                            continue
                        home = self.b.current is not None and self.b.current[b] == to
                        shared_to = sum(v for m, v in self.b.neighbours[b].items()
                                        if m in self.inside and self.label[m] == to)  # fmt: skip
                        candidates.append((-gain, not home, -shared_to, b, to))
            candidates.sort()
            seen: set[tuple[int, str]] = set()
            for _, _, _, b, to in candidates:
                if (b, to) in seen:
                    continue
                seen.add((b, to))
                if self._connected(self.members[self.label[b]], b):
                    return b, to
        return None

    def _report(self) -> None:
        for b in self.blocks:
            if self.b.load[b] > self.hi:
                self.problems.append((self.label[b], (
                    f"block {self.b.ids[b]} alone has {self.b.load[b]:,.0f}, above the upper "
                    f"bound {self.hi:,.0f}: split the block")))  # fmt: skip
        for cell in sorted(self.members):
            if self._free(cell) and self._out_of_band(cell) > 1e-9:
                side = "above" if self.load[cell] > self.hi else "below"
                self.problems.append((cell, (
                    f"{self.load[cell]:,.0f}, {side} the band {self.lo:,.0f}–{self.hi:,.0f}: "
                    "no move of a boundary block keeps the cells contiguous and balances it"
                )))  # fmt: skip


def cell_table(
    blocks: Blocks, labels: NDArray[np.object_], target: float, tolerance: float
) -> list[dict[str, object]]:
    """Per cell: village, blocks, load, deviation from the target, within the band, ….

    Also contiguity, nesting and Polsby-Popper compactness (4πA/P², from block areas and
    perimeters less twice the boundaries shared inside the cell).
    """
    cells: dict[str, list[int]] = defaultdict(list)
    for b, cell in enumerate(labels.tolist()):
        cells[str(cell)].append(b)
    out = []
    for cell in sorted(cells):
        members = cells[cell]
        inside = set(members)
        area = float(blocks.area[members].sum())
        inner = sum(s for b in members for n, s in blocks.neighbours[b].items() if n in inside)
        perimeter = float(blocks.perimeter[members].sum()) - inner
        load = float(blocks.load[members].sum())
        out.append({
            "cell": cell, "village": str(blocks.village[members[0]]), "blocks": len(members),
            "load": load, "deviation": load / target - 1,
            "within": bool(abs(load / target - 1) <= tolerance + 1e-9),
            "contiguous": _is_connected(blocks, inside),
            "nested": len({str(blocks.village[b]) for b in members}) == 1,
            "polsby_popper": 4 * np.pi * area / perimeter**2 if perimeter > 0 else 0.0,
        })  # fmt: skip
    return out


def _is_connected(blocks: Blocks, inside: set[int]) -> bool:
    start = next(iter(inside))
    seen, stack = {start}, [start]
    while stack:
        x = stack.pop()
        for n in blocks.neighbours[x]:
            if n in inside and n not in seen:
                seen.add(n)
                stack.append(n)
    return len(seen) == len(inside)


def moved_share(blocks: Blocks, labels: NDArray[np.object_]) -> float:
    """Share of the load whose cell changed from the current plan."""
    if blocks.current is None:
        return 1.0
    moved = np.array([c is not None and c != lab for c, lab in zip(blocks.current, labels,
                                                                     strict=True)])  # fmt: skip
    return float(blocks.load[moved].sum() / blocks.load.sum()) if blocks.load.sum() else 0.0


def moves_lower_bound(
    blocks: Blocks, old: NDArray[np.object_], target: float, tolerance: float = 0.1
) -> tuple[float, int, int]:
    """A lower bound on the share of load any balanced plan must move from ``old``.

    Per village (cells never cross one, so the villages' bounds add up), the larger of two
    bounds, each true of every plan with all the village's cells in the band:

    - *count*: the village may keep any number of cells in ``cell_counts`` (the range whose
      mean fits the band — not only ``round(load / target)``). With fewer cells than the
      range allows, each missing cell must be filled to the band's floor, all of it from
      other cells; with more, the surplus cells must be emptied, at best the lightest.
    - *overflow*: a cell keeps its code only for the households that stay in it, at most
      the band's ceiling: the rest of a heavier cell must move.

    A village whose load does not divide (the range is empty) has no balanced plan; it adds
    nothing. Returns the share, the villages whose number of cells must change, and all.
    """
    lo, hi = target * (1 - tolerance), target * (1 + tolerance)
    moved = 0.0
    changed = 0
    villages = sorted(set(blocks.village.tolist()))
    for v in villages:
        here = blocks.village == v
        loads: dict[object, float] = defaultdict(float)
        for cell, w in zip(old[here], blocks.load[here], strict=True):
            loads[cell] += float(w)
        allowed = cell_counts(float(blocks.load[here].sum()), target, tolerance)
        if not allowed:
            continue
        k_old = len(loads)
        count = min(count_moves(k, list(loads.values()), lo) for k in allowed)
        overflow = sum(max(0.0, w - hi) for w in loads.values())
        moved += max(count, overflow)
        changed += k_old not in allowed
    total = float(blocks.load.sum())
    return (moved / total if total else 0.0), changed, len(villages)
