"""Tests for text data (swerve.data.text), the character-level GAN and text bundles."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from swerve.data import load_dataset
from swerve.data.text import (
    UNKNOWN,
    build_vocab,
    decode,
    dictionary_words,
    encode,
    fortune_sentences,
    one_hot,
    windows,
)
from swerve.errors import DataError
from tests.marks import needs_fortunes, needs_words


def test_encode_decode_round_trip_with_unknown_and_padding():
    vocab = build_vocab(["abca", "cab"])
    assert vocab[0] == UNKNOWN and vocab[1] == " " and vocab[2:] == ["a", "b", "c"]
    x = encode(["abz", "cabbage"], vocab, 4)
    assert x.tolist() == [[2, 3, 0, 1], [4, 2, 3, 3]]  # z unknown, padded with a space; cut at 4
    assert decode(x, vocab) == ["ab" + UNKNOWN, "cabb"]
    assert decode(one_hot(x, len(vocab)), vocab) == decode(x, vocab)
    assert one_hot(x, len(vocab)).shape == (2, len(vocab), 4)


def test_min_count_drops_rare_characters():
    assert build_vocab(["aab"], min_count=2) == [UNKNOWN, " ", "a"]


def test_windows_collapse_whitespace_and_drop_the_short_tail():
    assert windows("ab  c\nde f", 3) == ["ab ", "c d", "e f"]
    assert windows("abcd", 3) == ["abc"]


def test_text_folder_split_is_seeded_disjoint_and_shares_the_vocabulary(tmp_path):
    (tmp_path / "a.txt").write_text("the quick brown fox jumps over the lazy dog " * 20)
    (tmp_path / "b.txt").write_text("Pack my box with five dozen liquor jugs. " * 20)
    train = load_dataset(f"text:{tmp_path}", seed=3)
    test = load_dataset(f"text:{tmp_path}", split="test", seed=3)
    again = load_dataset(f"text:{tmp_path}", seed=3)
    assert train.x.dtype == torch.long and train.x.shape[1] == 32
    assert train.shape == [len(train.vocab), 32] and train.vocab == test.vocab
    assert torch.equal(train.x, again.x)
    assert len(train) + len(test) == (20 * 44) // 32 + (20 * 41 - 1) // 32
    assert all(len(s) <= 32 for s in decode(test.x, test.vocab))


def test_missing_text_path_is_one_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"text:{tmp_path / 'nope.txt'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .txt files"):
        load_dataset(f"text:{tmp_path / 'empty'}")


def test_missing_word_list_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("SWERVE_WORDS", str(tmp_path / "none"))
    with pytest.raises(DataError, match="wamerican"):
        load_dataset("words")
    monkeypatch.setenv("SWERVE_FORTUNES", str(tmp_path / "none"))
    with pytest.raises(DataError, match="fortunes-min"):
        load_dataset("fortunes")


def test_dictionary_words_drop_possessives_and_long_words(tmp_path):
    path = tmp_path / "words"
    path.write_text("Apple\napple\napple's\ncafé\nextraordinarily\nzip\n")
    assert dictionary_words(path, 10) == ["apple", "zip"]


def test_fortune_sentences_split_at_percent_lines_and_sentences(tmp_path):
    text = "Look before you leap. Then jump!\n%\nA fool and his money.\n\t-- Anon\n%\n"
    (tmp_path / "wisdom").write_text(text)
    (tmp_path / "wisdom.dat").write_bytes(b"\x00\x01")
    assert fortune_sentences(tmp_path) == ["Look before you leap.", "Then jump!", "A fool and his money."]


@needs_words
def test_words_corpus_is_lower_case_words_with_a_held_out_split():
    train, test = load_dataset("words"), load_dataset("words", split="test")
    assert train.shape == [28, 12]
    words = set(decode(train.x, train.vocab))
    assert not words & set(decode(test.x, test.vocab))
    assert all(w.isalpha() and w.islower() for w in list(words)[:1000])
    assert 0.08 < len(test) / (len(train) + len(test)) < 0.12


@needs_fortunes
def test_fortunes_corpus_holds_printable_sentences():
    data = load_dataset("fortunes", n=50)
    assert len(data) == 50 and data.shape[1] == 32
    assert all(c.isprintable() for c in "".join(data.vocab))


CORPUS = "the cat sat on the mat. a dog ran in the fog. " * 40


def train_tiny_text(root: Path, seed: int = 0, sample_every: int = 0) -> Path:
    """A character GAN trained for two steps (seed ``seed``) on a small corpus of 32-character windows, saved
    under ``root``; returns the bundle's path."""
    from swerve.train import TrainConfig, Trainer

    (root / "corpus.txt").write_text(CORPUS)
    config = TrainConfig(
        name=f"tiny-text-{seed}",
        dataset=f"text:{root / 'corpus.txt'}",
        arch="charcnn",
        objective="wgan-gp",
        n_critic=1,
        width=8,
        depth=1,
        latent_dim=4,
        steps=2,
        batch_size=8,
        ema=0.0,
        log_every=0,
        sample_every=sample_every,
        checkpoint_every=0,
        seed=seed,
    )
    trainer = Trainer(config, root / f"run{seed}", progress=False)
    trainer.fit()
    path = root / f"bundle{seed}"
    trainer.export().save(path)
    return path


@pytest.fixture
def text_bundle(tmp_path) -> Path:
    """A character GAN trained for two steps on a small corpus of 32-character windows."""
    path = train_tiny_text(tmp_path, sample_every=2)
    assert (tmp_path / "run0" / "samples" / "step_000002.txt").read_text().count("\n") == 64
    return path


def test_text_bundle_keeps_its_vocabulary_and_one_hot_shape(text_bundle):
    import swerve
    from swerve.data.text import bundle_vocab

    bundle = swerve.load(text_bundle, device="cpu")
    vocab = bundle_vocab(bundle)
    assert vocab[:2] == [UNKNOWN, " "] and set("thecat") <= set(vocab)
    assert bundle.data.shape == [len(vocab), 32] and bundle.data.range == [0.0, 1.0]
    x = bundle.sample(3, seed=0).x
    assert x.shape == (3, len(vocab), 32)
    assert torch.allclose(x.sum(dim=1), torch.ones(3, 32))  # a softmax over characters at each position


def test_charcnn_refuses_images_and_other_archs_refuse_text(tmp_path):
    from swerve.errors import ConfigError
    from swerve.train import TrainConfig, Trainer

    (tmp_path / "c.txt").write_text(CORPUS)
    with pytest.raises(ConfigError, match="charcnn"):
        Trainer(
            TrainConfig(dataset=f"text:{tmp_path / 'c.txt'}", batch_size=8), tmp_path / "r", progress=False
        )
    with pytest.raises(ConfigError, match="charcnn"):
        Trainer(TrainConfig(dataset="digits", arch="charcnn"), tmp_path / "r2", progress=False)


def test_sample_prints_strings_and_writes_jsonl(cli, text_bundle, tmp_path):
    import json

    code, stdout, _ = cli("sample", text_bundle, "--n", 5, "--seed", 2)
    assert code == 0
    lines = stdout.rstrip("\n").split("\n")
    assert len(lines) == 5 and all(len(s) <= 32 for s in lines)
    out = tmp_path / "s.jsonl"
    assert cli("sample", text_bundle, "--n", 5, "--seed", 2, "--out", out)[0] == 0
    assert [json.loads(r)["text"] for r in out.read_text().splitlines()] == lines
    code, _, err = cli("sample", text_bundle, "--out", tmp_path / "s.png")
    assert code == 2 and ".txt or .jsonl" in err


def test_refine_text_writes_strings_and_reports_js4_js6(cli, text_bundle, tmp_path):
    import json

    out = tmp_path / "r.jsonl"
    args = ("refine", text_bundle, "--n", 6, "--out", out, "--set", "steps=2", "--json")
    code, stdout, _ = cli(*args)
    assert code == 0, stdout
    result = json.loads(stdout)
    assert set(result["before"]) >= {"JS-4", "JS-6"} and set(result["after"]) >= {"JS-4", "JS-6"}
    assert all(0 <= result["after"][k] <= math.log(2) for k in ("JS-4", "JS-6"))
    rows = [json.loads(r) for r in out.read_text().splitlines()]
    assert len(rows) == 6 and {"text", "before"} <= set(rows[0])
    code, _, err = cli("refine", text_bundle, "--method", "ddls", "--out", tmp_path / "d.txt")
    assert code == 2 and "density ratio" in err  # a WGAN critic is no density ratio


def test_ratio_corrector_fits_on_text(text_bundle):
    import swerve
    from swerve.refine import fit_ratio, run_method
    from swerve.refine.ratio import bundle_critic

    bundle = swerve.load(text_bundle, device="cpu")
    data = load_dataset(bundle.data.dataset)
    summary = fit_ratio(bundle, data.x, corrector=True, steps=3, batch_size=8)
    assert 0 <= summary["final_accuracy"] <= 1
    critic, name = bundle_critic(bundle, "auto", "dgflow", {"divergence": "js"})
    assert name == "ratio"
    z = bundle.sample(4, seed=0).z
    refined = run_method("dgflow", bundle, critic, z, divergence="js", steps=2)
    assert refined.x.shape == (4, len(bundle.extra["vocab"]), 32)


def test_novelty_search_on_text_prints_strings_with_scores(cli, text_bundle, tmp_path):
    import json

    out = tmp_path / "nov.jsonl"
    code, stdout, err = cli("diverge", "novelty", text_bundle, "--budget", 8, "--population", 4, "--out", out)
    assert code == 0, err
    rows = [json.loads(r) for r in out.read_text().splitlines()]
    assert len(rows) == 8 and all(r["novelty"] >= 0 for r in rows)
    assert "most novel first" in stdout and repr(rows[0]["text"]) in stdout


def test_ngram_behaviour_of_one_hot_strings_counts_bigrams():
    from swerve.diverge.text_novelty import ngram_behaviour

    vocab = [UNKNOWN, " ", "a", "b"]
    b = ngram_behaviour()(one_hot(encode(["abab"], vocab, 4), 4))
    uni, bi = b[0, :4], b[0, 4:].view(4, 4)
    assert uni.tolist() == [0, 0, 0.5, 0.5]
    assert (
        bi[2, 3] == pytest.approx(2 / 3) and bi[3, 2] == pytest.approx(1 / 3) and bi.sum() == pytest.approx(1)
    )


def test_score_words_marks_new_words_and_their_nearest():
    from swerve.diverge.text_novelty import score_words

    rows = score_words(["cat", "cot", "xqz"], ["cat", "dog", "cart"])
    assert [r["new"] for r in rows] == [False, True, True]
    assert (rows[1]["nearest"], rows[1]["distance"]) == ("cat", 1)
    assert rows[0]["logp_per_char"] > rows[2]["logp_per_char"]  # a known word reads better than xqz
