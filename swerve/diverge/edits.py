"""Weight edits as new bundles: copy a bundle, load edited state dicts, record what was done.

Blending, merging, glitching and rewriting are functions from state dicts to state dicts; this is the one
place that turns their result into a :class:`~swerve.bundle.Bundle` with the edit in its history, leaving
the original bundle untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch

from swerve.bundle import Bundle
from swerve.errors import ConfigError


def derive(
    bundle: Bundle,
    states: Mapping[str, Mapping[str, torch.Tensor]],
    op: str,
    name: str | None = None,
    **params: Any,
) -> Bundle:
    """A deep copy of ``bundle`` with ``states[role]`` loaded into each named network and ``op`` recorded."""
    networks = {}
    for role, net in bundle.networks.items():
        net = copy.deepcopy(net)
        if role in states:
            bad = [k for k, t in states[role].items() if t.is_floating_point() and not t.isfinite().all()]
            if bad:
                raise ConfigError(f"the {op} made non-finite {role} weights ({bad[0]}); use a smaller value")
            try:
                net.load_state_dict(dict(states[role]), strict=True)
            except RuntimeError as exc:
                raise ConfigError(f"edited {role} weights do not fit its network: {exc}") from None
        networks[role] = net
    missing = sorted(set(states) - set(networks))
    if missing:
        raise ConfigError(f"bundle {bundle.name} has no {missing[0]} network to edit")
    out = bundle.edit_copy(networks, name or bundle.name)
    out.record(op, **params)
    return out
