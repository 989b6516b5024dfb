"""StyleGAN2 generator and discriminator in plain PyTorch (Karras et al. 2020, "Analyzing and Improving the
Image Quality of StyleGAN"), with the -ADA paper's conditioning (Karras et al. 2020b).

The generator is a mapping network (z -> w, an 8-layer MLP) and a synthesis network of one block per
resolution, 4x4 up to ``resolution``: each block has modulated 3x3 convolutions whose weights are scaled by a
style from w, per-pixel noise, and (for the ``skip`` architecture) a ToRGB layer whose output is upsampled
and summed across resolutions. The discriminator is a residual network from ``resolution`` down to 4x4 with
a minibatch-standard-deviation feature.

Parameter names follow the reference implementation (``mapping.fc0``, ``synthesis.b64.conv1.affine``, ...),
except that each convolution is a child ``conv`` (``nn.Conv2d``, or ``nn.ConvTranspose2d`` when upsampling)
run on the style-modulated input, so taps, glitches and rewriting see an ordinary convolution; the
importers move the reference kernels there. The mapping network is registered first and the blocks from low
to high resolution: ``synthesis.b4``, ``synthesis.b8``, ... (``G.block_names``) are what bending, blending
and freezing address. Every block returns ``(features, image)``; a tap on a block reads or writes the
features.

W space: ``G.mapping(z)`` gives ``ws`` of shape (N, num_ws, w_dim), one w per style input;
``G.synthesis(ws)`` draws them; ``truncate`` and ``mix_styles`` edit them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from swerve.errors import ConfigError, require_positive_ints
from swerve.models.ops import (
    PolyphaseConvTranspose2d,
    bias_act,
    demodulation,
    down_padding,
    setup_filter,
    up_padding,
    upfirdn2d,
)

NOISE_MODES = ("const", "random", "none")


@dataclass
class StyleGAN2Config:
    """Everything that shapes a StyleGAN2 pair. Channels at resolution r are ``min(channel_base // r,
    channel_max)`` (the defaults give the paper's config F: 512 up to 64x64, halving after)."""

    resolution: int = 256
    channels: int = 3  # image channels
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 0  # number of classes (one-hot conditioning); 0 = unconditional
    mapping_layers: int = 8
    mapping_lr: float = 0.01  # learning-rate multiplier of the mapping network (equalised lr)
    channel_base: int = 32768
    channel_max: int = 512
    architecture: str = "skip"  # generator: orig | skip | resnet
    d_architecture: str = "resnet"  # discriminator: orig | skip | resnet
    resample_filter: list[int] = field(default_factory=lambda: [1, 3, 3, 1])
    conv_clamp: float | None = None  # clamp conv outputs to +-this (the reference uses 256 with fp16)
    mbstd_group: int = 4
    mbstd_channels: int = 1
    d_mapping_layers: int = 8  # the conditional discriminator's label-embedding MLP

    def __post_init__(self) -> None:
        require_positive_ints(self, "resolution", "channels", "z_dim", "w_dim", "channel_base", "channel_max")
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ConfigError(f"resolution must be a power of two >= 8, got {self.resolution}")
        for name in ("architecture", "d_architecture"):
            if getattr(self, name) not in ("orig", "skip", "resnet"):
                raise ConfigError(f"{name} must be orig, skip or resnet, got {getattr(self, name)!r}")
        if not isinstance(self.c_dim, int) or self.c_dim < 0:
            raise ConfigError(f"c_dim must be a non-negative integer, got {self.c_dim!r}")

    @property
    def num_classes(self) -> int:
        return self.c_dim

    @property
    def resolutions(self) -> list[int]:
        """4, 8, ..., resolution."""
        return [2**i for i in range(2, int(math.log2(self.resolution)) + 1)]

    def channels_at(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)


# --- building blocks -------------------------------------------------------------------------------------


class FullyConnected(nn.Module):
    """A linear layer with equalised learning rate: weights are stored at unit scale and multiplied by
    ``lr_multiplier / sqrt(in_features)`` at run time (Karras et al. 2018)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init) / lr_multiplier))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x * self.weight_gain, self.weight)  # the gain on the (small) input, not on the weights
        return bias_act(x, self.bias * self.bias_gain, act=self.activation)


class Conv2dLayer(nn.Module):
    """An equalised-learning-rate convolution with optional 2x up/downsampling (FIR-filtered) and activation.

    The convolution is the child ``conv`` (an ``nn.Conv2d``); the equalised-lr gain scales its input."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        resample_filter: list[int] | None = None,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        if up > 1 and kernel_size > 1:
            raise ConfigError("Conv2dLayer upsamples with 1x1 kernels only (SynthesisLayer does 3x3)")
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        stride = down if kernel_size > 1 else 1  # a 1x1 kernel decimates before it convolves
        padding = kernel_size // 2 if down == 1 else 0  # the filter does the padding when downsampling
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        nn.init.normal_(self.conv.weight)
        if bias:
            nn.init.zeros_(self.conv.bias)
        self.register_buffer(
            "resample_filter", setup_filter(resample_filter or [1, 3, 3, 1]), persistent=False
        )

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        f, k = self.resample_filter, self.conv.kernel_size[0]
        if self.down > 1:
            lo, hi = down_padding(len(f), self.down, k // 2)
            x = upfirdn2d(x, f, down=self.down if k == 1 else 1, padding=[lo, hi, lo, hi])
        x = self.conv(x * self.weight_gain)
        if self.up > 1:
            lo, hi = up_padding(len(f), self.up)
            x = upfirdn2d(x, f, up=self.up, padding=[lo, hi, lo, hi], gain=self.up**2)
        act_gain = (1.0 if self.activation == "linear" else math.sqrt(2)) * gain
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, None, act=self.activation, gain=act_gain, clamp=clamp)


def _one_hot(c: torch.Tensor | None, c_dim: int, n: int) -> torch.Tensor:
    """Class labels as the (N, c_dim) float vectors the networks embed; integer labels are one-hot coded."""
    if c is None:
        raise ValueError(f"this network is class-conditional ({c_dim} classes): pass labels")
    if c.dtype in (torch.int64, torch.int32) and c.ndim == 1:
        c = F.one_hot(c.long(), c_dim)
    if c.shape != (n, c_dim):
        raise ValueError(f"labels must be {n} class indices or a ({n}, {c_dim}) tensor, got {tuple(c.shape)}")
    return c.float()


class MappingNetwork(nn.Module):
    """z (+ label) -> w: normalise, then an MLP with leaky ReLUs. ``w_avg`` holds the average w (imported,
    or see :func:`estimate_w_avg`) for truncation. ``num_ws=None`` returns one w per sample instead of one
    per style input."""

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_ws: int | None,
        num_layers: int = 8,
        lr_multiplier: float = 0.01,
        track_w_avg: bool = True,
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.num_ws, self.num_layers = num_ws, num_layers
        if c_dim:
            self.embed = FullyConnected(c_dim, w_dim)
        features = [z_dim + (w_dim if c_dim else 0)] + [w_dim] * num_layers
        for i in range(num_layers):
            self.add_module(f"fc{i}", FullyConnected(features[i], features[i + 1], "lrelu", lr_multiplier))
        if track_w_avg:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
    ) -> torch.Tensor:
        parts = []
        if self.z_dim:
            parts.append(_normalize_2nd_moment(z.float()))
        if self.c_dim:
            n = len(z) if z is not None else len(c)
            parts.append(_normalize_2nd_moment(self.embed(_one_hot(c, self.c_dim, n))))
        x = torch.cat(parts, dim=1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if self.num_ws is None:
            return x
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        return truncate(ws, self.w_avg, truncation_psi, truncation_cutoff)


def _normalize_2nd_moment(x: torch.Tensor) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


def truncate(
    ws: torch.Tensor, w_avg: torch.Tensor, psi: float = 0.7, cutoff: int | None = None
) -> torch.Tensor:
    """The truncation trick: pull each w towards the average by ``psi`` (1 = unchanged, 0 = the average
    image), only in the first ``cutoff`` style inputs if given (the coarse layers)."""
    if psi == 1:
        return ws
    ws = ws.clone()
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi)
    return ws


def mix_styles(ws_a: torch.Tensor, ws_b: torch.Tensor, start: int, stop: int | None = None) -> torch.Tensor:
    """Style mixing: ``ws_a`` with style inputs ``start:stop`` taken from ``ws_b`` (coarse inputs come first,
    so ``start`` = 0..3 swaps pose and shape, later inputs swap colour and texture)."""
    ws = ws_a.clone()
    ws[:, start:stop] = ws_b[:, start:stop]
    return ws


# --- generator --------------------------------------------------------------------------------------------


class SynthesisLayer(nn.Module):
    """Modulated, demodulated 3x3 convolution (optionally upsampling 2x), noise, bias, leaky ReLU.

    The modulation runs on the input and the demodulation on the output of a plain convolution, the child
    ``conv`` (``nn.Conv2d``, or an ``nn.ConvTranspose2d`` with stride 2 when upsampling, run as four plain
    convolutions, followed by the FIR filter): the same result as per-sample weights, and a layer taps and
    rewriting understand."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        up: int = 1,
        resample_filter: list[int] | None = None,
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.up, self.resolution, self.conv_clamp = up, resolution, conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        if up > 1:
            self.conv = PolyphaseConvTranspose2d(in_channels, out_channels, 3, stride=up, bias=False)
        else:
            self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        nn.init.normal_(self.conv.weight)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer(
            "resample_filter", setup_filter(resample_filter or [1, 3, 3, 1]), persistent=False
        )

    @property
    def weight(self) -> torch.Tensor:
        """The kernel as (out, in, k, k), whichever way the convolution stores it."""
        w = self.conv.weight
        return w.transpose(0, 1) if isinstance(self.conv, nn.ConvTranspose2d) else w

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", gain: float = 1.0
    ) -> torch.Tensor:
        styles = self.affine(w)
        x = self.conv(x * styles.unsqueeze(2).unsqueeze(3))
        if self.up > 1:
            lo, hi = up_padding(len(self.resample_filter), self.up, kernel=3, padding=1)
            x = upfirdn2d(x, self.resample_filter, padding=[lo, hi, lo, hi], gain=self.up**2)
        # bias_act's gain g > 0 commutes with the leaky ReLU, so it scales the small factors instead:
        # clamp(g * lrelu(x * d + noise + b)) = clamp(lrelu(x * (g d) + (g noise + g b))): one fused
        # multiply-add over the large tensor, then the activation and clamp in place when sampling.
        g = math.sqrt(2) * gain
        scale = (demodulation(self.conv.weight, styles, self.up > 1) * g).unsqueeze(2).unsqueeze(3)
        shift = (self.bias * g).reshape(-1, 1, 1)
        if noise_mode == "const":
            shift = shift + self.noise_const * (self.noise_strength * g)
        elif noise_mode == "random":
            noise = torch.randn(len(x), 1, self.resolution, self.resolution, device=x.device)
            shift = shift + noise * (self.noise_strength * g)
        x = torch.addcmul(shift.to(x.dtype), x, scale)
        in_place = not torch.is_grad_enabled()
        x = F.leaky_relu_(x, 0.2) if in_place else F.leaky_relu(x, 0.2)
        if self.conv_clamp is not None:
            c = self.conv_clamp * gain
            x = x.clamp_(-c, c) if in_place else x.clamp(-c, c)
        return x


class ToRGBLayer(nn.Module):
    """1x1 modulated convolution (no demodulation) from features to image channels."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None
    ) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        nn.init.normal_(self.conv.weight)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        return bias_act(self.conv(x * styles.unsqueeze(2).unsqueeze(3)), self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network: (features, image so far, its ws) -> (features, image)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        is_last: bool,
        architecture: str,
        resample_filter: list[int],
        conv_clamp: float | None,
    ) -> None:
        super().__init__()
        self.in_channels, self.architecture = in_channels, architecture
        kw = dict(resample_filter=resample_filter, conv_clamp=conv_clamp)
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, **kw)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, **kw)
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = int(is_last or architecture == "skip")
        if self.num_torgb:
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        if in_channels and architecture == "resnet":
            self.skip = Conv2dLayer(
                in_channels, out_channels, 1, bias=False, up=2, resample_filter=resample_filter
            )
        self.register_buffer("resample_filter", setup_filter(resample_filter), persistent=False)

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, noise_mode: str = "const"
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        w = iter(ws.unbind(dim=1))
        if self.in_channels == 0:
            x = self.conv1(self.const.unsqueeze(0).expand(len(ws), -1, -1, -1), next(w), noise_mode)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, next(w), noise_mode)
            x = y + self.conv1(x, next(w), noise_mode, gain=math.sqrt(0.5))
        else:
            x = self.conv0(x, next(w), noise_mode)
            x = self.conv1(x, next(w), noise_mode)
        if img is not None:
            lo, hi = up_padding(len(self.resample_filter))
            img = upfirdn2d(img, self.resample_filter, up=2, padding=[lo, hi, lo, hi], gain=4)
        if self.num_torgb:
            y = self.torgb(x, next(w))
            img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> image (N, channels, resolution, resolution); blocks ``b4`` ... ``b{res}``."""

    def __init__(self, config: StyleGAN2Config) -> None:
        super().__init__()
        c = config
        self.resolutions = c.resolutions
        self.num_ws = 0
        for res in self.resolutions:
            in_ch = c.channels_at(res // 2) if res > 4 else 0
            block = SynthesisBlock(
                in_ch,
                c.channels_at(res),
                c.w_dim,
                res,
                c.channels,
                res == c.resolution,
                c.architecture,
                c.resample_filter,
                c.conv_clamp,
            )
            self.add_module(f"b{res}", block)
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last ToRGB has a style input of its own

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        x = img = None
        start = 0
        for res in self.resolutions:
            block = getattr(self, f"b{res}")
            # A block's ToRGB shares its w with the next block's first convolution.
            x, img = block(x, img, ws[:, start : start + block.num_conv + block.num_torgb], noise_mode)
            start += block.num_conv
        return img


class MappedGenerator(nn.Module):
    """What the StyleGAN2 and StyleGAN3 generators share: z [+ labels] -> ``mapping`` -> ws ->
    ``synthesis`` -> image. Subclasses build ``mapping``, ``synthesis`` and ``num_ws``."""

    mapping: MappingNetwork
    synthesis: nn.Module

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        truncation_cutoff: int | None = None,
        noise_mode: str = "const",
    ) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode)


class StyleGAN2Generator(MappedGenerator):
    """z (N, z_dim) [+ labels] -> image in about [-1, 1]. ``noise_mode="const"`` (the default) uses the
    stored noise, so a seed always gives the same image; ``"random"`` draws fresh noise."""

    config_class = StyleGAN2Config

    def __init__(self, config: StyleGAN2Config) -> None:
        super().__init__()
        self.config = config
        synthesis = SynthesisNetwork(config)
        self.num_ws = synthesis.num_ws
        # The mapping network is registered first, so named_modules() runs from z to the finest block.
        self.mapping = MappingNetwork(
            config.z_dim, config.c_dim, config.w_dim, self.num_ws, config.mapping_layers, config.mapping_lr
        )
        self.synthesis = synthesis

    @property
    def block_names(self) -> list[str]:
        """The synthesis blocks coarse to fine (``synthesis.b4``, ...): the units of resolution-dependent
        blending (``swerve.diverge.blend.resolution_schedule``), bending and freezing."""
        return [f"synthesis.b{res}" for res in self.synthesis.resolutions]


@torch.no_grad()
def estimate_w_avg(
    mapping: nn.Module, z_dim: int, n: int = 10_000, seed: int = 0, c_dim: int = 0
) -> torch.Tensor:
    """The mean of w over ``n`` seeded z draws (for checkpoints that do not store it)."""
    device = next(mapping.parameters()).device
    z = torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    c = (torch.arange(n, device=device) % c_dim) if c_dim else None
    ws = mapping(z, c)
    return (ws[:, 0] if ws.ndim == 3 else ws).mean(dim=0)


# --- discriminator ----------------------------------------------------------------------------------------


class DiscriminatorBlock(nn.Module):
    """One resolution of the discriminator: two 3x3 convolutions, the second downsampling by 2."""

    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        img_channels: int,
        architecture: str,
        resample_filter: list[int],
        conv_clamp: float | None,
    ) -> None:
        super().__init__()
        self.in_channels, self.architecture = in_channels, architecture
        kw = dict(resample_filter=resample_filter, conv_clamp=conv_clamp)
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", **kw)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", **kw)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, **kw)
        if architecture == "resnet":
            self.skip = Conv2dLayer(
                tmp_channels, out_channels, 1, bias=False, down=2, resample_filter=resample_filter
            )
        self.register_buffer("resample_filter", setup_filter(resample_filter), persistent=False)

    def forward(
        self, x: torch.Tensor | None, img: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.in_channels == 0 or self.architecture == "skip":
            y = self.fromrgb(img)
            x = y if x is None else x + y
            lo, hi = down_padding(len(self.resample_filter))
            skip = self.architecture == "skip"
            img = upfirdn2d(img, self.resample_filter, down=2, padding=[lo, hi, lo, hi]) if skip else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = y + self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        else:
            x = self.conv1(self.conv0(x))
        return x, img


def minibatch_stddev(x: torch.Tensor, group_size: int, num_channels: int) -> torch.Tensor:
    """Append the standard deviation of features across groups of samples as extra channels, so the
    discriminator can see a lack of variety (Karras et al. 2018, section 3).

    Groups are samples ``i, i + n/g, i + 2n/g, ...`` as in the reference code. When the batch is not a
    multiple of ``group_size`` (where the reference fails) the group is the largest size that divides it.
    """
    n, c, h, w = x.shape
    g = max(k for k in range(1, min(group_size, n) + 1) if n % k == 0)
    y = x.reshape(g, -1, num_channels, c // num_channels, h, w)
    y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (n/g, F, c/F, h, w)
    y = y.mean(dim=[2, 3, 4]).reshape(-1, num_channels, 1, 1).repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """4x4 features -> one score: minibatch stddev, a 3x3 conv, two dense layers (and the label projection
    of a conditional discriminator)."""

    def __init__(
        self,
        in_channels: int,
        cmap_dim: int,
        img_channels: int,
        architecture: str,
        mbstd_group: int,
        mbstd_channels: int,
        conv_clamp: float | None,
    ) -> None:
        super().__init__()
        self.architecture, self.cmap_dim = architecture, cmap_dim
        self.mbstd_group, self.mbstd_channels = mbstd_group, mbstd_channels
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, in_channels, 1, activation="lrelu")
        self.conv = Conv2dLayer(
            in_channels + mbstd_channels, in_channels, 3, activation="lrelu", conv_clamp=conv_clamp
        )
        self.fc = FullyConnected(in_channels * 16, in_channels, activation="lrelu")
        self.out = FullyConnected(in_channels, cmap_dim or 1)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, cmap: torch.Tensor | None) -> torch.Tensor:
        if self.architecture == "skip":
            x = x + self.fromrgb(img)
        if self.mbstd_channels:
            x = minibatch_stddev(x, self.mbstd_group, self.mbstd_channels)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if self.cmap_dim:
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x


class StyleGAN2Discriminator(nn.Module):
    """Image (+ labels) -> one logit per image, shape (N,). Blocks ``b{res}`` ... ``b8``, then ``b4``."""

    config_class = StyleGAN2Config

    def __init__(self, config: StyleGAN2Config) -> None:
        super().__init__()
        self.config = c = config
        self.resolutions = [r for r in reversed(c.resolutions) if r > 4]
        for res in self.resolutions:
            in_ch = c.channels_at(res) if res < c.resolution else 0
            block = DiscriminatorBlock(
                in_ch,
                c.channels_at(res),
                c.channels_at(res // 2),
                c.channels,
                c.d_architecture,
                c.resample_filter,
                c.conv_clamp,
            )
            self.add_module(f"b{res}", block)
        cmap_dim = c.channels_at(4) if c.c_dim else 0
        if c.c_dim:
            self.mapping = MappingNetwork(0, c.c_dim, cmap_dim, None, c.d_mapping_layers, track_w_avg=False)
        self.b4 = DiscriminatorEpilogue(
            c.channels_at(4),
            cmap_dim,
            c.channels,
            c.d_architecture,
            c.mbstd_group,
            c.mbstd_channels,
            c.conv_clamp,
        )

    def features(self, img: torch.Tensor) -> torch.Tensor:
        """The 4x4 feature map, flattened (before the minibatch statistics and the head)."""
        x = None
        for res in self.resolutions:
            x, img = getattr(self, f"b{res}")(x, img)
        return x.flatten(1)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = None
        for res in self.resolutions:
            x, img = getattr(self, f"b{res}")(x, img)
        cmap = self.mapping(None, c) if self.config.c_dim else None
        return self.b4(x, img, cmap).squeeze(1)
