"""Divergent fine-tuning (Broad, Berns, Colton & Grierson 2021, section 4): move a trained generator's weights
away from its data by gradient and keep the trail, so a person can pick the moment they like.

Methods (``FinetuneConfig.method``): ``cross-domain`` (train on other data), ``domain-shift`` (train on
data progressively replaced by the model's own samples, with a collapse detector), ``uncanny`` (loss hacking
against the frozen discriminator), ``guided`` (a differentiable scorer plus a realism anchor) and ``nada``
(CLIP text guidance, StyleGAN-NADA). Each module holds one idea:

- config.py: FinetuneConfig          - trail.py: the checkpoint trail (entries, render, GIF, export)
- guidance.py: loss hacking, scorers - nada.py: CLIP encoders and NADA's losses
- layers.py: frozen and chosen layers - shift.py: continual domain shift's data rounds
- tasks.py: the trainer tasks        - run.py: FinetuneTrainer and finetune()
"""

from swerve.diverge.finetune.config import METHODS, FinetuneConfig
from swerve.diverge.finetune.run import FinetuneResult, FinetuneTrainer, finetune
from swerve.diverge.finetune.trail import Trail

__all__ = ["METHODS", "FinetuneConfig", "FinetuneResult", "FinetuneTrainer", "Trail", "finetune"]
