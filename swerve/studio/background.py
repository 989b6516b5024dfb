"""Background work of the studio: videos (latent walks, sweeps), novelty search, rewriting, fine-tuning and
training from a recipe, each a job.

A job runs in its own thread with :mod:`swerve.studio.jobs` (one per model, cancellable, progress streamed to
the page). Frames are drawn through :meth:`Studio.draw`, so a video's frames are the pictures the page would
show; a rewrite works on its own copy of the model and saves the result as a new bundle.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import math
from dataclasses import replace
from typing import Any

import torch
from pydantic import ValidationError

from swerve.bundle import Bundle, load
from swerve.data.picture import read_picture
from swerve.diverge.bend import TRANSFORMS
from swerve.diverge.finetune.config import FinetuneConfig
from swerve.diverge.finetune.run import FinetuneTrainer
from swerve.diverge.novelty import search_bundle
from swerve.diverge.rewrite import copy_paste_targets, memory_layer, rewrite_bundle
from swerve.errors import ConfigError
from swerve.look.grid import make_grid, save_image, upscale
from swerve.look.video import save_animation
from swerve.look.walk import walk_latents
from swerve.measure.features import DOMAIN_CLASSIFIERS, domain_classifier
from swerve.studio import explore
from swerve.studio.engine import Studio
from swerve.studio.jobs import Job, Progress
from swerve.studio.recipe import Recipe, drawing, to_picture
from swerve.studio.schema import (
    ExportIn,
    FinetuneIn,
    NoveltyIn,
    ProjectSketchIn,
    RewriteIn,
    StateIn,
    TrainIn,
)
from swerve.utils import json_text, make_generator, write_text_atomic
from swerve.zoo.build import recipe_trainer
from swerve.zoo.recipes import RECIPES

# What a sweep of each page control varies (PCA sliders and bend parameters are picked by index and name).
SWEPT = {"blend": "alpha", "glitch": "amount", "creative": "strength"}


def export(studio: Studio, request: ExportIn) -> Job:
    """Start a walk or sweep video in the background; one job per model at a time."""
    recipe = studio.recipe(request.state)
    bundle = studio.models.get(recipe.bundle)
    if request.kind == "walk":
        frames = [(z[None], recipe) for z in _walk_latents(bundle, recipe, request)]
    else:
        frames = _sweep_frames(studio, request)
    out = studio.out_dir / f"{studio.stem(request.kind)}.{request.format}"
    record = {"export": request.model_dump(by_alias=True), "recipe": recipe.to_dict()}

    def work(progress: Progress) -> dict[str, Any]:
        images = []
        for i, (z, frame_recipe) in enumerate(frames):
            progress(i, len(frames), f"frame {i + 1} of {len(frames)}")
            x = studio.draw(replace(frame_recipe, frame=i), z=z)  # time-dependent bends read the frame
            images.append(upscale(to_picture(x, bundle), 128))
        progress(len(frames), len(frames), "encoding")
        save_animation(images, out, fps=request.fps)
        write_text_atomic(out.with_name(out.name + ".json"), json_text(record, mark=True, indent=2) + "\n")
        return {"file": out.name}

    return studio.jobs.start(recipe.bundle, request.kind, work)


def rewrite(studio: Studio, request: RewriteIn) -> Job:
    """Rewrite a copy of the model in the background (Bau et al. 2020) so ``layer`` pastes the region of
    the source seed's picture into the page's picture; the result is saved as a new bundle."""
    recipe = studio.recipe(request.state)
    bundle = studio.models.get(recipe.bundle)
    _, h, w = bundle.data.shape
    memory_layer(bundle.generator, request.layer)  # a layer that cannot be rewritten is refused now
    r = request.region
    top, left = round(r.top * h), round(r.left * w)
    bottom, right = max(round(r.bottom * h), top + 1), max(round(r.right * w), left + 1)  # at least a pixel
    mask = torch.zeros(h, w, dtype=torch.bool)
    mask[top:bottom, left:right] = True
    with studio.lock(recipe.bundle):
        work_copy = copy.deepcopy(bundle)  # the job works on its own copy: live pictures go on
    y = torch.tensor([recipe.label]) if recipe.label is not None else None
    source = (explore.seed_latent(bundle, request.source),) + ((y,) if y is not None else ())
    target = (torch.tensor([recipe.z]),) + ((y,) if y is not None else ())
    stem = studio.stem("rewrite")
    out = studio.bundles_dir / stem

    def work(progress: Progress) -> dict[str, Any]:
        progress(0, 3, "reading the region's keys and values")
        generator = work_copy.generator.eval()
        k_star, v_star = copy_paste_targets(generator, request.layer, source, target, mask)
        count = "enough latents for the layer's width" if request.n is None else f"{request.n} latents"
        progress(1, 3, f"collecting key statistics over {count} and solving")
        rank = min(request.rank, k_star.shape[1])
        edited, result = rewrite_bundle(work_copy, request.layer, k_star, v_star, rank=rank, n=request.n)
        edited.history[-1]["params"].update(
            source_seed=request.source, target_seed=recipe.seed, region=r.model_dump(), label=recipe.label
        )
        edited.name = f"{bundle.name}-{stem}"
        progress(2, 3, "saving the rewritten model")
        edited.save(out)
        return {"bundle": str(out.resolve()), "name": edited.name, "residual": result.error()}

    return studio.jobs.start(recipe.bundle, "rewrite", work)


def finetune(studio: Studio, request: FinetuneIn) -> Job:
    """Fine-tune a copy of the model in the background with :mod:`swerve.diverge.finetune` (progress from
    the trainer's log, cancellable at each logged step); the result is saved as a new bundle."""
    recipe = studio.recipe(request.state)
    bundle = studio.models.get(recipe.bundle)
    stem = studio.stem("finetune")
    method: dict[str, Any] = {}
    if request.method == "guided":
        scorer = DOMAIN_CLASSIFIERS.get(bundle.data.dataset)
        if scorer is None or recipe.label is None:
            raise ConfigError(
                "a guided fine-tune needs a class-conditional model of a dataset swerve has a "
                f"classifier for ({', '.join(sorted(DOMAIN_CLASSIFIERS))})"
            )
        method = {"scorer": scorer, "target": [recipe.label], "away": request.away}
    elif request.method in ("cross-domain", "domain-shift"):
        if request.dataset is None:
            raise ConfigError(f"a {request.method} fine-tune needs a data set to move towards (dataset)")
        # domain shift: four rounds of feeding the model's own samples back, whatever the length
        shift_every = max(1, request.steps // 4)
        method = {"dataset": request.dataset, "classes": request.classes, "shift_every": shift_every}
    elif request.method == "nada":
        if not request.text.strip():
            raise ConfigError("a nada fine-tune needs the text of what the model should make (text)")
        if importlib.util.find_spec("open_clip") is None:
            raise ConfigError("CLIP guidance needs open_clip; install it with: pip install 'swerve[clip]'")
        method = {"source": request.source, "text": request.text}
    config = FinetuneConfig(
        method=request.method,
        name=f"{bundle.name}-{request.method}",
        steps=request.steps,
        lr=request.lr,
        seed=request.seed,
        trail_every=max(1, request.steps // 4),
        log_every=max(1, min(request.steps // 50, 10)),  # progress, and the chance to cancel
        device=str(bundle.device),
        measure_quality=False,
        **method,
    )
    with studio.lock(recipe.bundle):
        work_copy = copy.deepcopy(bundle)  # training changes the copy; live pictures go on from the original
    run_dir = studio.out_dir / "runs" / stem
    out = studio.bundles_dir / stem

    def work(progress: Progress) -> dict[str, Any]:
        progress(0, request.steps, "starting")
        trainer = FinetuneTrainer(work_copy, config, run_dir, progress=False)
        trainer.on_log = lambda record: progress(record["step"], request.steps, f"step {record['step']}")
        result = trainer.fit()
        tuned = load(result.bundle_path, device="cpu")
        tuned.name = f"{bundle.name}-{stem}"
        tuned.save(out)
        return {"bundle": str(out.resolve()), "name": tuned.name, "steps": result.step, "run": str(run_dir)}

    return studio.jobs.start(recipe.bundle, "finetune", work)


def novelty(studio: Studio, request: NoveltyIn) -> Job:
    """Search the page's (edited) generator for novel pictures in the background; the result is a grid of
    the ``keep`` most novel (PNG + JSON record) and a page state for each, for the page to open."""
    recipe = studio.recipe(request.state)
    base = studio.models.get(recipe.bundle)
    if base.data.dataset not in DOMAIN_CLASSIFIERS:
        known = ", ".join(sorted(DOMAIN_CLASSIFIERS))
        raise ConfigError(f"novelty is measured by a domain classifier, and swerve has one only for: {known}")
    if request.budget < request.population:
        raise ConfigError(f"the budget ({request.budget}) must cover one population ({request.population})")
    if request.quality == "discriminator" and "discriminator" not in base.networks:
        raise ConfigError(f"{base.name} has no discriminator to judge quality with")
    extractor = domain_classifier(base.data.dataset)
    with studio.lock(recipe.bundle):
        work_copy = copy.deepcopy(studio.bundle_for(recipe))  # the search runs on its own copy
    out = studio.out_dir / f"{studio.stem('novelty')}.png"
    page = request.state.model_dump(by_alias=True)
    if page["pca"] is not None and page["pca"]["apply"] == "latent":
        page["pca"]["amounts"] = []  # a found latent is the whole latent: no slider shift on top

    def work(progress: Progress) -> dict[str, Any]:
        def report(done: int, budget: int) -> None:
            progress(done, budget, f"{done} of {budget} pictures")

        quality = None if request.quality == "none" else request.quality
        with drawing(work_copy, recipe):
            archive = search_bundle(
                work_copy,
                extractor,
                quality=quality,
                quality_min=request.quality_min if quality else None,
                method=request.method,
                budget=request.budget,
                population=request.population,
                seed=request.seed,
                progress=report,
            )
        best = _spread(archive.novelty, archive.behaviour, request.keep)
        states = []
        for i in best.tolist():
            found = json.loads(json.dumps(page))
            found["latent"] = {"seed": request.state.latent.seed, "z": archive.z[i].tolist()}
            if archive.labels is not None:
                found["label"] = int(archive.labels[i])
            states.append(found)
        columns = math.ceil(math.sqrt(len(best)))
        grid = make_grid(archive.x[best], nrow=columns, padding=1, value_range=tuple(base.data.range))
        save_image(upscale(grid, 384), out)
        record = {
            "novelty_search": {**request.model_dump(exclude={"state"}), "evaluations": archive.evaluations},
            "recipe": recipe.to_dict(),
            "states": states,
            "novelty": archive.novelty[best].tolist(),
        }
        write_text_atomic(out.with_suffix(".json"), json_text(record, mark=True, indent=2) + "\n")
        return {"file": out.name, "columns": columns, "states": states, "novelty": record["novelty"]}

    return studio.jobs.start(recipe.bundle, "novelty", work)


def project_sketch(studio: Studio, request: ProjectSketchIn) -> Job:
    """Project the sketch pad's picture into a generator's latent space (z, or a VAE's encoder refined) in
    the background; the result is the remade picture beside the drawing and a page state to open."""
    from swerve.diverge.project import project, resolve_space
    from swerve.studio.sketch import decode_drawing

    key = studio.models.resolve(request.model)
    bundle = studio.models.get(key)
    if bundle.latent is None or not bundle.data.is_image:
        raise ConfigError(f"{bundle.name} has no latent space to project into (not an image generator)")
    value_range = tuple(bundle.data.range)
    png = io.BytesIO(decode_drawing(request.picture))
    target = read_picture(png, *bundle.data.shape, value_range, "the drawing")
    space = resolve_space(bundle, "auto")
    space = "z" if space in ("w", "w+") else space  # the explorer opens z latents
    with studio.lock(key):
        work_copy = copy.deepcopy(bundle)
    out = studio.out_dir / f"{studio.stem('project')}.png"

    def work(progress: Progress) -> dict[str, Any]:
        def report(step: int, steps: int) -> None:
            progress(step, steps, f"step {step} of {steps}")

        found = project(
            work_copy, target, request.steps, request.restarts, space, seed=request.seed, report=report
        )
        pair = torch.cat([found.target, found.x])
        save_image(upscale(make_grid(pair, nrow=2, padding=1, value_range=value_range), 256), out)
        state = {"model": key, "latent": {"seed": request.seed, "z": found.z[0].tolist()}}
        if found.label is not None:
            state["label"] = found.label
        record = {"projection": found.summary(), "state": state, "steps": request.steps}
        write_text_atomic(out.with_suffix(".json"), json_text(record, mark=True, indent=2) + "\n")
        return {"file": out.name, "state": state, **found.summary()}

    return studio.jobs.start(key, "project", work)


def _spread(novelty: torch.Tensor, behaviour: torch.Tensor, keep: int) -> torch.Tensor:
    """``keep`` of the most novel archive entries, unlike one another: from the 3 * ``keep`` most novel,
    the most novel first, then each time the one farthest from those already picked. (Two near twins can
    enter the archive in one generation, each novel against everything else.)"""
    pool = novelty.argsort(descending=True)[: 3 * keep]
    picked = [0]
    gap = torch.cdist(behaviour[pool], behaviour[pool[:1]])[:, 0]
    gap[0] = -1.0
    while len(picked) < min(keep, len(pool)):
        far = int(gap.argmax())
        picked.append(far)
        gap = torch.minimum(gap, torch.cdist(behaviour[pool], behaviour[pool[far : far + 1]])[:, 0])
        gap[far] = -1.0  # never picked twice, even among exact twins
    return pool[picked]


def train(studio: Studio, request: TrainIn) -> Job:
    """Train a new model from a zoo recipe in the background (progress from the trainer's log, cancellable
    at each logged step); the result is saved as a new bundle the page can open."""
    recipe = RECIPES[request.recipe]
    stem = studio.stem("train")
    changes: dict[str, Any] = {
        "name": f"{request.recipe}-{stem}",
        "steps": request.steps,
        "seed": request.seed,
        "log_every": max(1, min(request.steps // 50, 10)),  # progress, and the chance to cancel
        "sample_every": 0,
        "checkpoint_every": max(1, request.steps // 4),
    }
    if request.classes is not None:
        if recipe.kind == "nodata":
            raise ConfigError(f"{request.recipe} trains without data, so there are no classes to choose")
        changes["classes"] = sorted(set(request.classes))
    config = replace(recipe, **changes)
    run_dir = studio.out_dir / "runs" / stem
    out = studio.bundles_dir / stem

    def work(progress: Progress) -> dict[str, Any]:
        progress(0, request.steps, "loading the data")

        def logged(record: dict[str, Any]) -> None:
            progress(record["step"], request.steps, f"step {record['step']}")

        trainer = recipe_trainer(config, run_dir, progress=False, on_log=logged)
        result = trainer.fit()
        bundle = trainer.export()
        bundle.save(out)
        return {"bundle": str(out.resolve()), "name": bundle.name, "steps": result.step, "run": str(run_dir)}

    return studio.jobs.start(f"train:{request.recipe}", "train", work)


def _walk_latents(bundle: Bundle, recipe: Recipe, request: ExportIn) -> torch.Tensor:
    """A looping slerp walk from the page's latent through ``points - 1`` random ones, ``frames`` long."""
    gen = make_generator(request.state.latent.seed + 1)
    stops = torch.cat([torch.tensor([recipe.z]), bundle.latent.sample(request.points - 1, gen)])
    per_leg = max(1, request.frames // request.points)
    latents = walk_latents(stops.unsqueeze(1), per_leg)[:, 0]
    return torch.cat([latents, latents[: max(0, request.frames - len(latents))]])[: request.frames]


def _sweep_frames(studio: Studio, request: ExportIn) -> list[tuple[None, Recipe]]:
    """One recipe per frame with the swept control moved from ``low`` to ``high``, all checked now."""
    sweep = request.sweep
    if sweep is None:
        raise ConfigError("a sweep export needs 'sweep': what to vary, from low to high")
    page = request.state.model_dump(by_alias=True)
    frames = []
    for value in torch.linspace(sweep.low, sweep.high, request.frames).tolist():
        state = json.loads(json.dumps(page))  # a deep copy of plain JSON
        if sweep.target == "pca":
            if state["pca"] is None:
                raise ConfigError("a principal-direction sweep needs the PCA sliders on (pick a layer)")
            amounts = state["pca"]["amounts"] + [0.0] * (sweep.index + 1 - len(state["pca"]["amounts"]))
            amounts[sweep.index] = value
            state["pca"]["amounts"] = amounts
        elif sweep.target == "bend":
            if sweep.bend >= len(state["bends"]):
                raise ConfigError(f"bend {sweep.bend} does not exist (there are {len(state['bends'])})")
            bend = state["bends"][sweep.bend]
            spec = TRANSFORMS.get(bend.get("transform"))
            kind = spec.params[sweep.param].kind if spec and sweep.param in spec.params else "float"
            bend.setdefault("params", {})[sweep.param] = round(value) if kind == "int" else value
        else:
            key = SWEPT[sweep.target]
            if state[sweep.target] is None:
                raise ConfigError(f"a {sweep.target} sweep needs a {sweep.target} on the page first")
            state[sweep.target][key] = value
        try:
            checked = StateIn.model_validate(state)
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            raise ConfigError(f"sweep value {value:g}: {where}: {problem['msg']}") from None
        frames.append((None, studio.recipe(checked)))
    return frames
