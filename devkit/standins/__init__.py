"""Local stand-ins for X, blogs and Slack: real HTTP servers on 127.0.0.1.

Tests, ``make demo`` and ``make bench`` use them; production never imports this package.
"""
