"""Measures of generated text: n-gram Jensen-Shannon divergence, and novelty of generated words.

JS-n follows the protocol of Gulrajani et al. 2017 (section 6) that DGflow (Ansari et al. 2021, table 3)
reports: the Jensen-Shannon divergence (natural log, so between 0 and ln 2) between the distributions of
character n-grams counted within each string of the samples and of held-out real text. For words ("words
that are not", after Kazakçı et al.'s digits that are not): the share not in a dictionary, their mean
log-probability per character under a character n-gram model of the dictionary (pronounceability), and the
edit distance to the nearest dictionary word (0 means memorised). For the divergence map and ``swerve
measure``, strings live in a character n-gram feature space (:class:`CharNgramFeatures`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from swerve.errors import SwerveError

BOS, EOS = "\x02", "\x03"  # word boundaries for the n-gram model


def ngram_counts(strings: Iterable[str], n: int) -> Counter[str]:
    """Counts of the character n-grams inside each string (n-grams do not cross strings)."""
    if n < 1:
        raise SwerveError(f"n-gram order must be positive, got {n}")
    return Counter(s[i : i + n] for s in strings for i in range(len(s) - n + 1))


def js_divergence(p: Counter[str], q: Counter[str]) -> float:
    """Jensen-Shannon divergence (nats) between two count tables, each normalised to a distribution."""
    tp, tq = sum(p.values()), sum(q.values())
    if tp == 0 or tq == 0:
        raise SwerveError("cannot compare n-gram distributions: one side has no n-grams (strings too short)")
    total = 0.0
    for key in p.keys() | q.keys():
        a, b = p.get(key, 0) / tp, q.get(key, 0) / tq
        m = (a + b) / 2
        if a > 0:
            total += 0.5 * a * math.log(a / m)
        if b > 0:
            total += 0.5 * b * math.log(b / m)
    return min(max(0.0, total), math.log(2))  # rounding can step just outside [0, ln 2]


def js_ngrams(
    samples: Sequence[str], real: Sequence[str], orders: Iterable[int] = range(1, 7)
) -> dict[int, float]:
    """JS-n between the character n-gram distributions of ``samples`` and ``real`` for each order n."""
    return {n: js_divergence(ngram_counts(samples, n), ngram_counts(real, n)) for n in orders}


def new_word_share(words: Sequence[str], dictionary: Iterable[str]) -> float:
    """The share of ``words`` that are not in ``dictionary``."""
    if not words:
        raise SwerveError("no words to measure")
    known = set(dictionary)
    return sum(w not in known for w in words) / len(words)


@dataclass
class CharNgramModel:
    """A character n-gram model with add-``alpha`` smoothing over the alphabet plus the end symbol."""

    order: int
    counts: Counter[str]
    contexts: Counter[str]
    alphabet: int
    alpha: float = 1.0

    @classmethod
    def fit(cls, words: Iterable[str], order: int = 3, alpha: float = 1.0) -> CharNgramModel:
        """Count the ``order``-grams of the words, each padded with ``order - 1`` start symbols and an end."""
        counts: Counter[str] = Counter()
        chars: set[str] = set()
        for w in words:
            chars.update(w)
            padded = BOS * (order - 1) + w + EOS
            counts.update(padded[i : i + order] for i in range(len(padded) - order + 1))
        contexts: Counter[str] = Counter()
        for gram, k in counts.items():
            contexts[gram[:-1]] += k
        return cls(order, counts, contexts, len(chars) + 1, alpha)

    def log_prob_per_char(self, word: str) -> float:
        """Mean natural-log probability of each character of ``word`` and its end, given the ones before."""
        padded = BOS * (self.order - 1) + word + EOS
        grams = [padded[i : i + self.order] for i in range(len(padded) - self.order + 1)]
        total = sum(
            math.log(
                (self.counts.get(g, 0) + self.alpha)
                / (self.contexts.get(g[:-1], 0) + self.alpha * self.alphabet)
            )
            for g in grams
        )
        return total / len(grams)


def nearest_words(words: Sequence[str], dictionary: Sequence[str]) -> list[tuple[str, int]]:
    """For each word, the dictionary word at the least Levenshtein distance, and that distance (first in
    dictionary order on ties). The distance to all dictionary words is computed at once, one query
    character at a time."""
    if not dictionary:
        raise SwerveError("the dictionary is empty")
    width = max(map(len, dictionary))
    codes = np.zeros((len(dictionary), width), dtype=np.int32)
    for i, d in enumerate(dictionary):
        codes[i, : len(d)] = [ord(c) for c in d]
    lengths = np.array([len(d) for d in dictionary])
    out = []
    for word in words:
        prev = np.broadcast_to(np.arange(width + 1), (len(dictionary), width + 1)).copy()
        for i, ch in enumerate(word, start=1):
            row = np.empty_like(prev)
            row[:, 0] = i
            cost = (codes != ord(ch)).astype(np.int64)
            for j in range(1, width + 1):
                row[:, j] = np.minimum(
                    np.minimum(prev[:, j] + 1, row[:, j - 1] + 1), prev[:, j - 1] + cost[:, j - 1]
                )
            prev = row
        dist = prev[np.arange(len(dictionary)), lengths]
        best = int(dist.argmin())
        out.append((dictionary[best], int(dist[best])))
    return out


def ngram_profile(x: torch.Tensor) -> torch.Tensor:
    """Soft unigram and bigram profile of N x V x L character distributions: N x (V + V^2), the mean of
    each position's distribution beside the mean product of neighbouring positions' distributions."""
    uni = x.mean(dim=2)
    bi = torch.einsum("nvl,nwl->nvw", x[:, :, :-1], x[:, :, 1:]) / max(1, x.shape[2] - 1)
    return torch.cat([uni, bi.flatten(1)], dim=1)


class CharNgramFeatures(nn.Module):
    """The feature space of text for novelty and precision: each string read as it decodes (the argmax
    character at each position, one-hot), then its unigram and bigram profile (:func:`ngram_profile`).
    No weights; ``features`` is what :func:`swerve.measure.features.extract_features` calls."""

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise SwerveError(f"text features read N x V x L strings, got shape {tuple(x.shape)}")
        hard = torch.zeros_like(x).scatter_(1, x.argmax(dim=1, keepdim=True), 1.0)
        return ngram_profile(hard)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)
