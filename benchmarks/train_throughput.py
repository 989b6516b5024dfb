"""Images (or points) per second: swerve's Trainer against a minimal plain-PyTorch loop.

Both sides use the same networks, batch size, optimiser, loss and generator EMA; swerve adds its seeded data
order, stats logging and signal handling. The bar: swerve >= 0.9x the plain loop. The loader column is the
images/s of the trainer's data path alone (its seeded batch indexing); the bar there: >= 5x the trainer's
rate, so data never limits training. The colour rows are 64x64 emoji (swerve.data.emoji);
the StyleGAN2 row uses the task's generator call (random noise, style mixing) on both sides. Run:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_throughput.py [--steps 200] [--repeats 3] [--cases X]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time

import torch

from swerve.data import load_dataset
from swerve.train import TrainConfig, Trainer
from swerve.train.objectives import discriminator_loss, generator_loss, gradient_penalty
from swerve.train.tasks import ema_decay, task_class, update_ema

CASES = {
    "fashion-mnist DCGAN (ns, cond.)": dict(
        dataset="fashion-mnist", conditional=True, width=32, batch_size=64
    ),
    "25 gaussians MLP (wgan-gp)": dict(
        dataset="gaussians25",
        arch="mlp",
        latent_dim=2,
        width=256,
        d_width=512,
        objective="wgan-gp",
        gp_weight=0.1,
        n_critic=5,
        ema=0.0,
        batch_size=256,
        betas=[0.5, 0.9],
        lr_g=1e-4,
        lr_d=1e-4,
    ),
    "emoji 64x64 DCGAN (ns, cond.)": dict(
        dataset="emoji", image_size=64, conditional=True, width=32, batch_size=32
    ),
    "emoji 64x64 StyleGAN2 (small)": dict(
        dataset="emoji",
        image_size=64,
        arch="stylegan2",
        conditional=True,
        width=16,
        max_width=128,
        depth=2,
        latent_dim=128,
        batch_size=16,
    ),
}


def loader_rate(cfg: TrainConfig, data, batches: int = 200) -> float:
    """Images/s of the trainer's data path alone: its seeded per-epoch order and batch indexing."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, tmp, data=data, progress=False)
        start = time.perf_counter()
        for _ in range(batches):
            trainer._next_batch()
    return batches * cfg.batch_size / (time.perf_counter() - start)


def swerve_rate(cfg: TrainConfig, data, warmup: int) -> float:
    """Samples/s of Trainer.fit between the warm-up log line and the last one (setup and saving excluded)."""
    times: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        Trainer(
            cfg, tmp, data=data, progress=False, on_log=lambda r: times.setdefault(r["step"], r["seconds"])
        ).fit()
    steps = cfg.steps - warmup
    return steps * cfg.batch_size / (times[cfg.steps] - times[warmup])


def plain_rate(cfg: TrainConfig, data, warmup: int) -> float:
    """Samples/s of the textbook loop: random batches, D step(s), G step, EMA."""
    torch.manual_seed(cfg.seed)
    task = task_class("gan", cfg.arch)(
        cfg, data.shape, len(data.classes), torch.device("cpu")
    )  # the same networks and optimisers
    g, d = task.g, task.d
    opt_g, opt_d = task.optimizers["generator"], task.optimizers["discriminator"]
    g_ema = copy.deepcopy(g) if cfg.ema > 0 else None
    gen = torch.Generator().manual_seed(cfg.seed)
    x_all, y_all = data.x, data.labels
    cond = cfg.conditional
    bs = cfg.batch_size
    start = 0.0
    for step in range(cfg.steps):
        if step == warmup:
            start = time.perf_counter()
        for _ in range(cfg.n_critic):
            idx = torch.randint(len(x_all), (bs,), generator=gen)
            x, y = x_all[idx], (y_all[idx] if cond else None)
            z = torch.randn(bs, cfg.latent_dim, generator=gen)
            with torch.no_grad():
                fake = task._gen(z, y, gen)
            loss_d = discriminator_loss(
                cfg.objective, d(x, y) if cond else d(x), d(fake, y) if cond else d(fake)
            )
            if cfg.objective == "wgan-gp":
                loss_d = loss_d + cfg.gp_weight * gradient_penalty(d, x, fake, gen)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        z = torch.randn(bs, cfg.latent_dim, generator=gen)
        fake = task._gen(z, y, gen)
        loss_g = generator_loss(cfg.objective, d(fake, y) if cond else d(fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if g_ema is not None:
            update_ema(g_ema, g, ema_decay(cfg.ema, step))
        float(loss_d.detach()), float(loss_g.detach())  # what any loop does to report its losses
    return (cfg.steps - warmup) * bs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default="", help="only the cases whose name contains this")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; best of {args.repeats} runs of "
        f"{args.steps} steps ({args.warmup} warm-up)\n"
    )
    print(f"{'case':<34} {'plain loop /s':>14} {'swerve /s':>12} {'ratio':>7} {'loader /s':>12}")
    for name, values in CASES.items():
        if args.cases not in name:
            continue
        cfg = TrainConfig(
            steps=args.steps, log_every=args.warmup, sample_every=0, checkpoint_every=0, **values
        )
        sized = {"image_size": cfg.image_size} if cfg.image_size else {}
        data = load_dataset(cfg.dataset, n=20_000 if cfg.arch == "mlp" else None, progress=False, **sized)
        plain, ours = 0.0, 0.0
        for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both sides alike
            plain = max(plain, plain_rate(cfg, data, args.warmup))
            ours = max(ours, swerve_rate(cfg, data, args.warmup))
        loader = loader_rate(cfg, data)
        print(f"{name:<34} {plain:>14,.0f} {ours:>12,.0f} {ours / plain:>6.2f}x {loader:>12,.0f}")


if __name__ == "__main__":
    main()
