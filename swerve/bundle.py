"""The model bundle: the one format every swerve command reads and writes.

A bundle is a directory::

    my-model/
      config.json              what the networks are, what data and latents they speak, where they came from
      generator.safetensors    one file per network: generator, discriminator, encoder, classifier, ...

``config.json`` names each network's class by import path (``package.module:Class``) with the arguments that
build it, so a bundle can carry architectures swerve did not write (a user's own module, an imported StyleGAN)
without a format change. Opening a bundle runs no code from it: classes come only from swerve's own network
modules or modules the user trusts (:mod:`swerve.trust`), weights are safetensors, never pickle, and each
file's SHA-256 is recorded so a corrupt file is reported by name. ``load(path)`` then ``save(path)``
reproduces every file bit for bit.

A bundle's live edits (bends, the creative decoder; :mod:`swerve.live`) are stored in ``extra`` and installed
on its generator as persistent taps, so ``bundle.generator(z)``, :meth:`Bundle.sample` and every tap see the
edited model.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import json
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from swerve import __version__, live, taps
from swerve.bundle_config import FORMAT, FORMAT_VERSION, check_config
from swerve.errors import BundleError, ConfigError
from swerve.outputs import check_output
from swerve.trust import resolve_class, trust
from swerve.utils import atomic_path, make_generator, pick_device, sha256_file

__all__ = ["Bundle", "DataSpec", "LatentSpec", "Samples", "load", "trust", "resolve_class", "network_spec"]

CONFIG_NAME = "config.json"


@dataclass
class DataSpec:
    """What a model's samples are: their shape, value range, class names and source dataset."""

    shape: list[int]
    range: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    classes: list[str] = field(default_factory=list)
    dataset: str = ""

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3


@dataclass
class LatentSpec:
    """The latent space a generator reads: its dimension and prior (``normal`` or ``uniform`` in [-1, 1])."""

    dim: int
    distribution: str = "normal"

    def sample(self, n: int, gen: torch.Generator, device: torch.device | str = "cpu") -> torch.Tensor:
        """Draw ``n`` latent vectors from the prior with the random generator ``gen``."""
        if self.distribution == "normal":
            z = torch.randn(n, self.dim, generator=gen, device=gen.device)
        elif self.distribution == "uniform":
            z = torch.rand(n, self.dim, generator=gen, device=gen.device) * 2 - 1
        else:
            raise BundleError(
                f"unknown latent distribution {self.distribution!r} (expected normal or uniform)"
            )
        return z.to(device)


@dataclass
class Samples:
    """Generated samples with everything needed to make them again."""

    x: torch.Tensor
    z: torch.Tensor
    labels: torch.Tensor | None
    seed: int
    recipe: dict[str, Any] = field(default_factory=dict)


def class_path(obj: type) -> str:
    """``module:QualName`` of a class, the form config.json stores."""
    return f"{obj.__module__}:{obj.__qualname__}"


def network_spec(net: torch.nn.Module) -> dict[str, Any]:
    """How to rebuild ``net``: its class path and constructor arguments.

    swerve's own networks carry a dataclass ``config``; any other module may set ``init_kwargs`` (a dict of
    JSON values) and is rebuilt as ``Class(**init_kwargs)``.
    """
    config = getattr(net, "config", None)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        kwargs = dataclasses.asdict(config)
    else:
        kwargs = dict(getattr(net, "init_kwargs", {}))
    return {"class": class_path(type(net)), "kwargs": kwargs}


def build_network(
    spec: dict[str, Any], trust: Sequence[str] | None = None, folder: str | os.PathLike | None = None
) -> torch.nn.Module:
    """Build an untrained network from a ``network_spec`` entry (its class from a trusted module only)."""
    cls = resolve_class(spec["class"], trust, folder)
    kwargs = spec.get("kwargs", {})
    config_class = getattr(cls, "config_class", None)
    try:
        if config_class is not None:
            return cls(config_class(**kwargs))
        net = cls(**kwargs)
        net.init_kwargs = dict(kwargs)
        return net
    except (TypeError, ValueError, ConfigError) as exc:
        raise BundleError(f"cannot build {spec['class']} from its config: {exc}") from None


class Bundle:
    """Named networks plus what they mean: data and latent specs, training provenance, edit history.

    ``networks`` maps a role to a module: ``generator`` (latents [+ labels] -> samples) is the one most
    methods need; ``discriminator`` is kept whenever training had one; ``encoder`` and ``classifier`` where
    the model has them. ``extra`` holds method data that later work attaches (channel clusters, say), and
    the live edits (``extra["bends"]``, ``extra["creative"]``) that the generator carries as its taps
    edits: whenever they differ from those its module carries, the bundle takes its own copy of the module
    and installs them there, so a module it was given (or shares with another bundle) is never changed.
    """

    def __init__(
        self,
        networks: dict[str, torch.nn.Module],
        data: DataSpec,
        latent: LatentSpec | None = None,
        training: dict[str, Any] | None = None,
        history: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
        name: str = "",
    ) -> None:
        for role in networks:
            if not role.replace("_", "").isalnum():
                raise BundleError(f"network role {role!r} must be letters, digits and underscores")
        self._networks = dict(networks)
        self.data = data
        self.latent = latent
        self.training = dict(training or {})
        self.history = list(history or [])
        self.extra = dict(extra or {})
        self.name = name
        self._specs: dict[str, dict[str, Any]] = {}
        self._install_edits()

    # --- convenient access -------------------------------------------------------------------------------
    @property
    def networks(self) -> dict[str, torch.nn.Module]:
        """The networks by role, the generator carrying the edits stored in ``extra``."""
        self._install_edits()
        return self._networks

    @networks.setter
    def networks(self, networks: dict[str, torch.nn.Module]) -> None:
        self._networks = dict(networks)

    def _install_edits(self) -> None:
        net = self._networks.get("generator")
        key = live.edits_key(self.extra)
        if net is None or taps.edits_key(net) == key:
            return
        edits = live.edit_taps(net, self.extra)  # a ConfigError here leaves everything as it was
        own = copy.deepcopy(net)
        taps.install_edits(own, edits, key)
        self._networks["generator"] = own

    @property
    def generator(self) -> torch.nn.Module:
        return self._role("generator")

    @property
    def discriminator(self) -> torch.nn.Module:
        return self._role("discriminator")

    @property
    def encoder(self) -> torch.nn.Module:
        return self._role("encoder")

    @property
    def classifier(self) -> torch.nn.Module:
        return self._role("classifier")

    def _role(self, role: str) -> torch.nn.Module:
        networks = self.networks
        if role not in networks:
            have = ", ".join(networks) or "none"
            raise BundleError(f"bundle {self.name or '(unnamed)'} has no {role} (it has: {have})")
        return networks[role]

    @property
    def num_classes(self) -> int:
        """Number of classes the generator is conditioned on (0 for an unconditional generator)."""
        gen = self.networks.get("generator")
        return int(getattr(getattr(gen, "config", None), "num_classes", 0) or 0)

    @property
    def device(self) -> torch.device:
        for net in self.networks.values():
            for tensor in net.parameters():
                return tensor.device
        return torch.device("cpu")

    def to(self, device: torch.device | str) -> Bundle:
        for net in self.networks.values():
            net.to(device)
        return self

    def edit_copy(
        self, networks: dict[str, torch.nn.Module] | None = None, name: str | None = None
    ) -> Bundle:
        """A new bundle with these networks (by default the same modules, shared, not copied) and copies of
        everything else (data, latents, training record, history, extra), for an edit to record itself in."""
        out = Bundle(
            dict(self.networks if networks is None else networks),
            self.data,
            self.latent,
            copy.deepcopy(self.training),
            copy.deepcopy(self.history),
            copy.deepcopy(self.extra),
            self.name if name is None else name,
        )
        out._specs = copy.deepcopy(self._specs)
        return out

    def without_edits(self) -> Bundle:
        """A copy with no live edits (``extra`` without bends or creative decoder; its own unedited
        generator module, the same weights), to compare an edited model with the one it came from."""
        out = self.edit_copy()
        for key in live.EDIT_KEYS:
            out.extra.pop(key, None)
        return out

    def record(self, op: str, **params: Any) -> None:
        """Append an edit to the history (train, bend, blend, fine-tune, ...)."""
        self.history.append(
            {
                "op": op,
                "params": params,
                "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "swerve_version": __version__,
            }
        )

    # --- sampling ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self,
        n: int,
        seed: int = 0,
        labels: torch.Tensor | list[int] | int | None = None,
        z: torch.Tensor | None = None,
        batch_size: int = 256,
    ) -> Samples:
        """Draw ``n`` samples with ``seed``; for a conditional generator, ``labels`` picks the classes
        (one class for all, a list, or ``None`` for classes cycling 0, 1, 2, ...)."""
        if self.latent is None:
            raise BundleError(f"bundle {self.name or '(unnamed)'} has no latent spec, so it cannot sample")
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ConfigError(f"the number of samples must be a positive integer, got {n!r}")
        device = self.device
        gen = make_generator(seed)
        if z is None:
            z = self.latent.sample(n, gen)
        z = z.to(device)
        y = self._labels(labels, len(z))
        net = self.generator  # carries the bundle's edits (see swerve.live)
        taps.reset_edits(net)
        was_training = net.training
        net.eval()
        try:
            chunks = []
            for start in range(0, len(z), batch_size):
                zb = z[start : start + batch_size]
                if y is None:
                    chunks.append(net(zb))
                else:
                    chunks.append(net(zb, y[start : start + batch_size].to(device)))
        finally:
            net.train(was_training)
        recipe = {"bundle": self.name, "seed": seed, "n": n}
        for key in live.EDIT_KEYS:
            if self.extra.get(key):
                recipe[key] = self.extra[key]
        return Samples(x=torch.cat(chunks).cpu(), z=z.cpu(), labels=y, seed=seed, recipe=recipe)

    def _labels(self, labels: torch.Tensor | list[int] | int | None, n: int) -> torch.Tensor | None:
        k = self.num_classes
        if k == 0:
            if labels is not None:
                raise BundleError(f"bundle {self.name or '(unnamed)'} is unconditional; it takes no labels")
            return None
        if labels is None:
            return torch.arange(n) % k
        y = torch.full((n,), labels) if isinstance(labels, int) else torch.as_tensor(labels).long()
        if y.shape != (n,):
            raise BundleError(f"expected {n} labels, got shape {tuple(y.shape)}")
        if y.min() < 0 or y.max() >= k:
            raise BundleError(f"labels must lie in 0..{k - 1}, got {y.min().item()}..{y.max().item()}")
        return y

    # --- persistence --------------------------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        """The JSON document stored as config.json (without weight checksums)."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "swerve_version": __version__,
            "name": self.name,
            "networks": {
                role: self._specs.get(role) or network_spec(net) for role, net in self.networks.items()
            },
            "data": dataclasses.asdict(self.data),
            "latent": dataclasses.asdict(self.latent) if self.latent else None,
            "training": self.training,
            "history": self.history,
            "extra": self.extra,
        }

    def save(self, path: str | os.PathLike, overwrite: bool = True) -> Path:
        """Write the bundle directory at ``path`` atomically: a crash leaves the old bundle or none.

        An existing bundle at ``path`` is replaced unless ``overwrite`` is False; anything else is refused.
        """
        path = Path(path)
        check_bundle_target(path, overwrite)
        config = self.config_dict()
        with atomic_path(path, kind="bundle") as tmp:
            tmp.mkdir()
            for role, net in self.networks.items():
                file_name = f"{role}.safetensors"
                state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
                save_file(state, tmp / file_name)
                config["networks"][role] = {
                    **config["networks"][role],
                    "file": file_name,
                    "sha256": sha256_file(tmp / file_name),
                }
            (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
        return path


def check_bundle_target(path: str | os.PathLike, overwrite: bool = True) -> None:
    """Raise an error if saving a bundle at ``path`` would replace something that is not a bundle, or (with
    ``overwrite`` False) a bundle; the CLI passes its --overwrite flag."""
    check_output(path, "bundle", overwrite)


def load(
    path: str | os.PathLike,
    device: str | torch.device | None = None,
    trust: Sequence[str] | None = None,
) -> Bundle:
    """Load a bundle from a directory, or a zoo model by name (see ``swerve zoo list``).

    Network classes come only from swerve's own modules and trusted ones (``trust`` names modules trusted for
    this call; see :mod:`swerve.trust`), checked before anything is imported; every weight file must lie in
    the bundle's folder. A config that does not fit (a bad field, a latent size the generator cannot read, a
    stored edit naming a missing layer) is one :class:`BundleError`.
    """
    directory = _find(path)
    config_file = directory / CONFIG_NAME
    try:
        config = json.loads(config_file.read_text())
    except FileNotFoundError:
        raise BundleError(f"{directory} is not a swerve bundle: it has no {CONFIG_NAME}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{config_file} is not valid JSON: {exc}") from None
    config = check_config(config, config_file)
    data = DataSpec(**config["data"])
    latent = LatentSpec(**config["latent"]) if config.get("latent") else None
    specs = config["networks"]
    for spec in specs.values():  # every class checked before any is imported or built
        resolve_class(spec["class"], trust, directory)
    target = pick_device(device)
    networks = {}
    for role, spec in specs.items():
        net = build_network(spec, trust, directory)
        net.load_state_dict(_read_weights(directory, role, spec, net), strict=True)
        networks[role] = net.to(target).eval()
    extra = config.get("extra", {})
    if "generator" in networks:
        if latent is not None:
            _check_latent(networks["generator"], latent, config_file)
        try:
            live.install(networks["generator"], extra)  # the stored edits, on the module this bundle owns
        except ConfigError as exc:
            raise BundleError(f"{config_file}: a stored edit does not fit the generator: {exc}") from None
    elif live.edits_key(extra):
        raise BundleError(f"{config_file} stores edits ({', '.join(live.EDIT_KEYS)}) but has no generator")
    bundle = Bundle(
        networks,
        data=data,
        latent=latent,
        training=config.get("training", {}),
        history=config.get("history", []),
        extra=extra,
        name=config.get("name", directory.name),
    )
    # Keep the stored specs so a re-save writes the same config even for modules without a dataclass config.
    bundle._specs = {role: {"class": s["class"], "kwargs": s.get("kwargs", {})} for role, s in specs.items()}
    return bundle


def _check_latent(generator: torch.nn.Module, latent: LatentSpec, config_file: Path) -> None:
    """Refuse a latent size the generator cannot read: from its config when it states one, else by running
    it once on a zero latent (and class 0)."""
    config = getattr(generator, "config", None)
    for attr in ("latent_dim", "z_dim"):
        stated = getattr(config, attr, None)
        if isinstance(stated, int) and not isinstance(stated, bool):
            if stated != latent.dim:
                raise BundleError(
                    f"{config_file}: latent.dim is {latent.dim}, but the generator reads {attr} = {stated}"
                )
            return
    device = next((p.device for p in generator.parameters()), torch.device("cpu"))
    z = torch.zeros(1, latent.dim, device=device)
    classes = int(getattr(config, "num_classes", 0) or 0)
    args = (z, torch.zeros(1, dtype=torch.long, device=device)) if classes else (z,)
    try:
        with torch.no_grad():
            generator(*args)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(
            f"{config_file}: the generator cannot read latents of dimension {latent.dim} ({first})"
        ) from None


def _find(path: str | os.PathLike) -> Path:
    candidate = Path(path)
    if candidate.is_dir():
        return candidate
    from swerve.zoo import zoo_path

    zoo = zoo_path(str(path))
    if zoo is not None:
        return zoo
    if candidate.exists():
        raise BundleError(f"{candidate} is a file; a bundle is a directory holding {CONFIG_NAME}")
    raise BundleError(f"no bundle at {candidate} and no zoo model of that name (see 'swerve zoo list')")


def _read_weights(directory: Path, role: str, spec: dict[str, Any], net: torch.nn.Module) -> dict:
    name = spec.get("file", f"{role}.safetensors")
    file = directory / name
    inside = not Path(name).is_absolute() and ".." not in Path(name).parts
    if not inside or not file.resolve().is_relative_to(directory.resolve()):
        raise BundleError(f"the {role} weights file {name!r} lies outside the bundle's folder; refusing it")
    if not file.is_file():
        raise BundleError(f"{file} is missing (the {role} weights)")
    expected = spec.get("sha256")
    if expected and sha256_file(file) != expected:
        raise BundleError(f"{file} is corrupt: its SHA-256 does not match the one in {CONFIG_NAME}")
    try:
        state = load_file(file)
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{file} is not a readable safetensors file: {exc}") from None
    check_state(net.state_dict(), state, f"{file} does not fit {spec['class']}")
    return state


def check_state(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor], problem: str) -> None:
    """Raise a BundleError starting with ``problem`` unless ``state`` has exactly the keys and shapes of
    ``own`` (a network's state dict)."""
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise BundleError(f"{problem}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    for key, tensor in state.items():
        if tensor.shape != own[key].shape:
            raise BundleError(
                f"{problem}: {key} has shape {tuple(tensor.shape)}, expected {tuple(own[key].shape)}"
            )
