"""Words that are not: latent novelty search on a text model, in a character n-gram feature space.

The behaviour of a generated string is its soft character profile: the mean of its per-position character
distributions (unigrams) beside the mean product of neighbouring positions' distributions (bigrams), read
from the generator's softmax, so it is differentiable and the gradient optimiser works too. Novelty search
(Lehman & Stanley 2011; swerve.diverge.novelty) then looks for strings whose profile is far from the
archive's. Found words are scored as new words are in swerve.measure.text: whether they are in the
dictionary, their mean log-probability per character under a character n-gram model of the dictionary
(pronounceability) and the nearest dictionary word (edit distance; 0 = memorised). After Kazakçı et al.'s
digits that are not, for words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swerve.bundle import Bundle
from swerve.data.text import bundle_vocab, decode
from swerve.diverge.novelty import Behaviour, NoveltyArchive, discriminator_quality, novelty_search
from swerve.errors import ConfigError
from swerve.measure.text import CharNgramModel, nearest_words, ngram_profile


def ngram_behaviour() -> Behaviour:
    """Soft unigram and bigram profile of N x V x L character distributions: N x (V + V^2)."""

    return ngram_profile


def search_text(bundle: Bundle, quality_min: float | None = None, **options: Any) -> NoveltyArchive:
    """:func:`novelty_search` on a text bundle in the n-gram feature space; ``quality_min`` keeps only
    strings whose critic score (sigmoid of the discriminator's logit) is above it."""
    if bundle_vocab(bundle) is None:
        raise ConfigError(f"{bundle.name} is not a text model")
    if bundle.latent is None:
        raise ConfigError(f"bundle {bundle.name} has no latent space to search")
    quality = discriminator_quality(bundle.discriminator) if quality_min is not None else None
    return novelty_search(
        bundle.generator,
        bundle.latent.dim,
        ngram_behaviour(),
        quality=quality,
        quality_min=quality_min,
        device=bundle.device,
        **options,
    )


def score_words(words: Sequence[str], dictionary: Sequence[str], order: int = 3) -> list[dict[str, Any]]:
    """Per word: in the dictionary or new, mean log-probability per character under an ``order``-gram model
    of the dictionary, and the nearest dictionary word with its edit distance."""
    model = CharNgramModel.fit(dictionary, order=order)
    known = set(dictionary)
    nearest = nearest_words(list(words), list(dictionary))
    return [
        {
            "word": w,
            "new": w not in known,
            "logp_per_char": model.log_prob_per_char(w),
            "nearest": near,
            "distance": dist,
        }
        for w, (near, dist) in zip(words, nearest, strict=True)
    ]


def archive_strings(bundle: Bundle, archive: NoveltyArchive) -> list[str]:
    """The archive's samples as strings (argmax of each position)."""
    return [s.strip() for s in decode(archive.x, bundle_vocab(bundle))]
