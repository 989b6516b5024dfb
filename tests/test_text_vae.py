"""The character VAE (kind vae, arch charcnn): training, exact resume, bundle, sampling and DGflow on its
latent through a density-ratio critic."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from tests.test_text import CORPUS


def _config(corpus: Path, steps: int, **over):
    from swerve.train import TrainConfig

    values = dict(
        name="tiny-char-vae",
        kind="vae",
        arch="charcnn",
        dataset=f"text:{corpus}",
        width=8,
        depth=1,
        latent_dim=4,
        steps=steps,
        batch_size=8,
        lr_g=1e-3,
        ema=0.0,
        log_every=1,
        sample_every=0,
        checkpoint_every=2,
    )
    return TrainConfig(**{**values, **over})


@pytest.fixture(scope="module")
def vae_bundle(tmp_path_factory) -> Path:
    from swerve.train import Trainer

    root = tmp_path_factory.mktemp("char-vae")
    (root / "corpus.txt").write_text(CORPUS)
    trainer = Trainer(_config(root / "corpus.txt", 4), root / "run", progress=False)
    trainer.fit()
    path = root / "bundle"
    trainer.export().save(path)
    return path


def test_char_vae_loss_by_hand():
    from swerve.train.objectives import char_vae_loss

    x = torch.tensor([[0, 1]])
    probs = torch.tensor([[[1.0, 0.5], [0.0, 0.5]]])  # position 0 sure of char 0, position 1 a coin toss
    loss, rec, kl = char_vae_loss(x, probs, torch.zeros(1, 2), torch.zeros(1, 2))
    assert rec.item() == pytest.approx(math.log(2)) and kl.item() == 0 and loss.item() == pytest.approx(rec)
    _, _, kl = char_vae_loss(x, probs, torch.ones(1, 2), torch.zeros(1, 2))
    assert kl.item() == pytest.approx(1.0)  # 0.5 * sum(mu^2)


def test_char_vae_trains_exports_and_samples_strings(vae_bundle, cli):
    import swerve

    bundle = swerve.load(vae_bundle, device="cpu")
    assert set(bundle.networks) == {"generator", "encoder"}
    assert type(bundle.networks["encoder"]).__name__ == "CharCNNEncoder"
    assert bundle.data.shape == [len(bundle.extra["vocab"]), 32]
    code, stdout, err = cli("sample", vae_bundle, "--n", 3)
    assert code == 0, err
    assert len(stdout.rstrip("\n").split("\n")) == 3


def test_char_vae_resume_is_exact(tmp_path):
    from swerve.train import Trainer

    (tmp_path / "c.txt").write_text(CORPUS)
    straight = Trainer(_config(tmp_path / "c.txt", 4), tmp_path / "a", progress=False)
    straight.fit()
    first = Trainer(_config(tmp_path / "c.txt", 2), tmp_path / "b", progress=False)
    first.fit()
    resumed = Trainer(_config(tmp_path / "c.txt", 4), tmp_path / "b", progress=False, resume=True)
    resumed.fit()
    for key, value in straight.task.encoder.state_dict().items():
        assert torch.equal(value, resumed.task.encoder.state_dict()[key]), key


def test_dgflow_refines_the_char_vae_latent_through_a_ratio_critic(vae_bundle, tmp_path):
    import swerve
    from swerve.data import load_dataset
    from swerve.data.text import decode
    from swerve.refine import fit_ratio, run_method
    from swerve.refine.ratio import bundle_critic

    bundle = swerve.load(vae_bundle, device="cpu")
    data = load_dataset(bundle.data.dataset)
    summary = fit_ratio(bundle, data.x, steps=3, batch_size=8)
    assert 0 <= summary["final_accuracy"] <= 1
    critic, name = bundle_critic(bundle, "auto", "dgflow", {"divergence": "kl"})
    assert name == "ratio"
    z = bundle.sample(4, seed=0).z
    refined = run_method("dgflow", bundle, critic, z, divergence="kl", steps=3)
    assert refined.x.shape == (4, len(bundle.extra["vocab"]), 32)
    assert not torch.equal(refined.z, z)  # the latents moved
    assert len(decode(refined.x, bundle.extra["vocab"])) == 4


def test_refine_cli_on_the_char_vae_asks_for_a_ratio_then_refines_with_it(vae_bundle, cli, tmp_path):
    out = tmp_path / "r.txt"
    code, _, err = cli("refine", vae_bundle, "--n", 4, "--out", out, "--set", "steps=2")
    assert code == 2 and "no critic of its own" in err and "swerve ratio" in err and not out.exists()
    with_ratio = tmp_path / "with-ratio"
    code, _, err = cli("ratio", vae_bundle, "--out", with_ratio, "--steps", 3, "--batch-size", 8)
    assert code == 0, err
    code, stdout, err = cli("refine", with_ratio, "--n", 4, "--out", out, "--set", "steps=2")
    assert code == 0, err
    assert "JS-4" in stdout and "JS-6" in stdout and len(out.read_text().splitlines()) == 4
