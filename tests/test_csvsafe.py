"""CSV cells a spreadsheet will not run (gridmap/csvsafe.py), and the writers that use it."""

import pandas as pd
import pytest

from gridmap import csvsafe
from gridmap.bulk import write


@pytest.mark.parametrize(
    ("value", "written"),
    [("=1+1", "'=1+1"), ("+8613800001111", "'+8613800001111"), ("-2+3", "'-2+3"),
     ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("陈=1", "陈=1"),
     ("", ""), (None, None), (-5, -5), (1.5, 1.5)],
)  # fmt: skip
def test_one_cell(value, written):
    assert csvsafe.cell(value) == written


def test_a_table_changes_text_only_and_stays_a_copy():
    data = pd.DataFrame({"name": ["=cmd", "林芳", None], "lon": [-118.5, 118.6, 118.7],
                         "born": pd.to_datetime(["1990-01-01"] * 3).date})  # fmt: skip
    safe = csvsafe.frame(data)
    assert list(safe["name"][:2]) == ["'=cmd", "林芳"] and pd.isna(safe["name"][2])
    assert list(safe["lon"]) == [-118.5, 118.6, 118.7]  # numbers stay numbers
    assert list(safe["born"]) == list(data["born"])
    assert data["name"][0] == "=cmd"


def test_the_assign_command_writes_safe_cells(tmp_path):
    """gridmap assign copies the input's columns into its output: they are made safe too."""
    path = tmp_path / "out.csv"
    write(pd.DataFrame({"note": ['=HYPERLINK("x")', "ok"], "lon": [-1.0, 2.0]}), path)
    assert path.read_text().splitlines() == ["note,lon", "\"'=HYPERLINK(\"\"x\"\")\",-1.0",
                                             "ok,2.0"]  # fmt: skip
