"""Running it: logs, metrics, systemd notifications, health and status."""

from __future__ import annotations

