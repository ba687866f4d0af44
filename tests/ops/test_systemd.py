"""The systemd units of docs/operations.md pass ``systemd-analyze verify``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_units_verify(tmp_path):
    gridmap = Path(sys.executable).parent / "gridmap"  # installed here, not in /opt/gridmap
    names = sorted(p.name for p in UNITS.iterdir())
    assert names == ["gridmap-backup-verify.service", "gridmap-backup-verify.timer",
                     "gridmap-worker.service", "gridmap.service"]  # fmt: skip
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/gridmap/.venv/bin/gridmap", str(gridmap))
        assert "/opt/gridmap/.venv" not in text
        (tmp_path / unit.name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / n) for n in names)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if str(tmp_path) in line]  # fmt: skip
    assert done.returncode == 0 and problems == [], done.stdout + done.stderr
    serve = (tmp_path / "gridmap.service").read_text()
    assert "--workers" in serve and "EnvironmentFile=/etc/gridmap/gridmap.env" in serve
