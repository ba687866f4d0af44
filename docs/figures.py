"""Render the pictures in docs/ from the seed (``.venv/bin/python docs/figures.py``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from seed_data.generate import SeedConfig, generate

OUT = Path(__file__).parent / "img"


def demo_areas() -> Path:
    """Townships, villages and grid cells of the demo (Licheng + Fengze), with households."""
    seed = generate(SeedConfig(scale="demo"))
    areas = seed.areas
    fig, ax = plt.subplots(figsize=(10, 9), dpi=110)
    townships = areas[areas.level == "township"]
    townships.plot(ax=ax, column="code", cmap="tab20", alpha=0.35, linewidth=0)
    sample = seed.households.sample(60_000, random_state=1)
    ax.scatter(sample["lon"], sample["lat"], s=0.15, c="#555", alpha=0.35, linewidths=0)
    areas[areas.level == "grid"].boundary.plot(ax=ax, linewidth=0.25, color="#888")
    areas[areas.level == "village"].boundary.plot(ax=ax, linewidth=0.6, color="#446")
    townships.boundary.plot(ax=ax, linewidth=1.4, color="#222")
    areas[areas.level == "county"].boundary.plot(ax=ax, linewidth=2.4, color="#b00")
    counts = areas.level.value_counts()
    ax.set_title(
        f"Demo seed: Licheng + Fengze — {counts['township']} townships, {counts['village']} "
        f"villages/communities, {counts['grid']} grid cells, {len(seed.households):,} households",
        fontsize=10,
    )
    ax.set_xlabel("longitude (WGS84)")
    ax.set_ylabel("latitude")
    ax.set_aspect(1 / 0.906)  # cos(25°)
    path = OUT / "demo-areas.png"
    fig.tight_layout()
    fig.savefig(path)
    return path


if __name__ == "__main__":
    print(demo_areas())
