"""One small error hierarchy. Each error says whether retrying can help.

Messages say what happened and what to do; the CLI and the logs turn them into user messages.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error monitor raises on purpose."""

    retryable: bool = False


class ConfigError(MonitorError):
    """The settings or a watch-list are invalid. ``problems`` lists each one (file:line: field: why)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class RecordError(MonitorError):
    """A mention record is malformed."""


class StoreError(MonitorError):
    """The database cannot be used (schema too new, file unreadable, ...)."""


class SourceError(MonitorError):
    """A source could not be polled."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class PermanentSourceError(SourceError):
    """Retrying will not help until the config changes (bad token, plan too small, ...)."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


class DeliveryError(MonitorError):
    """An alert could not be delivered."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class LeaseLost(MonitorError):
    """This instance no longer holds a lease it wrote under (another instance took it over while this one
    stalled): the write was rolled back. Not retried: the work is the new holder's now."""

    def __init__(self, leases: list[str], holder: str):
        self.leases, self.holder = leases, holder
        super().__init__(f"lease {', '.join(leases)} no longer held by {holder} (another instance took it over); "
                         "nothing was written")
