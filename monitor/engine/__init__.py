"""The pipeline that drives the stages (match, link, score, store, detect), and the source runner."""

from __future__ import annotations

from monitor.engine.pipeline import Pipeline

__all__ = ["Pipeline"]
