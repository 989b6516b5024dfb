"""Reference StyleGAN operations in plain PyTorch: FIR resampling, bias + activation, filtered leaky ReLU.

StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN") and StyleGAN3 (Karras
et al. 2021, "Alias-Free Generative Adversarial Networks") ship these as custom CUDA kernels. Here each is a
few lines of ordinary torch: slower than the kernels on a GPU, but nothing to compile, they run on any device,
and a reader can check them against the papers.

Conventions follow the papers' reference code so imported weights behave the same: a filter ``f`` is applied
as a true convolution (flipped), ``padding`` is ``[x0, x1, y0, y1]`` (negative values crop), and a 2x
upsampling filter is scaled by ``up**2`` so a constant image keeps its level. The convolutions themselves are
ordinary ``nn.Conv2d`` / ``nn.ConvTranspose2d`` modules inside the layers (StyleGAN2's upsampling one a
subclass that runs in polyphase form, :class:`PolyphaseConvTranspose2d`), so taps, glitches and rewriting
see them like any other convolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.weak import WeakTensorKeyDictionary

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
    """Upsample (insert ``up - 1`` zeros after each pixel), pad, FIR-filter, downsample (keep every
    ``down``-th pixel): the resampling step of both papers.

    ``f`` is 2-D, 1-D (separable: applied along x then y) or ``None`` (identity). For a separable filter
    on axes up to ``MATRIX_MAX`` samples, each axis is one matrix product with a banded matrix that holds
    the zero-stuffing, padding, filter and decimation, so the work runs in the BLAS rather than in a
    depthwise convolution (2x faster at StyleGAN3's 64-px sizes). A non-separable filter or a longer axis,
    where the band's zeros cost more than they save, runs as a depthwise (transposed) convolution with
    stride ``up`` or ``down``, which skips the inserted zeros and the discarded outputs.
    """
    x0, x1, y0, y1 = padding
    if f is None and up == down == 1:
        x = F.pad(x, [x0, x1, y0, y1])  # negative values crop
        return x * gain if gain != 1 else x
    terms = _separable_terms(f)
    if len(terms) > 1 or max(x.shape[-2:]) > MATRIX_MAX:
        return _upfirdn2d_conv(x, f, up, down, padding, gain)
    ((ty, tx),) = terms
    x = _axis_pass(x, tx, up, down, (x0, x1), float(gain), -1)
    return _axis_pass(x, ty, up, down, (y0, y1), 1.0, -2)


MATRIX_MAX = 192  # longest axis resampled by a matrix product


def _upfirdn2d_conv(
    x: torch.Tensor, f: torch.Tensor | None, up: int, down: int, padding: Padding, gain: float
) -> torch.Tensor:
    """``upfirdn2d`` as depthwise convolutions: transposed with stride ``up``, or strided by ``down``."""
    if f is None:
        f = torch.ones(1, 1, dtype=x.dtype, device=x.device)
    f = f.to(x.dtype) * gain ** (f.ndim / 2)
    x0, x1, y0, y1 = padding
    if f.ndim == 2 or f.numel() == 1:
        return _fir(x, f.reshape(f.shape[0], -1), up, down, (x0, x1), (y0, y1))
    x = _fir(x, f.view(1, -1), up, down, (x0, x1), (0, 0))
    return _fir(x, f.view(-1, 1), up, down, (0, 0), (y0, y1))


def _fir(x: torch.Tensor, f: torch.Tensor, up: int, down: int, pad_x: tuple, pad_y: tuple) -> torch.Tensor:
    """One 2-D upfirdn pass with the (kh, kw) filter ``f``; an axis with a 1-tap filter is not resampled."""
    c = x.shape[1]
    kh, kw = f.shape
    up_y, up_x = (up if kh > 1 else 1), (up if kw > 1 else 1)
    down_y, down_x = (down if kh > 1 else 1), (down if kw > 1 else 1)
    if (kh, kw) == (1, 1):  # identity filter: resample both axes
        up_y = up_x = up
        down_y = down_x = down
    weight = f.expand(c, 1, kh, kw)
    if up_y > 1 or up_x > 1:
        # The full convolution of the zero-stuffed signal; then crop or pad to the requested window:
        # output j of the definition is full[j + k - 1 - pad_low] along each axis.
        # A crop common to both ends is the transposed convolution's own padding: outputs it never computes.
        h, w = x.shape[2:]
        spans, common = [], []
        for size, stretch, k, (lo, hi) in ((w, up_x, kw, pad_x), (h, up_y, kh, pad_y)):
            start, length = k - 1 - lo, size * stretch + lo + hi - k + 1
            end = (size - 1) * stretch + k - start - length  # cropped at the high end (negative: padded)
            common.append(max(0, min(start, end)))
            spans += [common[-1] - start, common[-1] - end]
        x = F.conv_transpose2d(x, weight, stride=(up_y, up_x), padding=(common[1], common[0]), groups=c)
        x = _pad(x, spans)
    else:
        (x0, x1), (y0, y1) = pad_x, pad_y
        x = _pad(x, [x0, x1, y0, y1])
        x = F.conv2d(x, weight.flip([2, 3]), stride=(down_y, down_x), groups=c)
        return x
    return x[:, :, ::down_y, ::down_x] if down_y > 1 or down_x > 1 else x


def _pad(x: torch.Tensor, spans: list[int]) -> torch.Tensor:
    """``F.pad`` (negative values crop) that returns ``x`` itself, not a copy, when there is nothing to do."""
    return F.pad(x, spans) if any(spans) else x


_MATRICES: dict[tuple, torch.Tensor] = {}
_TERMS: dict[tuple, list] = {}


def _axis_pass(
    x: torch.Tensor, taps: tuple, up: int, down: int, pad: tuple[int, int], gain: float, dim: int
) -> torch.Tensor:
    """One 1-D upfirdn pass along ``dim`` (-1 or -2) as one product with its banded matrix. (Cutting a
    long axis into blocks that skip the band's zeros measured slower on the CPU: the overlapping windows
    must be copied and the products get small.)"""
    length, k = x.shape[dim], len(taps)
    size = (length * up + pad[0] + pad[1] - k) // down + 1
    matrix = _block_matrix(length, 0, size, taps, up, down, pad[0], gain, x.device, x.dtype)
    return torch.matmul(x, matrix) if dim == -1 else torch.matmul(matrix.t(), x)


def _block_matrix(
    rows: int, first: int, cols: int, taps: tuple, up: int, down: int, pad: int, gain: float, device, dtype
) -> torch.Tensor:
    """The (rows, cols) matrix of a 1-D upfirdn pass, scaled by ``gain``: entry (i, j) is the weight of
    input ``first + i`` in output j. Cached: a network asks for the same few again and again."""
    key = (rows, first, cols, taps, up, down, pad, gain, device, dtype)
    matrix = _MATRICES.get(key)
    if matrix is None:
        k = len(taps)
        g = torch.tensor(taps[::-1], dtype=torch.float64) * gain  # a true convolution: flipped taps
        # Output j reads the padded, zero-stuffed signal at j * down + t; input i sits at i * up + pad.
        i = torch.arange(first, first + rows).unsqueeze(1)
        t = i * up + pad - torch.arange(cols).unsqueeze(0) * down
        matrix = torch.where((t >= 0) & (t < k), g[t.clamp(0, k - 1)], 0.0).to(device, dtype)
        if len(_MATRICES) > 1024:
            _MATRICES.clear()
        _MATRICES[key] = matrix
    return matrix


def _separable_terms(f: torch.Tensor | None) -> list[tuple[tuple, tuple]]:
    """A filter as a sum of outer products of (y taps, x taps): 1-D taps serve both axes; a 2-D filter
    gives one term per singular value above 1e-6 of the largest: a dropped term moves an output by less
    than float32 rounding of the 2-D filter's own sum does (StyleGAN3-R's radial filters: 2 to 5 terms)."""
    if f is None:
        return [((1.0,), (1.0,))]
    values = f.detach().cpu().double()
    key = (tuple(values.shape), tuple(values.flatten().tolist()))
    terms = _TERMS.get(key)
    if terms is None:
        if values.ndim == 1 or values.numel() == 1:
            taps = tuple(values.flatten().tolist())
            terms = [(taps, taps)] if values.ndim == 1 else [(taps, (1.0,))]
        else:
            u, s, vh = torch.linalg.svd(values)
            terms = [
                (tuple((u[:, i] * s[i].sqrt()).tolist()), tuple((vh[i] * s[i].sqrt()).tolist()))
                for i in range(len(s))
                if s[i] > s[0] * 1e-6
            ]
        if len(_TERMS) > 256:
            _TERMS.clear()
        _TERMS[key] = terms
    return terms


ACTIVATIONS = {  # name -> (fn(x, alpha, inplace), the gain that keeps unit variance)
    "linear": (lambda x, alpha, inplace: x, 1.0),
    "relu": (lambda x, alpha, inplace: F.relu(x, inplace=inplace), math.sqrt(2)),
    "lrelu": (lambda x, alpha, inplace: F.leaky_relu(x, alpha, inplace=inplace), math.sqrt(2)),
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
    gain = default_gain if gain is None else gain
    # Without autograd (sampling), each step after the first works in place on the tensor made here:
    # the same numbers in a third of the time. ``x`` itself is never changed.
    no_grad, fresh = not torch.is_grad_enabled(), False
    if b is not None:
        x, fresh = x + b.reshape([1, -1] + [1] * (x.ndim - 2)).to(x.dtype), True
    if act != "linear":
        x, fresh = fn(x, alpha, no_grad and fresh), True
    if gain != 1:
        x, fresh = (x.mul_(gain) if no_grad and fresh else x * gain), True
    if clamp is not None and clamp >= 0:
        x = x.clamp_(-clamp, clamp) if no_grad and fresh else x.clamp(-clamp, clamp)
    return x


CHUNK_BYTES = 4 << 20  # filtered_lrelu's upsampled slice of channels: about what one core's cache holds
DEPTHWISE_CHUNK_BYTES = 10 << 20  # the same for the channels-last depthwise path (fastest measured here)
LANES = 16  # channels per vector register (AVX-512 float32): depthwise groups come in multiples of it


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
    clamp, low-pass with ``fd`` and downsample (paper section 3.2).

    Channels are independent here, so they run in groups whose upsampled tensor takes about ``CHUNK_BYTES``:
    every pass over it then reads and writes the cache instead of main memory, which bounds the whole op at
    StyleGAN3's sizes. The gain moves into the downsampling filter (``clamp(g * lrelu(v), c) =
    g * clamp(lrelu(v), c / g)`` for ``g > 0``), so the upsampled tensor takes two in-place passes (without
    autograd) between the two filters.

    Two ways to filter: separable filters on a tensor in the usual (NCHW) layout take the banded matrix
    products of :func:`upfirdn2d`; a radial (non-separable) filter, or an input already in ``channels_last``
    layout (StyleGAN3-R's), takes depthwise (transposed) convolutions in ``channels_last``, where every filter
    tap is one vector multiply-add across channels, and the output stays ``channels_last``. The down filter
    runs strided, at the kept outputs only; the up filter transposed, skipping the inserted zeros.
    """
    n, c, h, w = x.shape
    x0, x1, y0, y1 = padding
    depthwise = _depthwise_path(x, fu, fd)
    per_channel = n * (h * up + y0 + y1) * (w * up + x0 + x1) * x.element_size()
    step = max(1, (DEPTHWISE_CHUNK_BYTES if depthwise else CHUNK_BYTES) // max(per_channel, 1))
    if depthwise:
        step = max(LANES, step // LANES * LANES)
    up_gain = _upsampling_gain(fu, up) if clamp is not None and clamp >= 0 else math.inf
    args = (fu, fd, up, down, padding, gain, slope, clamp, depthwise, up_gain)
    if step >= c:
        return _filtered_lrelu(x, b, *args)
    parts = [
        _filtered_lrelu(x[:, i : i + step], None if b is None else b[i : i + step], *args)
        for i in range(0, c, step)
    ]
    return torch.cat(parts, dim=1)


def _depthwise_path(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None) -> bool:
    """Whether ``filtered_lrelu`` filters by depthwise convolutions in ``channels_last`` (see there)."""
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    return channels_last or any(f is not None and len(_separable_terms(f)) > 1 for f in (fu, fd))


def _upfirdn2d_depthwise(
    x: torch.Tensor, f: torch.Tensor | None, up: int, down: int, padding: Padding, gain: float
) -> torch.Tensor:
    """``upfirdn2d`` by depthwise convolutions, whatever the filter (the layout of ``x`` is kept)."""
    if f is None and up == down == 1:
        return upfirdn2d(x, f, padding=padding, gain=gain)
    return _upfirdn2d_conv(x, f, up, down, padding, gain)


def _filtered_lrelu(
    x: torch.Tensor,
    b: torch.Tensor | None,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    up: int,
    down: int,
    padding: Padding,
    gain: float,
    slope: float,
    clamp: float | None,
    depthwise: bool,
    up_gain: float,
) -> torch.Tensor:
    """``filtered_lrelu`` on one group of channels (``up_gain``: :func:`_upsampling_gain`)."""
    if depthwise:  # a fresh channels_last tensor: the slice of a channels_last input is strided
        x = x if b is None else x + b.reshape(1, -1, 1, 1).to(x.dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        resample = _upfirdn2d_depthwise
    else:
        x, resample = bias_act(x, b), upfirdn2d
    bound = math.inf
    if up_gain < math.inf and x.numel():
        flat = x.detach().permute(0, 2, 3, 1) if depthwise else x.detach()  # contiguous (aminmax would copy)
        low, high = torch.aminmax(flat)
        bound = max(-low.item(), high.item()) * up_gain
    x = resample(x, fu, up, 1, padding, up**2)
    in_place = not torch.is_grad_enabled()
    if slope != 1:
        x = F.leaky_relu_(x, slope) if in_place else F.leaky_relu(x, slope)
    if clamp is not None and clamp >= 0:
        limit = clamp / gain if gain > 0 else clamp
        if bound * max(1.0, abs(slope)) * (1 + 1e-4) > limit:  # else no value can reach the limit
            x = x.clamp_(-limit, limit) if in_place else x.clamp(-limit, limit)
    if gain <= 0:  # not a gain the identity above holds for: apply it here
        x, gain = x * gain, 1.0
    return resample(x, fd, 1, down, (0, 0, 0, 0), gain)


def _upsampling_gain(f: torch.Tensor | None, up: int) -> float:
    """The most an ``up``-fold upsampling with ``f`` (gain ``up**2``) can scale a signal's largest magnitude:
    each output sums one phase of the taps, so the bound is the largest phase sum of |taps| times the gain.
    Padding only drops terms. ``filtered_lrelu`` skips a clamp that nothing can reach."""
    if f is None:
        return 1.0
    taps = f.detach().abs().double().cpu()
    if taps.ndim == 1:
        phase = max(taps[p::up].sum().item() for p in range(up)) * up
        return phase * phase
    return max(taps[p::up, q::up].sum().item() for p in range(up) for q in range(up)) * up * up


def up_padding(filter_size: int, up: int = 2, kernel: int = 1, padding: int = 0) -> tuple[int, int]:
    """``upfirdn2d`` padding (low, high side) that centres the filter after ``up``-fold upsampling. With a
    ``kernel``-wide transposed convolution first (stride ``up``, no padding), which already grew the signal
    by ``kernel - 1`` and ``kernel - up`` samples, that growth is taken back."""
    lo = padding + (filter_size + up - 1) // 2
    hi = padding + (filter_size - up) // 2
    return (lo - (kernel - 1), hi - (kernel - up)) if kernel > 1 else (lo, hi)


def down_padding(filter_size: int, down: int = 2, padding: int = 0) -> tuple[int, int]:
    """``upfirdn2d`` padding (low, high side) that centres the filter before ``down``-fold decimation."""
    return padding + (filter_size - down + 1) // 2, padding + (filter_size - down) // 2


def demodulation(
    weight: torch.Tensor, styles: torch.Tensor, transposed: bool = False, prenormalize: bool = False
) -> torch.Tensor:
    """StyleGAN2's demodulation coefficients (paper section 2.2), shape (N, out): one over the norm of each
    output channel's weights after scaling input channel ``i`` by ``styles[:, i]``.

    With them a modulated convolution runs as a plain one: ``conv(x * styles) * coefficients`` equals the
    convolution with per-sample weights ``w * styles / norm``. ``prenormalize`` first rescales ``weight``
    per output channel and ``styles`` overall to unit mean square (StyleGAN3's guard against overflow; the
    result changes only through the 1e-8 epsilon). ``transposed``: ``weight`` is stored (in, out, k, k), as
    ``nn.ConvTranspose2d`` keeps it (summed as stored: a transposed view sums several times slower).
    """
    w2 = from_weight(weight, "squares.t" if transposed else "squares", _squares_t if transposed else _squares)
    scale = 1.0
    if prenormalize:
        w_norm = w2.sum(dim=1).div(w2.shape[1] * weight.shape[2] * weight.shape[3]).rsqrt()  # (out,)
        s_norm = styles.square().mean().rsqrt()
        w2 = w2 * w_norm.square().unsqueeze(1)
        styles = styles * s_norm
        scale = w_norm.unsqueeze(0) * s_norm
    return (styles.square() @ w2.t() + 1e-8).rsqrt() * scale


def _squares(weight: torch.Tensor) -> torch.Tensor:
    return weight.square().sum(dim=[2, 3])


def _squares_t(weight: torch.Tensor) -> torch.Tensor:
    return _squares(weight).t().contiguous()


def has_hooks(module: nn.Module) -> bool:
    """Whether calling ``module`` runs any forward hook (its own or a global one): a layer may then take a
    fused form that skips the module only when nothing would notice."""
    hooks = nn.modules.module
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or module._backward_hooks
        or module._backward_pre_hooks
        or hooks._global_forward_hooks
        or hooks._global_forward_pre_hooks
        or hooks._global_backward_hooks
        or hooks._global_backward_pre_hooks
    )


_DERIVED = WeakTensorKeyDictionary()


def from_weight(weight: torch.Tensor, name: str, fn) -> torch.Tensor:
    """``fn(weight)``, computed once and reused while the weight is unchanged and no gradient can flow to it
    (sampling a fixed network: demodulation norms, polyphase kernels). A weight changed in place (its version
    counter moves) or given new storage gets fresh values; training, with gradients, always recomputes."""
    if weight.requires_grad and torch.is_grad_enabled():
        return fn(weight)
    key = (weight._version, weight.data_ptr(), weight.dtype, weight.device)
    entries = _DERIVED.get(weight)
    if entries is None:
        entries = _DERIVED[weight] = {}
    hit = entries.get(name)
    if hit is None or hit[0] != key:
        hit = entries[name] = (key, fn(weight))
    return hit[1]


def _phase_kernels(weight: torch.Tensor) -> dict[tuple[int, int], torch.Tensor]:
    """A stride-2 transposed kernel (in, out, kh, kw) split into the four ordinary kernels (out, in, ., .) of
    its output phases: phase (a, b) gets the taps ``[a::2, b::2]``, flipped (a transposed convolution
    scatters, an ordinary one gathers)."""
    return {
        (a, b): weight[:, :, a::2, b::2].flip([2, 3]).transpose(0, 1).contiguous()
        for a in (0, 1)
        for b in (0, 1)
    }


def conv_transpose2d_up2(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``F.conv_transpose2d(x, weight, stride=2)`` (no padding, one group, kernels at least 2x2) as four
    ordinary convolutions of ``x``, one per output phase (even/odd rows and columns), written into their
    places in the output: the polyphase form of a transposed convolution. Output ``2m + a`` along an axis sums
    ``x[m - j] * w[a + 2j]``; each phase is a plain convolution with the taps ``w[a::2]`` flipped, padded by
    their count less one on both sides. The same sums as the transposed kernel, without its layout copy."""
    n, _, h, w = x.shape
    kh, kw = weight.shape[2:]
    out = x.new_empty(n, weight.shape[1], 2 * (h - 1) + kh, 2 * (w - 1) + kw)
    for (a, b), k in from_weight(weight, "phases", _phase_kernels).items():
        out[:, :, a::2, b::2] = F.conv2d(x, k.to(x.dtype), padding=(k.shape[2] - 1, k.shape[3] - 1))
    return out


class PolyphaseConvTranspose2d(nn.ConvTranspose2d):
    """An ``nn.ConvTranspose2d`` that runs a plain stride-2 transposed convolution (no padding, one group,
    kernel at least 2x2) as :func:`conv_transpose2d_up2`: the same output, faster on the CPU; any other
    setting runs the parent's code. Hooks, taps and weight edits see an ordinary transposed convolution."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        plain = (
            output_size is None
            and self.stride == (2, 2)
            and self.padding == (0, 0)
            and self.output_padding == (0, 0)
            and self.dilation == (1, 1)
            and self.groups == 1
            and self.padding_mode == "zeros"
            and min(self.kernel_size) >= 2
        )
        if not plain:
            return super().forward(x, output_size)
        y = conv_transpose2d_up2(x, self.weight)
        return y if self.bias is None else y + self.bias.reshape(1, -1, 1, 1).to(y.dtype)
