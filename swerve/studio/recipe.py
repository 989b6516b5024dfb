"""Recipes: everything that makes one studio image, so it can be made again bit for bit.

A recipe names the bundle (a zoo name or a bundle directory), the latent vector, the class, the feature-space
offsets that principal-direction sliders added at intermediate layers, the network bends, and the blend with
a second model. It is stored as JSON beside the PNG and inside it (a ``swerve-recipe`` text chunk), so a kept
picture carries its own recipe::

    from swerve.studio.recipe import read_recipe, render_recipe
    recipe = read_recipe("keep/0001.png")        # or the .json beside it
    x = render_recipe(recipe)                    # 1 x C x H x W, the pixels the studio showed

This module needs neither FastAPI nor a browser: it is the Python API the studio is a thin layer over.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image, PngImagePlugin

from swerve import taps
from swerve.bundle import Bundle, load
from swerve.diverge.bend import apply_bends, bundle_clusters
from swerve.diverge.blend import blend_bundles
from swerve.diverge.creative import Creative, creative_decoder
from swerve.diverge.glitch import glitched
from swerve.errors import ConfigError
from swerve.look.grid import to_uint8
from swerve.translate import drawing_hash, drawing_input, translate
from swerve.utils import atomic_path, json_text, write_text_atomic

FORMAT = "swerve-recipe"
FORMAT_VERSION = 1
PNG_KEY = "swerve-recipe"
MAX_PIXELS = 4096 * 4096  # a kept picture is a few hundred pixels wide


@dataclass
class Recipe:
    """One image: ``bundle``, latent ``z`` (+ ``label``), layer ``offsets``, ``bends``, ``blend``, ``glitch``.

    ``offsets`` are ``{"layer", "shape", "float32"}`` dicts: a tensor (base64 of little-endian float32) added
    to that layer's output. ``blend`` is ``{"with": bundle, "alpha": a, "schedule": {...} | None}``.
    ``frame`` is the animation frame that time-dependent bends read (a frame of an exported video).
    ``seed`` says where ``z`` came from and ``studio`` holds the page's control positions; neither changes
    the pixels. ``sketch`` makes the picture a translation of a drawing instead of a sample (``z`` is then
    empty): ``{"png": base64 PNG bytes, "sha256": their hash, "as_target": bool}`` (see
    :func:`swerve.translate.drawing_input`); the hash is checked before drawing.
    """

    bundle: str
    z: list[float]
    label: int | None = None
    seed: int | None = None
    offsets: list[dict[str, Any]] = field(default_factory=list)
    bends: list[dict[str, Any]] = field(default_factory=list)
    blend: dict[str, Any] | None = None
    glitch: dict[str, Any] | None = None
    creative: dict[str, Any] | None = None
    frame: int | None = None
    studio: dict[str, Any] = field(default_factory=dict)
    sketch: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Any) -> Recipe:
        """Check and build a recipe from parsed JSON; a :class:`ConfigError` names what is wrong."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"not a swerve recipe (no 'format': '{FORMAT}')")
        version = data.get("format_version", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ConfigError(f"recipe format {version!r} is not one this swerve reads (<= {FORMAT_VERSION})")
        fields = {k: v for k, v in data.items() if k not in ("format", "format_version")}
        unknown = sorted(set(fields) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"unknown recipe field(s): {', '.join(unknown)}")
        try:
            recipe = cls(**fields)
        except TypeError as exc:
            raise ConfigError(f"recipe is missing a field: {exc}") from None
        if not isinstance(recipe.bundle, str) or not recipe.bundle:
            raise ConfigError("recipe 'bundle' must name a bundle")
        if not isinstance(recipe.z, list) or not all(_number(v) for v in recipe.z):
            raise ConfigError("recipe 'z' must be a list of numbers")
        if recipe.label is not None and (not isinstance(recipe.label, int) or isinstance(recipe.label, bool)):
            raise ConfigError(f"recipe 'label' must be an integer, got {recipe.label!r}")
        for key in ("offsets", "bends"):
            value = getattr(recipe, key)
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise ConfigError(f"recipe '{key}' must be a list of objects")
        for key in ("blend", "glitch", "creative", "sketch"):
            if getattr(recipe, key) is not None and not isinstance(getattr(recipe, key), dict):
                raise ConfigError(f"recipe '{key}' must be an object or null")
        if recipe.frame is not None and (not isinstance(recipe.frame, int) or isinstance(recipe.frame, bool)):
            raise ConfigError(f"recipe 'frame' must be an integer or null, got {recipe.frame!r}")
        return recipe


def _number(value: Any) -> bool:
    """A finite float, or an int a float holds (a boolean is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) if isinstance(value, float) else abs(value) <= 2**53


# --- tensors in JSON ---------------------------------------------------------------------------------------
def encode_tensor(t: torch.Tensor) -> str:
    """A float32 tensor as base64 text (exact, unlike decimal printing of long vectors)."""
    return base64.b64encode(t.detach().float().cpu().contiguous().numpy().astype("<f4").tobytes()).decode()


def decode_tensor(text: str, shape: list[int]) -> torch.Tensor:
    """The inverse of :func:`encode_tensor`; a :class:`ConfigError` if the size does not fit ``shape``."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise ConfigError("an offset's float32 data is not valid base64") from None
    numel = 1
    for s in shape:
        numel *= int(s)
    if len(raw) != 4 * numel:
        raise ConfigError(f"an offset holds {len(raw) // 4} numbers but its shape {shape} needs {numel}")
    return torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(shape)


def offset_entry(layer: str, offset: torch.Tensor) -> dict[str, Any]:
    """A recipe ``offsets`` entry adding ``offset`` (one sample's shape) to ``layer``'s output."""
    return {"layer": layer, "shape": list(offset.shape), "float32": encode_tensor(offset)}


# --- rendering ---------------------------------------------------------------------------------------------
def recipe_generator(recipe: Recipe, loader: Callable[[str], Bundle] = load) -> Bundle:
    """The bundle a recipe draws with: its ``bundle``, blended with ``blend["with"]`` when it has a blend."""
    bundle = loader(recipe.bundle)
    if not recipe.blend:
        return bundle
    other = loader(str(recipe.blend.get("with", "")))
    return blend_bundles(
        bundle, other, alpha=float(recipe.blend.get("alpha", 0.5)), schedule=recipe.blend.get("schedule")
    )


@contextmanager
def edits(
    generator: torch.nn.Module,
    recipe: Recipe,
    clusters: dict | None = None,
    frame: int | None = None,
    samples: list[list[dict[str, Any]]] | None = None,
) -> Iterator[None]:
    """Apply the recipe's glitch (weights), layer offsets, creative decoder, then bends (at animation
    ``frame``; ``samples``: each sample's own bends, differing from the recipe's in parameters only), for
    the ``with`` block; the generator is back exactly as it was afterwards."""
    with ExitStack() as stack:
        if recipe.glitch:
            g = recipe.glitch
            kind, amount, seed = g.get("kind", ""), g.get("amount", 0), g.get("seed", 0)
            stack.enter_context(glitched(generator, kind, amount, g.get("layers") or None, seed))
        for entry in recipe.offsets:
            shift = decode_tensor(entry["float32"], entry["shape"]).to(_device(generator))
            stack.enter_context(taps.rewrite(generator, entry["layer"], _adder(shift)))
        if recipe.creative:
            try:
                config = Creative(**recipe.creative)
            except TypeError as exc:
                raise ConfigError(f"recipe 'creative' does not fit the creative decoder: {exc}") from None
            stack.enter_context(creative_decoder(generator, config))
        if recipe.bends:
            stack.enter_context(
                apply_bends(generator, recipe.bends, clusters=clusters, frame=frame, samples=samples)
            )
        yield


def _adder(shift: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    def add(out: torch.Tensor) -> torch.Tensor:
        if out.shape[1:] != shift.shape:
            raise ConfigError(f"an offset of shape {list(shift.shape)} does not fit output {list(out.shape)}")
        return out + shift

    return add


def _device(module: torch.nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


@contextmanager
def drawing(
    bundle: Bundle, recipe: Recipe, samples: list[list[dict[str, Any]]] | None = None
) -> Iterator[None]:
    """The recipe's edits on ``bundle``'s generator (its channel clusters looked up), for a ``with`` block in
    which :func:`sample_recipe` draws, and taps may record what the edited layers output; ``samples``: each
    sample's own bends (parameters of the recipe's bends)."""
    clusters = bundle_clusters(bundle) if recipe.bends else None
    with edits(bundle.generator, recipe, clusters, recipe.frame, samples):
        yield


@torch.no_grad()
def sample_recipe(
    bundle: Bundle, recipe: Recipe, z: torch.Tensor | None = None, labels: Any = None
) -> torch.Tensor:
    """Run ``bundle``'s generator on ``z`` (default: the recipe's latent) and the recipe's class, as it is."""
    if bundle.latent is None:
        raise ConfigError(f"bundle {bundle.name} has no latent space")
    if z is None:
        z = torch.tensor(recipe.z, dtype=torch.float32).unsqueeze(0)
    if z.shape[-1] != bundle.latent.dim:
        raise ConfigError(f"the latent has {z.shape[-1]} numbers but {bundle.name} reads {bundle.latent.dim}")
    if labels is None and bundle.num_classes:
        labels = 0 if recipe.label is None else recipe.label
    return bundle.sample(len(z), z=z, labels=labels, seed=recipe.seed or 0).x


def draw(
    bundle: Bundle,
    recipe: Recipe,
    z: torch.Tensor | None = None,
    labels: Any = None,
    samples: list[list[dict[str, Any]]] | None = None,
) -> torch.Tensor:
    """The recipe's picture(s) from ``bundle`` (already the recipe's blended bundle, see
    :func:`recipe_generator`), with every edit applied; ``z`` draws other latents the same way, ``samples``
    with each latent's own bend parameters (one list of bends per latent). A sketch recipe's picture is its
    drawing translated (``z``, ``labels`` and ``samples`` do not apply)."""
    source = sketch_source(bundle, recipe) if recipe.sketch is not None else None
    with drawing(bundle, recipe, samples if source is None else None):
        if source is not None:
            return translate(bundle, source)
        return sample_recipe(bundle, recipe, z, labels)


def sketch_entry(png: bytes, as_target: bool = False) -> dict[str, Any]:
    """A recipe's ``sketch``: the drawing's PNG bytes (base64), their SHA-256, how it is read."""
    return {"png": base64.b64encode(png).decode(), "sha256": drawing_hash(png), "as_target": as_target}


def sketch_png(recipe: Recipe) -> bytes:
    """The drawing a sketch recipe carries, checked against its hash."""
    entry = recipe.sketch or {}
    try:
        png = base64.b64decode(str(entry.get("png", "")), validate=True)
    except (ValueError, TypeError):
        raise ConfigError("the recipe's sketch is not valid base64") from None
    if not png or drawing_hash(png) != entry.get("sha256"):
        raise ConfigError("the recipe's sketch does not match its sha256 (the drawing was changed)")
    return png


def sketch_source(bundle: Bundle, recipe: Recipe) -> torch.Tensor:
    """The input picture a sketch recipe's drawing makes for ``bundle``."""
    as_target = (recipe.sketch or {}).get("as_target", False)
    if not isinstance(as_target, bool):
        raise ConfigError(f"the recipe's sketch 'as_target' must be true or false, got {as_target!r}")
    return drawing_input(bundle, sketch_png(recipe), as_target)


def render_recipe(recipe: Recipe, loader: Callable[[str], Bundle] = load) -> torch.Tensor:
    """The image of ``recipe`` (1 x C x H x W in the bundle's value range), made from scratch."""
    bundle = recipe_generator(recipe, loader)
    return draw(bundle, recipe)


def to_picture(x: torch.Tensor, bundle: Bundle) -> Image.Image:
    """One image (1 x C x H x W or C x H x W) as a PIL picture at its own size."""
    pixels = to_uint8(x[:1] if x.ndim == 4 else x, tuple(bundle.data.range))[0]
    return Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)


# --- files -------------------------------------------------------------------------------------------------
def write_recipe(recipe: Recipe, picture: Image.Image, png_path: str | os.PathLike) -> tuple[Path, Path]:
    """Write the picture (recipe inside) at ``png_path`` and the recipe as JSON beside it, atomically."""
    png_path = Path(png_path)
    text = json_text(recipe.to_dict(), indent=2) + "\n"
    info = PngImagePlugin.PngInfo()
    info.add_itxt(PNG_KEY, text, zip=True)
    with atomic_path(png_path) as tmp:
        picture.save(tmp, format="PNG", pnginfo=info)
    json_path = png_path.with_suffix(".json")
    write_text_atomic(json_path, text)
    return png_path, json_path


def parse_recipe_bytes(raw: bytes) -> Recipe:
    """A recipe from the bytes of a recipe JSON file or a studio PNG; a :class:`ConfigError` otherwise."""
    if raw.startswith(b"\x89PNG"):
        import io

        try:
            with Image.open(io.BytesIO(raw)) as img:
                if img.width * img.height > MAX_PIXELS:  # decoding it to reach the recipe: gigabytes
                    size = f"{img.width} x {img.height}"
                    raise ConfigError(f"this PNG is {size}: larger than any picture the studio keeps")
                img.load()
                text = img.text.get(PNG_KEY) if hasattr(img, "text") else None
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ConfigError(f"not a readable PNG: {exc}") from None
        if text is None:
            raise ConfigError("this PNG carries no swerve recipe (it was not kept by the studio)")
        raw = text.encode()
    try:
        data = json.loads(raw, parse_constant=_not_a_number, parse_float=_finite_float)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise ConfigError("not a recipe: its JSON is nested too deeply") from None
    return Recipe.from_dict(data)


def _not_a_number(name: str) -> float:
    raise ConfigError(f"the recipe holds {name}: every number in a recipe must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ConfigError(f"the recipe holds {text}, too large for a number: every number must be finite")
    return value


def read_recipe(path: str | os.PathLike) -> Recipe:
    """Read a recipe from its JSON file or from the PNG that carries it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no recipe at {path}") from None
    return parse_recipe_bytes(raw)
