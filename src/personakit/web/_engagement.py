"""The open pixel and the click redirect of journeys' e-mails, framework-free.

``GET open?t=<token>`` always answers the same 1x1 transparent GIF, whatever the token and
whether or not the open was recorded (a mail client learns nothing from it, and a person
without consent sees the same image). ``GET click?t=<token>`` redirects (302) to the link of
the sent message the token names; a forged, altered or expired token, or a message no longer
held, gets one opaque 404. The target is never read from the request, so this is no open
redirect. Both answers are ``no-store`` and send no referrer on, so the token does not leak to
the shop page it leads to.
"""

from __future__ import annotations

import base64
import contextlib
from typing import Final

from personakit.journeys import InvalidToken, Journeys
from personakit.web._http import WebResponse, json_response

__all__ = ["OPERATIONS", "PIXEL_GIF", "EngagementEndpoints"]

#: The smallest transparent GIF (43 bytes).
PIXEL_GIF: Final = base64.b64decode(b"R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_HEADERS: Final = (("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"))
#: The privacy-center operations this module answers.
OPERATIONS: Final = frozenset({"open", "click"})


class EngagementEndpoints:
    """Answers the ``open`` and ``click`` operations for one kit's journeys."""

    def __init__(self, journeys: Journeys | None) -> None:
        """Wire to ``journeys`` (None: every click is a 404, every pixel the GIF)."""
        self.journeys = journeys

    def __repr__(self) -> str:
        """Render without state."""
        return "EngagementEndpoints()"

    def handle(self, operation: str, method: object, token: object) -> WebResponse:
        """Answer ``open`` or ``click`` (GET or HEAD; 405 for anything else)."""
        if method not in ("GET", "HEAD"):
            return json_response(405, {"error": "method_not_allowed"}, dict(_HEADERS))
        if operation == "open":
            return self.open(token)
        return self.click(token)

    def open(self, token: object) -> WebResponse:
        """The pixel: record the open if the token is good and consent allows; the GIF."""
        if self.journeys is not None:
            # The same image for every token: nothing to learn from it.
            with contextlib.suppress(InvalidToken):
                self.journeys.opened(token)
        return WebResponse(status=200, body=PIXEL_GIF, content_type="image/gif", headers=_HEADERS)

    def click(self, token: object) -> WebResponse:
        """The redirect to the message's own link the token names, or an opaque 404."""
        if self.journeys is None:
            return json_response(404, {"error": "not_found"}, dict(_HEADERS))
        try:
            url = self.journeys.clicked(token)
        except InvalidToken:
            return json_response(404, {"error": "not_found"}, dict(_HEADERS))
        return WebResponse(
            status=302, content_type="text/plain", headers=(("Location", url), *_HEADERS)
        )
