"""Scaling out: sweeps of pure jobs over an operation registry, run here, on a process pool or on Ray.

(Data-parallel training lives with the trainer, in swerve.train.distributed.)
"""

from swerve.scale.operations import METRICS, OPERATIONS, metric, operation
from swerve.scale.sweep import Job, SweepResult, SweepSpec, load_spec, parse_spec, run_sweep

__all__ = [
    "METRICS",
    "OPERATIONS",
    "Job",
    "SweepResult",
    "SweepSpec",
    "load_spec",
    "metric",
    "operation",
    "parse_spec",
    "run_sweep",
]
