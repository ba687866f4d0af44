"""The planner notebook, executed as a planner would run it, on a seeded database."""

import os
from pathlib import Path

import geopandas as gpd
import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "rebalance_township.ipynb"


def test_the_planner_notebook_runs_and_writes_a_draft(fresh, tmp_path, monkeypatch):
    url, data = fresh
    township = data.areas[data.areas.level == "township"].code.iloc[0]
    monkeypatch.setenv("GRIDMAP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDMAP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GRIDMAP_TOWNSHIP", township)
    monkeypatch.setenv("GRIDMAP_TARGET", "20")
    monkeypatch.setenv("GRIDMAP_DRAFT_FILE", str(tmp_path / "draft.gpkg"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute(env=dict(os.environ))
    outputs = "".join(
        o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
        for o in cell.get("outputs", [])
    )  # fmt: skip
    assert "households changing cell" in outputs
    assert (tmp_path / "balance.png").stat().st_size > 1000
    page = (tmp_path / "rebalanced.html").read_text(encoding="utf-8")
    assert "static/vendor/leaflet/leaflet.js" in page and "https://" not in page  # offline
    cells = gpd.read_file(tmp_path / "draft.gpkg")
    buildings = data.buildings[data.buildings.grid_code.str.startswith(township)]
    assert cells["households"].sum() == buildings["households"].sum()
    assert cells["code"].str.startswith(township).all()
