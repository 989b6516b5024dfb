"""Background jobs (videos, sweeps): one thread each, at most one running per model, cancellable.

A job is a function ``work(progress) -> result`` where ``progress(done, total, message)`` reports and raises
:class:`Cancelled` once the job was asked to stop, so work stops at the next step it reports. The page follows
a job through Server-Sent Events made from :meth:`Job.snapshot`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

from swerve.errors import SwerveError

Progress = Callable[[int, int, str], None]


class Cancelled(Exception):
    """Raised inside a job's work when the job was cancelled."""


class Busy(SwerveError):
    """The model already has a job running."""


class Job:
    """One piece of background work and what is known about it."""

    def __init__(self, job_id: str, model: str, kind: str, work: Callable[[Progress], Any]) -> None:
        self.id = job_id
        self.model = model
        self.kind = kind
        self.state = "running"  # running | done | failed | cancelled
        self.done = 0
        self.total = 0
        self.message = "starting"
        self.result: Any = None
        self.error = ""
        self.version = 0  # bumped on every change, so watchers know when to send an event
        self._cancel = threading.Event()
        self._changed = threading.Condition()
        self._work = work
        self._thread = threading.Thread(target=self._run, name=f"swerve-job-{job_id}", daemon=True)

    def start(self) -> Job:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def _progress(self, done: int, total: int, message: str) -> None:
        if self._cancel.is_set():
            raise Cancelled
        self._update(done=done, total=total, message=message)

    def _update(self, **changes: Any) -> None:
        with self._changed:
            for key, value in changes.items():
                setattr(self, key, value)
            self.version += 1
            self._changed.notify_all()

    def _run(self) -> None:
        try:
            result = self._work(self._progress)
        except Cancelled:
            self._update(state="cancelled", message="cancelled")
        except SwerveError as exc:
            self._update(state="failed", error=str(exc), message="failed")
        except Exception as exc:  # a bug: report it on the page rather than lose the thread silently
            error = f"internal error: {type(exc).__name__}: {exc}"
            self._update(state="failed", error=error, message="failed")
        else:
            self._update(state="done", result=result, done=self.total, message="done")

    def wait_change(self, seen: int, timeout: float) -> int:
        """Block until the job's version passes ``seen`` (or ``timeout`` seconds); return the version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version > seen, timeout=timeout)
            return self.version

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def finished(self) -> bool:
        return self.state != "running"

    def snapshot(self, with_result: bool = False) -> dict[str, Any]:
        """What is known now, read in one piece so that the state and the counts agree."""
        with self._changed:
            found = {
                "id": self.id,
                "model": self.model,
                "kind": self.kind,
                "state": self.state,
                "done": self.done,
                "total": self.total,
                "message": self.message,
                "error": self.error,
            }
            if with_result:
                found["result"] = self.result
            return found


class Jobs:
    """All jobs of one studio; refuses a second running job for the same model."""

    def __init__(self, keep: int = 50) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.keep = keep

    def start(self, model: str, kind: str, work: Callable[[Progress], Any]) -> Job:
        with self._lock:
            for job in self._jobs.values():
                if job.model == model and not job.finished:
                    raise Busy(f"{model} already has a {job.kind} job running (job {job.id}); wait or cancel")
            job = Job(secrets.token_hex(16), model, kind, work)  # random: no page can guess another's job
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.finished]
            for old in finished[: max(0, len(self._jobs) - self.keep)]:
                del self._jobs[old.id]
        return job.start()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())
