"""Which complaints are spreading: cascades, their projection, volume spikes, and the decisions."""

from __future__ import annotations

from monitor.detect.detector import Detector
from monitor.detect.projection import Projection, project
from monitor.detect.spikes import SpikeTracker

__all__ = ["Detector", "Projection", "SpikeTracker", "project"]
