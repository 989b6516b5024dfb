"""The demo report's text sections: the character GANs' strings before and after DGflow, with JS-4 and
JS-6 (Ansari et al. 2021, table 3, after Gulrajani et al. 2017), words that are not (novelty search on
the word model, each new word scored against the dictionary), and the fortune model bent along its 1-D
maps and glitched, the same latents' strings side by side.

Both need the corpora (Debian's fortunes and wamerican): without them the card says which package to
install, as every corpus loader does.
"""

from __future__ import annotations

from typing import Any

from swerve.bundle import Bundle
from swerve.data.text import bundle_vocab, decode, dictionary_words, words_file
from swerve.diverge.bend import bend_bundle
from swerve.diverge.glitch import glitch
from swerve.diverge.text_novelty import archive_strings, score_words, search_text
from swerve.look.report import Section
from swerve.look.sections import DemoContext, section
from swerve.measure.text import js_ngrams
from swerve.refine.core import discriminator_critic
from swerve.refine.registry import initial_latents, run_method
from swerve.refine.scores import TEXT_ORDERS, held_out_text

TEXT_MODELS = ("fortunes-wgangp", "words-wgangp")
N = 200  # strings per model for JS-n
SHOWN = 4  # strings shown per model
DGFLOW = {"divergence": "kl", "eta": 0.1}  # the paper's step; the critic is the WGAN's own (as the paper's)
BUDGET, WORDS_SHOWN = 200, 8


def _strings(vocab: list[str], x: Any, k: int) -> str:
    return " | ".join(repr(s) for s in decode(x[:k], vocab))


def refine_row(bundle: Bundle, n: int, seed: int) -> dict[str, Any]:
    """One model's strings before and after DGflow-KL on the same latents, and JS-4/JS-6 of each against
    the held-out split."""
    import torch

    vocab = bundle_vocab(bundle)
    real = decode(held_out_text(bundle), vocab, strip=False)
    z, labels = initial_latents(bundle, n, seed)
    with torch.no_grad():
        before = bundle.sample(n, seed=seed, z=z).x
    critic = discriminator_critic(bundle.discriminator.eval())
    with torch.enable_grad():
        after = run_method("dgflow", bundle, critic, z, labels=labels, seed=seed, **DGFLOW).x
    js_before = js_ngrams(decode(before, vocab, strip=False), real, TEXT_ORDERS)
    js_after = js_ngrams(decode(after, vocab, strip=False), real, TEXT_ORDERS)
    row: dict[str, Any] = {"model": bundle.name}
    for k in TEXT_ORDERS:
        row[f"JS-{k} before"] = round(js_before[k], 4)
        row[f"JS-{k} after DGflow"] = round(js_after[k], 4)
    row["strings before"] = _strings(vocab, before, SHOWN)
    row["after DGflow"] = _strings(vocab, after, SHOWN)
    return row


@section("text-refine", order=74)
def text_refine(ctx: DemoContext) -> Section | None:
    models = [b for b in (ctx.bundle(name) for name in TEXT_MODELS) if b is not None]
    if not models:
        return None
    rows = [refine_row(b, N, ctx.seed) for b in models]
    return Section(
        title="Text: character GANs, refined by their critic",
        text=(
            "Character-level WGAN-GPs (Gulrajani et al. 2017's 1-D convolutional language model, shrunk to "
            "train on a CPU) write 32-character sentences of Debian's fortunes and 12-letter dictionary "
            f"words. DGflow moves each string's hidden numbers uphill on the critic ({N} strings, the same "
            "before and after). JS-4 and JS-6 compare the character 4- and 6-gram counts of the strings "
            "with held-out real text: 0 is the same distribution, ln 2 = 0.69 shares nothing; lower is "
            "better, and the paper reports DGflow lowering both."
        ),
        table=rows,
        kind="zoo",
    )


@section("text-words", order=66)
def text_words(ctx: DemoContext) -> Section | None:
    words = ctx.bundle("words-wgangp")
    if words is None:
        return None
    dictionary = dictionary_words(words_file())
    archive = search_text(words, budget=BUDGET, population=20, seed=ctx.seed)
    strings = archive_strings(words, archive)
    scored = score_words(strings, dictionary)
    order = sorted(range(len(strings)), key=lambda i: -float(archive.novelty[i]))
    rows = [
        {
            "word": strings[i],
            "new": "yes" if scored[i]["new"] else "no",
            "log p per character": round(scored[i]["logp_per_char"], 2),
            "nearest dictionary word": scored[i]["nearest"],
            "edits": scored[i]["distance"],
            "novelty": round(float(archive.novelty[i]), 3),
        }
        for i in order[:WORDS_SHOWN]
    ]
    share = sum(s["new"] for s in scored) / len(scored)
    return Section(
        title="Words that are not",
        text=(
            "Novelty search on the word model, in the space of character unigram and bigram profiles: "
            f"{BUDGET} tries, the archive's most novel strings first. Each is looked up in the dictionary "
            "(wamerican), scored for pronounceability (mean log-probability per character under a "
            "3-gram model of the dictionary) and matched to its nearest "
            f"dictionary word by edit distance (0: memorised). {share:.0%} of the archive is new words."
        ),
        table=rows,
        kind="zoo",
    )


CHANGES = [  # (label, how): bends along the length of the 1-D maps, and a weight glitch
    ("flip blocks.0 (h)", {"layer": "blocks.0", "transform": "flip", "params": {"axis": "h"}}),
    (
        "translate blocks.0 by a quarter",
        {"layer": "blocks.0", "transform": "translate", "params": {"dx": 0.25}},
    ),
    ("dilate blocks.0 (radius 1)", {"layer": "blocks.0", "transform": "dilate", "params": {"radius": 1}}),
    ("glitch: gaussian noise 0.3 on every weight", None),
]


@section("text-bend", order=62)
def text_bend(ctx: DemoContext) -> Section | None:
    model = next((b for b in (ctx.bundle(name) for name in TEXT_MODELS) if b is not None), None)
    if model is None:
        return None
    vocab = bundle_vocab(model)
    rows = [{"change": "none", "strings": _strings(vocab, model.sample(SHOWN, seed=ctx.seed).x, SHOWN)}]
    for label, bend in CHANGES:
        changed = (
            glitch(model, "gaussian", 0.3, seed=ctx.seed) if bend is None else bend_bundle(model, [bend])
        )
        rows.append(
            {"change": label, "strings": _strings(vocab, changed.sample(SHOWN, seed=ctx.seed).x, SHOWN)}
        )
    return Section(
        title=f"Text: bending and glitching {model.name}",
        text=(
            "The character GAN's generator is 1-D: each block's maps run along the string. Bends that are "
            "defined on one axis act along it (flip, translate, dilate), and a glitch adds noise to every "
            "weight; the same latents before and after. Bends that need a second axis (rotate, a vertical "
            "flip) are refused on text models, in one line."
        ),
        table=rows,
        kind="zoo",
    )
