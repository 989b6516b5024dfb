"""Refining samples with a critic: DGflow and its baselines, behind one interface.

Every method is a function ``method(generator, critic, z, *, labels=None, seed=0, ...) -> Refined``; the
registry ``REFINERS`` names them (dgflow, ddls, dot, drs, mh). Critics come from a bundle's discriminator,
a trained density-ratio estimator (``fit_ratio``) or a classifier's class log-odds (``class_critic``).
"""

from swerve.refine.core import Critic, Refined, critic_logits, discriminator_critic
from swerve.refine.ddls import ddls
from swerve.refine.dgflow import DIVERGENCES, dgflow, velocity_factor
from swerve.refine.dot import dot
from swerve.refine.drs import drs, drs_acceptance
from swerve.refine.mh import mh, mh_accept
from swerve.refine.ratio import bundle_critic, class_critic, fit_ratio, ratio_critic
from swerve.refine.registry import REFINERS, get_method, initial_latents, method_settings, run_method

__all__ = [
    "DIVERGENCES",
    "REFINERS",
    "Critic",
    "Refined",
    "bundle_critic",
    "class_critic",
    "critic_logits",
    "ddls",
    "dgflow",
    "discriminator_critic",
    "dot",
    "drs",
    "drs_acceptance",
    "fit_ratio",
    "get_method",
    "initial_latents",
    "method_settings",
    "mh",
    "mh_accept",
    "ratio_critic",
    "velocity_factor",
    "run_method",
]
