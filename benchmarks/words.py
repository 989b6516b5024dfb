"""Words that are not: how new, how pronounceable and how far from the dictionary the word model's words are.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/words.py [--model words-wgangp] [--n 200] [--seed 0]

Rows: held-out real words (the test split, never trained on), the model's plain samples, the same latents
through bent generators (swerve.diverge.bend: transforms along the 1-D maps of one block, listed in
``BENDS``), and the archive of a latent novelty search in the character n-gram space
(swerve.diverge.text_novelty, evolution, the same number of words). Columns (swerve.measure.text): share
not in the dictionary (the whole wamerican list, so held-out words count as known), mean log-probability
per character under a 3-gram model of the training words (pronounceability; higher reads more like
English), mean edit distance to the nearest dictionary
word among the new words (0 would be memorised), and JS-4 of the character 4-grams against the held-out
words. A few words of each row are printed.
"""

from __future__ import annotations

import argparse
import statistics

import torch

import swerve
from swerve.data import load_dataset
from swerve.data.text import decode, dictionary_words, words_file
from swerve.diverge.bend import bend_bundle
from swerve.diverge.text_novelty import archive_strings, score_words, search_text
from swerve.measure.text import CharNgramModel, js_ngrams, nearest_words

BENDS = [  # (label, bend): along the length of a block's 1-D maps, and one pointwise for comparison
    ("bent: flip blocks.0", {"layer": "blocks.0", "transform": "flip", "params": {"axis": "h"}}),
    ("bent: translate blocks.1", {"layer": "blocks.1", "transform": "translate", "params": {"dx": 0.25}}),
    ("bent: dilate blocks.0", {"layer": "blocks.0", "transform": "dilate", "params": {"radius": 1}}),
    ("bent: multiply blocks.1", {"layer": "blocks.1", "transform": "multiply", "params": {"factor": -1.0}}),
]


def row(name: str, words: list[str], dictionary: list[str], model: CharNgramModel, real: list[str]) -> dict:
    words = [w for w in words if w] or [""]
    known = set(dictionary)
    new = [w for w in words if w not in known]
    distances = [d for _, d in nearest_words(new, dictionary)] if new else []
    return {
        "name": name,
        "new": len(new) / len(words),
        "logp": statistics.fmean(model.log_prob_per_char(w) for w in words),
        "distance": statistics.fmean(distances) if distances else float("nan"),
        "js4": js_ngrams(words, real, [4])[4],
        "examples": new[:8],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="words-wgangp")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    bundle = swerve.load(args.model, device="cpu")
    vocab = bundle.extra["vocab"]
    dictionary = dictionary_words(words_file())
    train = decode(load_dataset("words", seed=args.seed).x, vocab)
    real = decode(load_dataset("words", split="test", seed=args.seed).x, vocab)
    model = CharNgramModel.fit(train, order=3)
    with torch.no_grad():
        samples = [s.strip() for s in decode(bundle.sample(args.n, seed=args.seed).x, vocab)]
    bent = []
    for label, bend in BENDS:
        with torch.no_grad():
            x = bend_bundle(bundle, [bend]).sample(args.n, seed=args.seed).x
        bent.append(row(label, [s.strip() for s in decode(x, vocab)], dictionary, model, real))
    archive = search_text(bundle, budget=4 * args.n, population=args.n // 2, add_per_generation=args.n // 8)
    found = archive_strings(bundle, archive)[: args.n]
    rows = [
        row("held-out real words", real[: args.n], dictionary, model, real),
        row(f"{args.model} samples", samples, dictionary, model, real),
        *bent,
        row("novelty search archive", found, dictionary, model, real),
    ]
    print(f"n={args.n} seed={args.seed}; dictionary {len(dictionary)} words; 3-gram model of {len(train)}")
    print(f"{'':<26}{'new share':>10}{'logp/char':>11}{'edit dist':>11}{'JS-4':>8}")
    for r in rows:
        print(f"{r['name']:<26}{r['new']:>10.3f}{r['logp']:>11.3f}{r['distance']:>11.2f}{r['js4']:>8.4f}")
    for r in rows:
        print(f"  {r['name']}: {', '.join(r['examples'])}")
    best = sorted(score_words(found, dictionary), key=lambda s: -s["logp_per_char"])
    print("  most pronounceable new words found: " + ", ".join(s["word"] for s in best if s["new"])[:300])


if __name__ == "__main__":
    main()
