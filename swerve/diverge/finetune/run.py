"""Run a fine-tuning method on a bundle: the trainer's loop, a fine-tuning task, and the trail beside it.

:class:`FinetuneTrainer` is a :class:`swerve.train.Trainer` whose task starts from a bundle instead of new
networks and whose previews are trail entries; everything else (data order, progress bar, ``stats.jsonl``,
atomic checkpoints, exact resume, Ctrl-C) is the trainer's own. A run directory holds::

    config.json    the FinetuneConfig
    stats.jsonl    averaged losses
    trail/         the checkpoint trail (see trail.py); collapse.json when the collapse detector fired
    shift/         domain-shift rounds (the samples that replaced data)
    checkpoint/    for --resume
    bundle/        the result (for a collapsed run: the last entry before the collapse)
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from swerve.bundle import Bundle, load
from swerve.data import Dataset, load_dataset, load_like
from swerve.diverge.finetune import guidance, nada, shift
from swerve.diverge.finetune.config import FinetuneConfig
from swerve.diverge.finetune.tasks import ContinueGANTask, GeneratorTask, NadaTask
from swerve.diverge.finetune.trail import Trail
from swerve.errors import ConfigError, SwerveError
from swerve.measure import class_probabilities, collapsed, novelty_quality, pairwise_diversity
from swerve.measure.features import DOMAIN_CLASSIFIERS, domain_classifier
from swerve.outputs import claim_folder
from swerve.train import TrainConfig, Trainer
from swerve.train.tasks import Task
from swerve.utils import json_text, make_generator, pick_device, write_text_atomic

DATA_METHODS = ("cross-domain", "domain-shift")
REFERENCE_N = 256  # real images the novelty/quality of each trail entry is measured against
QUALITY_KEYS = ("fd", "precision", "recall", "novelty")  # what each trail entry measures against them


@dataclass
class FinetuneResult:
    """How a run ended: its step, whether Ctrl-C stopped it, where its bundle and trail are."""

    step: int
    interrupted: bool
    bundle_path: Path | None
    trail: Trail
    collapse_step: int | None = None  # the entry where the collapse detector fired
    kept_step: int | None = None  # the entry exported as the result of a collapsed run
    last_stats: dict[str, float] = field(default_factory=dict)


def train_config(bundle: Bundle, cfg: FinetuneConfig) -> TrainConfig:
    """The trainer's settings for a fine-tuning run: the loop's from ``cfg``, the model's from the bundle."""
    made = dict(bundle.training.get("config", {}))
    shape = bundle.data.shape
    image = len(shape) == 3
    return TrainConfig(
        name=cfg.name or f"{bundle.name}-{cfg.method}",
        kind="gan",
        dataset=cfg.dataset or bundle.data.dataset or "none",
        classes=cfg.classes,
        image_size=shape[-1] if image else None,
        channels=shape[0] if image else None,
        arch="dcgan" if image else "mlp",
        latent_dim=bundle.latent.dim if bundle.latent else 1,
        latent_distribution=bundle.latent.distribution if bundle.latent else "normal",
        conditional=bundle.num_classes > 0,
        objective=made.get("objective", "ns"),
        gp_weight=float(made.get("gp_weight", 10.0)),
        n_critic=int(made.get("n_critic", 1)),
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr_g=cfg.lr,
        lr_d=cfg.lr_d,
        betas=list(cfg.betas),
        ema=cfg.ema,
        seed=cfg.seed,
        log_every=cfg.log_every,
        sample_every=cfg.trail_every,
        checkpoint_every=cfg.trail_every,
        device=cfg.device,
    )


def bundle_fingerprint(bundle: Bundle) -> str:
    """``name:sha`` of a bundle, the hash over its generator's and discriminator's weights (12 hex digits)."""
    digest = hashlib.sha256()
    for role in ("generator", "discriminator"):
        if role in bundle.networks:
            for key, value in sorted(bundle.networks[role].state_dict().items()):
                digest.update(key.encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return f"{bundle.name}:{digest.hexdigest()[:12]}"


class FinetuneTrainer(Trainer):
    """The trainer, driving a fine-tuning task from ``bundle`` and writing the trail as its previews.

    ``scorer`` (guided) is any module mapping images to class logits (with ``config.target``) or to one
    score per sample to maximise (without); by default the classifier of the ``config.scorer`` bundle.
    ``clip`` (nada) is a :class:`~swerve.diverge.finetune.nada.ClipEncoder`; by default loaded from
    ``config.clip``.
    """

    def __init__(
        self,
        bundle: Bundle,
        config: FinetuneConfig,
        run_dir: str | Path,
        resume: bool = False,
        data: Dataset | None = None,
        progress: bool = True,
        scorer: nn.Module | None = None,
        clip: nada.ClipEncoder | None = None,
    ) -> None:
        if bundle.latent is None or "generator" not in bundle.networks:
            raise SwerveError(f"bundle {bundle.name or '(unnamed)'} has no generator and latent spec to tune")
        self.bundle = bundle
        self.ft = config
        self.scorer = scorer
        self.clip = clip
        self._round = -1
        self._written = -1
        self.collapse_step: int | None = None
        self.kept_step: int | None = None
        # The starting bundle is part of the run: resuming from another one is refused like a changed config.
        run_config = {**config.to_dict(), "start": bundle_fingerprint(bundle)}
        super().__init__(train_config(bundle, config), run_dir, resume, data, progress, run_config=run_config)
        if config.method == "domain-shift":  # rounds overwrite the training set: never the caller's tensor
            self._x = self._x.clone()
        self.bundle.to(self.device)
        claim_folder(self.run_dir, "run")  # marked before the trail is written into it
        self.trail = Trail.start(self.run_dir / "trail", bundle, config.grid_size, config.seed + 1)
        self.trail.trim(after=self.step)
        self._measure = self._quality_measure()

    # --- what is trained on what ---------------------------------------------------------------------------
    def load_data(self) -> Dataset | None:
        cfg, shape = self.ft, self.bundle.data.shape
        if cfg.method not in DATA_METHODS:
            return None
        image = len(shape) == 3
        data = load_dataset(
            cfg.dataset,
            classes=cfg.classes,
            image_size=shape[-1] if image else None,
            channels=shape[0] if image else None,
            seed=cfg.seed,
            progress=self.progress,
        )
        return data

    def build_task(self, num_classes: int) -> Task:
        cfg, bundle = self.ft, self.bundle
        k = bundle.num_classes
        if cfg.method in DATA_METHODS:
            if k and (self.data.labels is None or int(self.data.labels.max()) >= k):
                raise ConfigError(
                    f"{bundle.name} draws {k} classes; {self.data.name} needs labels in 0..{k - 1}"
                )
            return ContinueGANTask(self.config, bundle, cfg.freeze, self.device)
        kwargs = dict(
            lr=cfg.lr, betas=cfg.betas, batch_size=cfg.batch_size, freeze=cfg.freeze, device=self.device
        )
        objective = self.config.objective
        if cfg.method == "uncanny":
            d = guidance.frozen(copy.deepcopy(bundle.discriminator).to(self.device))
            return GeneratorTask(bundle, guidance.uncanny_loss(d, cfg.loss, objective), **kwargs)
        if cfg.method == "guided":
            if self.scorer is None:
                judge = load(cfg.scorer, device=self.device)
                if judge.data.shape != bundle.data.shape:
                    raise ConfigError(
                        f"scorer {cfg.scorer} reads samples of shape {judge.data.shape}, "
                        f"but {bundle.name} makes {bundle.data.shape}"
                    )
                self.scorer = judge.classifier
            scorer = guidance.frozen(self.scorer.to(self.device))
            d = guidance.frozen(copy.deepcopy(bundle.discriminator).to(self.device)) if cfg.beta > 0 else None
            if cfg.target:
                score = guidance.classifier_score(scorer, cfg.target, cfg.away)
            else:
                score = guidance.module_score(scorer)
            loss = guidance.guidance_loss(score, cfg.alpha, d, cfg.beta, objective)
            return GeneratorTask(bundle, loss, **kwargs)
        if self.clip is None:
            self.clip = nada.load_clip(cfg.clip, cfg.clip_pretrained, self.device)
        self.clip.to(self.device)
        loss = nada.nada_loss(self.clip, cfg.source, cfg.text, cfg.global_weight)
        return NadaTask(bundle, loss, self.clip, cfg.adaptive_layers, **kwargs)

    # --- domain shift: mix the model's samples into the data, round by round -------------------------------
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.ft.method == "domain-shift":
            while self._round < self.step // self.ft.shift_every:
                self._round += 1
                self._shift(self._round)
        return super()._next_batch()

    def _shift(self, index: int) -> None:
        """Apply round ``index``: made now if this is its step, else replayed from disk (a resumed run)."""
        if index * self.ft.shift_every == self.step:
            g = self.task.export()["generator"]
            replacement = shift.replace_with_samples(
                self._x, self._y, g, self.bundle.latent.sample, self.ft.shift_fraction, self.ft.seed, index
            )
            shift.save_round(self.run_dir, index, replacement)
        else:
            replacement = shift.load_round(self.run_dir, index)
        shift.apply_round(self._x, replacement)

    # --- the trail -----------------------------------------------------------------------------------------
    def fit(self) -> FinetuneResult:  # type: ignore[override]
        # A bent bundle is tuned as it samples: the task's networks are copies of its generator, which carry
        # its bends (swerve.live).
        if self.step == 0:
            self.save_preview()
        result = super().fit()
        stopped = self.collapse_step is not None
        return FinetuneResult(
            step=result.step,
            interrupted=result.interrupted and not stopped,
            bundle_path=result.bundle_path,
            trail=self.trail,
            collapse_step=self.collapse_step,
            kept_step=self.kept_step,
            last_stats=result.last_stats,
        )

    def save_preview(self) -> Path | None:
        """A trail entry for the current step; with the collapse detector on, stop at a collapse."""
        if self._written == self.step:
            return None
        self._written = self.step
        networks = self.task.export()
        x = self._grid_samples(networks["generator"])
        metrics = self.entry_metrics(x)
        path = self.trail.write(self.step, networks, x, metrics)
        if self.ft.method == "domain-shift" or self.ft.stop_on_collapse:
            self._check_collapse(metrics["diversity"])
        return path

    @torch.no_grad()
    def _grid_samples(self, g: nn.Module) -> torch.Tensor:
        z, labels = self.trail.latents()
        was = g.training
        g.eval()
        x = g(z.to(self.device), labels.to(self.device)) if labels is not None else g(z.to(self.device))
        g.train(was)
        return x.cpu()

    def _check_collapse(self, diversity: float) -> None:
        history = self.trail.metrics()
        if not history or history[0]["step"] != 0 or history[0].get("diversity") is None:
            return  # (no baseline: a non-finite diversity is written as null)
        if collapsed(diversity, history[0]["diversity"], self.ft.collapse_threshold):
            earlier = [m["step"] for m in history if m["step"] < self.step]
            self.collapse_step, self.kept_step = self.step, (earlier[-1] if earlier else 0)
            record = {"collapse_step": self.collapse_step, "kept_step": self.kept_step}
            write_text_atomic(self.trail.directory / "collapse.json", json_text(record) + "\n")
            self._stop = True

    @torch.no_grad()
    def entry_metrics(self, x: torch.Tensor) -> dict[str, Any]:
        """What a trail entry records about its samples, each from swerve.measure."""
        z, labels = self.trail.latents()
        metrics: dict[str, Any] = {"diversity": pairwise_diversity(x)}
        if "discriminator" in self.bundle.networks:
            d = self.bundle.discriminator.eval()
            y = labels.to(self.device) if labels is not None else None
            logits = guidance.critic_logits(d, x.to(self.device), y)
            metrics["fake_prob"] = float(torch.sigmoid(-logits).mean())  # of the bundle's (original) D
        if self.ft.method == "guided" and self.scorer is not None and self.ft.target:
            probs = class_probabilities(self.scorer, x)
            metrics["target_prob"] = float(probs[:, self.ft.target].sum(1).mean())
        if self.ft.method == "nada" and self.clip is not None:
            image = self.clip.encode_image(x.to(self.device))
            metrics["clip_target"] = float(1 - nada.global_loss(image, self.task.loss.text).mean())
        if self._measure is not None:
            extractor, reference = self._measure
            m = novelty_quality(
                x, reference, extractor, extractor_name=DOMAIN_CLASSIFIERS[self.bundle.data.dataset]
            )
            metrics.update({k: m[k] for k in QUALITY_KEYS})
        elif self.missing:
            metrics["missing"] = dict(self.missing)
        return metrics

    def _quality_measure(self) -> tuple[nn.Module, torch.Tensor] | None:
        """The domain classifier and real reference images, when the bundle's dataset has them; when it
        has not, ``self.missing`` says, for each quality metric, why (every trail entry records it)."""
        dataset = self.bundle.data.dataset
        self.missing: dict[str, str] = {}
        if not self.ft.measure_quality:  # asked not to measure: nothing is missing
            return None
        if dataset not in DOMAIN_CLASSIFIERS:
            known = ", ".join(sorted(DOMAIN_CLASSIFIERS))
            self.missing = dict.fromkeys(
                QUALITY_KEYS, f"swerve has no domain classifier for {dataset!r} (it has ones for: {known})"
            )
            return None
        try:
            extractor = domain_classifier(dataset).to(self.device)
            real = load_like(dataset, self.bundle.data.shape, split="test", progress=False)
        except SwerveError as exc:
            reason = f"needs the {DOMAIN_CLASSIFIERS[dataset]} model and {dataset} test images: {exc}"
            self.missing = dict.fromkeys(QUALITY_KEYS, reason)
            return None
        if real.shape != self.bundle.data.shape:
            reason = f"the {dataset} test images are {real.shape}, the samples {self.bundle.data.shape}"
            self.missing = dict.fromkeys(QUALITY_KEYS, reason)
            return None
        pick = torch.randperm(len(real), generator=make_generator(self.ft.seed))[:REFERENCE_N]
        return extractor, real.x[pick]

    # --- the result ----------------------------------------------------------------------------------------
    def export(self) -> Bundle:
        """The tuned bundle; for a collapsed run, the trail's last entry before the collapse."""
        if self.kept_step is not None:
            return self.trail.export(self.kept_step)
        bundle = copy.deepcopy(self.bundle)
        for role, net in self.task.export().items():
            bundle.networks[role] = copy.deepcopy(net).eval()
        bundle.name = self.config.name
        bundle.record(
            "finetune", step=self.step, **{k: v for k, v in self.ft.to_dict().items() if k != "name"}
        )
        return bundle


def finetune(
    bundle: Bundle | str | Path,
    config: FinetuneConfig,
    run_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    data: Dataset | None = None,
    scorer: nn.Module | None = None,
    clip: nada.ClipEncoder | None = None,
) -> FinetuneResult:
    """Fine-tune ``bundle`` with ``config.method``, keeping the trail in ``run_dir`` (see the module doc).

    Ctrl-C stops after the current step with the trail and a checkpoint kept; ``resume=True`` continues.
    """
    if not isinstance(bundle, Bundle):
        bundle = load(bundle, device=pick_device(config.device))
    collapse = Path(run_dir) / "trail" / "collapse.json"
    if resume and collapse.is_file():  # a collapsed run is finished: its result is already exported
        record = json.loads(collapse.read_text())
        trail = Trail(Path(run_dir) / "trail")
        return FinetuneResult(
            record["collapse_step"],
            False,
            Path(run_dir) / "bundle",
            trail,
            record["collapse_step"],
            record["kept_step"],
        )
    trainer = FinetuneTrainer(bundle, config, run_dir, resume, data, progress, scorer, clip)
    return trainer.fit()
