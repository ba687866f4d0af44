"""Rebalancing jobs of one server process: one at a time, watched and cancelled by id.

A rebalance of a township takes seconds to a minute of a core, so the studio starts it as a
job (``POST /api/v1/plans/drafts`` → 202 and an id) and polls it. The table is kept in
memory, deliberately small: one job runs at a time per server (a second is refused with
Retry-After, :class:`JobsBusy`), the last few finished jobs are remembered so a page can
read the outcome, and a restart forgets them (the drafts they saved are in the database).

States are a table like the incident workflow's: queued → running → done | failed |
cancelled, or queued → cancelled. A running job is cancelled between its stages
(:class:`gridmap.plans.rebalancing.Stage`), never in the middle of saving.
"""

from __future__ import annotations

import enum
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gridmap.errors import Conflict, GridmapError, NotFound
from gridmap.plans.rebalancing import Cancelled, Stage

log = logging.getLogger(__name__)


class JobState(enum.StrEnum):
    """Where a job stands."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = frozenset({JobState.done, JobState.failed, JobState.cancelled})
ACTIVE = frozenset({JobState.queued, JobState.running})


class JobsBusy(GridmapError):
    """A rebalance is already running on this server: try again when it ends."""

    status = 503
    code = "busy"
    title = "Service busy"

    def headers(self) -> dict[str, str]:  # noqa: D102
        return {"Retry-After": str(self.extra.get("retry_after", 15))}


@dataclass
class Job:
    """One rebalancing run and what it has done so far."""

    id: str
    owner: int  # the user who started it
    area: str
    parameters: dict[str, Any]
    state: JobState = JobState.queued
    stages: list[str] = field(default_factory=list)  # those ended, in order
    plan_id: int | None = None
    summary: dict[str, Any] | None = None  # figures of a done job (cells, within, moved…)
    error: str | None = None
    cancel_requested: bool = False
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None

    def read(self) -> dict[str, Any]:
        """The job as the API answers it."""
        return {
            "id": self.id, "state": self.state.value, "area": self.area,
            "parameters": self.parameters, "stages": list(self.stages),
            "stages_all": [s.value for s in Stage], "plan_id": self.plan_id,
            "summary": self.summary, "error": self.error, "created_at": self.created_at,
            "finished_at": self.finished_at,
        }  # fmt: skip


Work = Callable[[Callable[[Stage], None], Callable[[], bool]], tuple[int | None, dict[str, Any]]]


class DraftJobs:
    """The rebalancing jobs of this process (one active at a time, ``keep`` remembered)."""

    def __init__(self, *, keep: int = 20, retry_after: int = 15) -> None:
        self.keep = keep
        self.retry_after = retry_after
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def submit(self, *, owner: int, area: str, parameters: dict[str, Any]) -> Job:
        """A new queued job; refused (503, Retry-After) while another is queued or running."""
        with self._lock:
            busy = self.active()
            if busy is not None:
                raise JobsBusy(
                    f"a rebalance of {busy.area} is {busy.state.value} on this server: "
                    "one at a time, try again when it ends",
                    retry_after=self.retry_after,
                )
            job = Job(uuid.uuid4().hex, owner, area, parameters)
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].state in ACTIVE:
                    break
                self._jobs.pop(oldest)
            return job

    def active(self) -> Job | None:
        """The job queued or running, if any."""
        return next((j for j in self._jobs.values() if j.state in ACTIVE), None)

    def get(self, job_id: str) -> Job:
        """The job ``job_id``; 404 when unknown (or forgotten after a restart)."""
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"there is no rebalancing job {job_id} on this server")
        return job

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once, a running one at its next stage; 409 once finished."""
        with self._lock:
            job = self.get(job_id)
            if job.state in FINISHED:
                raise Conflict(f"job {job_id} is {job.state.value}: nothing to cancel")
            job.cancel_requested = True
            if job.state == JobState.queued:
                self._finish(job, JobState.cancelled)
            return job

    def run(self, job_id: str, work: Work) -> Job:
        """Run ``work(progress, cancelled)`` for a queued job; record its outcome, never raise.

        ``work`` returns the draft's plan id and a summary. A GridmapError becomes the job's
        error in its own words; anything else is logged and told as an unexpected failure.
        """
        with self._lock:
            job = self.get(job_id)
            if job.state != JobState.queued:  # cancelled while queued
                return job
            job.state = JobState.running

        def progress(stage: Stage) -> None:
            job.stages.append(stage.value)

        try:
            plan_id, summary = work(progress, lambda: job.cancel_requested)
        except Cancelled:
            self._finish(job, JobState.cancelled)
        except GridmapError as exc:
            job.error = exc.detail
            self._finish(job, JobState.failed)
        except Exception:  # a bug or the database gone: logged, told in words
            log.exception("rebalancing job %s failed", job.id)
            job.error = (
                "the rebalance failed unexpectedly (logged on the server); nothing was saved"
            )
            self._finish(job, JobState.failed)
        else:
            job.plan_id, job.summary = plan_id, summary
            self._finish(job, JobState.done)
        return job

    @staticmethod
    def _finish(job: Job, state: JobState) -> None:
        job.state = state
        job.finished_at = datetime.now(UTC)
