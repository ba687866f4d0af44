"""The counters and histograms gridmap keeps (prometheus_client), for any module to count.

Kept apart from :mod:`gridmap.ops.metrics` (which reads the domain gauges from the
database) so low modules such as the rate limiter count without importing the domains.
Names follow Prometheus practice; a counter's ``_total`` suffix is added by the library.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# request latency buckets: from a point lookup (~ms) to a slow export (~s)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "gridmap_http_requests", "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
)  # fmt: skip
LATENCY = Histogram(
    "gridmap_http_request_duration_seconds", "Time to answer a request, by route template",
    ["method", "route"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
INTAKES = Counter("gridmap_intakes", "Incidents reported, by intake channel", ["channel"])
SYNC_CONFLICTS = Counter(
    "gridmap_sync_conflicts", "Offline edits refused at sync as conflicting with newer data"
)
RATE_LIMITED = Counter("gridmap_rate_limited", "Requests refused by a rate limit", ["rule"])
UNMASK_READS = Counter("gridmap_unmask_reads", "Reads of personal data unmasked (audited)")
SWEEP_SECONDS = Histogram(
    "gridmap_reminder_sweep_seconds", "Duration of a reminder sweep",
    ["scope"], buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0),
)  # fmt: skip
JOB_RUNS = Counter("gridmap_job_runs", "Scheduled jobs run by `gridmap worker`", ["job", "outcome"])
