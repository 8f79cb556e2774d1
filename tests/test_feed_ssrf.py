"""A feed cannot make the daemon fetch internal URLs: comment feeds named in feed content are followed
only on the feed's own host (or one a watch-list names), and loopback, private and link-local
addresses are refused unless blogs.allow_private_addresses (issue 15, item 7)."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from devkit.standins.feeds import BlogHost
from monitor.config.settings import BlogSettings
from monitor.sources import http
from monitor.sources.blogs import BlogSource
from monitor.sources.http import FetchError, HttpFetcher, peer_check
from tests.conftest import local_settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def feed_naming(comment_feeds: list[str]) -> bytes:
    items = "".join(
        f"<item><title>acme {i}</title><link>https://blog.example/{i}</link><description>acme</description>"
        f"<wfw:commentRss>{u}</wfw:commentRss></item>" for i, u in enumerate(comment_feeds))
    return (b'<?xml version="1.0"?><rss version="2.0" xmlns:wfw="http://wellformedweb.org/CommentAPI/">'
            b"<channel><title>t</title>" + items.encode() + b"</channel></rss>")


@pytest.fixture
def host():
    with BlogHost() as h:
        yield h


def test_comment_feeds_on_other_hosts_are_not_followed_unless_a_watch_list_names_the_host(host: BlogHost) -> None:
    own = host.url + "/post/1/feed/"
    named = "https://partner.example/comments/2"
    internal = "http://169.254.169.254/latest/meta-data/"
    url = host.serve_raw("/feed.xml", feed_naming([own, named, internal]), {"Content-Type": "application/rss+xml"})
    src = BlogSource("rss:feeds", [url], HttpFetcher(local_settings()), listed_hosts={"partner.example"})
    result = asyncio.run(src.poll(None, NOW))
    follows = {m.title: m.extra.get("comments_feed") for m in result.mentions}
    assert follows == {"acme 0": own, "acme 1": named, "acme 2": None}
    assert any("1 comment feed(s) on other hosts not followed" in w for w in result.warnings)


@pytest.mark.parametrize("target", ["http://127.0.0.1:{port}/x", "http://localhost:{port}/x",
                                    "http://10.1.2.3/x", "http://192.168.0.1/x", "http://169.254.169.254/x",
                                    "http://[::1]:{port}/x", "http://[::ffff:127.0.0.1]:{port}/x"])
def test_loopback_private_and_link_local_addresses_are_refused_by_default(host: BlogHost, target: str) -> None:
    url = target.format(port=host.url.rsplit(":", 1)[1])
    with pytest.raises(FetchError, match="refusing .*not a public address.*allow_private_addresses") as err:
        asyncio.run(HttpFetcher(BlogSettings()).get(url))
    assert not err.value.retryable
    assert host.requests == []  # refused before any request


def test_a_redirect_to_an_internal_address_is_refused_too(host: BlogHost, monkeypatch: pytest.MonkeyPatch) -> None:
    # The feed itself may be allowed (here: the flag on for the first hop would be needed), so check
    # the hop: a public-looking start that redirects to loopback is stopped at the redirect.
    fetcher = HttpFetcher(BlogSettings())
    checked: list[str] = []
    real = fetcher._check_address
    real_peer_check = http.peer_check

    async def first_hop_public(url: str) -> None:
        checked.append(url)
        if len(checked) > 1:
            await real(url)

    async def any_peer(event: str, info: dict[str, Any]) -> None:
        pass

    fetcher._check_address = first_hop_public  # type: ignore[method-assign]
    monkeypatch.setattr(http, "peer_check", lambda url: any_peer if len(checked) == 1 else real_peer_check(url))
    host.redirect("/r", host.url + "/final")
    with pytest.raises(FetchError, match="refusing 127.0.0.1"):
        asyncio.run(fetcher.get(host.url + "/r"))
    assert checked == [host.url + "/r", host.url + "/final"]
    assert [r.path for r in host.requests] == ["/r"]


def test_allow_private_addresses_lets_the_local_stand_ins_be_fetched(host: BlogHost) -> None:
    url = host.serve_raw("/ok", b"<rss/>")
    assert asyncio.run(HttpFetcher(local_settings()).get(url)).status == 200


PUBLIC = "93.184.215.14"  # answered for the check only: nothing ever connects to it


def test_a_name_that_resolves_to_a_public_address_and_then_to_loopback_is_refused_before_a_request(
        host: BlogHost, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo
    answers: list[str] = []

    def rebinding(name: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if name not in ("rebind.test", b"rebind.test"):
            return real(name, port, *args, **kwargs)
        answers.append(PUBLIC if not answers else "127.0.0.1")  # a short TTL, then another answer
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[-1], int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = host.url.rsplit(":", 1)[1]
    with pytest.raises(FetchError, match="refusing rebind.test: the connection reached 127.0.0.1, not a public") as err:
        asyncio.run(HttpFetcher(BlogSettings()).get(f"http://rebind.test:{port}/feed.xml"))
    assert answers == [PUBLIC, "127.0.0.1"]  # checked, then resolved again to connect
    assert not err.value.retryable
    assert host.requests == []  # nothing was sent on the connection


class Stream:
    """What httpcore's connect_tcp returns, as far as the check reads it."""

    def __init__(self, peer: str):
        self.peer, self.closed = peer, False

    def get_extra_info(self, name: str) -> Any:
        return (self.peer, 443) if name == "server_addr" else None

    async def aclose(self) -> None:
        self.closed = True


def connect(url: str, host: str, stream: Stream) -> None:
    """A connection to ``host`` reaching ``stream.peer``, as httpcore traces it, through ``peer_check(url)``."""
    trace = peer_check(url)

    async def run() -> None:
        await trace("connection.connect_tcp.started", {"host": host, "port": 443})
        await trace("connection.connect_tcp.complete", {"return_value": stream})

    asyncio.run(run())


def test_a_connection_that_reached_a_public_address_goes_on() -> None:
    stream = Stream(PUBLIC)
    connect("https://blog.example/feed", "blog.example", stream)
    assert not stream.closed


@pytest.mark.parametrize("peer", ["10.0.0.7", "::ffff:127.0.0.1", "fe80::1%eth0"])
def test_a_connection_that_reached_a_private_address_is_closed_and_refused(peer: str) -> None:
    stream = Stream(peer)
    with pytest.raises(FetchError, match="refusing blog.example: the connection reached "):
        connect("https://blog.example/feed", "blog.example", stream)
    assert stream.closed


def test_a_connection_to_a_proxy_from_the_environment_is_not_the_feed_host_s_and_is_left_alone() -> None:
    stream = Stream("10.0.0.7")
    connect("https://blog.example/feed", "proxy.internal", stream)
    assert not stream.closed
