"""Page benchmark: server time of the sidebar and a long conversation, and first-page bytes.

One user with 10,000 conversations and one conversation of 500 messages, in a fresh SQLite
database (or DATABASE_URL). Times are the view's server time through Django's test client,
median of three rounds of 50 requests (after 5 warm-ups each); query counts are per request.

    python benchmarks/pages.py
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="webchat-pages-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK / 'db.sqlite3'}")
os.environ.update(
    DJANGO_SETTINGS_MODULE="webchat.settings",
    WEBCHAT_DEMO="1",
    ORQ_API_KEY="bench",
    MISTRAL_API_KEY="bench",
    LOG_LEVEL="WARNING",
    DJANGO_ALLOWED_HOSTS="testserver",
)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.staticfiles import finders  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from conversations.models import Conversation, Message  # noqa: E402
from conversations.rendering import render_markdown, render_user_text  # noqa: E402
from emulator.assistant import compose_reply  # noqa: E402
from widgets.models import Widget  # noqa: E402

CONVERSATIONS = 10_000
MESSAGES = 500
TOPICS = ["Budget review", "Holiday plan", "Release notes", "Hiring loop", "Incident report"]


def populate() -> tuple[User, Conversation]:
    call_command("migrate", verbosity=0)
    user = User.objects.create_user("pages", password="pages-password-1")
    now = timezone.now()
    Conversation.objects.bulk_create(
        (
            Conversation(
                owner=user,
                provider="mistral" if i % 2 else "orq",
                model="mistral-small-latest" if i % 2 else "openai/gpt-4o",
                title=f"{TOPICS[i % len(TOPICS)]} {i}",
                titled=True,
                updated=now - timedelta(minutes=i),
                created=now - timedelta(minutes=i),
            )
            for i in range(CONVERSATIONS)
        ),
        batch_size=1000,
    )
    long = Conversation.objects.create(
        owner=user, provider="mistral", model="mistral-small-latest", title="Long", titled=True
    )
    rows = []
    for i in range(MESSAGES // 2):
        question = f"Question {i} about pagination and caching"
        answer = compose_reply(question).full_text
        rows.append(
            Message(conversation=long, role="user", text=question, html=render_user_text(question))
        )
        rows.append(
            Message(
                conversation=long,
                role="assistant",
                text=answer,
                html=render_markdown(answer),
                parts=[{"kind": "reasoning", "text": "Plan: answer, then example."}],
                usage_input=8,
                usage_output=100,
                usage_total=108,
            )
        )
    Message.objects.bulk_create(rows, batch_size=500)
    return user, long


def timed(client: Client, url: str, **headers) -> tuple[float, int, int]:
    """Median server milliseconds, queries per request, and the body size."""
    for _ in range(5):
        client.get(url, **headers)
    samples = []
    for _ in range(50):
        began = time.perf_counter()
        response = client.get(url, **headers)
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    return statistics.median(samples), len(queries), len(response.content)


def first_page_bytes(client: Client, url: str = "/") -> dict[str, int]:
    """A page and every asset it loads, gzip-compressed as they go over the wire."""
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
    html = response.content
    sizes = {f"{url} (HTML)": len(html)}
    page = gzip.decompress(html).decode() if response.get("Content-Encoding") == "gzip" else html
    for path in re.findall(r'(?:href|src)="(/static/[^"]+)"', page):
        source = Path(finders.find(path.removeprefix(settings.STATIC_URL).lstrip("/")))
        sizes[path] = len(gzip.compress(source.read_bytes(), compresslevel=9))
    sizes["total"] = sum(sizes.values())
    return sizes


def main() -> None:
    print(f"{platform.node()} · {platform.machine()} · {os.cpu_count()} cores · "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {connection.vendor}")  # fmt: skip
    plain_static = {
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    }
    with override_settings(
        STORAGES={**settings.STORAGES, **plain_static}, WHITENOISE_USE_FINDERS=True
    ):
        user, long = populate()
        client = Client()
        client.force_login(user)
        htmx = {"HTTP_HX_REQUEST": "true"}
        first = client.get("/conversations/", **htmx).content.decode()
        cursor = re.search(r"cursor=([^&\"]+)", first).group(1)
        middle = Conversation.objects.filter(owner=user).order_by("-updated", "-id")[5000]
        middle_cursor = f"{middle.updated.timestamp():.6f}_{middle.pk}"
        pages = {
            "sidebar first page": ("/conversations/", htmx),
            "sidebar next page": (f"/conversations/?cursor={cursor}", htmx),
            "sidebar page 5,000 deep": (f"/conversations/?cursor={middle_cursor}", htmx),
            "search 'budget'": ("/conversations/?q=budget", htmx),
            "search, no match": ("/conversations/?q=zzzz", htmx),
            f"conversation of {MESSAGES} messages": (f"/conversations/{long.pk}/", {}),
            "index page (full)": ("/", {}),
        }
        # Three interleaved rounds, each the median of 50 requests; the median round counts.
        rounds = [
            {name: timed(client, url, **headers) for name, (url, headers) in pages.items()}
            for _ in range(3)
        ]
        results = {
            name: (statistics.median(r[name][0] for r in rounds), *rounds[0][name][1:])
            for name in pages
        }
        for name, (ms, queries, size) in results.items():
            print(f"{name:<32} {ms:7.2f} ms  {queries:2d} queries  {size / 1024:7.1f} KiB")
        sizes = first_page_bytes(client)
        for path, size in sizes.items():
            print(f"  {path:<60} {size / 1024:6.1f} KiB gzip")
        # The widget: the loader a host page fetches, then the frame's first load when opened.
        widget = Widget.objects.create(
            name="Bench", owner=user, provider="mistral", model="mistral-small-latest",
            allowed_origins="https://shop.example.com",
        )  # fmt: skip
        frame = first_page_bytes(Client(), f"/widget/{widget.public_key}/frame")
        loader = len(gzip.compress(Path(ROOT / "widgets/static/widgets/widget.js").read_bytes(), 9))
        print(f"  {'/widget.js (the loader, on the host page)':<60} {loader / 1024:6.1f} KiB gzip")
        for path, size in frame.items():
            print(f"  {path.replace(widget.public_key, 'KEY'):<60} {size / 1024:6.1f} KiB gzip")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "pages.json").write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "database": connection.vendor,
                "pages": {
                    k: {"ms": v[0], "queries": v[1], "bytes": v[2]} for k, v in results.items()
                },
                "first_page_gzip_bytes": sizes,
                "widget_loader_gzip_bytes": loader,
                "widget_frame_gzip_bytes": {
                    k.replace(widget.public_key, "KEY"): v for k, v in frame.items()
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
