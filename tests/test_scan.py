"""Subset scanning: p-values by hand, LTSS against brute force, the planted block, detection power."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from swerve.errors import ConfigError
from swerve.measure.scan import STATISTICS, empirical_pvalues, get_statistic, scan_group, scan_individual
from swerve.measure.scan.counts import alpha_grid, counts, prepare
from swerve.measure.scan.ltss import best_prefix
from swerve.measure.scan.power import detection_power, roc_auc


def test_pvalues_match_a_hand_computation() -> None:
    background = torch.tensor([[1.0], [2.0], [2.0], [3.0]])  # M = 4, so D = 5
    test = torch.tensor([[2.0], [0.0], [5.0]])
    pv = empirical_pvalues(test, background)
    # x = 2: one background value above, three at or above -> [1/5, 4/5]; x = 0: [4/5, 1]; x = 5: [0, 1/5]
    assert pv.pmin().squeeze(1).tolist() == pytest.approx([1 / 5, 4 / 5, 0.0])
    assert pv.pmax().squeeze(1).tolist() == pytest.approx([4 / 5, 1.0, 1 / 5])
    low = empirical_pvalues(test, background, tail="lower")  # x = 2: #{b < 2} = 1, #{b <= 2} + 1 = 4
    assert low.pmin().squeeze(1).tolist() == pytest.approx([1 / 5, 0.0, 4 / 5])
    assert low.pmax().squeeze(1).tolist() == pytest.approx([4 / 5, 1 / 5, 1.0])
    # Fractional ties: at α = 1/2, half of x = 2's range [0.2, 0.8] lies below; pmax counts it not at all.
    assert pv.fraction_below(0.5 * pv.denom)[0, 0].item() == pytest.approx(0.5)
    assert pv.with_ties("pmax").fraction_below(0.5 * pv.denom)[0, 0].item() == 0.0
    # Two tails: x = 5 has u in [0, 0.2], so 2 min(u, 1 - u) in [0, 0.4]; at α = 0.2 half of it counts.
    two = empirical_pvalues(test, background, tail="two")
    assert two.fraction_below(0.2 * two.denom)[2, 0].item() == pytest.approx(0.5)
    assert two.pmax()[2, 0].item() == pytest.approx(0.4)


def test_pvalues_reject_bad_input() -> None:
    with pytest.raises(ConfigError, match="same J"):
        empirical_pvalues(torch.zeros(3, 4), torch.zeros(5, 3))
    with pytest.raises(ConfigError, match="tail"):
        empirical_pvalues(torch.zeros(3, 4), torch.zeros(5, 4), tail="left")
    with pytest.raises(ConfigError, match="NaN"):
        empirical_pvalues(torch.full((3, 4), float("nan")), torch.zeros(5, 4))
    with pytest.raises(ConfigError, match="unknown scan statistic"):
        get_statistic("fisher")


def _tied_pvalues(seed: int, n: int, j: int, tail: str, ties: str):
    """Small integer activations: many ties between test and background values."""
    gen = torch.Generator().manual_seed(seed)
    background = torch.randint(0, 4, (7, j), generator=gen).float()
    test = torch.randint(0, 5, (n, j), generator=gen).float()
    return empirical_pvalues(test, background, tail=tail, ties=ties)


def _brute_force(pv, positions, statistic, rows=None) -> float:
    """max over all 2^J node subsets S and thresholds of φ(α, Σ_{i in rows, j in S} q_ij(α), |rows| |S|)."""
    stat = get_statistic(statistic)
    n, j = pv.shape
    rows = torch.arange(n) if rows is None else rows
    subsets = torch.tensor(list(itertools.product([0.0, 1.0], repeat=j)), dtype=torch.float64)  # (2^J, J)
    best = 0.0
    for a in positions.tolist():
        q = pv.fraction_below(a)[rows].sum(0)  # per node, over the fixed rows
        scores = stat(subsets @ q, subsets.sum(1) * len(rows), torch.tensor(a / pv.denom))
        best = max(best, float(scores.max()))
    return best


TAILS_TIES = [("upper", "fractional"), ("two", "fractional"), ("upper", "pmax")]


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
@pytest.mark.parametrize(("tail", "ties"), TAILS_TIES)
def test_individual_ltss_equals_brute_force(statistic: str, tail: str, ties: str) -> None:
    for seed in range(3):
        pv = _tied_pvalues(seed, n=2, j=9, tail=tail, ties=ties)
        scans = scan_individual(pv, statistic, alpha_max=0.6, alphas="exact")
        positions = alpha_grid(prepare(pv, 0.6), "exact")
        for i in range(2):
            expected = _brute_force(pv.subset(rows=[i]), positions, statistic)
            assert scans.scores[i].item() == pytest.approx(expected, rel=1e-9, abs=1e-12)
            # the reported subset and α* give the reported score
            q = pv.subset(rows=[i]).fraction_below(scans.alphas[i].item() * pv.denom)[0]
            chosen = scans.nodes[i]
            if expected > 0:
                again = get_statistic(statistic)(q[chosen].sum(), chosen.sum().double(), scans.alphas[i])
                assert again.item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
@pytest.mark.parametrize("ties", ["fractional", "pmax"])
def test_node_step_of_the_group_scan_equals_brute_force(statistic: str, ties: str) -> None:
    """The LTSS half-step: best node subset for a fixed set of samples (with p_max ties through the
    histogram path that scores only the boundaries between equal priorities)."""
    pv = _tied_pvalues(5, n=6, j=10, tail="upper", ties=ties)
    terms = prepare(pv, 0.5)
    positions = alpha_grid(terms, "exact")
    rows = torch.tensor([0, 2, 3])
    mask = torch.zeros(6, dtype=torch.bool)
    mask[rows] = True
    _, priority = counts(terms, mask, 0, positions)
    direct = torch.stack([pv.fraction_below(a)[rows].sum(0) for a in positions.tolist()], dim=1)
    assert torch.allclose(priority.double(), direct, atol=1e-12)  # histogram counts = the direct formula
    found = best_prefix(priority, 3.0, positions, pv.denom, statistic, integer=ties == "pmax")
    assert found.score == pytest.approx(_brute_force(pv, positions, statistic, rows), rel=1e-9)


@pytest.mark.parametrize("tail", ["upper", "two"])
def test_individual_scans_equal_the_dense_ltss_on_wider_data(tail: str) -> None:
    """The one-sample scanner sorts only nodes whose p-value range straddles a threshold; on ReLU-like data
    with many exact ties it must give what sorting every node's q(α) at every α gives (LTSS by definition)."""
    gen = torch.Generator().manual_seed(3)
    background = torch.randn(60, 300, generator=gen).clamp_min(0).round(decimals=1)
    test = torch.randn(25, 300, generator=gen).round(decimals=1)
    pv = empirical_pvalues(test, background, tail=tail)
    positions = alpha_grid(prepare(pv, 0.5), 20)
    scans = scan_individual(pv, "berk-jones", alpha_max=0.5, alphas=20)
    stat = get_statistic("berk-jones")
    q = pv.fraction_below(positions)  # (N, K, J)
    ordered = q.sort(dim=2, descending=True).values.cumsum(2)
    sizes = torch.arange(1, q.shape[2] + 1, dtype=torch.float64)
    dense = stat(ordered, sizes, (positions / pv.denom)[None, :, None]).amax(dim=(1, 2)).clamp_min(0)
    assert torch.allclose(scans.scores, dense, rtol=1e-12, atol=1e-12)
    partial = ((q > 0) & (q < 1)).any(1).sum(1)
    assert partial.min() > 0 and partial.max() < 300  # both kinds of node are present in every sample


def _planted(block: bool, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    background = torch.randn(300, 80, generator=gen)
    test = torch.randn(60, 80, generator=gen)
    if block:
        test[:10, :12] += 2.5
    return test, background


def test_group_scan_finds_a_planted_block() -> None:
    scores = {}
    for block in (True, False):
        test, background = _planted(block)
        result = scan_group(empirical_pvalues(test, background), restarts=5, seed=1)
        scores[block] = result.score
        if block:
            rows, cols = set(result.samples.tolist()), set(result.nodes.tolist())
            assert len(rows & set(range(10))) >= 9 and len(rows) <= 14, rows
            assert len(cols & set(range(12))) >= 11 and len(cols) <= 18, cols
    assert scores[True] > 2 * scores[False]
    again = scan_group(empirical_pvalues(*_planted(True)), restarts=5, seed=1)
    assert again.score == scores[True]  # seeded restarts: the same answer twice
    m = again.measurement("toy", "layer")
    assert m["score"] == again.score and m.n == 60 and m.seed == 1 and m.features.layer == "layer"


def test_nothing_below_alpha_max_scores_zero() -> None:
    background = torch.zeros(9, 5)
    pv = empirical_pvalues(torch.full((3, 5), -1.0), background)  # every p-value is 1
    assert scan_individual(pv).scores.tolist() == [0.0, 0.0, 0.0]
    result = scan_group(pv)
    assert result.score == 0.0 and result.alpha == 0.0


def test_equal_size_groups_show_no_power_on_null_data_but_arts_protocol_does() -> None:
    gen = torch.Generator().manual_seed(3)
    background = torch.randn(200, 40, generator=gen)
    normal = empirical_pvalues(torch.randn(400, 40, generator=gen), background)
    null_test = empirical_pvalues(torch.randn(400, 40, generator=gen), background)  # the same distribution
    art = {"alphas": "art", "restarts": 3, "groups": 40}
    nested = detection_power(
        normal.with_ties("pmax"), null_test.with_ties("pmax"), 10, protocol="nested", extra=20, **art
    )
    assert nested["auc"] > 0.8  # the larger group scores higher although nothing is anomalous (0.93)
    fair = detection_power(normal, null_test, 10, groups=40, restarts=3)
    assert 0.3 < fair["auc"] < 0.7
    assert roc_auc(torch.tensor([0.0, 1.0]), torch.tensor([2.0, 1.0])) == pytest.approx(0.875)


def test_fractional_ties_keep_null_pvalues_uniform_where_pmax_does_not() -> None:
    """ReLU activations: half are exact zeros, whose p-value range is about [0.5, 1]. With test and
    background from one distribution, the share of p-values significant at α should be α; p_max alone never
    counts a zero, so above α = 0.5 it falls short."""
    gen = torch.Generator().manual_seed(0)
    background = torch.randn(500, 50, generator=gen).clamp_min(0)
    test = torch.randn(400, 50, generator=gen).clamp_min(0)
    pv = empirical_pvalues(test, background)
    for alpha in (0.1, 0.3, 0.6, 0.8):
        fractional = pv.fraction_below(alpha * pv.denom).mean().item()
        pmax = pv.with_ties("pmax").fraction_below(alpha * pv.denom).mean().item()
        assert fractional == pytest.approx(alpha, abs=0.01)
        if alpha > 0.55:
            assert pmax < alpha - 0.08  # measured: 0.50 at α = 0.6 and 0.8


def _relu_pvalues(seed: int, n: int = 60, j: int = 40, tail: str = "upper", ties: str = "fractional"):
    """ReLU-like activations: half of them exact zeros, so most p-value ranges are wide ties."""
    gen = torch.Generator().manual_seed(seed)
    background = torch.randn(150, j, generator=gen).clamp_min(0)
    test = torch.randn(n, j, generator=gen).clamp_min(0)
    return empirical_pvalues(test, background, tail=tail, ties=ties)


def test_alpha_max_one_with_fractional_ties_gives_finite_scores() -> None:
    """At α_max = 1 the ramp sums gave N + 1e-11 significant p-values among N: Higher Criticism then divided
    by N α (1 − α) = 0 (inf), Berk–Jones took the log of a negative rest (NaN), and the group scan, never
    beating −inf, failed on an empty result."""
    pv = _relu_pvalues(0)
    terms = prepare(pv, 1.0)
    grid, n_alpha = counts(terms, torch.ones(pv.shape[1], dtype=torch.bool), 1, alpha_grid(terms, 50))
    assert grid[-1] == pv.denom and float(n_alpha.max()) <= pv.shape[1]  # every count within 0..N
    for statistic in sorted(STATISTICS):
        group = scan_group(pv, statistic=statistic, alpha_max=1.0, restarts=3)
        assert math.isfinite(group.score) and group.score > 0 and len(group.samples) > 0
        assert torch.isfinite(scan_individual(pv, statistic, alpha_max=1.0).scores).all()


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
def test_statistics_are_finite_and_zero_at_the_edges(statistic: str) -> None:
    """N_α = N, N_α = 0, N = 0, α = 1 (no excess is possible) and a count a rounding error above N."""
    stat = get_statistic(statistic)
    n_alpha = torch.tensor([5.0, 0.0, 0.0, 5.0, 5.0 + 1e-11, 5.0, 3.0])
    n = torch.tensor([5.0, 5.0, 0.0, 5.0, 5.0, 5.0, 5.0])
    alpha = torch.tensor([1.0, 1.0, 0.5, 0.3, 1.0, 0.0, 0.4])
    scores = stat(n_alpha, n, alpha)
    assert torch.isfinite(scores).all() and (scores >= 0).all()
    assert scores[:3].tolist() == [0.0, 0.0, 0.0] and scores[4] == 0.0 and scores[5] == 0.0
    assert scores[3] > 0 and scores[6] > 0  # a real excess still scores
    assert stat(n_alpha[3] + 1e-11, n[3], alpha[3]) == pytest.approx(scores[3].item(), rel=1e-9)


@pytest.mark.parametrize(("tail", "ties"), TAILS_TIES)
def test_every_scan_is_finite_for_every_alpha_max(tail: str, ties: str) -> None:
    """Property over α_max in (0, 1] (fixed edges and seeded random draws): scores finite and ≥ 0, α* in
    [0, α_max], subsets never empty in a group scan, counts never above the number of entries scanned."""
    draws = torch.rand(6, generator=torch.Generator().manual_seed(7)).tolist()
    for i, alpha_max in enumerate([1e-3, 0.05, 0.5, 0.999, 1.0, *draws]):
        pv = _relu_pvalues(i, n=30, j=24, tail=tail, ties=ties)
        terms = prepare(pv, alpha_max)
        for dim, size in ((1, pv.shape[1]), (0, pv.shape[0])):
            mask = torch.ones(size, dtype=torch.bool)
            _, n_alpha = counts(terms, mask, dim, alpha_grid(terms, 20))
            assert float(n_alpha.min()) >= 0 and float(n_alpha.max()) <= size
        for statistic in sorted(STATISTICS):
            group = scan_group(pv, statistic=statistic, alpha_max=alpha_max, restarts=2, seed=i)
            assert math.isfinite(group.score) and group.score >= 0, (alpha_max, statistic)
            assert 0 <= group.alpha <= alpha_max and len(group.samples) > 0 and len(group.nodes) > 0
            single = scan_individual(pv, statistic, alpha_max=alpha_max)
            assert torch.isfinite(single.scores).all() and (single.scores >= 0).all()
            assert (single.alphas <= alpha_max + 1e-12).all()


def _no_excess_over_all_nodes() -> tuple:
    """12 samples × 8 nodes, p_max 0.3 on nodes 0 and 1 and 1.0 elsewhere: over all 8 nodes no sample holds
    more p-values ≤ α than 8 α, but nodes {0, 1} hold nothing else."""
    background = torch.arange(9.0)[:, None].expand(9, 8)  # D = 10
    test = torch.full((12, 8), -1.0)  # below every background value: p_max = 1
    test[:, :2] = 6.5  # two background values above: p_max = 3 / 10
    return empirical_pvalues(test, background, ties="pmax")


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
def test_histogram_and_sort_paths_agree_when_nothing_scores(statistic: str) -> None:
    """With every score 0 at every α the histogram path returned an empty subset where the sort path takes
    the top element; the group scan's first ascent then stopped at once, scoring 0."""
    pv = _no_excess_over_all_nodes()
    terms = prepare(pv, 0.5)
    positions = alpha_grid(terms, "exact")
    _, priority = counts(terms, torch.ones(8, dtype=torch.bool), 1, positions)
    by_histogram = best_prefix(priority, 8.0, positions, pv.denom, statistic, integer=True)
    by_sort = best_prefix(priority, 8.0, positions, pv.denom, statistic, integer=False)
    assert by_histogram.score == by_sort.score == 0.0
    assert by_histogram.chosen.tolist() == by_sort.chosen.tolist() == [0]
    assert by_histogram.position == by_sort.position
    # The first ascent (no random restarts) now reaches the best subset: all samples x nodes {0, 1}.
    group = scan_group(pv, statistic=statistic, alphas="exact", restarts=1)
    assert group.score == pytest.approx(_brute_force(pv, positions, statistic), rel=1e-6)  # float32 α there
    assert group.score > 0 and group.nodes.tolist() == [0, 1] and len(group.samples) == 12
    assert group.alpha == pytest.approx(0.3)


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
def test_histogram_and_sort_paths_agree_on_tied_data(statistic: str) -> None:
    """Both paths of the LTSS half-step give the same score and α on p_max counts, scoring or not."""
    for seed in range(6):
        pv = _tied_pvalues(seed, n=30, j=6, tail="upper", ties="pmax")
        terms = prepare(pv, 0.5)
        positions = alpha_grid(terms, "exact")
        for dim, size in ((1, 6), (0, 30)):
            mask = torch.rand(size, generator=torch.Generator().manual_seed(seed)) < 0.5
            mask[0] = True
            _, priority = counts(terms, mask, dim, positions)
            given = float(mask.sum())
            a = best_prefix(priority, given, positions, pv.denom, statistic, integer=True)
            b = best_prefix(priority, given, positions, pv.denom, statistic, integer=False)
            assert a.score == pytest.approx(b.score, rel=1e-12, abs=1e-12) and a.position == b.position
            assert len(a.chosen) > 0 and len(b.chosen) > 0
            if a.score == 0:
                assert a.chosen.tolist() == b.chosen.tolist()


@pytest.mark.parametrize("tail", ["upper", "lower", "two"])
def test_merged_pvalues_equal_the_binary_search_on_tied_data(tail: str) -> None:
    """The merge path (float32 on the CPU) and the batched binary search give the same integer ranges,
    with ties, negative values, −0.0 against 0.0, and test values outside the background's range."""
    from swerve.measure.scan.pvalues import _merged_ranges, _searched_ranges

    gen = torch.Generator().manual_seed(7)
    background = torch.randint(-3, 4, (50, 70), generator=gen).float() / 2
    background[::7] = -0.0
    test = torch.randint(-5, 6, (40, 70), generator=gen).float() / 2
    test[:, ::3] = torch.randn(40, 24, generator=gen)  # untied values too
    test[::5] = -0.0
    merged = _merged_ranges(test.numpy(), background.numpy(), block_elements=1000)  # several blocks
    searched = _searched_ranges(test, background, chunk=16)
    assert all(torch.equal(a, b) for a, b in zip(merged, searched, strict=True))
    pv = empirical_pvalues(test, background, tail=tail)
    assert pv.lo.dtype == torch.int32 and (pv.lo <= pv.hi).all()
    again = empirical_pvalues(test.double(), background.double(), tail=tail)  # float64: the search path
    assert torch.equal(pv.lo, again.lo) and torch.equal(pv.hi, again.hi)
    tracked = empirical_pvalues(test.clone().requires_grad_(True), background, tail=tail)  # activations
    assert torch.equal(pv.lo, tracked.lo)  # straight from a network that tracks gradients


@pytest.mark.parametrize("block_elements", [1, 700, 1 << 16])
def test_merged_pvalues_of_nonnegative_activations_equal_the_binary_search(block_elements: int) -> None:
    """ReLU-like activations (no negative value) take the merge's one-pass keys: −0.0 still equals 0.0,
    ties at zero and elsewhere, the largest float32, and a test value above every background value."""
    from swerve.measure.scan.pvalues import _merged_ranges, _searched_ranges

    gen = torch.Generator().manual_seed(8)
    background = torch.randn(60, 90, generator=gen).clamp_min(0).round(decimals=1)
    background[::4, ::3] = -0.0
    background[5, 7] = torch.finfo(torch.float32).max
    test = torch.randn(33, 90, generator=gen).clamp_min(0)
    test[:, ::2] = test[:, ::2].round(decimals=1)  # tied with background values
    test[::3] = -0.0
    test[0, 7] = torch.finfo(torch.float32).max
    test[1] = 1e6
    merged = _merged_ranges(test.numpy(), background.numpy(), nonnegative=True, block_elements=block_elements)
    searched = _searched_ranges(test, background, chunk=16)
    assert all(torch.equal(a, b) for a, b in zip(merged, searched, strict=True))
    assert torch.equal(merged[0], _merged_ranges(test.numpy(), background.numpy())[0])  # general keys
    pv = empirical_pvalues(test, background, ties="pmax")
    expected = (background[None, :, :] >= test[:, None, :]).sum(1) + 1  # brute force, −0.0 == 0.0
    assert torch.equal(pv.hi.long(), expected)


@pytest.mark.parametrize("statistic", sorted(STATISTICS))
@pytest.mark.parametrize("tail", ["upper", "two"])
def test_fractional_scans_by_range_equal_the_per_node_sort(statistic: str, tail: str) -> None:
    """Grouping partial nodes by their p-value range gives the per-node sort's scores, α* and subsets."""
    from swerve.measure.scan.ltss import _fractional_by_ranges, _fractional_chunk

    gen = torch.Generator().manual_seed(11)
    background = torch.randn(80, 200, generator=gen).clamp_min(0)  # ReLU: tied at zero only
    test = torch.randn(30, 200, generator=gen).clamp_min(0)
    test[:, :50] = test[:, :50].round()  # and some ties with the background's zeros only
    pv = empirical_pvalues(test, background, tail=tail)
    terms = prepare(pv, 0.5)
    positions = alpha_grid(terms, 30)
    stat = get_statistic(statistic)
    grouped = _fractional_by_ranges(pv, positions, stat, terms.limit, chunk_elements=5000)
    assert grouped is not None  # many nodes share a range here
    direct = _fractional_chunk(pv, positions, stat)
    assert torch.allclose(grouped[0], direct[0], rtol=1e-12, atol=1e-12)
    assert torch.equal(grouped[1], direct[1]) and torch.equal(grouped[2], direct[2])
    assert (grouped[0] > 0).sum() > 10


def test_fractional_scans_by_range_equal_the_per_node_sort_with_many_possible_ranges() -> None:
    """With a background so large that a table over every possible range would be too big, the distinct
    ranges come from a sort; the scans still equal the per-node sort's."""
    from swerve.measure.scan.ltss import _distinct_ranges, _fractional_by_ranges, _fractional_chunk

    gen = torch.Generator().manual_seed(12)
    background = torch.randn(2100, 30, generator=gen).abs()
    background[:1050] = 0  # every node's zeros share one range
    test = torch.randn(12, 30, generator=gen).clamp_min(0)
    pv = empirical_pvalues(test, background)
    assert _distinct_ranges(pv).key is None  # (2102)² possible ranges: the sort
    positions = alpha_grid(prepare(pv, 0.5), 20)
    stat = get_statistic("berk-jones")
    grouped = _fractional_by_ranges(pv, positions, stat, 0, chunk_elements=3000)
    assert grouped is not None
    direct = _fractional_chunk(pv, positions, stat)
    assert torch.allclose(grouped[0], direct[0], rtol=1e-12, atol=1e-12)
    assert torch.equal(grouped[1], direct[1]) and torch.equal(grouped[2], direct[2])
    assert (grouped[0] > 0).any()


def test_ordered_bits_keep_the_float_order() -> None:
    """The int32 keys of the merge sort as their floats do, with −0.0 equal to 0.0 and the extremes."""
    from swerve.measure.scan.pvalues import _ordered_bits

    tiny, big = np.finfo(np.float32).smallest_subnormal, np.finfo(np.float32).max
    values = np.array([-big, -1.5, -tiny, -0.0, 0.0, tiny, 1e-30, 1.5, big], dtype=np.float32)
    values = np.concatenate([values, np.random.default_rng(0).standard_normal(200).astype(np.float32)])
    keys = _ordered_bits(values).astype(np.int64)
    assert np.array_equal(keys[:, None] < keys[None, :], values[:, None] < values[None, :])
    assert np.array_equal(keys[:, None] == keys[None, :], values[:, None] == values[None, :])


@pytest.mark.parametrize("denom", [60, 5000])  # a histogram over the ranges, or (5000² of them) a sort
def test_distinct_ranges_give_each_entry_its_own_range(denom: int) -> None:
    """The distinct ranges are the sorted set of the entries' keys, and a value given per range lands on
    exactly the entries of that range."""
    from swerve.measure.scan.ltss import _distinct_ranges
    from swerve.measure.scan.pvalues import PValues

    gen = torch.Generator().manual_seed(3)
    lo = torch.randint(0, denom // 2, (30, 40), generator=gen, dtype=torch.int32)
    hi = lo + torch.randint(1, 4, (30, 40), generator=gen, dtype=torch.int32)
    distinct = _distinct_ranges(PValues(lo, hi, denom))
    keys = lo.long() * (denom + 1) + hi
    assert distinct.ranges.tolist() == sorted(set(keys.reshape(-1).tolist()))
    assert (distinct.key is None) == (denom == 5000)
    values = torch.randperm(len(distinct.ranges), generator=gen).int()
    spread = distinct.spread(values)
    assert spread.shape == lo.shape
    assert torch.equal(distinct.ranges[values.long().argsort()][spread.long()], keys)


def test_art_grid_counts_equal_with_and_without_the_per_scan_tables() -> None:
    """The p_max group-scan tables give the general path's ART grid and counts, over samples and nodes."""
    from swerve.measure.scan.counts import _art_step_counts, art_grid

    pv = _tied_pvalues(4, n=12, j=300, tail="upper", ties="pmax")
    terms = prepare(pv, 0.5)
    gen = torch.Generator().manual_seed(4)
    for dim, size in ((1, 300), (0, 12)):
        # all, few (a histogram of the chosen) and most (the whole histogram less the others')
        masks = [torch.ones(size, dtype=torch.bool)]
        masks += [torch.rand(size, generator=gen) < share for share in (0.3, 0.8)]
        for mask in masks:
            chosen = None if bool(mask.all()) else mask.nonzero().squeeze(1)
            grid, fast = _art_step_counts(terms, chosen, dim)
            pos = terms.steps[0] if chosen is None else terms.steps[0].index_select(dim, chosen)
            expected_grid = art_grid(terms, [pos])
            _, expected = counts(terms, mask, dim, expected_grid)  # the general path on that grid
            assert torch.equal(grid, expected_grid) and torch.equal(fast.long(), expected.long())
