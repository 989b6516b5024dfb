"""GAN training on colour images: every architecture (DCGAN, FastGAN-lite, StyleGAN2) takes steps with
DiffAugment/ADA and lazy R1, resumes bit-exactly (ADA's p included), and exports a bundle that round-trips."""

from __future__ import annotations

import json

import pytest
import torch

import swerve
from swerve.data.base import Dataset
from swerve.train import TrainConfig, Trainer

TINY = dict(
    conditional=True,
    width=8,
    latent_dim=16,
    batch_size=8,
    log_every=1,
    sample_every=0,
    checkpoint_every=0,
    lr_d=1e-3,
    seed=3,
)
ARCHS = {
    "dcgan": dict(arch="dcgan", augment="diffaugment", r1_gamma=1.0, r1_every=2),
    "fastgan": dict(arch="fastgan", augment="ada", ada_interval=1, ada_kimg=0.05, spectral_norm=True),
    "stylegan2": dict(
        arch="stylegan2",
        depth=2,
        max_width=16,
        augment="ada",
        ada_interval=1,
        ada_kimg=0.05,
        r1_gamma=1.0,
        r1_every=2,
        pl_weight=2.0,
        pl_every=2,
    ),
}


def rgb(n: int = 24, size: int = 16) -> Dataset:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, size, size, generator=gen) * 2 - 1
    return Dataset(x, torch.arange(n) % 3, ["a", "b", "c"], "rgb")


def _stats(run_dir) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


@pytest.mark.parametrize("arch", list(ARCHS))
def test_each_arch_trains_resumes_bit_exactly_and_round_trips(tmp_path, arch):
    cfg = TrainConfig(steps=6, **{**TINY, **ARCHS[arch], "checkpoint_every": 3})
    data = rgb()
    full = Trainer(cfg, tmp_path / "full", data=data, progress=False).fit()
    assert full.step == 6 and all(torch.isfinite(torch.tensor(v)) for v in full.last_stats.values())
    Trainer(cfg.replace(steps=3), tmp_path / "split", data=data, progress=False).fit()
    Trainer(cfg, tmp_path / "split", resume=True, data=data, progress=False).fit()
    assert _stats(tmp_path / "full") == _stats(tmp_path / "split")
    for role in ("generator", "discriminator"):
        a = (tmp_path / "full" / "bundle" / f"{role}.safetensors").read_bytes()
        assert a == (tmp_path / "split" / "bundle" / f"{role}.safetensors").read_bytes()
    bundle = swerve.load(tmp_path / "full" / "bundle", device="cpu")
    assert bundle.num_classes == 3 and bundle.data.shape == [3, 16, 16]
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 0])
    out = bundle.generator(z, y)
    assert out.shape == (4, 3, 16, 16) and torch.isfinite(out).all()
    saved = Trainer(cfg, tmp_path / "full", resume=True, data=data, progress=False)  # nothing left to do
    assert torch.equal(saved.task.export()["generator"](z, y), out)


def test_ada_probability_is_restored_exactly_on_resume(tmp_path):
    # a target of -1 (below any r_t but the lowest): p rises at every adjustment
    cfg = TrainConfig(steps=6, **{**TINY, **ARCHS["fastgan"], "checkpoint_every": 3, "ada_target": -1.0})
    Trainer(cfg.replace(steps=3), tmp_path, data=rgb(), progress=False).fit()
    p = [r["ada_p"] for r in _stats(tmp_path)]
    assert 0 < p[0] < p[1] < p[2]
    resumed = Trainer(cfg, tmp_path, resume=True, data=rgb(), progress=False)
    assert resumed.task.augment.ada.p.item() == pytest.approx(p[-1], abs=0, rel=1e-7)
    state = resumed.task.networks["augment"].state_dict()
    fresh = Trainer(cfg.replace(steps=3), tmp_path / "again", data=rgb(), progress=False)
    fresh.fit()
    assert torch.equal(fresh.task.networks["augment"].state_dict()["p"], state["p"])


def test_ctrl_c_then_resume_matches_with_augmentation(tmp_path):
    import os
    import signal

    cfg = TrainConfig(steps=6, **{**TINY, **ARCHS["dcgan"]})
    Trainer(cfg, tmp_path / "full", data=rgb(), progress=False).fit()

    def interrupt(record):
        if record["step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    cut = Trainer(cfg, tmp_path / "cut", data=rgb(), progress=False, on_log=interrupt).fit()
    assert cut.interrupted and cut.step == 2
    Trainer(cfg, tmp_path / "cut", resume=True, data=rgb(), progress=False).fit()
    assert _stats(tmp_path / "full") == _stats(tmp_path / "cut")


def test_fastgan_and_stylegan2_need_square_images(tmp_path):
    from swerve.errors import ConfigError

    data = Dataset(torch.zeros(16, 3, 16, 8), None, [], "wide")
    for arch in ("fastgan", "stylegan2"):
        with pytest.raises(ConfigError, match="square images"):
            Trainer(TrainConfig(arch=arch, batch_size=8, steps=1), tmp_path / arch, data=data, progress=False)
    odd = Dataset(torch.zeros(16, 3, 24, 24), None, [], "odd")
    with pytest.raises(ConfigError, match="power-of-two"):
        Trainer(
            TrainConfig(arch="stylegan2", batch_size=8, steps=1), tmp_path / "odd", data=odd, progress=False
        )
