"""The network-bending transforms: pure-torch maps applied to a layer's selected channels (core: a bundle's
stored bends use them when it loads; :mod:`swerve.diverge.transforms` is the methods' name for this module).

Broad, Leymarie & Grierson (EvoMUSART 2021, Entropy 2022) insert a deterministic transform after a layer's
nonlinearity and treat every feature map as a one-channel image. The reference ran rotate, scale, erode and
dilate as CPU OpenCV calls; here every transform is torch (``affine_grid``/``grid_sample``, max-over-a-disc
morphology, depthwise convolution), so it runs on any device and is differentiable where that means something.

Each transform takes ``x`` of shape ``(N, C, H, W)`` (spatial ones) or also ``(N, C)`` (``pointwise`` ones)
and returns a tensor of the same shape; it never writes into ``x``. The ``sequence`` ones are also defined
on 1-D maps ``(N, C, L)`` (a 1-D convolutional generator's, e.g. the character GAN's): each map is read as
a one-row image, so translate, scale, flip, erode, dilate, sobel and oscillate act along ``L``; settings
that need a second axis (``dy``, a vertical flip, rotation) are refused on them. Parameters are declared
as :class:`Param` ranges so a UI can build a slider for each one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from swerve.errors import ConfigError
from swerve.utils import make_generator

PARAM_KINDS = ("float", "int", "bool", "choice")


@dataclass(frozen=True)
class Param:
    """One transform parameter: its default and range (``choices`` for kind ``"choice"``)."""

    default: Any
    low: float | None = None
    high: float | None = None
    kind: str = "float"
    choices: tuple[str, ...] = ()
    help: str = ""

    def check(self, name: str, value: Any) -> Any:
        """``value`` converted to this parameter's kind; a :class:`ConfigError` if it does not fit."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"parameter {name!r} must be true or false, got {value!r}")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise ConfigError(
                    f"parameter {name!r} must be one of {', '.join(self.choices)}, got {value!r}"
                )
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"parameter {name!r} must be a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"parameter {name!r} must be finite, got {value!r}")
        if self.kind == "int":
            if float(value) != int(value):
                raise ConfigError(f"parameter {name!r} must be a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(f"parameter {name!r} must be finite, got {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ConfigError(f"parameter {name!r} = {value} is outside [{self.low}, {self.high}]")
        return value

    def to_dict(self) -> dict[str, Any]:
        """JSON description (for a UI's slider)."""
        return {
            "default": self.default,
            "low": self.low,
            "high": self.high,
            "kind": self.kind,
            "choices": list(self.choices),
            "help": self.help,
        }


@dataclass(frozen=True)
class Transform:
    """A named bending transform: ``fn(x, **params)`` plus its parameter ranges.

    ``pointwise`` transforms act value by value and so also work on 1-D activations ``(N, C)``;
    ``sequence`` ones are also defined on 1-D maps ``(N, C, L)``; ``animated`` ones also read the
    animation frame index (keyword ``frame``); ``batched`` ones also take each float parameter as a tensor of
    shape ``(N, 1, ...)``: one value per sample of the batch.
    """

    name: str
    fn: Callable[..., torch.Tensor]
    params: dict[str, Param] = field(default_factory=dict)
    pointwise: bool = False
    animated: bool = False
    help: str = ""
    sequence: bool = False
    batched: bool = False

    def check_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """All parameters with defaults filled in; :class:`ConfigError` for unknown or out-of-range ones."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            known = ", ".join(self.params) or "none"
            raise ConfigError(f"transform {self.name!r} has no parameter {unknown[0]!r} (it takes: {known})")
        return {k: p.check(k, params.get(k, p.default)) for k, p in self.params.items()}

    def __call__(self, x: torch.Tensor, frame: int | None = None, **params: Any) -> torch.Tensor:
        if self.animated:
            params["frame"] = frame
        return self.apply(x, params)

    def check_shape(self, shape: tuple[int, ...], params: dict[str, Any], where: str = "") -> None:
        """:class:`ConfigError` (one line) when this transform with ``params`` is not defined on maps of
        ``shape``; ``where`` names the layer in the message."""
        at = f" ({where} outputs shape {tuple(shape)})" if where else f", got shape {tuple(shape)}"
        if len(shape) == 4 or (self.pointwise and len(shape) != 3):
            return
        if len(shape) == 3 and self.sequence:
            for key, two_d in _TWO_D_ONLY.get(self.name, {}).items():
                if two_d(params.get(key, self.params[key].default)):
                    raise ConfigError(
                        f"transform {self.name!r} with {key}={params.get(key)!r} needs 2-D maps{at}; "
                        f"1-D maps have one axis (use {key}={self.params[key].default!r})"
                    )
            return
        one_d = ", ".join(t.name for t in TRANSFORMS.values() if t.sequence and not t.pointwise)
        raise ConfigError(
            f"transform {self.name!r} needs feature maps (N, C, H, W){at}; on 1-D maps (N, C, L) use "
            f"{one_d} or a pointwise transform, on (N, C) a pointwise one"
        )

    def apply(self, x: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        """The transform on ``x`` (4-D maps, 1-D maps as one-row images, or values for pointwise ones)."""
        self.check_shape(tuple(x.shape), params)
        if x.dim() == 3 and self.sequence:
            return self.fn(x.unsqueeze(2), **params).squeeze(2)
        return self.fn(x, **params)


# --- spatial transforms -------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _grid(matrix: tuple[float, ...], h: int, w: int, dtype: torch.dtype, device: str) -> torch.Tensor:
    # A bend runs on every forward pass with the same matrix and map size: build its sampling grid once.
    theta = torch.tensor(matrix, dtype=dtype, device=device).view(1, 2, 3)
    return F.affine_grid(theta, [1, 1, h, w], align_corners=False)


def _affine(x: torch.Tensor, matrix: list[list[Any]]) -> torch.Tensor:
    """Resample every map with the 2x3 ``matrix`` taking output coordinates to input ones (in [-1, 1]);
    an entry may be a tensor holding one value per sample."""
    flat = tuple(v for row in matrix for v in row)
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    if any(isinstance(v, torch.Tensor) for v in flat):
        theta = torch.stack(
            [torch.as_tensor(v, dtype=x.dtype, device=x.device).flatten().expand(n) for v in flat]
        )
        grid = F.affine_grid(theta.T.reshape(n, 2, 3), [n, 1, h, w], align_corners=False)
    else:
        grid = _grid(flat, h, w, x.dtype, str(x.device)).expand(n, -1, -1, -1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def translate(x: torch.Tensor, dx: float, dy: float) -> torch.Tensor:
    """Move every map by ``dx`` of its width (right) and ``dy`` of its height (down); zeros come in."""
    return _affine(x, [[1.0, 0.0, -2.0 * dx], [0.0, 1.0, -2.0 * dy]])


def rotate(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate every map about its centre by ``degrees`` (counter-clockwise as displayed, y pointing down)."""
    if isinstance(degrees, torch.Tensor):
        a = torch.deg2rad(degrees)
        c, s = a.cos(), a.sin()
    else:
        a = math.radians(degrees)
        c, s = math.cos(a), math.sin(a)
    return _affine(x, [[c, -s, 0.0], [s, c, 0.0]])


def scale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Zoom every map about its centre by ``factor`` (> 1 enlarges; zeros fill in when shrinking)."""
    return _affine(x, [[1.0 / factor, 0.0, 0.0], [0.0, 1.0 / factor, 0.0]])


def flip(x: torch.Tensor, axis: str) -> torch.Tensor:
    """Mirror every map left-right (``h``), top-bottom (``v``) or both (``hv``)."""
    dims = {"h": [-1], "v": [-2], "hv": [-2, -1]}[axis]
    return torch.flip(x, dims)


def _disc_rectangles(radius: int) -> list[tuple[int, int]]:
    """Half-sizes ``(a, b)`` of the rectangles whose union is the disc of ``radius`` pixels."""
    return [(a, math.isqrt(radius * radius - a * a)) for a in range(radius + 1)]


def dilate(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Grey-scale dilation with a disc of ``radius`` pixels: each value becomes the max over the disc.

    The disc is a union of ``radius + 1`` centred rectangles; each is a running max over shifted slices,
    first down the rows, then along them (much faster on CPU than stride-1 max-pooling). Padding is -inf,
    so the border brings nothing in.
    """
    if radius == 0:
        return x
    r, (h, w) = radius, x.shape[-2:]
    padded = F.pad(x, (r, r, r, r), value=float("-inf"))
    rows = padded[..., r : r + h, :]  # max over row offsets |d| <= a, grown as a increases
    out = None
    for a, b in _disc_rectangles(r):
        if a > 0:
            rows = torch.maximum(
                rows, torch.maximum(padded[..., r - a : r - a + h, :], padded[..., r + a : r + a + h, :])
            )
        band = rows[..., r : r + w]
        for e in range(1, b + 1):
            band = torch.maximum(
                band, torch.maximum(rows[..., r - e : r - e + w], rows[..., r + e : r + e + w])
            )
        out = band if out is None else torch.maximum(out, band)
    return out


def erode(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Grey-scale erosion with a disc of ``radius`` pixels: each value becomes the min over the disc."""
    return -dilate(-x, radius)


def sobel(x: torch.Tensor) -> torch.Tensor:
    """Edge magnitude of every map (Sobel gradients, replicate padding)."""
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device)
    kernel = torch.stack([gx, gx.T]).unsqueeze(1).repeat(x.shape[1], 1, 1, 1)  # (2C, 1, 3, 3)
    grads = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=x.shape[1])
    return grads.unflatten(1, (x.shape[1], 2)).pow(2).sum(2).sqrt()


# --- pointwise transforms -----------------------------------------------------------------------------------
def multiply(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale every value by ``factor``."""
    return x * factor


def add(x: torch.Tensor, value: float) -> torch.Tensor:
    """Add ``value`` to every value."""
    return x + value


def threshold(x: torch.Tensor, level: float) -> torch.Tensor:
    """Binary threshold: 1 where the value exceeds ``level``, else 0."""
    return (x > level).to(x.dtype)


def invert(x: torch.Tensor, pivot: float) -> torch.Tensor:
    """``pivot - x`` (the reference's ``1 - x`` at the default pivot 1)."""
    return pivot - x


def ablate(x: torch.Tensor) -> torch.Tensor:
    """Switch the channels off (all zeros)."""
    return torch.zeros_like(x)


def noise(x: torch.Tensor, std: float, seed: int) -> torch.Tensor:
    """Add Gaussian noise of standard deviation ``std``, drawn from ``seed`` (the same noise every call)."""
    gen = make_generator(seed, x.device)
    return x + std * torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)


def oscillate(
    x: torch.Tensor, amplitude: float, frequency: float, phase: float, axis: str, frame: int | None = None
) -> torch.Tensor:
    """Add ``amplitude * sin(2 pi (frequency * u + phase))``.

    ``u`` runs over the map's width (``axis="x"``), height (``"y"``) — in cycles across the map — or over
    animation frames (``"time"``, ``frequency`` in cycles per frame, ``u`` the frame index, 0 outside an
    animation). On 1-D activations ``x`` runs across the units.
    """
    if axis == "time":
        u = torch.tensor(float(frame or 0), dtype=x.dtype, device=x.device)
    else:
        size = x.shape[-1] if (axis == "x" or x.dim() == 2) else x.shape[-2]
        u = torch.arange(size, dtype=x.dtype, device=x.device) / size
        if axis == "y" and x.dim() == 4:
            u = u[:, None]
    return x + amplitude * torch.sin(2 * math.pi * (frequency * u + phase))


def _t(
    name: str,
    fn: Callable[..., torch.Tensor],
    pointwise: bool = False,
    animated: bool = False,
    sequence: bool = False,
    batched: bool = True,
    **params: Param,
) -> Transform:
    doc = (fn.__doc__ or "").strip().split("\n")[0]
    return Transform(
        name, fn, params, pointwise, animated, doc, sequence=sequence or pointwise, batched=batched
    )


# Parameter values that need a second axis, refused on 1-D maps (N, C, L).
_TWO_D_ONLY: dict[str, dict[str, Callable[[Any], bool]]] = {
    "translate": {"dy": lambda v: v != 0},
    "flip": {"axis": lambda v: v != "h"},
    "oscillate": {"axis": lambda v: v == "y"},
}


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in [
        _t(
            "translate",
            translate,
            sequence=True,
            dx=Param(0.25, -1.0, 1.0, help="fraction of the width"),
            dy=Param(0.0, -1.0, 1.0, help="fraction of the height"),
        ),
        _t("rotate", rotate, degrees=Param(90.0, -360.0, 360.0)),
        _t("scale", scale, sequence=True, factor=Param(1.5, 0.05, 10.0)),
        _t(
            "flip",
            flip,
            sequence=True,
            batched=False,
            axis=Param("h", kind="choice", choices=("h", "v", "hv")),
        ),
        _t(
            "erode",
            erode,
            sequence=True,
            batched=False,
            radius=Param(1, 0, 8, kind="int", help="disc radius in pixels"),
        ),
        _t(
            "dilate",
            dilate,
            sequence=True,
            batched=False,
            radius=Param(1, 0, 8, kind="int", help="disc radius in pixels"),
        ),
        _t("multiply", multiply, pointwise=True, factor=Param(2.0, -10.0, 10.0)),
        _t("add", add, pointwise=True, value=Param(1.0, -10.0, 10.0)),
        _t("threshold", threshold, pointwise=True, level=Param(0.5, -10.0, 10.0)),
        _t("invert", invert, pointwise=True, pivot=Param(1.0, -10.0, 10.0)),
        _t("ablate", ablate, pointwise=True, batched=False),
        _t("sobel", sobel, sequence=True, batched=False),
        _t(
            "noise", noise, pointwise=True, std=Param(0.5, 0.0, 10.0), seed=Param(0, 0, 2**31 - 1, kind="int")
        ),
        _t(
            "oscillate",
            oscillate,
            pointwise=True,
            animated=True,
            amplitude=Param(1.0, -10.0, 10.0),
            frequency=Param(1.0, 0.0, 16.0, help="cycles across the map, or per frame on the time axis"),
            phase=Param(0.0, -1.0, 1.0, help="in cycles"),
            axis=Param("x", kind="choice", choices=("x", "y", "time")),
        ),
    ]
}
