"""Empirical p-values of test activations against a background of normal activations, with exact ties.

For a test value x of node j and M background values b_1..b_M of that node, the upper-tail p-value is a
*range* (McFowland, Speakman & Neill 2013): p_min = #{b > x} / (M + 1) and p_max = (#{b ≥ x} + 1) / (M + 1).
Without ties the range is one step of width 1 / (M + 1); a value tied with t background values (a ReLU zero,
a saturated pixel) gets a range t steps wider. swerve keeps the range as integer counts over the common
denominator D = M + 1, so every later comparison with a threshold α is exact.

How a range counts at threshold α is the ``ties`` convention:

- ``"fractional"`` (swerve's default): the fraction of the range below α, i.e. the p-value is drawn
  uniformly from its range. Under the null hypothesis this makes the p-values exactly uniform, ties or not.
- ``"pmax"``: only p_max is used, so a range counts fully or not at all. This is the convention of IBM's
  Adversarial Robustness Toolbox; with it a value tied with many background values (a ReLU zero) can never
  be significant, and untied p-values are biased upwards by half a step.

Tails: ``"upper"`` (large activations are anomalous), ``"lower"``, or ``"two"`` (p = 2 min(p_up, p_low)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from swerve.errors import ConfigError

TAILS = ("upper", "lower", "two")
TIES = ("fractional", "pmax")


@dataclass
class PValues:
    """p-value ranges of N test samples × J nodes as integer counts over ``denom`` (= background size + 1).

    ``lo`` and ``hi`` are the upper-tail range [lo, hi] / denom of the *tail being tested* (a lower-tail
    range is stored already mirrored). ``two_tailed`` maps a range u to 2 min(u, 1 − u).
    """

    lo: torch.Tensor
    hi: torch.Tensor
    denom: int
    two_tailed: bool = False
    ties: str = "fractional"

    def __post_init__(self) -> None:
        if self.ties not in TIES:
            raise ConfigError(f"ties must be one of {', '.join(TIES)}, got {self.ties!r}")
        if self.lo.shape != self.hi.shape or self.lo.dim() != 2:
            raise ConfigError(f"p-value ranges must be two (N, J) tensors, got {tuple(self.lo.shape)}")

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.lo.shape)  # type: ignore[return-value]

    def with_ties(self, ties: str) -> PValues:
        """The same ranges under another tie convention."""
        return PValues(self.lo, self.hi, self.denom, self.two_tailed, ties)

    def subset(self, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None) -> PValues:
        """The ranges of some samples (rows) and/or nodes (cols)."""
        lo, hi = self.lo, self.hi
        if rows is not None:
            lo, hi = lo[rows], hi[rows]
        if cols is not None:
            lo, hi = lo[:, cols], hi[:, cols]
        return PValues(lo, hi, self.denom, self.two_tailed, self.ties)

    def pmax_position(self) -> torch.Tensor:
        """p_max × denom (an integer tensor); for two tails 2 min(p_max, 1 − p_min) × denom."""
        if self.two_tailed:
            return 2 * torch.minimum(self.hi, self.denom - self.lo)
        return self.hi

    def pmax(self) -> torch.Tensor:
        """p_max as float64 (capped at 1)."""
        return (self.pmax_position().double() / self.denom).clamp(max=1.0)

    def pmin_position(self) -> torch.Tensor:
        """p_min × denom (an integer tensor); for two tails 2 min(p_min, 1 − p_max) × denom."""
        if self.two_tailed:
            return 2 * torch.minimum(self.lo, self.denom - self.hi)
        return self.lo

    def pmin(self) -> torch.Tensor:
        """p_min as float64 (capped at 1)."""
        return (self.pmin_position().double() / self.denom).clamp(max=1.0)

    def fraction_below(self, position: torch.Tensor | float) -> torch.Tensor:
        """How much of each range counts as significant at α = position / denom (float64, in [0, 1]).

        A number gives an (N, J) answer, K positions an (N, K, J) one. The direct formula; the scanners use
        the same quantity computed by histograms (:mod:`swerve.measure.scan.counts`).
        """
        a = torch.as_tensor(position, dtype=torch.float64)
        lo, hi, pmax = self.lo, self.hi, self.pmax_position()
        if a.dim() == 1:
            a = a[None, :, None]
            lo, hi, pmax = lo[:, None, :], hi[:, None, :], pmax[:, None, :]
        if self.ties == "pmax":
            return (pmax.double() <= a).double()
        lo, hi = lo.double(), hi.double()
        width = hi - lo
        if not self.two_tailed:
            overlap = (torch.minimum(hi, a) - lo).clamp_min(0)
        else:
            half = a / 2
            overlap = (torch.minimum(hi, half) - lo).clamp_min(0)
            overlap = overlap + (hi - torch.maximum(lo, self.denom - half)).clamp_min(0)
        return (overlap / width).clamp(max=1.0)


def _sorted_columns(background: torch.Tensor) -> torch.Tensor:
    """Each node's background values, sorted: a (J, M) tensor (NumPy's vectorised sort on the CPU)."""
    rows = background.T.contiguous()
    if rows.device.type == "cpu":
        return torch.from_numpy(np.sort(rows.numpy(), axis=1))
    return rows.sort(dim=1).values


def _run_ends(sorted_rows: torch.Tensor) -> torch.Tensor:
    """For each position k of each sorted row, #{values <= row[k]}: one past the end of row[k]'s ties."""
    j, m = sorted_rows.shape
    index = torch.arange(1, m + 1, dtype=torch.int32, device=sorted_rows.device).expand(j, m)
    last = torch.ones(j, m, dtype=torch.bool, device=sorted_rows.device)
    last[:, :-1] = sorted_rows[:, 1:] != sorted_rows[:, :-1]  # the last element of each run of ties
    ends = torch.where(last, index, m)
    return ends.flip(1).cummin(1).values.flip(1)


def empirical_pvalues(
    test: torch.Tensor,
    background: torch.Tensor,
    tail: str = "upper",
    ties: str = "fractional",
    chunk: int = 256,
) -> PValues:
    """p-value ranges of ``test`` (N, J) against ``background`` (M, J), node by node (see module docs).

    The counts #{b < x} and #{b ≤ x} come from the background sorted once per node. For float32 (or
    narrower) activations on the CPU, each node's test values are merged into its sorted background with
    one row-wise sort of 64-bit keys (:func:`_merged_counts`); otherwise each chunk of test rows is located
    with a batched binary search (:func:`_searched_counts`). Both give the same integer counts.
    """
    if tail not in TAILS:
        raise ConfigError(f"tail must be one of {', '.join(TAILS)}, got {tail!r}")
    if test.dim() != 2 or background.dim() != 2 or test.shape[1] != background.shape[1]:
        raise ConfigError(
            f"test and background must be (N, J) and (M, J) with the same J, "
            f"got {tuple(test.shape)} and {tuple(background.shape)}"
        )
    if len(background) < 1:
        raise ConfigError("the background set is empty")
    if not (_finite(test) and _finite(background)):
        raise ConfigError("activations contain NaN or infinite values")
    dtype = torch.promote_types(test.dtype, background.dtype)
    m = len(background)
    mergeable = test.device.type == background.device.type == "cpu" and dtype.itemsize <= 4
    if mergeable and dtype.is_floating_point and len(test) < 2**31:
        below, at_or_below = _merged_counts(
            test.detach().float().numpy(), background.detach().float().numpy()
        )
    else:
        below, at_or_below = _searched_counts(test, background.to(dtype), chunk)
    lo, hi = at_or_below.neg_().add_(m), below.neg_().add_(m + 1)  # #{b > x}, #{b >= x} + 1, in place
    if tail == "lower":  # the lower tail's range is the mirror image of the upper one's
        lo, hi = (m + 1) - hi, (m + 1) - lo
    return PValues(lo, hi, m + 1, two_tailed=tail == "two", ties=ties)


def _finite(values: torch.Tensor) -> bool:
    """No NaN or infinity (the extremes are finite; NaN propagates through min and max)."""
    if values.numel() == 0:
        return True
    low, high = torch.aminmax(values)
    return bool(torch.isfinite(low) and torch.isfinite(high))


def _searched_counts(
    test: torch.Tensor, background: torch.Tensor, chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(#{b < x}, #{b ≤ x}) as (N, J) int32, by a batched binary search of each chunk of test rows."""
    m = len(background)
    sorted_bg = _sorted_columns(background)  # (J, M)
    run_end = _run_ends(sorted_bg)
    below_out = torch.empty(test.shape, dtype=torch.int32, device=sorted_bg.device)
    at_or_below_out = torch.empty_like(below_out)
    for start in range(0, len(test), chunk):
        x = test[start : start + chunk].to(dtype=background.dtype, device=sorted_bg.device).T.contiguous()
        below = torch.searchsorted(sorted_bg, x, out_int32=True)  # #{b < x}
        # #{b <= x}: where x equals a background value, the end of that value's run of ties.
        at = below.clamp(max=m - 1)
        tied = (below < m) & (sorted_bg.gather(1, at) == x)
        at_or_below_out[start : start + chunk] = torch.where(tied, run_end.gather(1, at), below).T
        below_out[start : start + chunk] = below.T
    return below_out, at_or_below_out


def _ordered_bits(values: np.ndarray) -> np.ndarray:
    """float32 values as int32 with the same order (−0.0 and 0.0 equal): a negative float's magnitude bits
    flipped, then moved up by one so that −0.0 lands on 0.0."""
    bits = np.ascontiguousarray(values).view(np.int32)
    sign = bits >> 31  # −1 for negative floats, else 0
    out = bits ^ (sign & np.int32(0x7FFFFFFF))
    out -= sign
    return out


def _merged_counts(
    test: np.ndarray, background: np.ndarray, block_elements: int = 1 << 17
) -> tuple[torch.Tensor, torch.Tensor]:
    """(#{b < x}, #{b ≤ x}) as (N, J) int32 by one sort per node of 64-bit keys: the high half a value's
    ordered bits, the low half (unsigned) a test value's row index, or all ones for a background value, so
    that a test value comes before the background values equal to it. In a sorted row the r-th test key,
    at position p, has #{b < x} = p − r background keys before it; #{b ≤ x} adds the run of background
    values equal to x when the next background value is x. Nodes go in blocks that stay in cache."""
    (n, j), m = test.shape, len(background)
    width = m + n
    test_bits = torch.from_numpy(_ordered_bits(test)).T.contiguous().numpy()  # (J, N)
    ordered = np.sort(torch.from_numpy(_ordered_bits(background)).T.contiguous().numpy(), axis=1)  # (J, M)
    run_end = _run_ends_np(ordered)
    counts = np.empty((2, n, j), dtype=np.int32)  # #{b < x} over #{b <= x}
    step = max(1, block_elements // width)
    k = np.arange(min(step, j) * n, dtype=np.int64)
    row = k // n
    shift, sorted_at, out_at = k + row * m, row * m, row * n  # the k-th test key's row, as offsets
    index = np.arange(n, dtype=np.int32)
    for start in range(0, j, step):
        rows = min(step, j - start)
        cols, size = slice(start, start + rows), rows * n
        keys = np.empty((rows, width), dtype=np.int64)
        halves = keys.view(np.int32).reshape(rows, width, 2)  # little-endian: [low, high]
        halves[:, :m, 1], halves[:, :m, 0] = ordered[cols], -1
        halves[:, m:, 1], halves[:, m:, 0] = test_bits[cols], index
        keys.sort(axis=1)
        flat = keys.view(np.int32).reshape(-1)
        is_test = flat[0::2] != -1
        where = np.flatnonzero(is_test)
        below = where - shift[:size]
        at = np.minimum(below, m - 1)
        at += sorted_at[:size]
        where *= 2  # the test keys' low halves in flat; their high halves follow
        tied = ordered[cols].reshape(-1).take(at) == flat.take(where + 1)
        found = np.empty((size, 2), dtype=np.int32)
        found[:, 0] = below
        found[:, 1] = np.where(tied, run_end[cols].reshape(-1).take(at), below)
        block = np.empty(size, dtype=np.int64)  # back in test-row order, both counts as one int64
        block[flat.take(where) + out_at[:size]] = found.view(np.int64)[:, 0]
        counts[:, :, cols] = block.view(np.int32).reshape(rows, n, 2).transpose(2, 1, 0)
    return torch.from_numpy(counts[0]), torch.from_numpy(counts[1])


def _run_ends_np(sorted_rows: np.ndarray) -> np.ndarray:
    """For each position k of each sorted row, #{values <= row[k]} (one past the end of its ties)."""
    m = sorted_rows.shape[1]
    ends = np.full(sorted_rows.shape, m, dtype=np.int32)
    ends[:, :-1] = np.where(sorted_rows[:, 1:] != sorted_rows[:, :-1], np.arange(1, m, dtype=np.int32), m)
    return np.minimum.accumulate(ends[:, ::-1], axis=1)[:, ::-1]
