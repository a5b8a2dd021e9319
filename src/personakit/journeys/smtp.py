"""A reference sender: e-mail actions over SMTP with the standard library.

It renders an action's payload as a short plain-text message (the host's own templates are
expected in production), adds the RFC 8058 one-click unsubscribe headers the action carries
(``List-Unsubscribe`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``) and hands it
to an SMTP server. :func:`drain` sends what is due and records each outcome in the outbox.

When the action carries tracking (an open pixel, click-redirect links: only while the subject
has a basis for those events), the message also gets an HTML part with the links and the
pixel; the links in both parts are the redirect URLs.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Final

from attrs import frozen

from personakit.journeys._model import Action
from personakit.journeys._service import Journeys

__all__ = ["DrainSummary", "SmtpSender", "drain", "render", "render_html"]

_PERMANENT: Final = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)
# RFC 5322's hard line limit: an unsubscribe URL has no space to fold at, and folding it by
# RFC 2047 encoding would leave mailbox providers unable to read the List-Unsubscribe header.
_POLICY: Final = policy.SMTP.clone(max_line_length=998)


@frozen(kw_only=True)
class DrainSummary:
    """What :func:`drain` did: sent, retried later, given up, skipped (not e-mail)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0


def render(action: Action) -> tuple[str, str]:
    """A subject line and a plain-text body for ``action`` (a stand-in for host templates)."""
    payload: dict[str, Any] = dict(action.payload)
    subject = str(payload.get("subject_line", "A message from us"))
    lines = [f"Hello {payload['first_name']}," if "first_name" in payload else "Hello,", ""]
    if "offer" in payload:
        lines.append(f"Your code: {payload['offer']}")
    if isinstance(payload.get("url"), str):
        lines.append(str(payload["url"]))
    lines.extend(
        " ".join(
            str(part)
            for part in (f"- {item.get('item')}: {item.get('reason')}", item.get("url"))
            if part
        )
        for item in payload.get("recommendations", [])
    )
    return subject, "\n".join(lines) + "\n"


def render_html(action: Action) -> str | None:
    """An HTML part with the action's links and open pixel, or None when it has neither."""
    if action.pixel_url is None and not action.links:
        return None
    _, text = render(action)
    parts = []
    for line in text.splitlines():
        words = [
            f'<a href="{html.escape(w)}">{html.escape(w)}</a>'
            if w.startswith(("http://", "https://"))
            else html.escape(w)
            for w in line.split(" ")
        ]
        parts.append(f"<p>{' '.join(words)}</p>" if line else "")
    if action.pixel_url is not None:
        parts.append(f'<img src="{html.escape(action.pixel_url)}" width="1" height="1" alt="">')
    return "<html><body>" + "\n".join(parts) + "</body></html>\n"


@frozen(kw_only=True)
class SmtpSender:
    """Send e-mail actions through an SMTP server (``starttls`` upgrades the connection)."""

    host: str
    port: int = 25
    sender: str
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    def message(self, action: Action) -> EmailMessage:
        """The message for ``action``, with its one-click unsubscribe headers."""
        subject, body = render(action)
        message = EmailMessage(policy=_POLICY)
        message["From"] = self.sender
        message["To"] = action.address
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(idstring=action.id)
        for name, value in action.headers.items():
            message[name] = value
        message.set_content(body)
        page = render_html(action)
        if page is not None:
            message.add_alternative(page, subtype="html")
        return message

    def send(self, action: Action) -> None:
        """Deliver one e-mail action (raises :mod:`smtplib` errors for the caller to record)."""
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.username is not None and self.password is not None:
                client.login(self.username, self.password)
            client.send_message(self.message(action))


def drain(
    journeys: Journeys, sender: SmtpSender, *, now: datetime | None = None, limit: int = 100
) -> DrainSummary:
    """Send the due e-mail actions and mark each sent, retried (with backoff) or failed."""
    sent = retried = failed = skipped = 0
    for action in journeys.pending(now, limit=limit):
        if action.channel != "email":
            skipped += 1
            continue
        try:
            sender.send(action)
        except _PERMANENT:
            journeys.mark_failed(action.id, permanent=True)
            failed += 1
        except (OSError, smtplib.SMTPException):
            if journeys.mark_failed(action.id) is None:
                failed += 1
            else:
                retried += 1
        else:
            journeys.mark_sent(action.id)
            sent += 1
    return DrainSummary(sent=sent, retried=retried, failed=failed, skipped=skipped)
