"""Rebalancing figures: our engine against METIS (pymetis, contiguous) on the same blocks.

    python -m benchmarks.rebalance [--sizes 3000 20000] [--target 400] [--years 5]
                                   [--url URL --area CODE] [--engine OLD/engine.py] [--why]

Blocks: a Voronoi diagram of random points in a 20 km square (irregular, 5–6 neighbours
each), villages a coarser Voronoi diagram over the same square (one village per ~60
blocks), households per block log-normal (median 25, a long tail). Both methods solve each
village on its own with k = max(1, round(load / target)) parts (METIS: vertex weights =
households, ``contiguous`` on). Then a growth scenario: 3% of blocks gain 100–250
households and 5% lose 30%; our engine starts from its own earlier plan, METIS reruns.

Printed per case: wall time, % of cells within ±10% of the target, worst deviations,
contiguity and nesting violations, mean Polsby-Popper, share of households moved from the
current plan (growth), the lower bound on that share (``moves_lower_bound``) and the
ratio moved / bound; the share within ±10% of the cells that can be (``infeasible_cells``
leaves out the others, for any plan), and CPU time beside wall time (the machine is shared).
``--engine`` runs another copy of the engine (an older commit's) through the same figures;
``--why`` prints each feasible cell left out of the band after growth with its village's
figures (how the causes in docs/decisions.md, "Growth repair", were found). Then ``--years`` growth steps in a row, each rebalanced from the last
plan (ours) or rerun (METIS): within ±10% per step and households moved, cumulated.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from gridmap.areas import codes
from gridmap.rebalance.blocks import grow
from gridmap.rebalance.blocks import random_blocks as synthetic
from gridmap.rebalance.engine import (
    Blocks,
    cell_table,
    infeasible_cells,
    moved_share,
    moves_lower_bound,
    rebalance,
    why_not_divides,
)


def metis(blocks: Blocks, target: float) -> tuple[np.ndarray, float]:
    import pymetis

    labels = np.empty(len(blocks), dtype=object)
    t0 = time.perf_counter()
    for village in sorted(set(blocks.village.tolist())):
        members = np.flatnonzero(blocks.village == village)
        k = max(1, round(blocks.load[members].sum() / target))
        if k == 1 or len(members) < k:
            labels[members] = f"{village}001"
            continue
        local = {b: i for i, b in enumerate(members.tolist())}
        adjacency = [[local[n] for n in blocks.neighbours[b] if n in local] for b in members]
        opts = pymetis.Options(contig=True, seed=1)
        try:
            _, parts = pymetis.part_graph(k, adjacency=adjacency,
                                          vweights=[int(max(w, 0)) for w in blocks.load[members]],
                                          options=opts)  # fmt: skip
        except Exception:  # METIS refuses contiguity on a disconnected village
            _, parts = pymetis.part_graph(k, adjacency=adjacency,
                                          vweights=[int(max(w, 0)) for w in blocks.load[members]])  # fmt: skip
        for b, p in zip(members, parts, strict=True):
            labels[b] = codes.child(village, p + 1)
    return labels, time.perf_counter() - t0


def report(name: str, blocks: Blocks, labels: np.ndarray, seconds: float, target: float,
           moved: float | None = None) -> None:  # fmt: skip
    cells = cell_table(blocks, labels, target, 0.1)
    dev = np.array([c["deviation"] for c in cells])
    within = np.mean([c["within"] for c in cells])
    print(f"  {name:<22} {seconds:7.2f} s  {len(cells):5,} cells  within ±10% {within:6.1%}  "
          f"worst {dev.min():+.0%} / {dev.max():+.0%}  non-contiguous "
          f"{sum(not c['contiguous'] for c in cells):3}  not nested "
          f"{sum(not c['nested'] for c in cells)}  Polsby-Popper "
          f"{np.mean([c['polsby_popper'] for c in cells]):.2f}"
          + (f"  moved {moved:.1%}" if moved is not None else ""))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[3000, 20000])
    parser.add_argument("--target", type=float, default=400.0)
    parser.add_argument("--years", type=int, default=5, help="growth steps in a row")
    parser.add_argument("--url", help="a database holding the city seed, for a real township")
    parser.add_argument("--area", default="350503006", help="the township (with --url)")
    parser.add_argument("--engine", help="run rebalance() from this engine.py instead (e.g. an "
                        "older commit's, from `git show`), judged by the same figures")  # fmt: skip
    parser.add_argument("--why", action="store_true", help="print every feasible cell left "
                        "out of the band after growth, with its village's figures")  # fmt: skip
    args = parser.parse_args()
    if args.engine:
        global rebalance
        rebalance = _load_engine(args.engine)
    if args.url:
        township(args.url, args.area, args.target)
    for n in args.sizes:
        t0 = time.perf_counter()
        blocks, _ = synthetic(n)
        villages = len(set(blocks.village.tolist()))
        print(f"{n:,} blocks, {villages} villages, {blocks.load.sum():,.0f} households "
              f"(blocks and adjacency built in {time.perf_counter() - t0:.1f} s)")  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        ours = rebalance(blocks, args.target)
        report("gridmap", blocks, ours.labels, time.perf_counter() - t0, args.target)
        print(f"    CPU {time.process_time() - c0:.2f} s")
        print("    " + explain(blocks, ours, args.target))
        labels, seconds = metis(blocks, args.target)
        report("METIS (contiguous)", blocks, labels, seconds, args.target)

        after = grow(blocks, ours.labels)  # 3% of blocks +100–250 households, 5% −30%
        before = cell_table(after, ours.labels, args.target, 0.1)
        print(f"  growth: the plan in force now has {np.mean([c['within'] for c in before]):.1%}"
              " within ±10%")  # fmt: skip
        bound, changed, total = moves_lower_bound(after, ours.labels, args.target)
        print(f"  growth: {changed} of {total} villages must change their number of cells; "
              f"with every cell within ±10% at least {bound:.1%} of households must move")  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        again = rebalance(after, args.target)
        moved = moved_share(after, again.labels)
        report("gridmap from the plan", after, again.labels, time.perf_counter() - t0,
               args.target, moved)  # fmt: skip
        print(f"    CPU {time.process_time() - c0:.2f} s")
        print("    " + explain(after, again, args.target))
        if args.why:
            why_out(after, again.labels, args.target)
        print(f"    moved {moved:.1%} / lower bound {bound:.1%} = {moved / bound:.2f}×"
              if bound else f"    moved {moved:.1%} (lower bound 0)")  # fmt: skip
        labels2, seconds = metis(after, args.target)
        report("METIS rerun", after, labels2, seconds, args.target,
               _moved_by_overlap(after, ours.labels, labels2))  # fmt: skip
        if args.years:
            years(blocks, ours.labels, metis(blocks, args.target)[0], args.target, args.years)


def years(blocks: Blocks, ours: np.ndarray, theirs: np.ndarray, target: float, n: int) -> None:
    """``n`` growth steps in a row: ours rebalanced from its last plan, METIS rerun."""
    print(f"  {n} years of growth in a row (each step the scenario above, a new draw):")
    total_ours = total_metis = 0.0
    for year in range(1, n + 1):
        after = grow(blocks, ours, seed=100 + year)
        bound, _, _ = moves_lower_bound(after, ours, target)
        t0, c0 = time.perf_counter(), time.process_time()
        result = rebalance(after, target)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        moved = moved_share(after, result.labels)
        labels2, _ = metis(after, target)
        moved2 = _moved_by_overlap(after, theirs, labels2)
        total_ours += moved * after.load.sum()
        total_metis += moved2 * after.load.sum()
        within2 = np.mean([c["within"] for c in cell_table(after, labels2, target, 0.1)])
        print(f"    year {year}: {seconds:5.2f} s (CPU {cpu:5.2f} s)  "
              f"{feasible_within(after, result.labels, target):.1%} of feasible cells within "
              f"±10%  moved {moved:.1%} (bound {bound:.1%}, {moved / max(bound, 1e-9):.2f}×)  —  "
              f"METIS {within2:.1%} within ({feasible_within(after, labels2, target):.1%} of "
              f"feasible), moved {moved2:.1%}")  # fmt: skip
        blocks, ours, theirs = after, result.labels, labels2
    print(f"    households moved over {n} years: gridmap {total_ours:,.0f}, "
          f"METIS reruns {total_metis:,.0f} ({total_metis / max(total_ours, 1):.2f}×)")  # fmt: skip


def township(url: str, area: str, target: float) -> None:
    """A real township: blocks derived from the registry, the plan in force as the start."""
    from gridmap.db.session import make_engine
    from gridmap.models import make_sessionmaker
    from gridmap.plans.blocks import derive_blocks
    from gridmap.rebalance.blocks import to_blocks

    engine = make_engine(url)
    t0 = time.perf_counter()
    with make_sessionmaker(engine)() as session:
        frame = derive_blocks(session, area)
    engine.dispose()
    blocks = to_blocks(frame, "cell")
    print(f"township {area}: {len(blocks):,} blocks (one per building, Voronoi in its cell), "
          f"{blocks.load.sum():,.0f} households, derived in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    assert blocks.current is not None
    report("plan in force", blocks, blocks.current, 0.0, target)
    bound, changed, total = moves_lower_bound(blocks, blocks.current, target)
    t0 = time.perf_counter()
    ours = rebalance(blocks, target)
    moved = moved_share(blocks, ours.labels)
    report("gridmap", blocks, ours.labels, time.perf_counter() - t0, target, moved)
    print(f"    {feasible_within(blocks, ours.labels, target):.1%} of feasible cells within ±10%; "
          f"moved {moved:.1%} / lower bound {bound:.1%} ({changed} of {total} villages must "
          f"change their number of cells) = {moved / max(bound, 1e-9):.2f}×")  # fmt: skip
    labels, seconds = metis(blocks, target)
    report("METIS (contiguous)", blocks, labels, seconds, target,
           _moved_by_overlap(blocks, blocks.current, labels))  # fmt: skip
    print(f"    {feasible_within(blocks, labels, target):.1%} of feasible cells within ±10%")


def why_out(blocks: Blocks, labels: np.ndarray, target: float) -> None:
    """Per feasible cell out of the band: its village's load, cells now and before, the
    counts it may have, its cells' loads and its largest block (``--why``)."""
    out = infeasible_cells(blocks, labels, target, 0.1)
    lo, hi = 0.9 * target, 1.1 * target
    for cell in cell_table(blocks, labels, target, 0.1):
        if cell["within"] or cell["cell"] in out:
            continue
        here = blocks.village == cell["village"]
        load = float(blocks.load[here].sum())
        loads = sorted(float(blocks.load[labels == c].sum()) for c in set(labels[here]))
        before = len(set(blocks.current[here])) if blocks.current is not None else 0
        allowed = [k for k in range(1, int(load / lo) + 2)
                   if why_not_divides(blocks.load[here], k, lo, hi) is None]  # fmt: skip
        print(f"      out: {cell['cell']} {cell['load']:,.0f} — village {load:,.0f} in "
              f"{len(loads)} cells (was {before}, feasible {allowed}), cells "
              f"{[round(x) for x in loads]}, largest block {blocks.load[here].max():,.0f}")  # fmt: skip


def explain(blocks: Blocks, result: object, target: float) -> str:
    """How many cells no plan brings into the band, and how many of the others are in it."""
    problems = result.problems  # type: ignore[attr-defined]
    labels = result.labels  # type: ignore[attr-defined]
    out = infeasible_cells(blocks, labels, target, 0.1)
    return (f"{len(problems)} problems reported; {len(out)} cells cannot be within ±10% (their "
            f"part's load does not divide into them, or they hold a block above the band); "
            f"the other, feasible cells: {feasible_within(blocks, labels, target):.1%} within")  # fmt: skip


def feasible_within(blocks: Blocks, labels: np.ndarray, target: float) -> float:
    """Share within ±10% of the cells that can be (``infeasible_cells``): not in a part
    whose load does not divide into its cells (the mean, and blocks above the floor that
    fill a cell on their own), nor holding a block heavier than the band's ceiling. The same
    definition for our plans and METIS's, whichever engine made them."""
    cells = cell_table(blocks, labels, target, 0.1)
    out = infeasible_cells(blocks, labels, target, 0.1)
    rest = [c["within"] for c in cells if c["cell"] not in out]
    return float(np.mean(rest)) if rest else 1.0


def _load_engine(path: str):  # type: ignore[no-untyped-def]
    """``rebalance`` from another copy of gridmap/rebalance/engine.py."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("baseline_engine", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_engine"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    print(f"engine: rebalance() from {path}")
    return module.rebalance


def _moved_by_overlap(blocks: Blocks, old: np.ndarray, new: np.ndarray) -> float:
    """Households moved when each new part takes the name of the old cell it overlaps most."""
    overlap: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for o, n_, w in zip(old, new, blocks.load, strict=True):
        overlap[n_][o] += w
    name = {n_: max(d, key=d.__getitem__) for n_, d in overlap.items()}
    moved = sum(w for o, n_, w in zip(old, new, blocks.load, strict=True) if name[n_] != o)
    return float(moved / blocks.load.sum())


if __name__ == "__main__":
    main()
