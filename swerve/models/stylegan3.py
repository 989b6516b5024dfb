"""StyleGAN3 generator in plain PyTorch (Karras et al. 2021, "Alias-Free Generative Adversarial Networks").

The synthesis network treats its feature maps as samples of continuous signals. It starts from Fourier
features (a band-limited continuous input that can be translated or rotated exactly), and every layer is a
modulated convolution followed by a *filtered* leaky ReLU: upsample, apply the nonlinearity at the higher
rate, low-pass and downsample, so no layer creates aliases the next could lock onto. The result is
translation-equivariant (config **T**) or, with 1x1 convolutions and radially symmetric filters, also
rotation-equivariant (config **R**).

Cutoffs, stopbands and sampling rates follow the paper's geometric schedule (section 3.2 and appendix F).
Layers are ``synthesis.L{i}_{size}_{channels}``, ``i`` = 0 (coarsest) ... ``num_layers`` (ToRGB), so they are
ordered by resolution. The mapping network and W-space helpers are StyleGAN2's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.signal
import scipy.special
import torch
import torch.nn.functional as F
from torch import nn

from swerve.errors import ConfigError, require_positive_ints
from swerve.models.ops import demodulation, filtered_lrelu, has_hooks
from swerve.models.stylegan2 import FullyConnected, MappedGenerator, MappingNetwork


@dataclass
class StyleGAN3Config:
    """Everything that shapes a StyleGAN3 generator; ``StyleGAN3Config.preset("T" | "R", ...)`` gives the
    paper's two configurations."""

    resolution: int = 256
    channels: int = 3
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 0
    mapping_layers: int = 2
    mapping_lr: float = 0.01
    channel_base: int = 32768
    channel_max: int = 512
    num_layers: int = 14  # synthesis layers, not counting the Fourier input and ToRGB
    num_critical: int = 2  # critically sampled layers at the end
    first_cutoff: float = 2.0
    first_stopband: float = 2**2.1
    last_stopband_rel: float = 2**0.3
    margin_size: int = 10  # extra pixels computed around the image, cropped at the end
    output_scale: float = 0.25
    conv_kernel: int = 3  # 3 for config T, 1 for config R
    use_radial_filters: bool = False  # radially symmetric downsampling filters (config R)
    filter_size: int = 6
    lrelu_upsampling: int = 2
    conv_clamp: float | None = 256

    def __post_init__(self) -> None:
        require_positive_ints(
            self,
            "resolution",
            "channels",
            "z_dim",
            "w_dim",
            "channel_base",
            "channel_max",
            "num_layers",
            "conv_kernel",
            "filter_size",
            "lrelu_upsampling",
        )
        if self.resolution < 4 or self.resolution & (self.resolution - 1):
            raise ConfigError(f"resolution must be a power of two >= 4, got {self.resolution}")
        if not 0 <= self.num_critical < self.num_layers:
            raise ConfigError(f"num_critical must lie in 0..num_layers-1, got {self.num_critical}")

    @classmethod
    def preset(cls, kind: str, **overrides) -> StyleGAN3Config:
        """Config T (translation equivariant) or R (also rotation equivariant: 1x1 convs, radial filters and
        twice the channels, as in the paper's training setup)."""
        if kind.upper() == "T":
            return cls(**overrides)
        if kind.upper() == "R":
            base = {"conv_kernel": 1, "use_radial_filters": True, "channel_base": 65536, "channel_max": 1024}
            return cls(**{**base, **overrides})
        raise ConfigError(f"StyleGAN3 config must be 'T' or 'R', got {kind!r}")

    @property
    def num_classes(self) -> int:
        return self.c_dim


def layer_schedule(c: StyleGAN3Config) -> list[dict]:
    """Per layer (input first, ToRGB last): cutoff f_c, stopband f_t, sampling rate s, transition half-width
    f_h, spatial size and channels. Cutoff and stopband grow geometrically until the critically sampled
    layers; the sampling rate is the smallest power of two above twice the stopband."""
    n = c.num_layers
    last_cutoff = c.resolution / 2
    last_stopband = last_cutoff * c.last_stopband_rel
    t = np.minimum(np.arange(n + 1) / (n - c.num_critical), 1)
    cutoffs = c.first_cutoff * (last_cutoff / c.first_cutoff) ** t
    stopbands = c.first_stopband * (last_stopband / c.first_stopband) ** t
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, c.resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + c.margin_size * 2
    sizes[-2:] = c.resolution
    channels = np.rint(np.minimum((c.channel_base / 2) / cutoffs, c.channel_max))
    channels[-1] = c.channels
    return [
        {
            "cutoff": float(cutoffs[i]),
            "rate": int(rates[i]),
            "half_width": float(half_widths[i]),
            "size": int(sizes[i]),
            "channels": int(channels[i]),
        }
        for i in range(n + 1)
    ]


def lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False):
    """A Kaiser-windowed low-pass FIR filter: separable (1-D taps) or radially symmetric (2-D, a windowed
    jinc). ``None`` for a single tap (identity)."""
    if numtaps == 1:
        return None
    if not radial:
        return torch.as_tensor(scipy.signal.firwin(numtaps, cutoff, width=width, fs=fs), dtype=torch.float32)
    coords = (np.arange(numtaps) - (numtaps - 1) / 2) / fs  # even tap count: the centre is never sampled
    radius = np.sqrt(coords[:, None] ** 2 + coords[None, :] ** 2)
    jinc = scipy.special.j1(2 * np.pi * cutoff * radius) / (np.pi * radius)  # the ideal radial low-pass
    attenuation = scipy.signal.kaiser_atten(numtaps, width / (fs / 2))
    window = np.kaiser(numtaps, scipy.signal.kaiser_beta(attenuation))
    taps = jinc * window[:, None] * window[None, :]
    return torch.as_tensor(taps / taps.sum(), dtype=torch.float32)


class SynthesisInput(nn.Module):
    """Fourier features: ``channels`` sinusoids with random frequencies inside the first layer's band,
    rotated and translated per sample by an affine map of w, then mixed by a learned matrix.

    ``transform`` (a 3x3 matrix, identity by default) is the user's inverse transform of the output image:
    setting a translation in it translates the image, which is how equivariance is measured."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float) -> None:
        super().__init__()
        self.channels, self.size = channels, size
        self.sampling_rate, self.bandwidth = sampling_rate, bandwidth
        freqs = torch.randn(channels, 2)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth  # spread over the disc
        self.weight = nn.Parameter(torch.randn(channels, channels))
        self.affine = FullyConnected(w_dim, 4)
        with torch.no_grad():  # start at the identity rotation and no translation
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(channels) - 0.5)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        n = len(w)
        t = self.affine(w)  # (cos, sin, tx, ty) up to scale
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        rot = torch.eye(3, device=w.device).repeat(n, 1, 1)
        rot[:, 0, 0], rot[:, 0, 1], rot[:, 1, 0], rot[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        shift = torch.eye(3, device=w.device).repeat(n, 1, 1)
        shift[:, 0, 2], shift[:, 1, 2] = -t[:, 2], -t[:, 3]
        m = rot @ shift @ self.transform.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (self.freqs.unsqueeze(0) @ m[:, :2, 2:]).squeeze(2)
        freqs = self.freqs.unsqueeze(0) @ m[:, :2, :2]
        # Fade out frequencies a user transform pushed past the band (they would alias).
        amplitudes = (
            1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)
        ).clamp(0, 1)
        theta = torch.zeros(1, 2, 3, device=w.device)
        theta[0, 0, 0] = theta[0, 1, 1] = 0.5 * self.size / self.sampling_rate
        grid = F.affine_grid(theta, [1, 1, self.size, self.size], align_corners=False)  # (1, H, W, 2)
        x = torch.einsum("bhwk,nck->nhwc", grid, freqs) + phases.reshape(n, 1, 1, -1)
        x = torch.sin(x * (2 * math.pi)) * amplitudes.reshape(n, 1, 1, -1)
        x = x.reshape(-1, self.channels) @ (self.weight / math.sqrt(self.channels)).t()  # one matrix product
        return x.view(n, self.size, self.size, -1).permute(0, 3, 1, 2)  # channels_last


class SynthesisLayer3(nn.Module):
    """Modulated convolution + filtered leaky ReLU between two sampling rates (or the final ToRGB)."""

    def __init__(self, c: StyleGAN3Config, prev: dict, cur: dict, is_torgb: bool, is_critical: bool) -> None:
        super().__init__()
        self.is_torgb, self.in_channels, self.conv_clamp = is_torgb, prev["channels"], c.conv_clamp
        self.conv_kernel = 1 if is_torgb else c.conv_kernel
        tmp_rate = max(prev["rate"], cur["rate"]) * (1 if is_torgb else c.lrelu_upsampling)
        self.affine = FullyConnected(c.w_dim, prev["channels"], bias_init=1)
        k = self.conv_kernel  # padded by k - 1: the output grows, the filters' padding crops it back
        self.conv = nn.Conv2d(prev["channels"], cur["channels"], k, padding=k - 1, bias=False)
        nn.init.normal_(self.conv.weight)
        self.bias = nn.Parameter(torch.zeros(cur["channels"]))
        self.register_buffer("magnitude_ema", torch.ones([]))  # running mean square of the input

        self.up = int(round(tmp_rate / prev["rate"]))
        up_taps = c.filter_size * self.up if self.up > 1 and not is_torgb else 1
        self.register_buffer(
            "up_filter", lowpass_filter(up_taps, prev["cutoff"], prev["half_width"] * 2, tmp_rate)
        )
        self.down = int(round(tmp_rate / cur["rate"]))
        down_taps = c.filter_size * self.down if self.down > 1 and not is_torgb else 1
        radial = c.use_radial_filters and not is_critical
        self.register_buffer(
            "down_filter", lowpass_filter(down_taps, cur["cutoff"], cur["half_width"] * 2, tmp_rate, radial)
        )
        # Pad so the output has exactly cur["size"] samples, centred as the paper's appendix C.3 describes.
        total = (cur["size"] - 1) * self.down + 1 - (prev["size"] + self.conv_kernel - 1) * self.up
        total += up_taps + down_taps - 2
        lo = (total + self.up) // 2
        self.padding = [lo, total - lo, lo, total - lo]

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        if self.is_torgb:
            styles = styles / math.sqrt(self.in_channels * self.conv_kernel**2)
        # Modulate the input (scaled to unit mean square by the tracked magnitude), convolve, demodulate.
        if self.conv_kernel == 1 and not has_hooks(self.conv):
            x = self.modulated_1x1(x, styles)
        else:
            x = self.conv(x * (styles * self.magnitude_ema.rsqrt()).unsqueeze(2).unsqueeze(3))
            if not self.is_torgb:
                x = x * demodulation(self.conv.weight, styles, prenormalize=True).unsqueeze(2).unsqueeze(3)
        return filtered_lrelu(
            x,
            self.up_filter,
            self.down_filter,
            self.bias,
            up=self.up,
            down=self.down,
            padding=self.padding,
            gain=1 if self.is_torgb else math.sqrt(2),
            slope=1 if self.is_torgb else 0.2,
            clamp=self.conv_clamp,
        )

    def modulated_1x1(self, x: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        """The 1x1 modulated convolution with the styles and demodulation folded into one (out, in) kernel
        per sample, as NVIDIA's fused form does: an out x in product per sample instead of two passes over
        the feature maps (StyleGAN3-R's are 1024 channels of up to 84x84). One batched matrix product in
        the layout ``x`` has, which the output keeps (an R network runs ``channels_last`` throughout). Used
        when nothing hooks ``self.conv``, which sees the modulated input and undemodulated output."""
        n, c, h, w = x.shape
        scale = styles * self.magnitude_ema.rsqrt()
        kernels = self.conv.weight[:, :, 0, 0].unsqueeze(0) * scale.unsqueeze(1)
        if not self.is_torgb:
            demod = demodulation(self.conv.weight, styles, prenormalize=True).unsqueeze(2)
            kernels = kernels * demod if torch.is_grad_enabled() else kernels.mul_(demod)
        kernels = kernels.to(x.dtype)  # (n, out, in)
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            y = torch.bmm(x.permute(0, 2, 3, 1).reshape(n, h * w, c), kernels.transpose(1, 2))
            return y.view(n, h, w, -1).permute(0, 3, 1, 2)
        return torch.bmm(kernels, x.reshape(n, c, h * w)).view(n, -1, h, w)


class SynthesisNetwork3(nn.Module):
    """ws (N, num_layers + 2, w_dim) -> image: the Fourier input, then ``L0_...`` up to the ToRGB layer."""

    def __init__(self, c: StyleGAN3Config) -> None:
        super().__init__()
        self.output_scale = c.output_scale
        sched = layer_schedule(c)
        self.num_ws = c.num_layers + 2
        first = sched[0]
        self.input = SynthesisInput(c.w_dim, first["channels"], first["size"], first["rate"], first["cutoff"])
        self.layer_names = []
        for i, cur in enumerate(sched):
            layer = SynthesisLayer3(
                c,
                sched[max(i - 1, 0)],
                cur,
                is_torgb=i == c.num_layers,
                is_critical=i >= c.num_layers - c.num_critical,
            )
            name = f"L{i}_{cur['size']}_{cur['channels']}"
            self.add_module(name, layer)
            self.layer_names.append(name)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        """``noise_mode`` is accepted for a common interface with StyleGAN2; StyleGAN3 has no noise."""
        ws = ws.float().unbind(dim=1)
        x = self.input(ws[0])
        for name, w in zip(self.layer_names, ws[1:], strict=True):
            x = getattr(self, name)(x, w)
        return (x * self.output_scale).contiguous()  # an R network ran channels_last


class StyleGAN3Generator(MappedGenerator):
    """z (N, z_dim) [+ labels] -> image; ``G.mapping`` / ``G.synthesis`` expose W space as in StyleGAN2."""

    config_class = StyleGAN3Config

    def __init__(self, config: StyleGAN3Config) -> None:
        super().__init__()
        self.config = config
        self.num_ws = config.num_layers + 2
        self.mapping = MappingNetwork(
            config.z_dim, config.c_dim, config.w_dim, self.num_ws, config.mapping_layers, config.mapping_lr
        )
        self.synthesis = SynthesisNetwork3(config)

    @property
    def block_names(self) -> list[str]:
        """The synthesis layers coarse to fine (``synthesis.L0_...`` to the ToRGB layer)."""
        return [f"synthesis.{name}" for name in self.synthesis.layer_names]


@torch.no_grad()
def translate_output(g: StyleGAN3Generator, ws: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Draw ``ws`` with the Fourier input moved so the image should move ``dx`` pixels right and ``dy`` down
    (through ``synthesis.input.transform``, which is restored afterwards)."""
    res = g.config.resolution
    transform = g.synthesis.input.transform
    saved = transform.clone()
    try:
        transform.copy_(torch.tensor([[1.0, 0.0, -dx / res], [0.0, 1.0, -dy / res], [0.0, 0.0, 1.0]]))
        return g.synthesis(ws)
    finally:
        transform.copy_(saved)


@torch.no_grad()
def translation_psnr(g: StyleGAN3Generator, ws: torch.Tensor, dx: int, dy: int) -> float:
    """EQ-T for a whole-pixel shift (the paper's equation in appendix E): the PSNR, in dB over a [-1, 1]
    range, between the image drawn with a translated input and the original shifted by the same amount,
    on the pixels both cover. Higher is more equivariant; the paper's trained models score about 50-60."""
    res = g.config.resolution
    moved = translate_output(g, ws, dx, dy)
    orig = g.synthesis(ws)
    dst = (slice(max(dy, 0), res + min(dy, 0)), slice(max(dx, 0), res + min(dx, 0)))
    src = (slice(max(-dy, 0), res + min(-dy, 0)), slice(max(-dx, 0), res + min(-dx, 0)))
    mse = (moved[:, :, dst[0], dst[1]] - orig[:, :, src[0], src[1]]).square().mean()
    return float(10 * torch.log10(4 / mse.clamp_min(1e-20)))
