"""How many p-values are significant at each threshold α, for many subsets at once, without sorting.

The scanners need N_α — the (possibly fractional) number of p-values ≤ α — of every sample over a subset of
nodes, or of every node over a subset of samples, at every α of a grid. Every p-value range lies on the
integer grid of its denominator D, so a range's contribution as a function of the position a = α·D is a
sum of *steps* (``ties="pmax"``: 1 once a ≥ p_max·D) or *ramps* (``ties="fractional"``: the covered
fraction grows linearly across the range). Both are summed over a subset with one ``bincount`` into
per-threshold histograms and a cumulative sum, O(N·J) per call, whatever the number of thresholds.

Fractional ties and Higher Criticism: along a ramp N_α is linear in α, and Berk–Jones (convex) and
Kolmogorov–Smirnov (linear) then peak at a ramp's ends, so the endpoint grid is exact for them; Higher
Criticism is not convex there, and swerve defines its scan score as the maximum over the same grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from swerve.errors import ConfigError
from swerve.measure.scan.pvalues import PValues

EPS = 1e-9  # positions are integers; this keeps a float position like 499.99999999 on 500


@dataclass
class Terms:
    """A PValues matrix as step and ramp terms on the position grid 0..limit (beyond: an overflow bin)."""

    steps: list[torch.Tensor]  # positions (N, J)
    ramps: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]  # positions, weights, weights × positions
    limit: int  # floor(α_max · D)
    denom: int
    alpha_max: float
    cache: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)  # per-scan lookup tables

    @property
    def bins(self) -> int:
        return self.limit + 2


def check_alpha_max(alpha_max: float) -> float:
    if not 0 < alpha_max <= 1:
        raise ConfigError(f"alpha_max must be in (0, 1], got {alpha_max}")
    return float(alpha_max)


def limit_of(pv: PValues, alpha_max: float) -> int:
    """floor(α_max · D): the last integer position a threshold can take."""
    return int(math.floor(check_alpha_max(alpha_max) * pv.denom + EPS))


def prepare(pv: PValues, alpha_max: float) -> Terms:
    """Decompose ``pv`` into the terms :func:`counts` sums (done once per scan)."""
    alpha_max = check_alpha_max(alpha_max)
    d = pv.denom
    limit = limit_of(pv, alpha_max)

    def clamp(pos: torch.Tensor) -> torch.Tensor:
        return pos.clamp(0, limit + 1).long()

    if pv.ties == "pmax":
        return Terms([clamp(pv.pmax_position())], [], limit, d, alpha_max)
    width = (pv.hi - pv.lo).double()
    ramps = []
    for pos, sign in ramp_ends(pv):
        keep = pos <= limit  # ramps starting beyond the last threshold never contribute
        weight = torch.where(keep, sign / width, torch.zeros_like(width))
        ramps.append((clamp(pos), weight, weight * pos.double()))
    return Terms([], ramps, limit, d, alpha_max)


def ramp_ends(pv: PValues) -> list[tuple[torch.Tensor, float]]:
    """Where the ramps of fractional ties start, with their signs (positions on the integer grid)."""
    d = pv.denom
    if pv.two_tailed:  # 2 min(u, 1 - u) ≤ α  ⇔  u ≤ α/2 or u ≥ 1 - α/2: four half-weight ramps
        return [(2 * pv.lo, 0.5), (2 * pv.hi, -0.5), (2 * (d - pv.hi), 0.5), (2 * (d - pv.lo), -0.5)]
    return [(pv.lo, 1.0), (pv.hi, -1.0)]


def endpoint_positions(
    terms: Terms, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None
) -> torch.Tensor:
    """The distinct positions in 1..limit where some term of the selected entries starts (sorted)."""
    present = torch.zeros(terms.bins, dtype=torch.bool)
    for pos in terms.steps + [r[0] for r in terms.ramps]:
        sel = pos
        if rows is not None:
            sel = sel[rows]
        if cols is not None:
            sel = sel[:, cols]
        present |= torch.bincount(sel.reshape(-1), minlength=terms.bins).bool()
    present[0] = False  # α = 0 can never be significant
    present[-1] = False  # the overflow bin
    return present.nonzero().squeeze(1).double()


def thin(positions: torch.Tensor, count: int) -> torch.Tensor:
    """Every ⌊len/count⌋+1-th position: about ``count`` thresholds, the smallest always kept."""
    step = len(positions) // count + 1
    return positions[::step]


def alpha_grid(terms: Terms, alphas: str | int = "exact", ends: torch.Tensor | None = None) -> torch.Tensor:
    """Threshold positions (α·D, ascending, ending at α_max·D) for a whole scan.

    ``"exact"``: every distinct p-value endpoint ≤ α_max (where the counts change) and α_max;
    ``"art"``: the same without α_max appended (ART's one-sample scan);
    an integer K: about K of those, evenly spaced in rank, and α_max (faster, as in ART's group scan).
    ``ends``: the distinct endpoint positions, when the caller has them already.
    """
    ends = endpoint_positions(terms) if ends is None else ends
    ends = ends[ends / terms.denom <= terms.alpha_max]
    if alphas == "art" and len(ends):
        return ends
    if alphas not in ("exact", "art"):
        if not isinstance(alphas, int) or isinstance(alphas, bool) or alphas < 1:
            raise ConfigError(f"alphas must be 'exact', 'art' or a positive integer, got {alphas!r}")
        ends = thin(ends, alphas)
    top = torch.tensor([terms.alpha_max * terms.denom], dtype=torch.float64)
    return torch.unique(torch.cat([ends, top]))


def counts(
    terms: Terms, mask: torch.Tensor, dim: int, positions: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """N_α of every row (``dim=1``: samples, over the nodes in ``mask``) or column (``dim=0``: nodes, over
    the samples in ``mask``) at each threshold position: returns the positions and a (rows, K) float64
    tensor. ``positions=None`` takes ART's grid of the selected entries (:func:`art_grid`).

    Each entry's step or ramp start is mapped to the first threshold at or after it (a lookup table over
    the integer positions), the selected entries are histogrammed per row with one ``bincount``, and a
    cumulative sum over thresholds gives the counts at every α, between 0 and the number of entries selected.
    """
    device = mask.device
    chosen = None if bool(mask.all()) else mask.nonzero().squeeze(1)
    if positions is None and len(terms.steps) == 1 and not terms.ramps:
        full = terms.steps[0]
        if full.shape[0] * terms.bins <= full.numel() < 2**31:  # per-sample tables no larger than the data
            return _art_step_counts(terms, chosen, dim)

    def select(t: torch.Tensor) -> torch.Tensor:
        if chosen is None:
            return t
        return t[:, chosen] if dim == 1 else t[chosen]

    steps = [select(pos) for pos in terms.steps]
    ramps = [tuple(select(t) for t in ramp) for ramp in terms.ramps]
    first = steps[0] if steps else ramps[0][0]
    rows = first.shape[0] if dim == 1 else first.shape[1]
    if positions is None and not ramps and rows * terms.bins <= first.numel():
        return _art_counts_by_position(terms, steps[0], dim, rows)
    if positions is None:
        positions = art_grid(terms, steps + [r[0] for r in ramps])
    k = len(positions)
    grid = positions.to(device)
    lut = torch.searchsorted(grid, torch.arange(terms.bins, dtype=torch.float64, device=device))
    line = torch.arange(rows, device=device) * (k + 1)
    offsets = line[:, None] if dim == 1 else line[None, :]

    def cumulative(pos: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        flat = (lut[pos] + offsets).reshape(-1)
        w = None if weights is None else weights.reshape(-1)
        hist = torch.bincount(flat, weights=w, minlength=rows * (k + 1)).reshape(rows, k + 1)
        return hist[:, :k].cumsum(1)  # whole counts stay integers: exact, and cheaper to score

    if len(steps) == 1 and not ramps:
        return positions, cumulative(steps[0], None)
    total = torch.zeros(rows, k, dtype=torch.float64, device=device)
    for pos in steps:
        total += cumulative(pos, None)
    for pos, w, wpos in ramps:
        total += grid * cumulative(pos, w) - cumulative(pos, wpos)
    # Each entry counts at most once: a ramp sum can overshoot by a rounding error (N + 1e-11 at α = 1).
    return positions, total.clamp_(0, float(mask.sum()))


ART_THRESHOLDS = 50  # ART thins its per-step α grid to about this many thresholds


def art_grid(terms: Terms, starts: list[torch.Tensor]) -> torch.Tensor:
    """ART's per-step grid: the distinct endpoints among ``starts`` below α_max, thinned, then α_max."""
    present = torch.zeros(terms.bins, dtype=torch.bool, device=starts[0].device)
    for pos in starts:
        present |= torch.bincount(pos.reshape(-1), minlength=terms.bins).bool()
    return _art_grid_of(terms, present)


def _art_grid_of(terms: Terms, present: torch.Tensor) -> torch.Tensor:
    present[0] = present[-1] = False
    ends = present.nonzero().squeeze(1).double().cpu()
    ends = thin(ends[ends / terms.denom < terms.alpha_max], ART_THRESHOLDS)
    return torch.cat([ends, torch.tensor([terms.alpha_max * terms.denom], dtype=torch.float64)])


def _art_counts_by_position(
    terms: Terms, pos: torch.Tensor, dim: int, rows: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """ART's grid and the counts on it from one histogram over raw positions (when rows × bins is small)."""
    bins = terms.bins
    line = torch.arange(rows, device=pos.device) * bins
    flat = (pos + (line[:, None] if dim == 1 else line[None, :])).reshape(-1)
    hist = torch.bincount(flat, minlength=rows * bins).reshape(rows, bins)
    positions = _art_grid_of(terms, hist.sum(0).bool())
    return positions, hist.cumsum(1)[:, torch.floor(positions + EPS).long().to(pos.device)]


def _art_step_counts(
    terms: Terms, chosen: torch.Tensor | None, dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`counts` for whole-count (p_max) terms on ART's per-step grid, with per-scan int32 tables (a
    ``bincount`` of int32 is about twice as fast as of int64): each sample's positions offset into its own
    histogram row (``dim=1``: one ``bincount`` over the chosen columns), and which positions each sample
    holds (``dim=0``: the grid without a histogram)."""
    pos = terms.steps[0]
    n_samples, n_nodes = pos.shape
    bins, device = terms.bins, pos.device
    if "coded" not in terms.cache:
        line = torch.arange(n_samples, device=device)[:, None] * bins
        terms.cache["coded"] = (pos + line).int()  # sample i's position p as i · bins + p
        terms.cache["all"] = torch.bincount(terms.cache["coded"].reshape(-1), minlength=n_samples * bins)
        terms.cache["held"] = terms.cache["all"].reshape(n_samples, bins) > 0
        terms.cache["pos"] = pos.int()
    if dim == 1:
        hist = _sample_histogram(terms, chosen, n_samples, n_nodes, bins)
        positions = _art_grid_of(terms, hist.sum(0).bool())
        at = torch.floor(positions + EPS).long().to(device)
        return positions, hist.cumsum(1).index_select(1, at)
    rows = terms.cache["pos"] if chosen is None else terms.cache["pos"].index_select(0, chosen)
    held = terms.cache["held"] if chosen is None else terms.cache["held"].index_select(0, chosen)
    positions = _art_grid_of(terms, held.any(0))
    k = len(positions)
    grid = torch.arange(bins, dtype=torch.float64, device=device)
    lut = torch.searchsorted(positions.to(device), grid, out_int32=True)
    flat = lut.index_select(0, rows.reshape(-1)).reshape(rows.shape)
    flat += torch.arange(0, n_nodes * (k + 1), k + 1, dtype=torch.int32, device=device)
    hist = torch.bincount(flat.reshape(-1), minlength=n_nodes * (k + 1)).reshape(n_nodes, k + 1)
    return positions, hist[:, :k].cumsum(1, dtype=torch.int32)  # int32: a faster histogram next


def _sample_histogram(
    terms: Terms, chosen: torch.Tensor | None, n_samples: int, n_nodes: int, bins: int
) -> torch.Tensor:
    """Each sample's histogram of positions over the ``chosen`` nodes, (samples, bins): from the nodes
    chosen, or, when they are most of the nodes, the histogram of all nodes less that of the others."""
    coded = terms.cache["coded"]
    if chosen is None:
        return terms.cache["all"].reshape(n_samples, bins)
    if 2 * len(chosen) <= n_nodes:
        part = coded.index_select(1, chosen).reshape(-1)
        return torch.bincount(part, minlength=n_samples * bins).reshape(n_samples, bins)
    rest = torch.ones(n_nodes, dtype=torch.bool, device=coded.device)
    rest[chosen] = False
    part = coded.index_select(1, rest.nonzero().squeeze(1)).reshape(-1)
    return (terms.cache["all"] - torch.bincount(part, minlength=n_samples * bins)).reshape(n_samples, bins)
