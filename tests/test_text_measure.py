"""Tests for swerve.measure.text: n-gram JS divergence and the novelty of words, on cases worked by hand."""

from __future__ import annotations

import math

import pytest

from swerve.errors import SwerveError
from swerve.measure.text import (
    CharNgramModel,
    js_divergence,
    js_ngrams,
    nearest_words,
    new_word_share,
    ngram_counts,
)


def test_ngrams_are_counted_inside_each_string():
    assert ngram_counts(["abab", "b"], 2) == {"ab": 2, "ba": 1}
    assert ngram_counts(["ab"], 3) == {}


def test_js_of_identical_is_zero_and_of_disjoint_is_ln2():
    assert js_divergence(ngram_counts(["abc"], 1), ngram_counts(["cba"], 1)) == 0.0
    assert js_divergence(ngram_counts(["aa"], 1), ngram_counts(["bb"], 1)) == pytest.approx(math.log(2))


def test_js_of_half_overlap_matches_the_hand_computed_value():
    # p = (1/2, 1/2, 0), q = (1/2, 0, 1/2), m = (1/2, 1/4, 1/4): JS = 1/2 (1/2 ln 2) * 2 = ln2 / 2
    value = js_divergence(ngram_counts(["ab"], 1), ngram_counts(["ac"], 1))
    assert value == pytest.approx(math.log(2) / 2)


def test_js_ngrams_per_order_and_short_strings_refused():
    js = js_ngrams(["abcd"], ["abce"], orders=[1, 4])
    assert js[1] == pytest.approx(math.log(2) / 4)  # one of four characters differs
    assert js[4] == pytest.approx(math.log(2))  # the only 4-grams differ
    with pytest.raises(SwerveError, match="no n-grams"):
        js_ngrams(["ab"], ["abc"], orders=[3])


def test_new_word_share():
    assert new_word_share(["cat", "dog", "zorp", "cat"], ["cat", "dog"]) == 0.25


def test_char_ngram_model_probabilities_by_hand():
    model = CharNgramModel.fit(["ab"], order=2, alpha=1.0)
    # bigrams: ^a, ab, b$; alphabet {a, b} + end = 3 symbols. P(a|^) = 2/4, P(b|a) = 2/4, P($|b) = 2/4.
    assert model.log_prob_per_char("ab") == pytest.approx(math.log(0.5))
    # "ba": P(b|^) = 1/4, P(a|b) = 1/4, P($|a) = 1/4
    assert model.log_prob_per_char("ba") == pytest.approx(math.log(0.25))
    assert model.log_prob_per_char("ab") > model.log_prob_per_char("ba")


def test_nearest_words_by_edit_distance():
    dictionary = ["kitten", "sitting", "cat", "dog"]
    assert nearest_words(["kitten", "sittin", "cot", "dg", "bitten"], dictionary) == [
        ("kitten", 0),
        ("sitting", 1),
        ("cat", 1),
        ("dog", 1),
        ("kitten", 1),
    ]
    assert nearest_words(["sitting"], ["kitten"]) == [("kitten", 3)]


def test_js_stays_within_zero_and_ln2_despite_rounding():
    many = [chr(0x4E00 + i) for i in range(997)]
    value = js_divergence(ngram_counts(many, 1), ngram_counts(["ab"] * 3, 1))
    assert 0 <= value <= math.log(2)
