"""Many stand-in blog hosts in one process, for the poll-cycle benchmark.

    python -m bench.feedserver --feeds 1000 --hosts 50

Prints one JSON line ``{"feeds": [url, ...]}`` once serving, then answers each ``stats`` line on
stdin with ``{"connections": n, "requests": n, "status": {"200": n, "304": n}}`` (totals so far);
exits when stdin closes. A process of its own, so serving does not share the client's GIL.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections import Counter

from devkit.standins.base import Request, Response
from devkit.standins.feeds import BlogHost

WORDS = ("router", "phone", "laptop", "order", "refund", "delivery", "support", "account")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.feedserver")
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--posts", type=int, default=10, help="posts per feed")
    args = ap.parse_args(argv)
    status: Counter[str] = Counter()
    lock = threading.Lock()
    hosts = [BlogHost() for _ in range(args.hosts)]
    feeds = []
    for h in hosts:
        inner = h.handle

        def counted(req: Request, inner=inner) -> Response:  # type: ignore[no-untyped-def]
            resp = inner(req)
            with lock:
                status[str(resp.status)] += 1
            return resp

        h.server.handler = counted
        h.start()
    for i in range(args.feeds):
        host = hosts[i % len(hosts)]
        flavour = "atom" if i % 4 == 3 else "rss"
        url = host.add_feed(f"/blog{i}/feed/", flavour=flavour, title=f"Blog {i}")
        for j in range(args.posts):
            w = WORDS[(i + j) % len(WORDS)]
            brand = "acme" if (i + j) % 2 == 0 else "somebrand"
            host.add_post(url, f"Notes on my {w}, part {j}", f"<p>My {brand} {w} story, chapter {j}.</p>",
                          slug=f"p{i}-{j}", comments=j % 3 == 0)
        feeds.append(url)
    print(json.dumps({"feeds": feeds}), flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            with lock:
                counts = dict(status)
            print(json.dumps({"connections": sum(h.server.connections for h in hosts),
                              "requests": sum(len(h.requests) for h in hosts), "status": counts}), flush=True)
    for h in hosts:
        h.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
