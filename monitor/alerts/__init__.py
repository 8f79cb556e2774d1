"""Alerts: the outbox, rendering, and the ways into Slack (bot token, incoming webhook, console).

The pipeline calls ``record_decisions`` (outbox.py) inside its transaction; the daemon runs one
``Sender`` (sender.py) over a notifier from ``build_notifier``. See docs/alerts.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from monitor.alerts.base import Message, Notifier, Posted, SlackError
from monitor.alerts.console import ConsoleNotifier
from monitor.alerts.outbox import record_decisions
from monitor.alerts.sender import Sender
from monitor.alerts.slack import SlackBot, SlackWebhook
from monitor.alerts.teams import TeamsWorkflow
from monitor.config.settings import Config, resolve_secret

__all__ = [
    "ConsoleNotifier", "Message", "Notifier", "Posted", "Sender", "SlackBot", "SlackError", "SlackWebhook",
    "TeamsWorkflow", "build_notifier", "notifier_status", "record_decisions",
]


def build_notifier(config: Config, env: Mapping[str, str] | None = None) -> Notifier:
    """The way in that the settings and secrets allow: bot token, else webhook, else a Teams workflow
    webhook, else the console."""
    s = config.settings.slack
    env = os.environ if env is None else env
    token = resolve_secret(s.token_env, env)
    if token:
        return SlackBot(token, api_url=s.api_url, token_env=s.token_env or "")
    url = resolve_secret(s.webhook_url_env, env)
    if url:
        return SlackWebhook(url, url_env=s.webhook_url_env or "")
    teams = resolve_secret(config.settings.teams.webhook_url_env, env)
    if teams:
        return TeamsWorkflow(teams, url_env=config.settings.teams.webhook_url_env or "")
    return ConsoleNotifier()


def notifier_status(config: Config, env: Mapping[str, str] | None = None) -> str:
    """One line saying in words which way in is active (for ``make run`` and ``monitor status``)."""
    s = config.settings.slack
    env = os.environ if env is None else env
    if resolve_secret(s.token_env, env):
        buttons = (f"buttons through Socket Mode (${s.app_token_env})" if resolve_secret(s.app_token_env, env)
                   else f"no buttons (set ${s.app_token_env} for them)")
        return (f"Slack: bot token from ${s.token_env}; alerts go to each watch-list's channel "
                f"(default {s.default_channel}), one thread per storm, {buttons}")
    if resolve_secret(s.webhook_url_env, env):
        return (f"Slack: incoming webhook from ${s.webhook_url_env}; no threads or edits, "
                "each update is a new message in the webhook's channel")
    teams_env = config.settings.teams.webhook_url_env
    if resolve_secret(teams_env, env):
        return (f"Teams: workflow webhook from ${teams_env}; no threads, edits or buttons, each update is a "
                "card of its own")
    names = " or ".join(f"${n}" for n in (s.token_env, s.webhook_url_env) if n)
    names = names or "token or webhook configured"
    return f"Slack: off, no {names}; alerts print to the console"
