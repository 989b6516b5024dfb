"""Training checkpoints: networks, optimiser state and random state, written atomically as one directory.

A checkpoint is all tensors (safetensors) plus one JSON file: no pickle anywhere. The directory is written
under a temporary name and renamed into place, so a kill at any moment leaves the previous checkpoint or the
new one, never a mixture; if a kill lands between the two renames, the previous one is found as ``.old``.
The JSON file records each tensor file's SHA-256, so a file damaged later (a bad disk, a partial copy) is
reported by name instead of resuming from garbage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from swerve import __version__
from swerve.errors import SwerveError
from swerve.outputs import mark_folder
from swerve.utils import atomic_path, sha256_file

STATE = "state.json"


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = opt.state_dict()
    tensors = {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            tensors[f"{index}.{key}"] = torch.as_tensor(value).detach().clone().contiguous().cpu()
    return tensors, {"param_groups": state["param_groups"]}


def _restore_optimizer(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        slots.setdefault(int(index), {})[name] = value
    opt.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})


def save_checkpoint(
    path: Path,
    step: int,
    config: dict[str, Any],
    networks: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    rng: dict[str, torch.Tensor],
) -> None:
    """Write the checkpoint directory at ``path`` atomically."""
    with atomic_path(path, kind="checkpoint") as tmp:
        tmp.mkdir()
        mark_folder(tmp, "checkpoint")
        weights = {
            f"{role}/{key}": value.detach().contiguous().cpu()
            for role, net in networks.items()
            for key, value in net.state_dict().items()
        }
        save_file(weights, tmp / "networks.safetensors")
        opt_tensors, opt_meta = {}, {}
        for name, opt in optimizers.items():
            tensors, meta = _flatten_optimizer(opt)
            opt_tensors.update({f"{name}/{k}": v for k, v in tensors.items()})
            opt_meta[name] = meta
        save_file(opt_tensors, tmp / "optimizers.safetensors")
        save_file({k: v.contiguous().cpu() for k, v in rng.items()}, tmp / "rng.safetensors")
        files = ("networks.safetensors", "optimizers.safetensors", "rng.safetensors")
        state = {
            "step": step,
            "config": config,
            "optimizers": opt_meta,
            "swerve_version": __version__,
            "sha256": {name: sha256_file(tmp / name) for name in files},
        }
        (tmp / STATE).write_text(json.dumps(state, indent=1))


def find_checkpoint(path: Path) -> Path | None:
    """The checkpoint at ``path``, or the previous one left as ``.name.old`` by a kill mid-rename."""
    if (path / STATE).is_file():
        return path
    old = path.with_name(f".{path.name}.old")
    return old if (old / STATE).is_file() else None


def read_state(path: Path) -> dict[str, Any]:
    """The JSON part of a checkpoint (step and config), without loading tensors."""
    try:
        return json.loads((path / STATE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SwerveError(f"checkpoint {path} is unreadable: {exc}") from None


def load_checkpoint(
    path: Path,
    networks: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
) -> tuple[int, dict[str, torch.Tensor]]:
    """Restore networks and optimisers in place; return the step and the saved random states."""
    state = read_state(path)
    for name, expected in state.get("sha256", {}).items():
        file = path / name
        if not file.is_file():
            raise SwerveError(f"checkpoint file {file} is missing")
        if sha256_file(file) != expected:
            raise SwerveError(f"checkpoint file {file} is corrupt: its SHA-256 does not match {STATE}")
    try:
        weights = load_file(path / "networks.safetensors")
        opt_tensors = load_file(path / "optimizers.safetensors")
        rng = load_file(path / "rng.safetensors")
    except (SafetensorError, OSError) as exc:
        raise SwerveError(f"checkpoint {path} is corrupt: {exc}") from None
    for role, net in networks.items():
        prefix = f"{role}/"
        net.load_state_dict({k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)})
    for name, opt in optimizers.items():
        prefix = f"{name}/"
        tensors = {k[len(prefix) :]: v for k, v in opt_tensors.items() if k.startswith(prefix)}
        _restore_optimizer(opt, tensors, state["optimizers"][name])
    return int(state["step"]), rng
