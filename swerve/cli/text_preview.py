"""Previews of a text model's changes (bend, blend, glitch): the same latents' strings before and after,
written one pair a line to a ``.txt`` file and shown in the command's message."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from swerve.errors import ConfigError
from swerve.utils import write_text_atomic

if TYPE_CHECKING:
    from swerve.bundle import Bundle


def is_text(bundle: Bundle) -> bool:
    """Whether ``bundle`` makes strings (it carries a character vocabulary)."""
    from swerve.data.text import bundle_vocab

    return bundle_vocab(bundle) is not None


def check_preview_kind(bundle: Bundle, out: Path | None, option: str = "--preview") -> None:
    """A text model's preview is a ``.txt`` file, any other model's a picture: a ConfigError otherwise."""
    if out is None:
        return
    text, suffix = is_text(bundle), out.suffix.lower()
    if text and suffix != ".txt":
        raise ConfigError(f"{bundle.name} makes text: its {option} is a .txt file of strings, got {out}")
    if not text and suffix == ".txt":
        raise ConfigError(f"{bundle.name} does not make text: {option} {out} must be a picture (.png)")


def before_after(original: Bundle, changed: Bundle, n: int, seed: int, labels: object = None) -> list[str]:
    """``original -> changed`` strings of the same ``n`` latents, one pair a line."""
    from swerve.data.text import bundle_vocab, decode

    vocab = bundle_vocab(original)
    before = decode(original.sample(n, seed=seed, labels=labels).x, vocab, strip=False)
    after = decode(changed.sample(n, seed=seed, labels=labels).x, bundle_vocab(changed) or vocab, strip=False)
    return [f"{a} -> {b}" for a, b in zip(before, after, strict=True)]


def write_text_preview(lines: list[str], out: Path, header: str) -> str:
    """Write ``header`` and ``lines`` to ``out`` (atomically); the lines as the message shows them."""
    write_text_atomic(out, "\n".join([header, *lines]) + "\n")
    return "\n".join(lines)
