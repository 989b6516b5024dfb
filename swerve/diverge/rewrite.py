"""Targeted model rewriting (Bau, Liu, Wang, Zhu & Torralba, "Rewriting a Deep Generative Model", ECCV 2020).

One conv or linear layer is read as a linear associative memory: every output location's value ``v = W k``
is the weight matrix times a *key* ``k``, the input patch the layer reads there (for a transposed
convolution, a patch of the zero-stuffed input, which makes it an ordinary convolution). Given keys ``K*``
and the values ``V*`` they should now produce, the weight changes only along ``r`` directions
``D ∝ C⁻¹ K*`` (rank 1 by default), where ``C`` is the keys' second moment over sampled latents:

    W1 = W0 + Λ Dᵀ,   Λ = argmin ‖V* − W1 K*‖²   (closed form: Λ = (V* − W0 K*) (Dᵀ K*)⁺)

so keys ``k`` with ``Dᵀ k = 0`` — those C-orthogonal to the edited ones — keep their values exactly and the
rest of the model's behaviour moves as little as the key statistics allow. :func:`rewrite_weight` offers the
closed form and the paper's projected optimisation (Adam on ``W``, projected back onto ``W0 + span`` every
few steps, gradients projected too); the tests check that they agree. :func:`copy_paste_targets` makes
``K*, V*`` from the paper's interface: the layer's output in a masked region of one generated image pasted
into another.

A stride-s transposed convolution reads its zero-stuffed input through s² disjoint sets of kernel taps, one
per output parity, so C is block diagonal and a rank-1 edit changes one parity class only (a checkerboard);
pasting regions there wants a rank of at least s² (4 for the usual stride 2).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from swerve import taps
from swerve.bundle import Bundle
from swerve.diverge.edits import derive
from swerve.diverge.glitch import KINDS, glitch, glitch_state_dict, glitched  # noqa: F401  (one home)
from swerve.errors import ConfigError
from swerve.utils import make_generator

METHODS = ("closed", "optimize")
KEYS_PER_DIM = 100  # keys behind C per key dimension by default: the rank-1 direction then lies within
# cos 0.99 of a large sample's (tests/test_rewrite.py); the error shrinks as sqrt(key dim / keys)
MIN_SAMPLES = 256
MAX_CONDITION = 1e6  # past this the ridge term, not the keys, sets the direction: a warning says so


def memory_layer(model: nn.Module, layer: str) -> tuple[str, nn.Module]:
    """The conv / linear module a layer name means: the one a ``conv:i`` shortcut names, the layer itself,
    or, for a shortcut's tap point (``blocks.0`` around ``blocks.0.0``), the layer whose activation it is."""
    name = taps.resolve_weights(model, layer)
    module = taps.find_layer(model, name)
    if not isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        owner = [s.layer for kind in ("linear", "conv") for s in taps.shortcuts(model, kind) if s.tap == name]
        if owner:
            name, module = owner[0], taps.find_layer(model, owner[0])
    if not isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        raise ConfigError(
            f"layer {name!r} is a {type(module).__name__}; rewriting needs Linear, Conv2d or ConvTranspose2d"
        )
    if getattr(module, "groups", 1) != 1:
        raise ConfigError(f"layer {name!r} is a grouped convolution; rewriting needs groups=1")
    return name, module


def weight_matrix(module: nn.Module) -> torch.Tensor:
    """The layer's weight as the matrix ``W`` of ``v = W k`` (shape ``(out, key_dim)``)."""
    w = module.weight.detach()
    if isinstance(module, nn.ConvTranspose2d):
        w = w.flip(-2, -1).transpose(0, 1)  # the equivalent ordinary convolution's kernel
    return w.reshape(w.shape[0], -1)


def set_weight_matrix(module: nn.Module, matrix: torch.Tensor) -> torch.Tensor:
    """The layer's weight tensor (its own layout) holding ``matrix``."""
    w = module.weight
    if isinstance(module, nn.ConvTranspose2d):
        kernel = matrix.reshape(w.shape[1], w.shape[0], *w.shape[2:])
        return kernel.transpose(0, 1).flip(-2, -1).contiguous().to(w)
    return matrix.reshape(w.shape).to(w)


def keys(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The keys the layer reads from input ``x``: ``(N, key_dim, locations)`` (``(N, in, 1)`` if linear)."""
    if isinstance(module, nn.Linear):
        return x.reshape(-1, x.shape[-1], 1)
    if isinstance(module, nn.Conv2d):
        pad = module.padding
        if module.padding_mode != "zeros":
            x, pad = F.pad(x, module._reversed_padding_repeated_twice, mode=module.padding_mode), 0
        elif pad == "valid":
            pad = 0
        elif isinstance(pad, str):
            raise ConfigError("rewriting a Conv2d with padding='same' is not supported; give the padding")
        return F.unfold(x, module.kernel_size, module.dilation, pad, module.stride)
    # ConvTranspose2d: zero-stuff the input by the stride, then it is a stride-1 convolution.
    (sh, sw), (kh, kw), (ph, pw) = module.stride, module.kernel_size, module.padding
    (oh, ow), (dh, dw) = module.output_padding, module.dilation
    if (dh, dw) != (1, 1):
        raise ConfigError("rewriting a dilated ConvTranspose2d is not supported")
    n, c, h, w = x.shape
    stuffed = x.new_zeros(n, c, (h - 1) * sh + 1, (w - 1) * sw + 1)
    stuffed[:, :, ::sh, ::sw] = x
    stuffed = F.pad(stuffed, (kw - 1 - pw, kw - 1 - pw + ow, kh - 1 - ph, kh - 1 - ph + oh))
    return F.unfold(stuffed, (kh, kw))


def values(module: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """The layer's output ``y`` as values ``W k`` (bias removed), shape ``(N, out, locations)``."""
    if module.bias is not None:
        shape = (1, -1) + (1,) * (y.dim() - 2)
        y = y - module.bias.detach().view(shape)
    return y.reshape(y.shape[0], y.shape[1], -1) if y.dim() > 2 else y.unsqueeze(2)


@torch.no_grad()
def key_moment(
    generator: nn.Module,
    layer: str,
    latents: torch.Tensor,
    labels: torch.Tensor | None = None,
    batch_size: int = 32,
    locations: int | None = 64,
    seed: int = 0,
    progress: bool = False,
) -> torch.Tensor:
    """The keys' second moment ``C = E[k kᵀ]`` (float64) over sampled latents.

    ``locations`` random locations per sample (all of them with ``None``) keep the cost linear in the
    number of samples and not in the map size; the estimate is unbiased either way.
    """
    name, module = memory_layer(generator, layer)
    dim = weight_matrix(module).shape[1]
    gen = make_generator(seed)
    total = torch.zeros(dim, dim, dtype=torch.float64)
    count = 0
    was_training = generator.training
    generator.eval()
    try:
        starts = range(0, len(latents), batch_size)
        for start in tqdm(starts, desc=f"key statistics of {name}", unit="batch", disable=not progress):
            z = latents[start : start + batch_size]
            args = (z,) if labels is None else (z, labels[start : start + batch_size])
            with taps.record(generator, [name], inputs=True) as acts:
                generator(*args)
            k = keys(module, acts[name])  # (N, dim, L)
            if locations is not None and k.shape[2] > locations:
                pick = torch.rand(k.shape[0], k.shape[2], generator=gen).argsort(1)[:, :locations]
                k = torch.gather(k, 2, pick.to(k.device)[:, None, :].expand(-1, dim, -1))
            k = k.transpose(1, 2).reshape(-1, dim).float()
            total += (k.T @ k).double().cpu()  # float32 products, float64 sum
            count += len(k)
    finally:
        generator.train(was_training)
    return total / count


@torch.no_grad()
def default_samples(
    generator: nn.Module, layer: str, example: tuple[torch.Tensor, ...], locations: int | None = 64
) -> int:
    """Latents to draw for ``C``: :data:`KEYS_PER_DIM` keys per key dimension (a latent gives one key to a
    linear layer and up to ``locations`` to a convolution), and at least :data:`MIN_SAMPLES`."""
    name, module = memory_layer(generator, layer)
    was_training = generator.training
    generator.eval()
    try:
        with taps.record(generator, [name], inputs=True) as acts:
            generator(*example)
    finally:
        generator.train(was_training)
    k = keys(module, acts[name][:1])
    per = k.shape[2] if locations is None else min(k.shape[2], locations)
    return max(MIN_SAMPLES, math.ceil(KEYS_PER_DIM * k.shape[1] / per))


def condition_number(c: torch.Tensor) -> float:
    """``C``'s largest over smallest eigenvalue on the key coordinates that are ever non-zero (a dead unit
    is no direction the keys take); ``inf`` when ``C`` is singular there."""
    keep = c.diagonal() > 0
    if not keep.any():
        return math.inf
    eig = torch.linalg.eigvalsh(c[keep][:, keep].double())
    return float(eig[-1] / eig[0]) if eig[0] > 0 else math.inf


def directions(c: torch.Tensor, k_star: torch.Tensor, rank: int = 1, ridge: float = 1e-6) -> torch.Tensor:
    """The update directions ``D`` (``key_dim x rank``): the top ``rank`` left singular vectors of
    ``C⁻¹ K*`` (for one key, ``C⁻¹ k*`` itself, normalised)."""
    if not 1 <= rank <= k_star.shape[1]:
        raise ConfigError(f"rank must be between 1 and the number of keys ({k_star.shape[1]}), got {rank}")
    eye = torch.eye(len(c), dtype=c.dtype, device=c.device)
    ridge_scale = ridge * float(torch.trace(c)) / len(c)
    cinv_k = torch.linalg.solve(c + ridge_scale * eye, k_star.to(c.dtype))
    u, _, _ = torch.linalg.svd(cinv_k, full_matrices=False)
    return u[:, :rank]


def rewrite_weight(
    w0: torch.Tensor,
    k_star: torch.Tensor,
    v_star: torch.Tensor,
    d: torch.Tensor,
    method: str = "closed",
    steps: int = 2000,
    lr: float = 0.05,
    project_every: int = 10,
) -> torch.Tensor:
    """``W1 = W0 + Λ Dᵀ`` minimising ``‖V* − W1 K*‖²`` (``K*``: key_dim x m, ``V*``: out x m).

    ``closed`` solves for Λ by least squares; ``optimize`` runs Adam on ``W`` and projects it back onto
    ``W0 + span(Dᵀ)`` every ``project_every`` steps and at the end, as the paper's code does. We also
    project each gradient onto the directions and anneal the learning rate: without that, Adam's
    per-coordinate scaling settles on a point of the subspace that is not its least-squares optimum.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown rewrite method {method!r}; methods: {', '.join(METHODS)}")
    w0d, k, v, d = (t.double() for t in (w0, k_star, v_star, d))
    if method == "closed":
        lam = (v - w0d @ k) @ torch.linalg.pinv(d.T @ k)
        return (w0d + lam @ d.T).to(w0)
    q, _ = torch.linalg.qr(d)  # orthonormal basis of the directions: project with (W - W0) Q Qᵀ
    w = w0d.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)  # settle on the minimum, not near it
    scale = v.pow(2).mean().clamp_min(1e-12)
    for step in range(1, steps + 1):
        opt.zero_grad()
        loss = (w @ k - v).pow(2).mean() / scale
        loss.backward()
        w.grad = w.grad @ q @ q.T  # move only along the directions; then the fixed point is the optimum
        opt.step()
        sched.step()
        if step % project_every == 0 or step == steps:
            with torch.no_grad():
                w.copy_(w0d + (w - w0d) @ q @ q.T)
    return w.detach().to(w0)


@dataclass
class Rewrite:
    """What a rewrite did: the layer, its old and new weight matrices, the directions and the targets."""

    layer: str
    w0: torch.Tensor
    w1: torch.Tensor
    directions: torch.Tensor
    k_star: torch.Tensor
    v_star: torch.Tensor

    def error(self) -> float:
        """Relative residual ``‖V* − W1 K*‖ / ‖V* − W0 K*‖`` (0 when the constraint holds exactly)."""
        k, v = self.k_star.to(self.w1), self.v_star.to(self.w1)
        before = (v - self.w0 @ k).norm()
        return float((v - self.w1 @ k).norm() / before.clamp_min(1e-12))


def _sample_inputs(bundle: Bundle, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    if bundle.latent is None:
        raise ConfigError(f"bundle {bundle.name} has no latent spec to sample keys from")
    z = bundle.latent.sample(n, make_generator(seed)).to(bundle.device)
    y = (torch.arange(n) % bundle.num_classes).to(bundle.device) if bundle.num_classes else None
    return z, y


def rewrite_bundle(
    bundle: Bundle,
    layer: str,
    k_star: torch.Tensor,
    v_star: torch.Tensor,
    rank: int = 1,
    method: str = "closed",
    n: int | None = None,
    seed: int = 0,
    progress: bool = False,
    **optim: Any,
) -> tuple[Bundle, Rewrite]:
    """A copy of ``bundle`` whose generator's ``layer`` maps the keys ``K*`` (key_dim x m) to ``V*``
    (out x m, bias excluded) with a rank-``rank`` change; ``C`` comes from ``n`` latents drawn with
    ``seed`` (by default enough for :data:`KEYS_PER_DIM` keys per key dimension, see
    :func:`default_samples`). An ill-conditioned ``C`` (condition number over :data:`MAX_CONDITION`) is
    warned about: the ridge term then sets the direction; the history records the condition number."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ConfigError(f"n (samples for the key statistics) must be a positive integer, got {n!r}")
    gen = bundle.generator
    name, module = memory_layer(gen, layer)
    z1, y1 = _sample_inputs(bundle, 1, seed)
    enough = default_samples(gen, name, (z1,) if y1 is None else (z1, y1))
    n = enough if n is None else n
    w0 = weight_matrix(module)
    if k_star.dim() != 2 or k_star.shape[0] != w0.shape[1]:
        raise ConfigError(f"keys for {name!r} must have shape ({w0.shape[1]}, m), got {tuple(k_star.shape)}")
    if v_star.shape != (w0.shape[0], k_star.shape[1]):
        raise ConfigError(
            f"values for {name!r} must have shape ({w0.shape[0]}, {k_star.shape[1]}), "
            f"got {tuple(v_star.shape)}"
        )
    z, y = _sample_inputs(bundle, n, seed)
    c = key_moment(gen, name, z, y, progress=progress)
    condition = condition_number(c)
    if condition > MAX_CONDITION:
        more = f"draw more latents (n >= {enough})" if n < enough else "the keys do not fill their space"
        warnings.warn(
            f"the key statistics of {name!r} are ill-conditioned (condition number {condition:.2g} from "
            f"{n} latents, {c.shape[0]}-d keys), so the ridge term sets the rewrite direction; {more}",
            stacklevel=2,
        )
    d = directions(c, k_star.to(c.device), rank)
    w1 = rewrite_weight(w0, k_star.to(w0), v_star.to(w0), d.to(w0.device), method, **optim)
    state = {**gen.state_dict(), f"{name}.weight": set_weight_matrix(module, w1)}
    out = derive(
        bundle,
        {"generator": state},
        "rewrite",
        layer=name,
        rank=rank,
        method=method,
        n=n,
        seed=seed,
        keys=int(k_star.shape[1]),
        condition=condition if math.isfinite(condition) else None,
        **optim,
    )
    return out, Rewrite(name, w0, w1, d.to(w0), k_star, v_star)


def _region(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """An image-resolution mask (H, W) as the flat indices of the layer locations it covers (> half)."""
    if mask.dim() != 2:
        raise ConfigError(f"a mask is one (H, W) image, got shape {tuple(mask.shape)}")
    small = (
        F.adaptive_avg_pool2d(mask.float()[None, None], size)[0, 0] if mask.shape != size else mask.float()
    )
    picked = (small.flatten() > 0.5).nonzero().flatten()
    if len(picked) == 0:
        raise ConfigError(f"the mask covers no location of the layer's {size[0]}x{size[1]} grid")
    return picked


@torch.no_grad()
def copy_paste_targets(
    generator: nn.Module,
    layer: str,
    source: tuple[torch.Tensor, ...],
    target: tuple[torch.Tensor, ...],
    mask: torch.Tensor,
    shift: tuple[int, int] = (0, 0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(K*, V*)`` for pasting the ``mask``-ed region of one image into another (Bau et al.'s interface).

    ``source`` and ``target`` are the generator's inputs for one image each (``(z,)`` or ``(z, y)``).
    ``mask`` (image or layer resolution) marks the region in the source image; ``shift`` (rows, columns, at
    the layer's resolution) moves it in the target. The keys are the target's at the pasted locations and
    the values are the source's layer output there, so the edited layer draws the source's content wherever
    the target context appears.
    """
    name, module = memory_layer(generator, layer)
    with taps.record(generator, [name], inputs=True) as ins, taps.record(generator, [name]) as outs:
        generator(*source)
        generator(*target)
    src_out, tgt_in = outs[name][:1], ins[name][1:]
    if src_out.dim() != 4:
        raise ConfigError(f"copy-paste needs a convolution; {name!r} outputs shape {tuple(src_out.shape)}")
    h, w = src_out.shape[-2:]
    src_idx = _region(mask, (h, w))
    rows, cols = src_idx // w + shift[0], src_idx % w + shift[1]
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= h or cols.max() >= w:
        raise ConfigError(f"shift {shift} moves the region outside the layer's {h}x{w} grid")
    tgt_idx = rows * w + cols
    k_star = keys(module, tgt_in)[0][:, tgt_idx]
    v_star = values(module, src_out)[0][:, src_idx]
    return k_star, v_star


@contextmanager
def rewritten(generator: nn.Module, result: Rewrite) -> Iterator[None]:
    """Use a rewrite's new weight inside the ``with`` block (for previews); the old one is back on exit."""
    _, module = memory_layer(generator, result.layer)
    saved = module.weight.detach().clone()
    with torch.no_grad():
        module.weight.copy_(set_weight_matrix(module, result.w1))
    try:
        yield
    finally:
        with torch.no_grad():
            module.weight.copy_(saved)


def paste_rewrite(
    bundle: Bundle,
    layer: str,
    source: int,
    target: int,
    mask: torch.Tensor,
    seed: int = 0,
    shift: tuple[int, int] = (0, 0),
    rank: int = 1,
    method: str = "closed",
    n: int | None = None,
    progress: bool = False,
) -> tuple[Bundle, Rewrite]:
    """Copy the ``mask``-ed region of sample ``source`` into sample ``target`` (indices into the samples
    drawn with ``seed``, classes cycling as in :meth:`Bundle.sample`) by rewriting ``layer``."""
    k = max(source, target) + 1
    if min(source, target) < 0:
        raise ConfigError("sample indices must be >= 0")
    if source == target:
        raise ConfigError(f"source and target must be different samples, got {source} for both")
    z, y = _sample_inputs(bundle, k, seed)
    pick = (lambda i: (z[i : i + 1],)) if y is None else (lambda i: (z[i : i + 1], y[i : i + 1]))
    gen = bundle.generator
    was_training = gen.training
    gen.eval()
    try:
        k_star, v_star = copy_paste_targets(gen, layer, pick(source), pick(target), mask, shift)
    finally:
        gen.train(was_training)
    edited, result = rewrite_bundle(
        bundle,
        layer,
        k_star,
        v_star,
        rank=min(rank, k_star.shape[1]),
        method=method,
        progress=progress,
        n=n,
        seed=seed,
    )
    edited.history[-1]["params"].update(source=source, target=target, shift=list(shift))
    return edited, result
