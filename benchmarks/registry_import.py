"""Importing residents in bulk: ``gridmap registry import`` on a file of ~50 k rows.

    python -m benchmarks.registry_import [--rows 50000] [--fraction 0.01]

Generates the demo seed (areas, cells and buildings; the registry is not loaded), writes a
CSV of ``--rows`` new people in households of 1–4 placed as files from the field place
them (60 % by a point a few metres from a building, 20 % by building id, 20 % by a
building's address), and times :func:`gridmap.registry.importer.import_registry` on it in
one transaction (rolled back: each run starts from the same database), counting the SQL
statements sent. Every row is valid except one in 100 (a wrong check digit, a phone
``12012345678``), so the refusal path runs too.
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import event

from benchmarks.common import peak_rss_mb, throwaway_database
from gridmap.db.session import make_engine
from gridmap.locate import build_index
from gridmap.models import make_sessionmaker
from gridmap.registry import rules
from gridmap.registry.ids import id_check_digit
from gridmap.registry.importer import import_registry
from seed_data.generate import SeedConfig, generate
from seed_data.load import PLAN_ID, load
from seed_data.registry import phones

HEADER = ["户号", "姓名", "身份证号", "性别", "出生日期", "联系电话", "与户主关系",
          "建筑编号", "室号", "地址", "经度", "纬度"]  # fmt: skip


def write_file(path: Path, buildings: pd.DataFrame, rows: int, seed: int = 7) -> int:
    """``rows`` people in households; returns the number of rows meant to be refused."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, rows)  # more households than needed; cut at ``rows``
    household = np.repeat(np.arange(len(sizes)), sizes)[:rows]
    first = np.r_[True, household[1:] != household[:-1]]
    n_households = int(household[-1]) + 1
    at = rng.integers(0, len(buildings), n_households)
    how = rng.choice(["point", "building", "address"], n_households, p=[0.6, 0.2, 0.2])
    unique_address = ~buildings["address"].duplicated(keep=False).to_numpy()
    how[(how == "address") & ~unique_address[at]] = "building"
    born = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 365 * 60, rows), "D")
    birth = born.strftime("%Y%m%d").to_numpy()
    # the date and three sequence digits: a repeat (the same pair) is left out of the file
    first17 = np.char.add(np.char.add("350503", birth.astype(str)),
                          np.char.zfill((np.arange(rows) % 1000).astype(str), 3))  # fmt: skip
    valid = pd.Series(np.char.add(first17, id_check_digit(first17)))
    dup = valid.duplicated().to_numpy()
    gender = np.array(["男" if rules.gender_of(n) == "M" else "女" for n in valid])
    phone = phones(rng, rows)
    bad = rng.random(rows) < 0.01
    half = rng.random(rows) < 0.5
    wrong = valid.str[:17] + np.where(valid.str[17] == "0", "1", "0")
    ids = np.where(bad & half, wrong, valid)  # a wrong check digit
    phone = np.where(bad & ~half, "12012345678", phone)  # 120 is no mobile segment
    b = buildings.iloc[at[household]]
    place = how[household]
    lon = b["lon"].to_numpy() + 0.00002
    lat = b["lat"].to_numpy()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            if dup[i]:
                continue
            row = {"户号": f"B{household[i]}", "姓名": f"测试{i}", "身份证号": ids[i],
                   "性别": gender[i], "出生日期": f"{birth[i][:4]}-{birth[i][4:6]}-{birth[i][6:]}",
                   "联系电话": phone[i], "与户主关系": "户主" if first[i] else "其他",
                   "室号": str(101 + household[i] % 6 * 100)}  # fmt: skip
            if first[i]:
                if place[i] == "point":
                    row |= {"经度": f"{lon[i]:.6f}", "纬度": f"{lat[i]:.6f}"}
                elif place[i] == "building":
                    row["建筑编号"] = str(int(b["id"].iloc[i]))
                else:
                    row["地址"] = str(b["address"].iloc[i])
            writer.writerow([row.get(h, "") for h in HEADER])
    return int(bad.sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--fraction", type=float, default=0.01, help="of the seed's people")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = generate(SeedConfig(scale="demo", population_fraction=args.fraction))
    print(f"demo seed generated in {time.perf_counter() - t0:.0f} s")
    with throwaway_database() as url, tempfile.TemporaryDirectory() as folder:
        engine = make_engine(url)
        load(data, engine, only={"plan", "area", "building"})
        buildings = data.buildings.reset_index(drop=True)
        if "id" not in buildings:
            buildings["id"] = np.arange(1, len(buildings) + 1)
        del data
        path = Path(folder) / "residents.csv"
        bad = write_file(path, buildings, args.rows)
        print(f"{args.rows:,} rows written ({bad} meant to be refused), "
              f"{path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
        sessions = make_sessionmaker(engine)
        with sessions() as session:
            index = build_index(session, PLAN_ID)
        statements = [0]

        @event.listens_for(engine, "before_cursor_execute")
        def count(*_: object) -> None:
            statements[0] += 1

        for run in range(args.runs):
            with sessions() as session:
                statements[0] = 0
                t1 = time.perf_counter()
                report = import_registry(session, index, path)
                elapsed = time.perf_counter() - t1
                session.rollback()
            print(f"run {run + 1}: {elapsed:.1f} s, {report.rows / elapsed:,.0f} rows/s, "
                  f"{statements[0]:,} SQL statements; {len(report.households):,} households "
                  f"({report.people:,} people) loaded, {len(report.problems):,} rows refused; "
                  f"peak {peak_rss_mb():,.0f} MB")  # fmt: skip
        kinds = pd.Series([re.sub(r"[0-9*]+|'.*'", "…", p.reason)[:60] for p in report.problems])
        print(kinds.value_counts().head(8).to_string())
        engine.dispose()


if __name__ == "__main__":
    main()
