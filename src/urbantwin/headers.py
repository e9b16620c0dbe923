"""Security headers on every answer: a Content-Security-Policy, `nosniff` and a referrer policy.

The policy allows what the platform's own pages need and nothing from elsewhere:

- scripts only from this server (`script-src 'self'`): the viewer and /docs have no inline script, so
  an injected `<script>` or `onclick=` never runs;
- MapLibre's workers are made from `blob:` URLs, and its canvas reads `data:`/`blob:` images;
- styles from this server and inline: the viewer colours legend swatches with `style` attributes,
  and the catalogue's and OGC API's HTML pages carry a small `<style>` block (CSS cannot run code);
- connections (fetch, Server-Sent Events) to this server, plus the base map's origins when a city
  configures an external style (`viewer_style_url`, `viewer_sources`);
- `frame-ancestors` from the settings (default `'self'`): other sites cannot frame the twin.

Pure ASGI (headers are added to `http.response.start`), so streamed answers pass untouched.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from urbantwin.settings import Settings


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def content_security_policy(settings: Settings) -> str:
    """The Content-Security-Policy of every answer, for these settings."""
    elsewhere = list(dict.fromkeys(settings.viewer_sources))
    style_origin = _origin(settings.viewer_style_url) if settings.viewer_style_url else None
    if style_origin and style_origin not in elsewhere:
        elsewhere.append(style_origin)
    extra = "".join(f" {source}" for source in elsewhere)
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "worker-src": "'self' blob:",
        "child-src": "'self' blob:",  # where a browser has no worker-src yet
        "style-src": "'self' 'unsafe-inline'",
        "img-src": f"'self' data: blob:{extra}",
        "font-src": f"'self' data:{extra}",
        "connect-src": f"'self'{extra}",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": " ".join(settings.frame_ancestors) or "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers: list[tuple[bytes, bytes]] = [
            (b"content-security-policy", content_security_policy(settings).encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(name, value) for name, value in self.headers if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
