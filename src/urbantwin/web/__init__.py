"""The twin viewer in the browser: the built web app of `web/` and the small API it reads at start.

The viewer's source lives in `web/` (MapLibre GL JS, built with Vite); the build writes it into
`static/` here, which is generated and not committed. `routes.mount_viewer` serves it at `/`.
"""

from urbantwin.web.routes import STATIC, mount_viewer

__all__ = ["STATIC", "mount_viewer"]
