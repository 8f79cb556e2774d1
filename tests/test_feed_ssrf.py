"""A feed cannot make the daemon fetch internal URLs: comment feeds named in feed content are followed
only on the feed's own host (or one a watch-list names), and loopback, private and link-local
addresses are refused unless blogs.allow_private_addresses (issue 15, item 7)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from devkit.standins.feeds import BlogHost
from monitor.config.settings import BlogSettings
from monitor.sources.blogs import BlogSource
from monitor.sources.http import FetchError, HttpFetcher
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


def test_a_redirect_to_an_internal_address_is_refused_too(host: BlogHost) -> None:
    # The feed itself may be allowed (here: the flag on for the first hop would be needed), so check
    # the hop: a public-looking start that redirects to loopback is stopped at the redirect.
    fetcher = HttpFetcher(BlogSettings())
    checked: list[str] = []
    real = fetcher._check_address

    async def first_hop_public(url: str) -> None:
        checked.append(url)
        if len(checked) > 1:
            await real(url)

    fetcher._check_address = first_hop_public  # type: ignore[method-assign]
    host.redirect("/r", host.url + "/final")
    with pytest.raises(FetchError, match="refusing 127.0.0.1"):
        asyncio.run(fetcher.get(host.url + "/r"))
    assert checked == [host.url + "/r", host.url + "/final"]
    assert [r.path for r in host.requests] == ["/r"]


def test_allow_private_addresses_lets_the_local_stand_ins_be_fetched(host: BlogHost) -> None:
    url = host.serve_raw("/ok", b"<rss/>")
    assert asyncio.run(HttpFetcher(local_settings()).get(url)).status == 200
