"""Reference StyleGAN operations in plain PyTorch: FIR resampling, bias + activation, filtered leaky ReLU.

StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN") and StyleGAN3 (Karras
et al. 2021, "Alias-Free Generative Adversarial Networks") ship these as custom CUDA kernels. Here each is a
few lines of ordinary torch: slower than the kernels on a GPU, but nothing to compile, they run on any device,
and a reader can check them against the papers.

Conventions follow the papers' reference code so imported weights behave the same: a filter ``f`` is applied
as a true convolution (flipped), ``padding`` is ``[x0, x1, y0, y1]`` (negative values crop), and a 2x
upsampling filter is scaled by ``up**2`` so a constant image keeps its level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

Padding = Sequence[int]


def setup_filter(taps: Sequence[float]) -> torch.Tensor:
    """A normalised 2-D FIR filter from 1-D taps (outer product), e.g. [1, 3, 3, 1] -> 4x4 binomial."""
    f = torch.as_tensor(list(taps), dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: Padding = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample (insert zeros), pad, FIR-filter, downsample (keep every ``down``-th pixel).

    ``f`` is 2-D (non-separable), 1-D (separable: applied along x then y) or ``None`` (identity).
    """
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x0, x1, y0, y1 = padding
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0) : x.shape[2] - max(-y1, 0), max(-x0, 0) : x.shape[3] - max(-x1, 0)]
    if f is not None:
        f = f.to(x.dtype) * gain ** (f.ndim / 2)
        f = f.flip(list(range(f.ndim)))  # a true convolution, as the papers' filters are defined
        if f.ndim == 2:
            x = F.conv2d(x, f.expand(c, 1, *f.shape), groups=c)
        else:
            x = F.conv2d(x, f.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
            x = F.conv2d(x, f.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    elif gain != 1:
        x = x * gain
    return x[:, :, ::down, ::down] if down > 1 else x


ACTIVATIONS = {
    "linear": (lambda x, alpha: x, 1.0),
    "relu": (lambda x, alpha: F.relu(x), math.sqrt(2)),
    "lrelu": (lambda x, alpha: F.leaky_relu(x, alpha), math.sqrt(2)),
}


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    alpha: float = 0.2,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """Add a per-channel bias (dim 1), apply the activation, scale by ``gain`` (default: the activation's
    variance-preserving gain, sqrt(2) for (leaky) ReLU) and clamp to [-clamp, clamp]."""
    fn, default_gain = ACTIVATIONS[act]
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.ndim - 2)).to(x.dtype)
    x = fn(x, alpha)
    gain = default_gain if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    b: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: Padding = (0, 0, 0, 0),
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
) -> torch.Tensor:
    """StyleGAN3's alias-suppressing nonlinearity: bias, upsample with ``fu``, leaky ReLU at the higher rate,
    clamp, low-pass with ``fd`` and downsample (paper section 3.2)."""
    x = bias_act(x, b)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up**2)
    x = bias_act(x, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d(x, fd, down=down)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    groups: int = 1,
) -> torch.Tensor:
    """Convolve with ``w``, upsampling by ``up`` before or downsampling by ``down`` after, with the FIR
    filter ``f`` suppressing the aliases the resampling makes (StyleGAN2 paper, appendix B).

    Without resampling this is ``F.conv2d``. Upsampling runs as a strided transposed convolution with ``w``
    followed by the filter, downsampling as the filter followed by a strided convolution: the result of
    resampling the full-rate signal at a quarter of the cost. (Applying ``w`` transposed when upsampling is
    what the reference code does, so imported weights need no flipping.)
    """
    out_ch, in_per_group, kh, kw = w.shape
    fw = f.shape[-1] if f is not None else 1
    if up > 1 and down > 1:
        raise ValueError("conv2d_resample resamples one way at a time")
    if up > 1:
        lo = padding + (fw + up - 1) // 2  # padding of the upsampled signal, centring the filter
        hi = padding + (fw - up) // 2
        if kw == 1:  # a 1x1 kernel commutes with upsampling: convolve first, at the low rate
            x = F.conv2d(x, w, groups=groups)
            return upfirdn2d(x, f, up=up, padding=[lo, hi, lo, hi], gain=up**2)
        # F.conv_transpose2d wants (in, out/groups, k, k) per group.
        wt = w.reshape(groups, out_ch // groups, in_per_group, kh, kw).transpose(1, 2)
        x = F.conv_transpose2d(
            x, wt.reshape(groups * in_per_group, out_ch // groups, kh, kw), stride=up, groups=groups
        )
        lo, hi = lo - (kw - 1), hi - (kw - up)  # the transposed convolution already grew the signal
        return upfirdn2d(x, f, padding=[lo, hi, lo, hi], gain=up**2)
    if down > 1:
        lo = padding + (fw - down + 1) // 2
        hi = padding + (fw - down) // 2
        if kw == 1:  # filter and decimate first, then the 1x1 convolution at the low rate
            return F.conv2d(upfirdn2d(x, f, down=down, padding=[lo, hi, lo, hi]), w, groups=groups)
        x = upfirdn2d(x, f, padding=[lo, hi, lo, hi])
        return F.conv2d(x, w, stride=down, groups=groups)
    return F.conv2d(x, w, padding=padding, groups=groups)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    input_gain: torch.Tensor | None = None,
) -> torch.Tensor:
    """StyleGAN2's modulated convolution: scale the weight's input channels by each sample's style, then
    (optionally) rescale each output channel to unit expected variance (demodulation, paper section 2.2).

    Runs as one grouped convolution with a separate weight per sample.
    """
    n, in_ch, h, w_ = x.shape
    out_ch, _, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(n, 1, in_ch, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    if input_gain is not None:
        w = w * input_gain.reshape(-1, 1, in_ch, 1, 1) if input_gain.ndim else w * input_gain
    x = x.reshape(1, n * in_ch, h, w_)
    x = conv2d_resample(
        x, w.reshape(n * out_ch, in_ch, kh, kw), resample_filter, up=up, padding=padding, groups=n
    )
    return x.reshape(n, out_ch, *x.shape[2:])
