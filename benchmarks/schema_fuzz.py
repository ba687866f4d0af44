"""Does the OpenAPI document agree with the server? Schemathesis, every check, as four users.

    python -m benchmarks.schema_fuzz [--examples 60] [--workers 2] [--principals ...]

Loads a small demo seed (``--fraction`` of its people) into a throwaway cluster, starts a
real uvicorn server, signs in the demo users named by ``--principals`` (a township
dispatcher, a grid worker, an analyst and a planner by default; ``anonymous`` sends no
token) and runs ``schemathesis run`` against ``/openapi.json`` as each of them: every
check (``--checks all``), the examples, coverage, fuzzing and stateful phases (stateful:
the links schemathesis finds in the document and in ``Location`` headers), at most
``--examples`` cases per operation and phase.

Prints the cases run, the 5xx answers, the failures by check and by operation, and the
schema-valid requests refused by a rule the document cannot state (docs/api.md, "What the
document cannot say"): those are counted by rule, never as failures, and any other
refusal of a schema-valid request is one. The issue's target: ≥ 10,000 cases, 0 × 5xx and
0 schema mismatches.

The module is also schemathesis' hooks file (``SCHEMATHESIS_HOOKS``): it registers the
check that replaces the built-in ``positive_data_acceptance`` with the rules below.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

# Rules the server applies that an OpenAPI document cannot state, as (name, detail pattern):
# a schema-valid request refused (400/422) with one of these details is the rule working,
# not the document disagreeing. Each is listed in docs/api.md.
BEYOND_SCHEMA = {
    "reference data (categories, units, areas, plans live in the database)": (
        r"unknown category|there is no unit|there is no (area|centre|plan)|is not served here"
        r"|no unit stationed|not a unit of|no target in the area matches"
    ),
    "a point outside the jurisdiction (the areas are data)": r"outside the jurisdiction",
    "the clock (dates from 2000 to now or a year ahead; born 1900 to today)": (
        r"is before 2000-01-01|is in the future|days ahead|between 1900 and today"
    ),
    "the calendar (a day the month does not have)": r"is not RFC 3339|is not a W3C date-time",
    "two values together (min below max, start before end, a reason with unmasked)": (
        r"min must be below max|ends before it starts|end_date is before start_date"
        r"|span at most 90 days|needs a reason|latitudes within ±90"
    ),
    "an ID number's check digit": r"check digit",
    "a photo's content (an image that decodes; the photos an incident has)": (
        r"the photo is empty|a photo must be a (complete )?JPEG|pixels|an incident has at most"
    ),
    "the password policy beyond length and mix (repeats, common, the username)": (
        r"four times in a row|among the most common|must not contain the username"
    ),
}
PRINCIPALS = ("township", "grid", "analyst", "planner")
RULES_FILE = "GRIDMAP_FUZZ_RULES"  # where the check below writes the rules it saw applied


def _detail(response: Any) -> str:
    """The human message of a problem, an Open311 error (JSON or XML), or the raw text."""
    text = response.text or ""
    try:
        body = json.loads(text)
    except ValueError:
        found = re.search(r"<description>(.*?)</description>", text, re.S)
        return found.group(1) if found else text
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("description", ""))
    return str(body.get("detail", "")) if isinstance(body, dict) else text


def rule_of(detail: str) -> str | None:
    """The rule beyond the schema that ``detail`` names, if any."""
    for name, pattern in BEYOND_SCHEMA.items():
        if re.search(pattern, detail):
            return name
    return None


@schemathesis.check
def positive_data_acceptance_but_rules(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schema-valid requests are accepted, unless a rule the document cannot state refused them."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        rule = rule_of(_detail(response)) if response.status_code in (400, 422) else None
        if rule is None:
            raise
        if os.environ.get(RULES_FILE):
            with open(os.environ[RULES_FILE], "a", encoding="utf-8") as out:
                out.write(f"{rule}\t{case.operation.label}\n")
        return None


def run_schemathesis(
    base: str, token: str | None, *, examples: int, workers: int, seed: int, report_dir: Path
) -> dict[str, Any]:
    """One ``schemathesis run`` as one principal; its JSON report."""
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(examples), "--workers", str(workers), "--seed", str(seed),
        "--request-timeout", "30", "--no-color", "--report", "json",
        "--report-dir", str(report_dir), "--suppress-health-check", "all",
    ]  # fmt: skip
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    # run in the report's folder (schemathesis keeps a cache in .schemathesis/ there), with
    # this repository importable for the hooks
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    env = os.environ | {"SCHEMATHESIS_HOOKS": "benchmarks.schema_fuzz", "PYTHONPATH": path,
                        RULES_FILE: str(report_dir / "rules.tsv")}  # fmt: skip
    report_dir.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(command, env=env, cwd=report_dir, capture_output=True, text=True,
                         check=False)  # fmt: skip
    (report_dir / "output.txt").write_text(out.stdout + out.stderr, encoding="utf-8")
    reports = sorted(report_dir.glob("json-*.json"))
    if not reports:
        raise RuntimeError(f"schemathesis wrote no report:\n{out.stdout[-3000:]}{out.stderr}")
    report: dict[str, Any] = json.loads(reports[-1].read_text(encoding="utf-8"))
    return report


def main() -> None:
    from benchmarks.burst import setup, sign_in
    from benchmarks.common import api_server

    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=60, help="per operation and phase")
    parser.add_argument("--workers", type=int, default=1, help="schemathesis workers")
    parser.add_argument("--principals", default=",".join(PRINCIPALS),
                        help="demo usernames, comma-separated; 'anonymous' sends no token")  # fmt: skip
    parser.add_argument("--fraction", type=float, default=0.01, help="of the demo's people")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    server_env = {"GRIDMAP_RATE_LIMITS_ENABLED": "false",
                  "GRIDMAP_NOTIFICATION_STREAM_SECONDS": "1",
                  "GRIDMAP_NOTIFICATION_POLL_SECONDS": "0.2"}  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="gridmap-schema-fuzz-"))
    t0 = time.perf_counter()
    with setup(args.fraction) as (url, _), api_server(url, workers=2, env=server_env) as base:
        ready = time.perf_counter()
        tokens = {name: None if name == "anonymous" else sign_in(base, name)
                  for name in args.principals.split(",")}  # fmt: skip
        reports = {}
        for name, token in tokens.items():
            started = time.perf_counter()
            reports[name] = run_schemathesis(
                base, token, examples=args.examples, workers=args.workers, seed=args.seed,
                report_dir=workdir / name,
            )  # fmt: skip
            cases = reports[name]["test_cases"]["generated"]
            print(f"{name}: {cases:,} cases in {time.perf_counter() - started:.0f} s, "
                  f"{len(reports[name]['failures'])} failures", flush=True)  # fmt: skip
    summarise(reports, workdir, setup_s=ready - t0, total_s=time.perf_counter() - t0)


def summarise(reports: dict[str, dict[str, Any]], workdir: Path, *, setup_s: float,
              total_s: float) -> None:  # fmt: skip
    """Cases, 5xx, failures by check and operation, refusals by rules beyond the schema."""
    cases = sum(r["test_cases"]["generated"] for r in reports.values())
    by_check: Counter[str] = Counter()
    by_operation: Counter[str] = Counter()
    for name, report in reports.items():
        for failure in report["failures"]:  # one entry per kind, with its operations
            check = f"{failure.get('code', '?')} {failure.get('title', '?')}"
            by_check[check] += failure.get("count", 1)
            for operation in failure.get("operations", []):
                by_operation[f"[{name}] {operation}: {failure.get('code', '?')}"] += 1
    server_errors = sum(n for check, n in by_check.items() if "Server error" in check)
    errors = sum(len(r["errors"]) for r in reports.values())
    rules: Counter[str] = Counter()
    for name in reports:
        path = workdir / name / "rules.tsv"
        if path.exists():
            rules.update(line.split("\t")[0] for line in path.read_text().splitlines())
    print(f"\n{cases:,} cases as {len(reports)} principals in {total_s:.0f} s "
          f"(set-up {setup_s:.0f} s); {server_errors} × 5xx, {sum(by_check.values())} "
          f"failures, {errors} errors")  # fmt: skip
    for check, count in by_check.most_common():
        print(f"  {count:5} {check}")
    if by_operation:
        print("failures by operation:")
        for operation, count in by_operation.most_common():
            print(f"  {count:5} {operation}")
    print("schema-valid requests refused by a rule the document cannot state:")
    for rule, count in rules.most_common():
        print(f"  {count:5} {rule}")
    print(f"reports and schemathesis' output: {workdir}")


if __name__ == "__main__":
    main()
