"""Security headers on every response, pages and JSON alike, and redirects that never name a host.

- `Content-Security-Policy`: scripts, styles, images, fonts and requests from the service's own origin
  only (no inline script or style: the pages load theirs from /static), no plugins, no <base>, forms
  posted only here, and no framing;
- `X-Frame-Options: DENY` for browsers that predate `frame-ancestors`;
- `X-Content-Type-Options: nosniff`: a JSON or text answer is never run as a script or page;
- `Referrer-Policy: no-referrer`: a question typed here never travels in a Referer header.

Starlette builds redirects (a trailing slash, /static) as absolute URLs from the request's Host header,
so `Host: evil.example` would send the user elsewhere. They are rewritten to paths on this server.
"""

from __future__ import annotations

from urllib.parse import urlsplit

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_NAMES = {name for name, _ in HEADERS}


def local_location(location: str) -> str:
    """The path (with its query and fragment) of a redirect target, never another host: '//x' would be
    read as a host too, so leading slashes collapse to one."""
    parts = urlsplit(location)
    path = "/" + parts.path.lstrip("/\\")
    return path + (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")


class SecurityHeaders:
    """Pure ASGI middleware (no per-request task or body buffering, unlike BaseHTTPMiddleware)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() in _NAMES:
                        continue
                    if name.lower() == b"location":
                        value = local_location(value.decode("latin-1")).encode("latin-1")
                    headers.append((name, value))
                message = {**message, "headers": headers + HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)
