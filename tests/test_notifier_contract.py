"""One contract, every notifier: Slack through a bot token, Slack through an incoming webhook, Microsoft Teams
through a Workflows webhook (its stand-in, devkit/standins/teams.py), the console.

The Slack notifiers talk to the local stand-in (devkit/standins/slack.py, 127.0.0.1 only) over real
HTTP; the console writes to a captured stream. Where a notifier cannot do something (threads, edits,
Slack markup), the notifier says so in a class attribute (``supports_threads``, ``markup``) and the
test reads the attribute: no test names a notifier.
"""

from __future__ import annotations

import asyncio
import errno
import io
import json
import logging
import socket
import traceback
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs

import pytest

from devkit.standins.slack import SlackStandIn
from devkit.standins.teams import TeamsStandIn
from monitor.alerts import ConsoleNotifier, Message, Notifier, Posted, SlackBot, SlackWebhook, TeamsWorkflow
from monitor.alerts.render import render_alert, render_update
from monitor.config.settings import Secret
from monitor.errors import DeliveryError

TOKEN = "xoxb-contract-token-0123456789"
WRONG_TOKEN = "xoxb-contract-wrong-9876543210"
CHANNEL = "#contract"

# Untrusted text as a tweet could carry it: every way to ping someone in Slack, markup, and a
# terminal escape sequence.
EVIL = ("<!channel> <!here> <!everyone> @everyone @here @channel <@U123> <#C42> "
        "<https://evil.example|click> a & b <c> \x1b[31mred\x1b[0m")
MENTIONS = ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@U999>", "<#C42>", "<https://evil.example|click>")
BROADCASTS = ("@everyone", "@here", "@channel")

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@dataclass
class Seen:
    """One message as it reached the far end: its text (everything a reader could see), thread, edits."""

    text: str
    thread_ts: str | None = None
    edits: int = 0


# A way to make a call fail: set the failure up, and return the notifier and channel to call with.
Breaker = Callable[[], tuple[Notifier, str]]


@dataclass
class Failure:
    label: str                  # what the error message must mention
    make: Breaker
    retry_after: float | None = None


@dataclass
class Rig:
    """A notifier wired to its far end, and ways to read what arrived there and to break it."""

    notifier: Notifier
    seen: Callable[[], list[Seen]]      # every message that arrived, in order
    raw: Callable[[], bytes]            # every byte that arrived
    decoded: Callable[[], str]          # those bytes as the far end reads them (JSON strings decoded)
    transient: list[Failure]
    permanent: list[Failure]
    params: Callable[[], list[dict[str, Any]]] = list     # each request's parameters, as the far end read them
    update_transient: Callable[[], None] = lambda: None   # make the next edit fail transiently
    secrets: list[str] = field(default_factory=list)
    wrong: list[Notifier] = field(default_factory=list)   # notifiers holding a wrong secret


def _dead_url() -> str:
    """A 127.0.0.1 address nobody listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _body_strings(body: bytes) -> Iterator[str]:
    """A request body as Slack reads it: JSON, or a form whose values may hold JSON (blocks)."""
    try:
        yield from _strings(json.loads(body))
        return
    except ValueError:
        pass
    for k, values in parse_qs(body.decode("utf-8", "replace")).items():
        yield k
        for v in values:
            try:
                yield from _strings(json.loads(v))
            except ValueError:
                yield v


def _slack_seen(slack: SlackStandIn) -> Callable[[], list[Seen]]:
    def seen() -> list[Seen]:
        return [Seen(m.text + "\n" + json.dumps(m.blocks, ensure_ascii=False), m.thread_ts, len(m.edits))
                for m in slack.messages]
    return seen


def _slack_raw(slack: SlackStandIn) -> Callable[[], bytes]:
    return lambda: b"".join(r.body for r in slack.requests)


def _slack_decoded(slack: SlackStandIn) -> Callable[[], str]:
    return lambda: "\n".join(s for r in slack.requests for s in _body_strings(r.body))


def _bot_rig() -> Iterator[Rig]:
    with SlackStandIn(token=TOKEN) as slack:
        bot = SlackBot(Secret(TOKEN), api_url=slack.api_url)

        def fail(**how: Any) -> Breaker:
            def make() -> tuple[Notifier, str]:
                slack.fail_next(1, methods={"chat.postMessage"}, **how)
                return bot, CHANNEL
            return make

        def no_channel() -> tuple[Notifier, str]:
            slack.auto_create = False
            return bot, "#nowhere"

        dead = SlackBot(Secret(TOKEN), api_url=_dead_url() + "/api/")
        wrong = SlackBot(Secret(WRONG_TOKEN), api_url=slack.api_url)
        yield Rig(
            bot, _slack_seen(slack), _slack_raw(slack), _slack_decoded(slack),
            params=lambda: [c.params for c in slack.calls],
            transient=[Failure("rate limiting", fail(status=429, retry_after=3), retry_after=3.0),
                       Failure("HTTP 500", fail(status=500)),
                       Failure("internal_error", fail(error="internal_error")),
                       Failure("cannot reach Slack", lambda: (dead, CHANNEL))],
            permanent=[Failure("invalid_auth", lambda: (wrong, CHANNEL)),
                       Failure("channel_not_found", no_channel)],
            update_transient=lambda: slack.fail_next(1, status=500, methods={"chat.update"}),
            secrets=[TOKEN, WRONG_TOKEN],
            wrong=[wrong],
        )


def _webhook_rig() -> Iterator[Rig]:
    with SlackStandIn(token=TOKEN) as slack:
        hook = SlackWebhook(Secret(slack.webhook_url))
        key = slack.webhook_url.rsplit("/", 1)[1]

        def fail(**how: Any) -> Breaker:
            def make() -> tuple[Notifier, str]:
                slack.fail_next(1, methods={"webhook"}, **how)
                return hook, CHANNEL
            return make

        revoked_key = "revokedrevoked0123456789"
        revoked = SlackWebhook(Secret(f"{slack.url}/services/T0STANDIN/B0STANDIN/{revoked_key}"))
        dead_key = "deaddeaddead0123456789"
        dead = SlackWebhook(Secret(f"{_dead_url()}/services/T0STANDIN/B0STANDIN/{dead_key}"))
        yield Rig(
            hook, _slack_seen(slack), _slack_raw(slack), _slack_decoded(slack),
            params=lambda: [c.params for c in slack.calls],
            transient=[Failure("rate limiting", fail(status=429, retry_after=3), retry_after=3.0),
                       Failure("HTTP 500", fail(status=500)),
                       Failure("cannot reach Slack", lambda: (dead, CHANNEL))],
            permanent=[Failure("no_service", lambda: (revoked, CHANNEL)),
                       Failure("channel_not_found", fail(status=404, error="channel_not_found"))],
            secrets=[slack.webhook_url, key, revoked_key, dead_key],
            wrong=[revoked, dead],
        )


def _teams_rig() -> Iterator[Rig]:
    with TeamsStandIn() as teams:
        hook = TeamsWorkflow(Secret(teams.webhook_url))

        def fail(**how: Any) -> Breaker:
            def make() -> tuple[Notifier, str]:
                teams.fail_next(1, **how)
                return hook, CHANNEL
            return make

        def seen() -> list[Seen]:
            return [Seen(p.text) for p in teams.posts]

        def raw() -> bytes:
            return b"".join(r.body for r in teams.requests)

        def decoded() -> str:
            return "\n".join(s for r in teams.requests for s in _body_strings(r.body))

        wrong_sig = TeamsWorkflow(Secret(teams.webhook_url.replace(teams.sig, "forgedsignature0123")))
        gone = TeamsWorkflow(Secret(teams.webhook_url.replace(teams.workflow, "deadbeefdeadbeef")))
        dead = TeamsWorkflow(Secret(_dead_url() + "/workflows/x/triggers/manual/paths/invoke?sig=deadsig0123"))
        yield Rig(
            hook, seen, raw, decoded,
            transient=[Failure("rate limiting", fail(status=429, retry_after=3), retry_after=3.0),
                       Failure("HTTP 500", fail(status=500)),
                       Failure("cannot reach Teams", lambda: (dead, CHANNEL))],
            permanent=[Failure("HTTP 401", lambda: (wrong_sig, CHANNEL)),
                       Failure("HTTP 404", lambda: (gone, CHANNEL))],
            secrets=[teams.webhook_url, teams.sig, "forgedsignature0123", "deadsig0123"],
            wrong=[wrong_sig, gone, dead],
        )


class Stream(io.StringIO):
    """A captured console that can be made to fail: ``fail_next`` is raised by the next write."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next: OSError | None = None
        self.fail_always: OSError | None = None

    def write(self, s: str) -> int:
        if self.fail_always is not None:
            raise self.fail_always
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        return super().write(s)


def _console_rig() -> Iterator[Rig]:
    out = Stream()
    console = ConsoleNotifier(stream=out)
    header = "\n--- alert for "

    def seen() -> list[Seen]:
        return [Seen(chunk) for chunk in out.getvalue().split(header)[1:]]

    def disk_full() -> tuple[Notifier, str]:
        out.fail_next = OSError(errno.ENOSPC, "No space left on device")
        return console, CHANNEL

    def closed() -> tuple[Notifier, str]:
        gone = io.StringIO()
        gone.close()
        return ConsoleNotifier(stream=gone), CHANNEL

    def broken_pipe() -> tuple[Notifier, str]:
        pipe = Stream()
        pipe.fail_always = BrokenPipeError(errno.EPIPE, "Broken pipe")
        return ConsoleNotifier(stream=pipe), CHANNEL

    yield Rig(
        console, seen, lambda: out.getvalue().encode(), out.getvalue,
        transient=[Failure("No space left on device", disk_full)],
        permanent=[Failure("closed", closed), Failure("broken pipe", broken_pipe)],
    )


RIGS = {"slack-bot": _bot_rig, "slack-webhook": _webhook_rig, "teams-workflow": _teams_rig, "console": _console_rig}


@pytest.fixture(params=sorted(RIGS))
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    gen = RIGS[request.param]()
    yield next(gen)
    next(gen, None)


def message(word: str) -> Message:
    """A small message whose every part carries ``word``, so it can be found where it arrived."""
    return Message(text=f"fallback {word}",
                   blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": f"body {word}"}}])


def evil_alert() -> dict[str, Any]:
    return {"at": "2026-03-02T09:00:00Z", "kind": "cascade", "level": "new", "watchlist": "acme",
            "root_id": "x:1", "decision": "first_alert", "reason": EVIL, "reactions": 400, "threshold": 300,
            "root": {"id": "x:1", "source": "x", "url": "https://x.com/a/status/1", "text": EVIL,
                     "author": {"handle": "here", "name": "<@U999> & co", "followers": 10}},
            "top_reactions": [{"id": "x:2", "kind": "reply", "text": EVIL, "author": "everyone"}]}


def post_failing(rig: Rig, failure: Failure) -> DeliveryError:
    notifier, channel = failure.make()
    with pytest.raises(DeliveryError) as err:
        run(notifier.post(channel, message("lost")))
    return err.value


# -- what a notifier declares ------------------------------------------------------------------------
def test_every_notifier_declares_its_name_and_what_it_can_do(rig: Rig) -> None:
    n = rig.notifier
    assert isinstance(n.name, str) and n.name
    assert isinstance(n.supports_threads, bool)
    assert n.markup in ("mrkdwn", "plain")
    assert isinstance(run(n.check(CHANNEL)), str) and run(n.check(CHANNEL))


# -- posting -----------------------------------------------------------------------------------------
def test_a_post_arrives_once_and_returns_where_it_landed(rig: Rig) -> None:
    first = run(rig.notifier.post(CHANNEL, message("alpha")))
    second = run(rig.notifier.post(CHANNEL, message("beta")))
    for posted in (first, second):
        assert isinstance(posted, Posted)
        assert isinstance(posted.channel, str) and posted.channel
        # Documented in base.py: ts is the message's id, or None when the transport gives none.
        assert posted.ts is None or (isinstance(posted.ts, str) and posted.ts)
        if rig.notifier.supports_threads:
            assert posted.ts is not None  # a thread and an edit need it
    if first.ts is not None:
        assert first.ts != second.ts
    seen = rig.seen()
    assert len(seen) == 2
    assert "alpha" in seen[0].text and "beta" in seen[1].text
    assert all(s.thread_ts is None for s in seen)


def test_a_reply_goes_into_the_thread_where_the_notifier_has_threads(rig: Rig) -> None:
    root = run(rig.notifier.post(CHANNEL, message("root")))
    # Without threads the notifier has no ts to thread on; it is handed one anyway and must still
    # deliver the reply, as a message of its own.
    thread = root.ts or "1767225600.000001"
    reply = run(rig.notifier.post(root.channel, message("reply"), thread_ts=thread))
    seen = rig.seen()
    assert len(seen) == 2 and "reply" in seen[1].text
    if rig.notifier.supports_threads:
        assert seen[1].thread_ts == root.ts and reply.channel == root.channel
        assert reply.ts not in (None, root.ts)
    else:
        assert seen[1].thread_ts is None


def test_an_update_edits_the_message_in_place_or_is_refused_as_permanent(rig: Rig) -> None:
    posted = run(rig.notifier.post(CHANNEL, message("before")))
    if rig.notifier.supports_threads:
        assert posted.ts is not None
        run(rig.notifier.update(posted.channel, posted.ts, message("after")))
        [seen] = rig.seen()
        assert "after" in seen.text and "before" not in seen.text and seen.edits == 1
        with pytest.raises(DeliveryError) as err:
            run(rig.notifier.update(posted.channel, "1000000000.000001", message("nowhere")))
        assert not err.value.retryable and "message_not_found" in str(err.value)
    else:
        with pytest.raises(DeliveryError) as err:
            run(rig.notifier.update(posted.channel, posted.ts or "1767225600.000001", message("after")))
        assert not err.value.retryable and "edit" in str(err.value)
        [seen] = rig.seen()
        assert "before" in seen.text and "after" not in seen.text


# -- outside text --------------------------------------------------------------------------------------
def test_outside_text_arrives_as_text_that_pings_nobody(rig: Rig) -> None:
    n = rig.notifier
    posted = run(n.post(CHANNEL, render_alert(evil_alert(), alert_id=1)))
    if n.supports_threads:
        assert posted.ts is not None
        run(n.post(posted.channel, render_update(evil_alert(), alert_id=2), thread_ts=posted.ts))
        run(n.update(posted.channel, posted.ts, render_alert(evil_alert(), alert_id=1, updated="09:10 UTC")))
    raw, decoded = rig.raw(), rig.decoded()
    assert raw and "red" in decoded
    for word in BROADCASTS:  # bare broadcasts are inert everywhere: their @ is a full-width ＠
        assert word.encode() not in raw and word not in decoded
    assert "\uff20everyone" in decoded
    assert b"\x1b" not in raw and "\x1b" not in decoded  # no terminal escapes either
    if n.markup == "mrkdwn":
        # Slack parses <...> and &: the markup must arrive escaped, in the exact bytes sent.
        for mention in MENTIONS:
            assert mention.encode() not in raw and mention not in decoded
        assert "&lt;!channel&gt;" in decoded and "&lt;@U123&gt;" in decoded
        assert "a &amp; b &lt;c&gt;" in decoded
        # ... and no request asks Slack to turn names into mentions or to parse the text itself.
        assert rig.params()
        for p in rig.params():
            assert "link_names" not in p and p.get("parse") in (None, "none")
    else:
        # Nothing parses plain text: it shows as written, so a reader sees what the tweet said.
        assert "<!channel> <!here>" in decoded and "a & b <c>" in decoded
        assert "&lt;" not in decoded and "&amp;" not in decoded


# -- failures --------------------------------------------------------------------------------------------
def test_a_transient_failure_raises_a_retryable_error_and_the_next_call_goes_through(rig: Rig) -> None:
    assert rig.transient
    for failure in rig.transient:
        err = post_failing(rig, failure)
        assert err.retryable, (failure.label, str(err))
        assert failure.label.lower() in str(err).lower()
        assert err.retry_after == failure.retry_after
        assert not any("lost" in s.text for s in rig.seen())
    run(rig.notifier.post(CHANNEL, message("recovered")))
    assert "recovered" in rig.seen()[-1].text


def test_a_transient_failure_of_an_edit_is_retryable_where_the_notifier_edits(rig: Rig) -> None:
    if not rig.notifier.supports_threads:
        pytest.skip(f"{rig.notifier.name} declares supports_threads = False: it never edits")
    posted = run(rig.notifier.post(CHANNEL, message("before")))
    assert posted.ts is not None
    rig.update_transient()
    with pytest.raises(DeliveryError) as err:
        run(rig.notifier.update(posted.channel, posted.ts, message("after")))
    assert err.value.retryable
    run(rig.notifier.update(posted.channel, posted.ts, message("after")))
    assert "after" in rig.seen()[0].text


def test_a_permanent_failure_raises_an_error_that_is_not_retried_and_says_why(rig: Rig) -> None:
    assert rig.permanent
    for failure in rig.permanent:
        err = post_failing(rig, failure)
        assert not err.retryable, (failure.label, str(err))
        assert failure.label.lower() in str(err).lower()
        assert err.retry_after is None
    assert not any("lost" in s.text for s in rig.seen())


def test_no_secret_appears_in_an_error_a_log_line_or_a_repr(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    if not rig.secrets:
        pytest.skip(f"{rig.notifier.name} holds no secret")
    errors: list[BaseException] = []
    with caplog.at_level(logging.DEBUG):
        posted = run(rig.notifier.post(CHANNEL, message("fine")))
        if rig.notifier.supports_threads and posted.ts:
            run(rig.notifier.update(posted.channel, posted.ts, message("edited")))
        else:
            with pytest.raises(DeliveryError) as refused:
                run(rig.notifier.update(posted.channel, posted.ts or "1.0", message("edited")))
            errors.append(refused.value)
        errors += [post_failing(rig, f) for f in rig.transient + rig.permanent]
        for n in [rig.notifier, *rig.wrong]:
            try:
                errors.append(AssertionError(run(n.check(CHANNEL))))  # what check() says, too
            except DeliveryError as exc:
                errors.append(exc)
    said = [caplog.text, *(r.getMessage() for r in caplog.records)]
    said += ["".join(traceback.format_exception(e)) for e in errors]
    said += [repr(e.args) for e in errors]
    said += [repr(n) for n in [rig.notifier, *rig.wrong]]
    for secret in rig.secrets:
        for text in said:
            assert secret not in text
