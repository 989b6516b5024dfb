"""The demo report's measurement sections render with the zoo models (pictures, numbers, a sentence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from swerve import zoo
from swerve.look.sections import SECTION_MODULES, DemoContext, ordered_sections


@pytest.mark.skipif(zoo.zoo_path("fashion-vae") is None, reason="the zoo VAE is not installed")
def test_subset_scan_section_picks_the_creative_samples(tmp_path: Path) -> None:
    assert "swerve.measure.report" in SECTION_MODULES
    sections = dict(ordered_sections())
    section = sections["subset-scan"](DemoContext(tmp_path))
    assert section is not None and len(section.figures) == 2
    picked_creative = section.table["picked: creative samples"]
    picked_ordinary = section.table["picked: ordinary samples"]
    assert picked_creative > picked_ordinary  # the group scan finds the creative decoder's samples
    assert "divergence-map" in sections
