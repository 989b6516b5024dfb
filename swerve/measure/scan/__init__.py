"""Group-based subset scanning over activations (Speakman et al. 2018; Cintas et al. 2022)."""

from swerve.measure.scan.group import ScanResult, scan_group
from swerve.measure.scan.ltss import IndividualScans, scan_individual
from swerve.measure.scan.pvalues import PValues, empirical_pvalues
from swerve.measure.scan.statistics import STATISTICS, get_statistic

__all__ = [
    "STATISTICS",
    "IndividualScans",
    "PValues",
    "ScanResult",
    "empirical_pvalues",
    "get_statistic",
    "scan_group",
    "scan_individual",
]
