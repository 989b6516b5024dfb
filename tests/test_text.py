"""Tests for text data (swerve.data.text), the character-level GAN and text bundles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from swerve.data import load_dataset
from swerve.data.text import (
    FORTUNES_DIR,
    UNKNOWN,
    WORDS_FILE,
    build_vocab,
    decode,
    dictionary_words,
    encode,
    fortune_sentences,
    one_hot,
    windows,
)
from swerve.errors import DataError

needs_words = pytest.mark.skipif(
    not Path(os.environ.get("SWERVE_WORDS") or WORDS_FILE).is_file(),
    reason="the word list is not installed: apt-get install wamerican (or SWERVE_WORDS)",
)
needs_fortunes = pytest.mark.skipif(
    not Path(os.environ.get("SWERVE_FORTUNES") or FORTUNES_DIR).is_dir(),
    reason="fortunes are not installed: apt-get install fortunes-min fortunes (or SWERVE_FORTUNES)",
)


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
