"""Where sweep jobs run: in this process, on a local process pool, or on a Ray cluster.

Each backend hands out at most ``capacity`` jobs at a time (so Ctrl-C only has running jobs to wait for) and
offers ``submit(job, digest) -> handle``, ``done(handles) -> finished handles`` (waits for at least one) and
``result(handle)``. The engines are the standard ones (concurrent.futures, Ray); this module only adapts them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from swerve.errors import ConfigError, SwerveError
from swerve.scale.sweep import Job, run_job

BACKENDS = ("local", "ray")


class InProcess:
    """Jobs run one after another in the calling process (``workers=1``): no start-up cost."""

    capacity = 1

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def submit(self, job: Job, digest: str) -> Future:
        future: Future = Future()
        future.set_result(run_job(job, digest))
        return future

    def done(self, handles: list[Future]) -> list[Future]:
        return handles

    def result(self, handle: Future) -> dict[str, Any]:
        return handle.result()


def _worker_init() -> None:
    """Pool workers leave Ctrl-C to the coordinator (which lets them finish) and use one thread each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)


class LocalPool(InProcess):
    """A pool of ``workers`` processes on this machine.

    Workers are forked (they start at once, with everything imported) unless this process has initialised
    CUDA, which does not survive a fork; then they are spawned fresh.
    """

    def __init__(self, workers: int) -> None:
        import sys

        import torch

        fork = sys.platform == "linux" and not torch.cuda.is_initialized()
        context = multiprocessing.get_context("fork" if fork else "spawn")
        self.capacity = workers
        self.pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init)
        self.pool.submit(int).result()  # start the workers now, before the caller starts any thread

    def __exit__(self, *exc: Any) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, job: Job, digest: str) -> Future:
        return self.pool.submit(run_job, job, digest)

    def done(self, handles: list[Future]) -> list[Future]:
        return list(wait(handles, return_when=FIRST_COMPLETED).done)


class RayBackend(InProcess):
    """Jobs as Ray tasks: on the cluster at ``RAY_ADDRESS`` if set, else on a local Ray instance."""

    def __init__(self, workers: int) -> None:
        try:
            import ray
        except ImportError:
            raise SwerveError("the ray backend needs Ray: pip install 'swerve[ray]'") from None
        self.ray = ray
        self.capacity = workers
        self.started = not ray.is_initialized()
        if self.started:
            address = os.environ.get("RAY_ADDRESS")
            kwargs = {"address": address} if address else {"num_cpus": workers}
            ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        self.task = ray.remote(num_cpus=1)(run_job)

    def __exit__(self, *exc: Any) -> None:
        if self.started:
            self.ray.shutdown()

    def submit(self, job: Job, digest: str) -> Any:
        return self.task.remote(job, digest)

    def done(self, handles: list[Any]) -> list[Any]:
        ready, _ = self.ray.wait(handles, num_returns=1)
        return ready

    def result(self, handle: Any) -> dict[str, Any]:
        return self.ray.get(handle)


def make_backend(name: str, workers: int) -> InProcess:
    """The backend called ``name`` with ``workers`` workers (local with 1 worker runs in this process)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    if name == "local":
        return InProcess() if workers == 1 else LocalPool(workers)
    if name == "ray":
        return RayBackend(workers)
    raise ConfigError(f"unknown backend {name!r}; backends: {', '.join(BACKENDS)}")
