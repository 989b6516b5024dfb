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
    one row-wise sort of 64-bit keys (:func:`_merged_ranges`); otherwise each chunk of test rows is located
    with a batched binary search (:func:`_searched_ranges`). Both give the same integer ranges.
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
    low_test, low_bg = _lowest(test), _lowest(background)
    if low_test is None or low_bg is None:
        raise ConfigError("activations contain NaN or infinite values")
    dtype = torch.promote_types(test.dtype, background.dtype)
    m = len(background)
    mergeable = test.device.type == background.device.type == "cpu" and dtype.itemsize <= 4
    if mergeable and dtype.is_floating_point and len(test) < 2**31:
        lo, hi = _merged_ranges(
            test.detach().float().numpy(),
            background.detach().float().numpy(),
            nonnegative=min(low_test, low_bg) >= 0,
        )
    else:
        lo, hi = _searched_ranges(test, background.to(dtype), chunk)
    if tail == "lower":  # the lower tail's range is the mirror image of the upper one's
        lo, hi = (m + 1) - hi, (m + 1) - lo
    return PValues(lo, hi, m + 1, two_tailed=tail == "two", ties=ties)


def _lowest(values: torch.Tensor) -> float | None:
    """The smallest value, or ``None`` if any is NaN or infinite (NaN propagates through min and max)."""
    if values.numel() == 0:
        return 0.0
    low, high = torch.aminmax(values.detach())
    if not (torch.isfinite(low) and torch.isfinite(high)):
        return None
    return float(low)


def _searched_ranges(
    test: torch.Tensor, background: torch.Tensor, chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Upper-tail ranges (#{b > x}, #{b ≥ x} + 1) as (N, J) int32, by a batched binary search of each
    chunk of test rows."""
    m = len(background)
    sorted_bg = _sorted_columns(background)  # (J, M)
    run_end = _run_ends(sorted_bg)
    lo = torch.empty(test.shape, dtype=torch.int32, device=sorted_bg.device)
    hi = torch.empty_like(lo)
    for start in range(0, len(test), chunk):
        x = test[start : start + chunk].to(dtype=background.dtype, device=sorted_bg.device).T.contiguous()
        below = torch.searchsorted(sorted_bg, x, out_int32=True)  # #{b < x}
        # #{b <= x}: where x equals a background value, the end of that value's run of ties.
        at = below.clamp(max=m - 1)
        tied = (below < m) & (sorted_bg.gather(1, at) == x)
        lo[start : start + chunk] = m - torch.where(tied, run_end.gather(1, at), below).T
        hi[start : start + chunk] = (m + 1) - below.T
    return lo, hi


def _ordered_bits(values: np.ndarray) -> np.ndarray:
    """float32 values as int32 with the same order (−0.0 and 0.0 equal): a negative float's magnitude bits
    flipped, then moved up by one so that −0.0 lands on 0.0."""
    bits = np.ascontiguousarray(values).view(np.int32)
    sign = bits >> 31  # −1 for negative floats, else 0
    out = bits ^ (sign & np.int32(0x7FFFFFFF))
    out -= sign
    return out


def _node_keys(values: np.ndarray, nonnegative: bool) -> np.ndarray:
    """(rows, J) float32 as (J, rows) int32 keys in the floats' order. Without negative values the bits
    are the order already, once the sign bit of −0.0 is cleared: one pass instead of four."""
    bits = torch.from_numpy(np.ascontiguousarray(values)).view(torch.int32).T.contiguous().numpy()
    if nonnegative:
        bits &= np.int32(0x7FFFFFFF)
        return bits
    return _ordered_bits(bits)


def _merged_ranges(
    test: np.ndarray, background: np.ndarray, nonnegative: bool = False, block_elements: int = 1 << 16
) -> tuple[torch.Tensor, torch.Tensor]:
    """Upper-tail ranges (#{b > x}, #{b ≥ x} + 1) as (N, J) int32, by one sort per node of 64-bit keys:
    the high half a value's ordered bits, the low half (unsigned) a test value's row index, or all ones
    for a background value, so that a test value comes before the background values equal to it. In a
    sorted row the r-th test key, at position p, has #{b < x} = p − r background keys before it; #{b ≤ x}
    is the end of the background's run of values equal to x when the next background value is x (looked
    up, with the value, in one 64-bit table per block). Nodes go in blocks that stay in cache; the
    results are written node by node and transposed once at the end."""
    (n, j), m = test.shape, len(background)
    width = m + n
    test_keys = _node_keys(test, nonnegative)  # (J, N)
    ordered = _node_keys(background, nonnegative)  # (J, M), sorted below
    ordered.sort(axis=1)
    lo, hi = np.empty((j, n), dtype=np.int32), np.empty((j, n), dtype=np.int32)
    step = max(1, block_elements // width)
    row = np.arange(step, dtype=np.int64)[:, None]
    # p − r − row · width + row · (m + 1): #{b < x} plus the row's offset in the table below
    ramp = np.arange(n, dtype=np.int64)[None, :] + row * (width - m - 1)
    cap, line = (row + 1) * (m + 1), row * n
    index = np.arange(n, dtype=np.int64)
    keys_all = np.empty((step, width), dtype=np.int64)
    # Per background position k: (m − #{b <= b_k}, b_k), and a last entry that equals no finite value.
    table_all = np.empty((step, m + 1, 2), dtype=np.int32)
    table_all[:, m] = 0, 0x7FFFFFFF
    change_all = np.ones((step, m), dtype=bool)
    left = np.arange(m - 1, -1, -1, dtype=np.int32)  # m − (k + 1)
    for start in range(0, j, step):
        rows = min(step, j - start)
        cols = slice(start, start + rows)
        sorted_bg, change, table = ordered[cols], change_all[:rows], table_all[:rows]
        np.not_equal(sorted_bg[:, 1:], sorted_bg[:, :-1], out=change[:, :-1])  # the last of each run
        above = table[:, :m, 0]
        np.multiply(change, left, out=above)
        np.maximum.accumulate(above[:, ::-1], axis=1, out=above[:, ::-1])  # #{b > b_k}
        table[:, :m, 1] = sorted_bg
        keys = keys_all[:rows]
        np.left_shift(sorted_bg, 32, out=keys[:, :m], dtype=np.int64)
        keys[:, :m] |= 0xFFFFFFFF
        np.left_shift(test_keys[cols], 32, out=keys[:, m:], dtype=np.int64)
        keys[:, m:] |= index
        keys.sort(axis=1)
        where = np.flatnonzero(keys.view(np.int32)[:, 0::2] != -1).reshape(rows, n)
        found = keys.reshape(-1).take(where).view(np.int32).reshape(rows, n, 2)  # [row index, value]
        where -= ramp[:rows]  # #{b < x} + row · (m + 1)
        upper = cap[:rows] - where  # #{b >= x} + 1
        entry = table.view(np.int64).reshape(-1).take(where).view(np.int32).reshape(rows, n, 2)
        lower = np.where(entry[:, :, 1] == found[:, :, 1], entry[:, :, 0], upper - 1)  # #{b > x}
        dest = found[:, :, 0] + line[:rows]
        lo[cols].reshape(-1)[dest] = lower
        hi[cols].reshape(-1)[dest] = upper
    return torch.from_numpy(lo).T.contiguous(), torch.from_numpy(hi).T.contiguous()
