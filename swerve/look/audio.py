"""Audio features per video frame, each normalised to 0..1, for ``swerve react`` (librosa: decoding of wav,
flac, ogg and mp3, onset strength, harmonic/percussive separation, chroma).

librosa (McFee et al., SciPy 2015) is the optional ``audio`` extra: it is imported inside functions, and its
absence is one line naming ``pip install 'swerve[audio]'``. Features (names as mapping files give them):

- ``rms``: loudness (root mean square of the signal);
- ``onset``: onset strength (spectral flux);
- ``percussive``, ``harmonic``: the loudness of the two parts of a median-filter HPSS (Fitzgerald 2010);
- ``chroma.K``: the energy of pitch class K (C = 0 ... B = 11); ``chroma``: the strongest pitch class, K / 11;
- ``band.K`` (K < 8, log-spaced from 30 Hz) and ``band.low`` / ``mid`` / ``high`` (below 250 Hz, to 4 kHz,
  above): band energy in decibels.

Each is computed at a fine hop, gathered per video frame (the mean; the maximum for onsets and percussive
sound) and scaled by its range over the whole track, so a render is a pure function of the track.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swerve.errors import ConfigError, SwerveError
from swerve.look.mapping import BAND_NAMES, BANDS, PITCH_CLASSES

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE = 22050
HOP = 256  # about 12 ms: finer than any video frame
N_FFT = 2048
MAX_SECONDS = 3 * 3600  # a longer track is a mistake, not a song
BAND_LOW_HZ = 30.0
SPLIT_HZ = (250.0, 4000.0)  # band.low | band.mid | band.high
DB_FLOOR = 80.0  # band energies below peak - 80 dB count as silence
PEAKS = ("onset", "percussive")  # gathered per frame by their maximum: a short hit still counts


@dataclass
class Features:
    """Per-frame features: ``values[name]`` is an array of ``frames`` numbers in 0..1."""

    fps: float
    frames: int
    duration: float
    sample_rate: int
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def frame(self, i: int) -> dict[str, float]:
        """Every feature's value at frame ``i``."""
        return {name: float(v[i]) for name, v in self.values.items()}

    def names(self) -> list[str]:
        return sorted(self.values)


def librosa_module() -> Any:
    """librosa, or a ConfigError saying how to install it."""
    try:
        import librosa
    except ImportError:
        raise ConfigError("audio features need librosa: pip install 'swerve[audio]'") from None
    return librosa


def decode(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The track at ``path`` (wav, flac, ogg, mp3, ...) as mono float32 at ``sample_rate``; a SwerveError
    naming the file when it cannot be read."""
    librosa = librosa_module()
    path = Path(path)
    if not path.is_file():
        raise SwerveError(
            f"audio file {path} does not exist" if not path.exists() else f"{path} is not a file"
        )
    with warnings.catch_warnings():  # librosa warns as it falls back from soundfile to audioread
        warnings.simplefilter("ignore")
        try:
            duration = librosa.get_duration(path=str(path))
            if duration > MAX_SECONDS:
                raise SwerveError(
                    f"{path} lasts {duration / 3600:.1f} hours; swerve react takes up to 3 hours"
                )
            y, _ = librosa.load(str(path), sr=sample_rate, mono=True)
        except SwerveError:
            raise
        except Exception as exc:  # soundfile and audioread raise many kinds for a file they cannot read
            raise SwerveError(f"{path} cannot be decoded as audio: {_reason(exc)}") from None
    if len(y) == 0:
        raise SwerveError(f"{path} holds no audio samples")
    return y


def _reason(exc: BaseException) -> str:
    """Why a decoder failed, in one line."""
    if type(exc).__name__ == "NoBackendError":
        return "no decoder reads it (wav, flac, ogg and mp3 are read; is the file damaged?)"
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def analyse(y: np.ndarray, fps: float, sample_rate: int = SAMPLE_RATE) -> Features:
    """Features of the mono signal ``y`` for a video at ``fps`` frames per second."""
    import numpy as np

    librosa = librosa_module()
    if not (isinstance(fps, int | float) and math.isfinite(fps) and fps > 0):
        raise ConfigError(f"fps must be a positive number, got {fps!r}")
    y = np.nan_to_num(np.asarray(y, dtype=np.float32))
    duration = len(y) / sample_rate
    frames = max(1, math.ceil(duration * fps - 1e-9))
    spectrum = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    # the hop each feature value stands for, and the video frame whose instant i / fps is nearest to it
    times = librosa.frames_to_time(np.arange(spectrum.shape[1]), sr=sample_rate, hop_length=HOP)
    index = np.minimum(np.rint(times * fps).astype(np.int64), frames - 1)
    # HPSS median-filters the spectrogram: on every other hop it is four times cheaper and as good
    harmonic, percussive = librosa.decompose.hpss(spectrum[:, ::2])
    fine = {
        "rms": (librosa.feature.rms(S=spectrum, frame_length=N_FFT)[0], index),
        "harmonic": (librosa.feature.rms(S=harmonic, frame_length=N_FFT)[0], index[::2]),
        "percussive": (librosa.feature.rms(S=percussive, frame_length=N_FFT)[0], index[::2]),
        "onset": (
            librosa.onset.onset_strength(
                S=librosa.amplitude_to_db(spectrum, ref=np.max), sr=sample_rate, n_fft=N_FFT, hop_length=HOP
            ),
            index,
        ),
    }
    values = {
        name: _normalise(_per_frame(v, where, frames, name in PEAKS)) for name, (v, where) in fine.items()
    }
    chroma = librosa.feature.chroma_stft(S=spectrum**2, sr=sample_rate, n_chroma=PITCH_CLASSES)
    bands = _band_db(spectrum, sample_rate)
    chroma_frames = np.stack([_per_frame(c, index, frames) for c in chroma])
    for k in range(PITCH_CLASSES):
        values[f"chroma.{k}"] = _normalise(chroma_frames[k])
    values["chroma"] = (chroma_frames.argmax(0) / (PITCH_CLASSES - 1)).astype(np.float32)
    for name, energy in bands.items():
        values[name] = _normalise(_per_frame(energy, index, frames))
    return Features(fps=float(fps), frames=frames, duration=duration, sample_rate=sample_rate, values=values)


def _band_db(spectrum: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    """Energy (dB, floored at peak - DB_FLOOR) of the log-spaced bands ``band.K`` and of low/mid/high."""
    import numpy as np

    librosa = librosa_module()
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=N_FFT)
    power = spectrum**2
    edges = np.geomspace(BAND_LOW_HZ, sample_rate / 2, BANDS + 1)
    spans = {f"band.{k}": (edges[k], edges[k + 1]) for k in range(BANDS)}
    wide = (0.0, *SPLIT_HZ, sample_rate / 2 + 1)
    spans.update({f"band.{name}": (wide[i], wide[i + 1]) for i, name in enumerate(BAND_NAMES)})
    out = {}
    for name, (low, high) in spans.items():
        rows = (freqs >= low) & (freqs < high)
        energy = power[rows].sum(0) if rows.any() else np.zeros(power.shape[1], dtype=power.dtype)
        out[name] = librosa.power_to_db(energy + 1e-12, ref=1.0, top_db=None)
    peak = max(float(v.max()) for v in out.values())
    return {name: np.maximum(v, peak - DB_FLOOR) for name, v in out.items()}


def _per_frame(values: np.ndarray, index: np.ndarray, frames: int, peak: bool = False) -> np.ndarray:
    """Gather fine-hop ``values`` into ``frames`` video frames by ``index``: mean (or max with ``peak``);
    a frame no hop falls in (a very high fps) takes the nearest hop's value."""
    import numpy as np

    out = np.full(frames, np.nan)
    if peak:
        top = np.full(frames, -np.inf)
        np.maximum.at(top, index, values)
        out[np.isfinite(top)] = top[np.isfinite(top)]
    else:
        sums = np.bincount(index, weights=values, minlength=frames)
        counts = np.bincount(index, minlength=frames)
        out[counts > 0] = sums[counts > 0] / counts[counts > 0]
    empty = np.isnan(out)
    if empty.any():
        centres = (np.arange(frames) + 0.5) / frames * len(values)
        out[empty] = values[np.minimum(centres[empty].astype(np.int64), len(values) - 1)]
    return out


def _normalise(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to 0..1 by their range over the track (all zeros when they never change)."""
    import numpy as np

    low, high = float(values.min()), float(values.max())
    if not math.isfinite(low) or not math.isfinite(high) or high - low <= 1e-12:
        return np.zeros(len(values), dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def track_features(path: str | os.PathLike, fps: float) -> Features:
    """Decode the track at ``path`` and analyse it for a video at ``fps``."""
    return analyse(decode(path), fps)
