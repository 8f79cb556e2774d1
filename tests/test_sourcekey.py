"""A source's key: ``<kind>:<name>``, with ``@<watch-lists>`` on a cluster instance's shared sources."""

from __future__ import annotations

from monitor.config.settings import Settings
from monitor.ops.cluster import Cluster
from monitor.ops.health import judged_quiet
from monitor.records import sourcekey
from monitor.sources import poll_interval


def test_a_key_names_its_kind_whatever_it_reads() -> None:
    assert [sourcekey.kind(k) for k in ("x:acme", "rss:feeds/1of2", "xstream:all@acme+globex")] == [
        "x", "rss", "xstream"]


def test_a_cluster_instance_suffixes_its_shared_sources_with_the_watch_lists_it_leases_in_order() -> None:
    assert Cluster.key_suffix({"globex", "acme"}) == "@acme+globex" == sourcekey.cluster_suffix(["acme", "globex"])
    assert Cluster.key_suffix(()) == "@none"
    assert sourcekey.unsuffixed("bluesky:jetstream@acme+globex") == "bluesky:jetstream"


def test_a_suffixed_key_is_judged_and_polled_as_the_plain_one() -> None:
    s = Settings()
    for key in ("xstream:all", "bluesky:jetstream", "comments:threads"):
        suffixed = key + Cluster.key_suffix(["acme"])
        assert judged_quiet(suffixed) == judged_quiet(key)
        assert poll_interval(s, suffixed) == poll_interval(s, key)
