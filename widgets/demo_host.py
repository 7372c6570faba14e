"""A stand-in for a site owner's website, on its own origin, with a widget embedded.

`make run` serves it beside Webchat so a newcomer sees the widget on "another site" at once;
the end-to-end tests use it as the host page. Two pages, so moving between them mid-reply shows
that the reply goes on.
"""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Example shop</title>
<link rel="icon" href="data:,">
<style>body{{font:16px/1.5 Georgia,serif;max-width:40rem;margin:3rem auto;color:#222}}
nav a{{margin-right:1rem}} .button{{all:unset;color:red}}</style></head>
<body><nav><a href="/">Home</a><a href="/pricing">Pricing</a></nav>
<h1>{title}</h1><p>{body}</p><p>The chat button at the bottom right is a Webchat widget,
served from {webchat}. This page is on another origin.</p>
{snippet}
</body></html>"""

CONTENT = {
    "/": ("Example shop", "A page of a website that embeds the Webchat widget."),
    "/pricing": ("Pricing", "Another page of the same site: the chat follows you here."),
}


def snippet(webchat_url: str, key: str) -> str:
    src = html.escape(f"{webchat_url}/widget.js")
    return f'<script src="{src}" data-widget="{html.escape(key)}" async></script>'


def start(port: int, *, webchat_url: str, key: str, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve the host pages in a daemon thread; `server.shutdown()` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = CONTENT.get(self.path.split("?")[0])
            if page is None:
                self.send_error(404)
                return
            title, body = page
            text = PAGE.format(
                title=title, body=body, webchat=html.escape(webchat_url),
                snippet=snippet(webchat_url, key),
            )  # fmt: skip
            data = text.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="demo-host").start()
    return server
