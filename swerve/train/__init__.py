"""Training: objectives, per-model steps (tasks) and the trainer loop with checkpoints and resume."""

from swerve.train.config import TrainConfig
from swerve.train.trainer import Trainer, TrainResult

__all__ = ["TrainConfig", "TrainResult", "Trainer"]
