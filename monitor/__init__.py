"""monitor: spot spreading complaints about a brand early, and get them to the PR team in Slack."""

from monitor.records.mention import Author, Mention, canonical_url

__all__ = ["Author", "Mention", "canonical_url", "__version__"]
__version__ = "0.1.0"
