"""The studio's work, without the web: turn what the page shows into a recipe, a picture or a file.

Every picture goes through :func:`swerve.studio.recipe.draw` on the recipe made by :meth:`Studio.recipe`, so
what the page shows is exactly what a kept recipe reproduces through the Python API. Videos and rewriting
run in the background: :mod:`swerve.studio.background`.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from swerve import taps
from swerve.bundle import Bundle
from swerve.diverge.bend import TRANSFORMS, bundle_clusters, parse_bends
from swerve.diverge.blend import layer_order
from swerve.diverge.layers import layer_table
from swerve.errors import ConfigError
from swerve.look.grid import make_grid, upscale
from swerve.measure import domain_classifier
from swerve.refine import bundle_critic, class_critic, run_method
from swerve.studio import explore
from swerve.studio.finite import finite_values
from swerve.studio.gauge import Gauge
from swerve.studio.jobs import Jobs
from swerve.studio.models import Models
from swerve.studio.recipe import (
    Recipe,
    draw,
    drawing,
    edits,
    offset_entry,
    recipe_generator,
    sample_recipe,
    to_picture,
    write_recipe,
)
from swerve.studio.schema import LatentIn, RefineIn, StateIn
from swerve.studio.text import is_text, strings, typed

# only the files the studio writes can be fetched
KEEP_NAME = re.compile(r"^(keep|walk|sweep|novelty|project)-\d{4,}\.(png|json|gif|mp4)$")


class Studio:
    """Models, caches and background jobs of one studio server; ``out_dir`` receives what the user keeps."""

    def __init__(self, models: Models, out_dir: str | Path, start_model: str | None = None) -> None:
        self.models = models
        self.out_dir = Path(out_dir)
        self.start_model = start_model
        self.jobs = Jobs()
        self.gauge = Gauge()
        self._directions: OrderedDict[tuple, explore.Directions] = OrderedDict()
        self._blends: OrderedDict[str, Bundle] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._counts: dict[str, int] = {}  # files written so far, per kind (keep, walk, sweep)
        # Rewritten models are saved here, and the model list shows them like any allowed bundle.
        self.bundles_dir = self.out_dir / "bundles"
        models.roots.append(self.bundles_dir.resolve())

    # --- models ----------------------------------------------------------------------------------------
    def lock(self, model_id: str) -> threading.Lock:
        """One lock per model: taps hooks live on the shared module, so one forward pass at a time."""
        with self._guard:
            return self._locks.setdefault(model_id, threading.Lock())

    def info(self, model_id: str) -> dict[str, Any]:
        """What the page needs to build its controls for a model: layers, classes, transforms, partners."""
        key = self.models.resolve(model_id)
        bundle = self.models.get(key)
        drawable(bundle)
        text = is_text(bundle)
        layers = self.layers(key, bundle)
        listing = self.models.listing()
        own = next((m["generator"] for m in listing if m["id"] == key), None)
        partners = [
            {"id": m["id"], "name": m["name"]}
            for m in listing
            if m["id"] != key and m["usable"] and m["generator"] == own
        ]
        return {
            "id": key,
            "name": bundle.name,
            "shape": bundle.data.shape,
            "latent_dim": bundle.latent.dim,
            "classes": bundle.data.classes[: bundle.num_classes] if bundle.num_classes else [],
            "layers": layers,
            "transforms": transforms_table(),
            "blend_partners": partners,
            "blend_layers": layer_order(bundle.generator),
            "has_clusters": sorted(bundle_clusters(bundle)),
            "text": text,
        }

    def layers(self, model_id: str, bundle: Bundle) -> list[dict[str, Any]]:
        """Layers whose output is a feature map or a vector: name, shape (one sample), channels, shortcut."""
        with self.lock(model_id):
            table = layer_table(bundle.generator, bundle.latent.dim)
        maps = (1, 2) if is_text(bundle) else (1, 3)  # a text generator's maps are 1-D: (C, L)
        return [row for row in table if len(row["shape"]) in maps]

    # --- recipes and pictures --------------------------------------------------------------------------
    def directions(self, model_id: str, layer: str, k: int = 8) -> explore.Directions:
        """GANSpace directions of ``layer`` (computed once per model, layer and k)."""
        key = (self.models.resolve(model_id), layer, k)
        with self._guard:
            if key in self._directions:
                return self._directions[key]
        bundle = self.models.get(key[0])
        with self.lock(key[0]):
            found = explore.principal_directions(bundle, layer, k=k)
        with self._guard:
            self._directions[key] = found
            while len(self._directions) > 16:
                self._directions.popitem(last=False)
        return found

    def recipe(self, state: StateIn) -> Recipe:
        """The recipe for what the page shows (every reference checked, every edit resolved to numbers)."""
        model_id = self.models.resolve(state.model)
        bundle = self.models.get(model_id)
        drawable(bundle)
        latent = state.latent
        if latent.z is not None:
            if len(latent.z) != bundle.latent.dim:
                raise ConfigError(
                    f"latent.z has {len(latent.z)} numbers; {bundle.name} reads {bundle.latent.dim}"
                )
            z = torch.tensor(latent.z, dtype=torch.float32).unsqueeze(0)
        elif latent.toward is not None:
            z = explore.between(bundle, latent.seed, latent.toward, latent.t)
        else:
            z = explore.seed_latent(bundle, latent.seed)
        if state.label is not None and state.label >= max(bundle.num_classes, 1):
            raise ConfigError(
                f"label {state.label} is out of range: {bundle.name} has {bundle.num_classes} classes"
            )
        offsets, layer_shifts = [], []
        if state.pca is not None and any(state.pca.amounts):
            found = self.directions(model_id, state.pca.layer, state.pca.k)
            if state.pca.apply == "latent":
                z = z + explore.latent_offset(found, state.pca.amounts)
            else:
                layer_shifts.append(explore.layer_offset(found, state.pca.amounts))
                offsets.append(offset_entry(found.layer, layer_shifts[-1]))
        if not torch.isfinite(z).all() or not all(torch.isfinite(o).all() for o in layer_shifts):
            raise ConfigError("the sliders give a latent or layer offset that is not finite; move them back")
        bends = self.check_bends(bundle, state.bends)
        blend = None
        if state.blend is not None:
            other = self.models.resolve(state.blend.with_)
            schedule = state.blend.schedule.model_dump() if state.blend.schedule else None
            blend = {"with": other, "alpha": state.blend.alpha, "schedule": schedule}
        return Recipe(
            bundle=model_id,
            z=z[0].tolist(),
            label=state.label if bundle.num_classes else None,
            seed=latent.seed if latent.z is None else None,
            offsets=offsets,
            bends=bends,
            blend=blend,
            glitch=state.glitch.model_dump() if state.glitch else None,
            creative=self.check_creative(bundle, state),
            studio=state.model_dump(by_alias=True),
        )

    def check_bends(self, bundle: Bundle, bends: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Bends parsed by the bending API (unknown transforms, parameters, ranges refused), each layer
        looked up in the generator, so a bad bend is refused before anything is drawn."""
        parsed = parse_bends(bends)
        generator = bundle.generator
        for bend in parsed:
            taps.find_layer(generator, taps.resolve_layer(generator, bend.layer))
        return [bend.to_dict() for bend in parsed]

    def check_creative(self, bundle: Bundle, state: StateIn) -> dict[str, Any] | None:
        """The creative decoder's parameters with its layer looked up (``conv:0`` becomes ``blocks.0``)."""
        if state.creative is None:
            return None
        generator = bundle.generator
        layer = taps.resolve_layer(generator, state.creative.layer)
        taps.find_layer(generator, layer)
        return {**state.creative.model_dump(), "layer": layer}

    def bundle_for(self, recipe: Recipe) -> Bundle:
        """The bundle a recipe draws with; blends are cached (moving a bend slider must not re-blend)."""
        if not recipe.blend:
            return self.models.get(recipe.bundle)
        key = json.dumps([recipe.bundle, recipe.blend], sort_keys=True)
        with self._guard:
            if key in self._blends:
                return self._blends[key]
        blended = recipe_generator(recipe, loader=self.models.get)
        with self._guard:
            self._blends[key] = blended
            while len(self._blends) > 2:
                self._blends.popitem(last=False)
        return blended

    def draw(self, recipe: Recipe, z: torch.Tensor | None = None, labels: Any = None) -> torch.Tensor:
        bundle = self.bundle_for(recipe)
        with self.lock(recipe.bundle):
            return draw(bundle, recipe, z=z, labels=labels)

    def picture(self, state: StateIn) -> tuple[Image.Image, Recipe]:
        recipe = self.recipe(state)
        bundle = self.models.get(recipe.bundle)
        x = self.draw(recipe)
        return (typed(strings(bundle, x)) if is_text(bundle) else to_picture(x, bundle)), recipe

    def measure(self, state: StateIn, layer: str = "conv:0") -> dict[str, Any]:
        """Novelty, quality, the critic's view and the subset-scan score at ``layer`` of the picture the page
        shows (see :mod:`.gauge`)."""
        recipe = self.recipe(state)
        bundle, base = self.bundle_for(recipe), self.models.get(recipe.bundle)
        layer = taps.resolve_layer(base.generator, layer)
        taps.find_layer(base.generator, layer)
        with self.lock(recipe.bundle):
            background = self.gauge.background(recipe.bundle, base, layer)
            with taps.record(base.generator, [layer], device="cpu") as plain:
                sample_recipe(base, recipe)  # the same latent with no edit, for comparison
            with drawing(bundle, recipe), taps.record(bundle.generator, [layer], device="cpu") as acts:
                x = sample_recipe(bundle, recipe)
        result = self.gauge.measure(bundle, x, recipe.label)
        scanned = self.gauge.scan(acts[layer].reshape(1, -1).float(), background)
        unedited = self.gauge.scan(plain[layer].reshape(1, -1).float(), background)["scan"]
        result["values"].update({"scan": scanned.pop("scan"), "scan_unedited": unedited, **scanned})
        finite_values(result["values"], result["notes"])
        result["scan"] = {"layer": layer, "background_n": len(background), "statistic": "berk-jones"}
        return result

    def refine(self, request: RefineIn) -> dict[str, Any]:
        """Refine the page's latent with DGflow (or the DDLS or DOT baseline) through the edited generator.
        Answers the page state that shows the refined picture, its latent made explicit: the recipe remakes it
        without refining."""
        state = request.state
        recipe = self.recipe(state)
        bundle = self.bundle_for(recipe)
        if request.method == "dgflow":
            settings = request.model_dump(include={"divergence", "eta", "gamma", "reverse"})
        elif request.reverse:
            raise ConfigError(f"reverse is a DGflow setting; {request.method} only moves toward the critic")
        else:
            settings = {}  # the baselines at their papers' settings, but for the number of steps
        if request.critic == "discriminator":
            # given the method, a discriminator that is no density ratio is refused where one is needed
            critic, critic_name = bundle_critic(bundle, method=request.method, settings=settings)
        else:
            target = recipe.label if request.target is None else request.target
            if target is None:
                raise ConfigError("a class critic needs a target class (or a class-conditional model)")
            critic = class_critic(domain_classifier(bundle.data.dataset), target)
            critic_name = f"class {target}"
        z = torch.tensor([recipe.z])
        labels = None if recipe.label is None else torch.tensor([recipe.label])
        if request.steps is not None:
            settings["steps"] = request.steps
        clusters = bundle_clusters(bundle)
        with self.lock(recipe.bundle), edits(bundle.generator, recipe, clusters, recipe.frame):
            refined = run_method(request.method, bundle, critic, z, labels, seed=request.seed, **settings)
        page = state.model_dump(by_alias=True)
        page["latent"] = {"seed": state.latent.seed, "z": refined.z[0].tolist()}
        if state.pca is not None and state.pca.apply == "latent":
            page["pca"]["amounts"] = []  # the sliders' latent shift is inside the refined latent now
        return {"state": page, "refined": {**refined.summary(), "critic": critic_name}}

    def grid(self, state: StateIn, n: int) -> Image.Image:
        """``n`` pictures with seeds ``seed, seed + 1, ...`` and everything else as on the page."""
        recipe = self.recipe(state.model_copy(update={"latent": LatentIn(seed=state.latent.seed)}))
        bundle = self.models.get(recipe.bundle)
        seed = state.latent.seed
        z = torch.cat([explore.seed_latent(bundle, seed + i) for i in range(n)])
        shift = z[0] - torch.tensor(recipe.z)  # sliders moved the latent: move every tile alike
        x = self.draw(recipe, z=z - shift)
        if is_text(bundle):
            return typed([f"{seed + i}  {s}" for i, s in enumerate(strings(bundle, x))])
        return make_grid(x, nrow=int(n**0.5 + 0.999), padding=1, value_range=tuple(bundle.data.range))

    def strings(self, state: StateIn, n: int) -> dict[str, Any]:
        """A text model's strings for the page's list: the page's own first, then ``n - 1`` more from the
        seeds after it, every slider and edit applied to each alike (the latent moved by the same amount)."""
        recipe = self.recipe(state)
        bundle = self.models.get(recipe.bundle)
        if not is_text(bundle):
            raise ConfigError(f"{bundle.name} makes pictures, not strings")
        z = torch.tensor(recipe.z).unsqueeze(0)
        seed = state.latent.seed
        if n > 1:
            others = torch.cat([explore.seed_latent(bundle, seed + i) for i in range(1, n)])
            z = torch.cat([z, others + (z - explore.seed_latent(bundle, seed))])
        return {"model": bundle.name, "strings": strings(bundle, self.draw(recipe, z=z))}

    def keep(self, state: StateIn) -> dict[str, Any]:
        """Write the picture (with its recipe inside) and the recipe JSON to the output directory."""
        picture, recipe = self.picture(state)
        png, js = write_recipe(recipe, upscale(picture, 256), self.out_dir / f"{self.stem('keep')}.png")
        return {"png": png.name, "json": js.name, "recipe": recipe.to_dict()}

    def kept_file(self, name: str) -> Path:
        """A file the studio wrote, by bare name only (no paths, so nothing else is reachable)."""
        if not KEEP_NAME.match(name):
            raise ConfigError(f"{name!r} is not a file name the studio writes")
        path = self.out_dir / name
        if not path.is_file():
            raise FileNotFoundError(name)
        return path

    def stem(self, prefix: str) -> str:
        """The next free ``prefix-NNNN`` name in the output directory (numbered per kind of file), free as a
        file there and as a made model or run folder, so an earlier session's work is never replaced."""
        with self._guard:
            number = self._counts.get(prefix, 0) + 1
            while self._taken(f"{prefix}-{number:04d}"):
                number += 1
            self._counts[prefix] = number
        return f"{prefix}-{number:04d}"

    def _taken(self, name: str) -> bool:
        folders = (self.bundles_dir / name, self.out_dir / "runs" / name)
        return any(self.out_dir.glob(f"{name}.*")) or any(f.exists() or f.is_symlink() for f in folders)


def drawable(bundle: Bundle) -> None:
    """A ConfigError unless ``bundle`` is a generator of pictures or strings, which the studio draws."""
    if bundle.latent is None or not (bundle.data.is_image or is_text(bundle)):
        raise ConfigError(
            f"{bundle.name} is not an image generator (nor a text one); the studio draws those two kinds"
        )


def transforms_table() -> list[dict[str, Any]]:
    """The bending API's transforms with their parameters, for the page to build controls from."""
    table = []
    for name, transform in TRANSFORMS.items():
        params = {
            key: {
                "default": p.default,
                "low": p.low,
                "high": p.high,
                "kind": p.kind,
                "choices": list(p.choices),
                "help": p.help,
            }
            for key, p in transform.params.items()
        }
        table.append(
            {"name": name, "params": params, "pointwise": transform.pointwise, "help": transform.help}
        )
    return table


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
