"""Linear-time subset scanning (Neill 2012): the best subset of elements, exactly, without trying 2^J.

For a fixed threshold α each element has a priority — the fraction of its p-values that are ≤ α — and for
the scan statistics of :mod:`~swerve.measure.scan.statistics` the highest-scoring subset is always one of
the J prefixes of the elements sorted by priority. So the best subset over all 2^J is found by one sort
and one cumulative sum per α, and the best over α by taking the maximum across the threshold grid.

Two uses: the *individual* scan (one sample, subsets of its nodes — :func:`scan_individual`), and each half
step of the group scan (the best subset of samples for fixed nodes, or of nodes for fixed samples —
:func:`best_prefix`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from swerve.measure.scan.counts import Terms, alpha_grid, check_alpha_max, limit_of, ramp_ends
from swerve.measure.scan.pvalues import PValues
from swerve.measure.scan.statistics import Statistic, get_statistic


@dataclass
class Prefix:
    """The best prefix of one LTSS: its score, the threshold position and the chosen element indices."""

    score: float
    position: float
    chosen: torch.Tensor


def best_prefix(
    priority: torch.Tensor,
    given: float,
    positions: torch.Tensor,
    denom: int,
    statistic: str,
    integer: bool = False,
) -> Prefix:
    """Best subset of rows of ``priority`` (rows, K): N_α of each element at each threshold, each element
    holding ``given`` p-values. Ties go to the smallest α, then the smallest subset.

    ``integer=True`` promises whole-number priorities (p_max ties): elements with equal priority are then
    all in or all out of the best subset (along a run of equal priorities each statistic peaks at one of
    the run's ends), so only the boundaries between priority values are scored — a histogram, no sort.
    Where no subset scores above 0, both ways return the single top element (never an empty subset).
    """
    stat = get_statistic(statistic)
    rows = priority.shape[0]
    alpha = (positions.to(priority.device) / denom)[:, None]
    levels = int(round(given)) + 1
    if integer and levels < rows:
        value = priority  # whole counts from a histogram are already in 0..given
        if priority.is_floating_point():
            value = priority.round().long().clamp(0, levels - 1)  # (rows, K)
        k_count = len(positions)
        offsets = torch.arange(k_count, dtype=value.dtype, device=value.device) * levels
        flat = (value + offsets).reshape(-1)
        hist = torch.bincount(flat, minlength=k_count * levels).reshape(k_count, levels)
        hist = hist.double().flip(1)  # column v holds the elements of priority levels - 1 - v
        level = torch.arange(levels - 1, -1, -1, dtype=torch.float64, device=priority.device)
        scores = stat((hist * level).cumsum(1), hist.cumsum(1) * given, alpha)  # (K, levels)
        cut = scores.argmax(1)
        per_alpha = scores.gather(1, cut[:, None]).squeeze(1)
        k = int(per_alpha.argmax())
        threshold = levels - 1 - int(cut[k])
        chosen = (value[:, k] >= threshold).nonzero().squeeze(1)
        if not per_alpha[k] > 0:  # no excess anywhere: the top element, as the sort path (and ART) take
            chosen = value[:, k].argmax().reshape(1)  # the first of the highest, as a stable sort
        return Prefix(float(per_alpha[k]), float(positions[k]), chosen)
    ordered, order = priority.T.contiguous().sort(dim=1, descending=True, stable=True)  # (K, rows)
    n = torch.arange(1, rows + 1, dtype=torch.float64, device=priority.device)[None, :] * given
    scores = stat(ordered.cumsum(1), n, alpha)
    size = scores.argmax(1)  # best prefix per α (first, so smallest)
    per_alpha = scores.gather(1, size[:, None]).squeeze(1)
    k = int(per_alpha.argmax())
    return Prefix(float(per_alpha[k]), float(positions[k]), order[k, : int(size[k]) + 1])


@dataclass
class IndividualScans:
    """One-sample scans of N samples: each sample's score, α* and node subset (an (N, J) mask)."""

    scores: torch.Tensor
    alphas: torch.Tensor
    nodes: torch.Tensor
    statistic: str
    alpha_max: float
    ties: str

    def sizes(self) -> torch.Tensor:
        """How many nodes each sample's anomalous subset holds."""
        return self.nodes.sum(1)


def scan_individual(
    pv: PValues,
    statistic: str = "berk-jones",
    alpha_max: float = 0.5,
    alphas: str | int | None = None,
    chunk_elements: int = 4_000_000,
) -> IndividualScans:
    """Exact LTSS of every sample over subsets of its nodes, at every threshold of the α grid.

    With ``ties="pmax"`` every priority is 0 or 1, so the best subset at α is simply the nodes with
    p_max ≤ α, and all samples are scored with one histogram. With fractional ties the nodes whose range
    straddles some α (ties with the background) get priorities strictly between 0 and 1; only those are
    ordered, per sample and α. Partial nodes with the same range have the same priority at every α, so
    where there are fewer distinct partial ranges than partial nodes in a sample (ties with a background
    value: a ReLU zero's range depends only on the node's count of zeros) the ranges are ordered once per α
    for all samples and each sample is scored at the boundaries between ranges
    (:func:`_fractional_by_ranges`); otherwise each sample's partial nodes are sorted
    (:func:`_fractional_chunk`). Both work in chunks of about ``chunk_elements`` values.
    ``alphas``: ``"exact"`` (every distinct endpoint ≤ α_max, then α_max), ``"art"`` (the same without
    α_max, as ART), or K (about K of them); ``None`` means exact for pmax ties and 50 for fractional ones
    (sorting at every endpoint costs K × J per sample). A sample with no p-value ≤ α_max scores 0.
    """
    stat = get_statistic(statistic)
    if alphas is None:
        alphas = "exact" if pv.ties == "pmax" else 50
    n_samples, n_nodes = pv.shape
    if pv.ties == "pmax":
        return _pmax_scans(pv, stat, statistic, alpha_max, alphas)
    distinct = _distinct_ranges(pv)
    terms = Terms([], [], limit_of(pv, alpha_max), pv.denom, check_alpha_max(alpha_max))
    positions = alpha_grid(terms, alphas, ends=_range_ends(pv, distinct.ranges, terms.limit))
    grouped = _fractional_by_ranges(pv, positions, stat, terms.limit, chunk_elements, distinct)
    if grouped is not None:
        return IndividualScans(*grouped, statistic, terms.alpha_max, pv.ties)
    device = pv.lo.device
    scores_out = torch.zeros(n_samples, dtype=torch.float64, device=device)
    alphas_out = torch.zeros(n_samples, dtype=torch.float64, device=device)
    nodes_out = torch.zeros(n_samples, n_nodes, dtype=torch.bool, device=device)
    batch = max(1, chunk_elements // max(1, len(positions) * n_nodes))
    for start in range(0, n_samples, batch):
        top, alpha, chosen = _fractional_chunk(pv.subset(rows=slice(start, start + batch)), positions, stat)
        scores_out[start : start + len(top)] = top
        alphas_out[start : start + len(top)] = alpha
        nodes_out[start : start + len(top)] = chosen
    return IndividualScans(scores_out, alphas_out, nodes_out, statistic, terms.alpha_max, pv.ties)


def _pmax_scans(
    pv: PValues, stat: Statistic, statistic: str, alpha_max: float, alphas: str | int
) -> IndividualScans:
    """One-sample scans with p_max ties: N_α = N = #{p_max ≤ α}, from one histogram of all samples."""
    limit = limit_of(pv, alpha_max)
    bins = limit + 2
    pos = pv.pmax_position().clamp(max=limit + 1)
    rows = torch.arange(pv.shape[0], dtype=pos.dtype, device=pos.device)[:, None] * bins
    hist = torch.bincount((pos + rows).reshape(-1), minlength=pv.shape[0] * bins).reshape(-1, bins)
    present = hist.sum(0).bool()
    present[0] = present[-1] = False
    terms = Terms([], [], limit, pv.denom, check_alpha_max(alpha_max))
    positions = alpha_grid(terms, alphas, ends=present.nonzero().squeeze(1).double().cpu()).to(hist.device)
    a = positions / pv.denom
    n_alpha = hist.cumsum(1)[:, torch.floor(positions + 1e-9).long()]  # (N, K)
    scores = stat(n_alpha, n_alpha, a[None, :])
    best = scores.argmax(1)
    best_pos = positions[best]
    top = scores.gather(1, best[:, None]).squeeze(1)
    cut = torch.floor(best_pos + 1e-9).to(pos.dtype)  # positions are whole numbers
    nodes = (pos <= cut[:, None]) & (top > 0)[:, None]
    alpha = torch.where(top > 0, best_pos / pv.denom, 0.0)
    return IndividualScans(top, alpha, nodes, statistic, terms.alpha_max, pv.ties)


def _fractional_chunk(
    part: PValues, positions: torch.Tensor, stat: Statistic
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Individual scans of a few samples with fractional ties: the ones first, then partial priorities.

    A node's q(α) is 0 up to its p_min and 1 from its p_max on, so only the nodes with a grid threshold
    strictly inside (p_min, p_max) need a fraction (and a sort); the others are counted by a search.
    """
    positions = positions.to(part.lo.device)
    device = positions.device
    a = positions / part.denom
    b, k = part.shape[0], len(positions)
    p0, p1 = part.pmin_position().double(), part.pmax_position().double()  # q = 0 at or below, 1 at or above
    inside = torch.searchsorted(positions, p0.contiguous(), right=True)  # first threshold above p_min
    candidate = (inside < k) & (positions[inside.clamp(max=k - 1)] < p1)  # (B, J): partial at some α
    settled = torch.where(candidate, torch.inf, p1).sort(dim=1).values
    n_full = torch.searchsorted(settled, positions.expand(b, k).contiguous(), right=True).double()  # (B, K)
    width = int(candidate.sum(1).max())
    pick = candidate.to(torch.int8).argsort(dim=1, descending=True, stable=True)[:, :width]  # (B, W)
    valid = candidate.gather(1, pick)
    picked = PValues(part.lo.gather(1, pick), part.hi.gather(1, pick), part.denom, part.two_tailed, part.ties)
    partial = picked.fraction_below(positions) * valid[:, None, :]  # (B, K, W)
    ordered, order = partial.sort(dim=2, descending=True, stable=True)
    zero = torch.zeros(b, k, 1, dtype=torch.float64, device=device)
    n_alpha = n_full[..., None] + torch.cat([zero, ordered.cumsum(2)], 2)  # prefixes of 0..W partials
    n = n_full[..., None] + torch.arange(width + 1, dtype=torch.float64, device=device)
    scores = stat(n_alpha, n, a[None, :, None])  # (B, K, W + 1)
    size = scores.argmax(2)
    per_alpha = scores.gather(2, size[..., None]).squeeze(2)
    best = per_alpha.argmax(1)
    rows = torch.arange(b, device=device)
    top = per_alpha[rows, best]
    settled_in = ~candidate & (p1 <= positions[best][:, None])  # the settled nodes in at α*
    taken = torch.arange(width, device=device)[None, :] < size[rows, best][:, None]
    chosen = torch.zeros_like(candidate)
    chosen.scatter_(1, pick.gather(1, order[rows, best]), taken & valid.gather(1, order[rows, best]))
    chosen |= settled_in  # (padding picks of rows with fewer candidates wrote False over settled nodes)
    chosen &= (top > 0)[:, None]
    return top, torch.where(top > 0, a[best], 0.0), chosen


@dataclass
class DistinctRanges:
    """The distinct p-value ranges of a matrix (keys lo · (denom + 1) + hi, ascending) and how to give
    each entry a value of its range: a table over all ``size`` possible keys looked up by the entries'
    keys, or (too many possible keys) the entries' indices among the ranges."""

    ranges: torch.Tensor
    key: torch.Tensor | None  # (N, J), with a table over every possible key
    inverse: torch.Tensor | None  # (N, J), otherwise
    size: int = 0

    def spread(self, values: torch.Tensor) -> torch.Tensor:
        """One value per range → that value at every entry of the range, (N, J)."""
        index = self.inverse if self.key is None else self.key
        assert index is not None
        if self.key is not None:
            table = values.new_zeros(self.size)
            table[self.ranges] = values
            values = table
        return values.index_select(0, index.reshape(-1)).reshape(index.shape)


def _distinct_ranges(pv: PValues) -> DistinctRanges:
    """The distinct ranges of ``pv``: a histogram of the entries' keys when the (denom + 1)² possible keys
    are few enough (and fit int32), else a sort."""
    size = (pv.denom + 1) ** 2
    small = size < 2**31 and size <= max(1 << 22, 4 * pv.lo.numel())
    key = pv.lo.to(torch.int32 if small else torch.long) * (pv.denom + 1)
    key += pv.hi
    if not small:
        ranges, inverse = torch.unique(key, return_inverse=True)
        return DistinctRanges(ranges, None, inverse)
    present = torch.bincount(key.reshape(-1), minlength=size) > 0
    return DistinctRanges(present.nonzero().squeeze(1), key, None, size)


def _range_ends(pv: PValues, ranges: torch.Tensor, limit: int) -> torch.Tensor:
    """The distinct ramp ends (positions where a fractional N_α changes slope) in 1..limit, as float64."""
    lo, hi = ranges // (pv.denom + 1), ranges % (pv.denom + 1)
    one = PValues(lo[None, :], hi[None, :], pv.denom, pv.two_tailed, pv.ties)
    ends = torch.cat([pos.reshape(-1) for pos, _ in ramp_ends(one)]).unique()
    return ends[(ends >= 1) & (ends <= limit)].double().cpu()


def _fractional_by_ranges(
    pv: PValues,
    positions: torch.Tensor,
    stat: Statistic,
    limit: int,
    chunk_elements: int,
    distinct: DistinctRanges | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """Individual scans with fractional ties, grouping the partial nodes by their p-value range; ``None``
    when there are as many distinct partial ranges as partial nodes in some sample (nothing to group).

    A node's q(α) is 0 up to its p_min and 1 from its p_max on; the nodes with a threshold strictly inside
    (p_min, p_max) are partial. All partial nodes with the same range [lo, hi] have the same q(α), so the
    U distinct ranges are sorted by q once per α, each sample counts its nodes per range, and the prefix
    sums over ranges in that order give N_α and N at every boundary between ranges. Along a run of equal
    priorities each statistic peaks at one of the run's ends (as in :func:`best_prefix`), so scoring the
    boundaries finds the same best prefix as sorting every node.

    Whether a node is partial, and where it counts in full, depend only on its range: they are worked out
    once per distinct range and given to the entries as one code each — a settled node's first threshold
    where it counts in full (K: never), a partial one's K + 1 + its partial range. One histogram of the
    codes per sample gives both the settled counts and the nodes per range, and one lookup of the codes in
    a per-sample table gives the subsets.
    """
    device = pv.lo.device
    distinct = _distinct_ranges(pv) if distinct is None else distinct
    positions = positions.to(device)
    n_samples, n_nodes = pv.shape
    k = len(positions)
    a = positions / pv.denom
    lo, hi = distinct.ranges // (pv.denom + 1), distinct.ranges % (pv.denom + 1)
    each = PValues(lo[None, :], hi[None, :], pv.denom, pv.two_tailed, pv.ties)
    p0, p1 = each.pmin_position()[0], each.pmax_position()[0]
    first = torch.searchsorted(positions, p1.double())  # the first threshold where a range counts in full
    candidate = torch.searchsorted(positions, p0.double(), right=True) < first  # a threshold strictly inside
    u = int(candidate.sum())
    span = k + 1 + u  # codes per sample: thresholds 0..K (K: never), then the partial ranges
    code = torch.where(candidate, candidate.long().cumsum(0) + k, first)
    dtype = torch.int32 if n_samples * span < 2**31 else torch.long
    codes = distinct.spread(code.to(dtype))
    codes += torch.arange(0, n_samples * span, span, dtype=dtype, device=device)[:, None]
    hist = torch.bincount(codes.reshape(-1), minlength=n_samples * span).reshape(n_samples, span)
    per_range = hist[:, k + 1 :].double()  # (N, U): each sample's partial nodes per range
    width = int(per_range.sum(1).max()) if n_samples and u else 0
    if u >= width > 0:
        return None
    n_full = hist[:, :k].cumsum(1).double()  # (N, K): the settled nodes counted at every threshold
    part_lo, part_hi = lo[candidate], hi[candidate]
    q = PValues(part_lo[None, :], part_hi[None, :], pv.denom, pv.two_tailed, pv.ties)
    q = q.fraction_below(positions)[0]
    q_sorted, order = q.sort(dim=1, descending=True, stable=True)  # (K, U): ranges by priority, per α
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(u, device=device).expand(k, u))
    # Boundary c of α: the c ranges of highest q at α in. Past the ranges with q > 0 at α a prefix only
    # adds N, which lowers every statistic: only boundaries 0..#{q > 0} are scored, in α-major order, so
    # the first best is the smallest α, then the smallest subset, as a per-α argmax would pick.
    held = (q > 0).sum(1)  # (K,)
    c = int(held.max()) if u else 0
    pad = torch.cat([order.new_zeros(k, 1), order[:, :c] + 1], 1)  # (K, C + 1): 0 is an empty column
    weight = torch.cat([q_sorted.new_zeros(k, 1), q_sorted[:, :c]], 1)
    counts_pad = torch.cat([per_range.new_zeros(n_samples, 1), per_range], 1)  # (N, 1 + U)
    scored = (torch.arange(c + 1, device=device) <= held[:, None]).reshape(-1).nonzero().squeeze(1)
    alpha_of, cut_of = scored // (c + 1), scored % (c + 1)
    top = torch.zeros(n_samples, dtype=torch.float64, device=device)
    best = torch.zeros(n_samples, dtype=torch.long, device=device)
    cut = torch.zeros(n_samples, dtype=torch.long, device=device)
    batch = max(1, chunk_elements // max(1, k * (c + 1)))
    for start in range(0, n_samples, batch):
        part = counts_pad[start : start + batch].index_select(1, pad.reshape(-1))  # (B, K (C + 1))
        b = len(part)
        part = part.reshape(b, k, c + 1)
        full = n_full[start : start + b].index_select(1, alpha_of)  # (B, L)
        n = part.cumsum(2).reshape(b, -1).index_select(1, scored) + full
        n_alpha = part.mul_(weight).cumsum(2).reshape(b, -1).index_select(1, scored) + full
        scores = stat(n_alpha, n, a[alpha_of])  # (B, L): every scored boundary
        pick = scores.argmax(1)
        top[start : start + b] = scores.gather(1, pick[:, None]).squeeze(1)
        best[start : start + b] = alpha_of[pick]
        cut[start : start + b] = cut_of[pick]
    # Which codes each sample keeps: settled nodes counting in full at α*, and its ranges before its cut.
    keep = torch.zeros(n_samples, span, dtype=torch.bool, device=device)
    keep[:, : k + 1] = torch.arange(k + 1, device=device)[None, :] <= best[:, None]
    keep[:, k + 1 :] = rank[best] < cut[:, None]
    keep &= (top > 0)[:, None]
    chosen = keep.reshape(-1).index_select(0, codes.reshape(-1)).reshape(n_samples, n_nodes)
    return top, torch.where(top > 0, a[best], 0.0), chosen
