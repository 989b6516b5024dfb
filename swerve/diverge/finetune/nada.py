"""CLIP guidance as in StyleGAN-NADA (Gal, Patashnik, Maron, Chechik & Cohen-Or 2021), for any generator.

A frozen copy G0 of the generator and a trainable G see the same latents. The **directional loss** asks the
change in CLIP image space, E_I(G(z)) − E_I(G0(z)), to point the way the text moved, E_T(target) −
E_T(source); the optional **global loss** asks E_I(G(z)) to match E_T(target) outright. Text embeddings
are averaged over prompt templates ("a photo of a {}.", ...). **Adaptive layer freezing** trains, each step,
only the k layers the global loss most wants to move. NADA ranks StyleGAN's per-layer W codes after a few
optimisation steps; a generator without per-layer codes has none, so swerve ranks each layer by the size of
one global-loss gradient step relative to its weights, ‖∇θ‖ / ‖θ‖, which asks the same question of any
module.

The encoder is anything with ``encode_image(images)`` and ``encode_text(tokens)`` plus a tokenizer: an
open_clip model (``pip install swerve[clip]``; :func:`load_clip`) or :class:`TinyClip`, a small randomly
initialised text/image encoder built from a config. The tiny one runs the whole code path where CLIP
weights cannot be downloaded (tests, CI); its guidance means nothing, as its weights are random.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from swerve.errors import ConfigError, SwerveError

TEMPLATES = (
    "a photo of a {}.",
    "a picture of a {}.",
    "a drawing of a {}.",
    "a close-up photo of a {}.",
    "a low resolution photo of a {}.",
    "a black and white photo of a {}.",
)
# The normalisation CLIP's image tower was trained with (OpenAI's published image statistics).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
SOFT_UNIT_DELTA = 1e-2  # in units of the (unit-length) CLIP embeddings


class ClipEncoder(nn.Module):
    """A CLIP-like model behind one small interface: images in swerve's [-1, 1] range, texts as strings.

    ``model`` provides ``encode_image`` and ``encode_text``; ``tokenizer`` turns a list of strings into the
    tokens ``encode_text`` reads. Images are made 3-channel, resized to ``image_size`` and normalised.
    """

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Callable[[list[str]], torch.Tensor],
        image_size: int,
        mean: Sequence[float] = CLIP_MEAN,
        std: Sequence[float] = CLIP_STD,
    ) -> None:
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.image_size = image_size
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-length image embeddings of images in [-1, 1] (gradients flow back to ``x``)."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ConfigError(f"CLIP reads 1- or 3-channel images, got {x.shape[1]} channels")
        x = F.interpolate(x, size=self.image_size, mode="bilinear", align_corners=False)
        x = ((x + 1) / 2 - self.mean) / self.std
        return F.normalize(self.model.encode_image(x).float(), dim=-1)

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str], templates: Sequence[str] = TEMPLATES) -> torch.Tensor:
        """One unit-length embedding per text, averaged over the prompt ``templates``."""
        out = []
        device = self.mean.device
        for text in texts:
            prompts = [t.format(text) for t in templates] or [text]
            emb = F.normalize(self.model.encode_text(self.tokenizer(prompts).to(device)).float(), dim=-1)
            out.append(F.normalize(emb.mean(0), dim=-1))
        return torch.stack(out)


def soft_unit(v: torch.Tensor, delta: float = SOFT_UNIT_DELTA) -> torch.Tensor:
    """v / sqrt(‖v‖² + δ²): the unit vector once ‖v‖ ≫ δ, zero at v = 0, its gradient at most 1/δ."""
    return v / (v.pow(2).sum(-1, keepdim=True) + delta**2).sqrt()


def directional_loss(
    image: torch.Tensor, image0: torch.Tensor, text: torch.Tensor, text0: torch.Tensor
) -> torch.Tensor:
    """NADA's directional loss, per sample: ½‖unit(ΔI) − unit(ΔT)‖², which is 1 − cos(ΔI, ΔT).

    ΔI = image − image0 (G's and G0's embeddings of the same latents), ΔT = text − text0. The unit vectors
    are soft (:func:`soft_unit`): at the first step G equals G0, so ΔI is exactly zero and a hard unit
    vector has no direction (NaN, or a gradient of 1/ε that swamps Adam's statistics for hundreds of
    steps). With soft ones the loss is defined everywhere: 0 when G still equals G0 and the two texts are
    the same (nothing asked, nothing changed), 1 − cos once the images have moved.
    """
    d_image = soft_unit(image - image0)
    d_text = soft_unit(text - text0).reshape(1, -1)
    return 0.5 * ((d_image - d_text) ** 2).sum(-1)


def global_loss(image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """1 − cos(E_I(G(z)), E_T(target)), per sample."""
    return 1 - F.cosine_similarity(image, text.reshape(1, -1), dim=-1)


def rank_layers(model: nn.Module, units: Sequence[str], loss: torch.Tensor, k: int) -> list[str]:
    """The ``k`` units whose weights one step of ``loss`` would move most, relative to their size."""
    modules = dict(model.named_modules())
    params = {u: [p for p in modules[u].parameters() if p.requires_grad] for u in units}
    flat = [p for u in units for p in params[u]]
    grads = torch.autograd.grad(loss, flat, allow_unused=True)
    by_param = dict(zip(map(id, flat), grads, strict=True))
    scores = {}
    for unit, ps in params.items():
        g2 = sum(float((by_param[id(p)] ** 2).sum()) for p in ps if by_param[id(p)] is not None)
        w2 = sum(float((p.detach() ** 2).sum()) for p in ps)
        scores[unit] = (g2 / max(w2, 1e-12)) ** 0.5
    return sorted(units, key=lambda u: -scores[u])[:k]


# --- encoders ----------------------------------------------------------------------------------------------
def load_clip(
    name: str = "ViT-B-32", pretrained: str = "openai", device: str | torch.device = "cpu"
) -> ClipEncoder:
    """An open_clip model with its tokenizer (``pip install swerve[clip]``; weights download on first use),
    or ``"tiny"``: :class:`TinyClip` with random weights."""
    if name == "tiny":
        return tiny_clip(TinyClipConfig()).to(device)
    try:
        import open_clip
    except ImportError as exc:
        raise SwerveError(
            f"CLIP guidance needs open_clip ({exc}); install it with: pip install 'swerve[clip]'"
        ) from None
    try:
        model, _, _ = open_clip.create_model_and_transforms(name, pretrained=pretrained, device=device)
    except Exception as exc:  # unknown name, no network, corrupt cache: all say why in their message
        raise SwerveError(f"cannot load CLIP model {name!r} ({pretrained}): {exc}") from None
    size = model.visual.image_size
    size = size[0] if isinstance(size, tuple | list) else size
    mean = getattr(model.visual, "image_mean", None) or CLIP_MEAN
    std = getattr(model.visual, "image_std", None) or CLIP_STD
    return ClipEncoder(model, open_clip.get_tokenizer(name), int(size), mean, std).to(device)


@dataclass
class TinyClipConfig:
    """A small CLIP-shaped model: a conv image tower and a byte-level transformer text tower."""

    image_size: int = 32
    embed_dim: int = 32
    width: int = 32
    text_layers: int = 1
    context: int = 48
    seed: int = 0


class TinyClip(nn.Module):
    """Randomly initialised from ``config.seed``: the same interface as open_clip's ``CLIP`` model."""

    config_class = TinyClipConfig

    def __init__(self, config: TinyClipConfig) -> None:
        super().__init__()
        self.config = config
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(config.seed)
        w = config.width
        self.visual = nn.Sequential(
            nn.Conv2d(3, w, 4, 2, 1), nn.GELU(), nn.Conv2d(w, w, 4, 2, 1), nn.GELU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(w, config.embed_dim),
        )  # fmt: skip
        self.token_embedding = nn.Embedding(256, w)
        self.positional = nn.Parameter(0.02 * torch.randn(config.context, w))
        layer = nn.TransformerEncoderLayer(w, nhead=4, dim_feedforward=2 * w, batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, config.text_layers, enable_nested_tensor=False)
        self.text_projection = nn.Linear(w, config.embed_dim)
        torch.random.set_rng_state(gen_state)

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual(x)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = tokens == 0
        h = self.transformer(
            self.token_embedding(tokens) + self.positional[: tokens.shape[1]], src_key_padding_mask=mask
        )
        keep = (~mask).unsqueeze(-1).float()
        return self.text_projection((h * keep).sum(1) / keep.sum(1).clamp_min(1))

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """UTF-8 bytes (+1, so 0 is padding), cut or padded to the context length."""
        out = torch.zeros(len(texts), self.config.context, dtype=torch.long)
        for i, text in enumerate(texts):
            ids = [b % 255 + 1 for b in text.encode("utf-8")][: self.config.context]
            out[i, : len(ids)] = torch.tensor(ids)
        return out


def tiny_clip(config: TinyClipConfig | None = None) -> ClipEncoder:
    """A :class:`TinyClip` behind the :class:`ClipEncoder` interface."""
    model = TinyClip(config or TinyClipConfig())
    return ClipEncoder(model, model.tokenize, model.config.image_size)


def nada_loss(
    clip: ClipEncoder,
    source: str,
    target: str,
    global_weight: float = 0.0,
    templates: Sequence[str] = TEMPLATES,
) -> Callable:
    """The NADA objective ``(x, x0) -> (loss, stats)`` for G's images ``x`` and the frozen copy's ``x0``."""
    text0, text = clip.encode_text([source, target], templates)

    def loss(x: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image = clip.encode_image(x)
        with torch.no_grad():
            image0 = clip.encode_image(x0)
        direction = directional_loss(image, image0, text, text0).mean()
        total = direction
        stats = {"directional": direction.detach()}
        if global_weight > 0:
            glob = global_loss(image, text).mean()
            total = total + global_weight * glob
            stats["global"] = glob.detach()
        return total, stats

    loss.text = text  # for adaptive freezing's global loss and for the trail's metric
    return loss
