"""Image-to-image translation with a pix2pix bundle (swerve.models.pix2pix): its generator, carrying the
bundle's edits (bends through taps), reads a picture instead of a latent."""

from __future__ import annotations

import hashlib
import io

import torch

from swerve import taps
from swerve.bundle import Bundle
from swerve.data.pairs import pair_transform
from swerve.errors import BundleError, ConfigError


def translation_of(bundle: Bundle) -> dict:
    """The bundle's ``extra["translation"]`` (transform, input channels); a BundleError for others."""
    info = bundle.extra.get("translation")
    if not isinstance(info, dict) or "generator" not in bundle.networks:
        raise BundleError(f"{bundle.name or 'this bundle'} is not a translation model (pix2pix)")
    return info


def input_shape(bundle: Bundle) -> list[int]:
    """The shape (C, H, W) of the pictures the translation model reads."""
    info = translation_of(bundle)
    return [int(info.get("in_channels", bundle.data.shape[0])), *bundle.data.shape[1:]]


def make_input(bundle: Bundle, target: torch.Tensor) -> torch.Tensor:
    """The input the model learned from for target pictures ``target``: the transform it was trained with."""
    return pair_transform(str(translation_of(bundle).get("transform"))).fn(target)


@torch.no_grad()
def translate(bundle: Bundle, source: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """``bundle``'s generator (eval mode, edits applied) on input pictures ``source`` (N x C x H x W)."""
    shape = input_shape(bundle)
    if source.ndim != 4 or list(source.shape[1:]) != shape:
        raise ConfigError(f"{bundle.name} reads pictures of shape {shape}, got {list(source.shape[1:])}")
    net = bundle.generator
    taps.reset_edits(net)
    was = net.training
    net.eval()
    try:
        device = bundle.device
        parts = [net(source[i : i + batch_size].to(device)).cpu() for i in range(0, len(source), batch_size)]
    finally:
        net.train(was)
    return torch.cat(parts)


def held_out_inputs(bundle: Bundle, n: int, seed: int = 0) -> torch.Tensor:
    """Inputs for ``n`` held-out pictures of the bundle's data set (its test split, made by the bundle's
    transform; a paired data set's own inputs): what a translator shows where a generator shows samples."""
    from swerve.data import load_dataset

    c, size = bundle.data.shape[0], bundle.data.shape[-1]
    name = str(bundle.data.dataset or "")
    if name.startswith("pairs:"):
        data = load_dataset(name, image_size=size, channels=c, n=n, progress=False)
        return data.x[:, c:].float()
    data = load_dataset(name, split="test", n=n, seed=seed, image_size=size, channels=c, progress=False)
    return make_input(bundle, data.x[:n].float())


def drawing_input(bundle: Bundle, png: bytes, as_target: bool = False) -> torch.Tensor:
    """The input picture (1 x C x H x W) a drawing (PNG bytes) makes for ``bundle``.

    A drawing is dark lines on light paper, as ``lineart`` inputs are; for a model trained on ``edges``
    (bright edges on black) it is inverted. With ``as_target`` the drawing is taken as a finished picture
    and the model's own transform makes its input."""
    from swerve.data.picture import read_picture

    value_range = tuple(bundle.data.range)
    if as_target:
        target = read_picture(io.BytesIO(png), *bundle.data.shape, value_range, name="the drawing")
        return make_input(bundle, target)
    source = read_picture(io.BytesIO(png), *input_shape(bundle), value_range, name="the drawing")
    if translation_of(bundle).get("transform") == "edges":
        source = value_range[0] + value_range[1] - source  # dark lines on paper -> bright edges on black
    return source


def drawing_hash(png: bytes) -> str:
    """The SHA-256 of a drawing's PNG bytes, as a recipe names it."""
    return hashlib.sha256(png).hexdigest()
