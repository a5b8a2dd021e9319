"""The demo's background scheduler: ``kit.journeys.run_due`` (and the SMTP drain) on a timer.

Journeys only move when something calls ``run_due``: a real shop runs it from cron or its
task queue. The demo runs it in one daemon thread every ``interval`` seconds, by the kit's
clock (so a test with a :class:`~personakit.FixedClock` moves time without sleeping through
it), and, when the demo was given an SMTP server, sends what is due through
:func:`personakit.journeys.smtp.drain`. :meth:`Scheduler.stop` wakes the thread at once and
joins it.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

from personakit import Personakit
from personakit.exceptions import InvalidInput, PersonakitError, Problem
from personakit.journeys.smtp import SmtpSender, drain

__all__ = ["DEFAULT_INTERVAL", "Scheduler", "Tick"]

#: Seconds between two runs unless told otherwise.
DEFAULT_INTERVAL: Final = 30.0
_log = logging.getLogger(__name__)


class Tick:
    """What one run did: actions produced by ``run_due`` and e-mails sent."""

    __slots__ = ("produced", "sent")

    def __init__(self, produced: int = 0, sent: int = 0) -> None:
        """Counts of one run."""
        self.produced = produced
        self.sent = sent

    def __repr__(self) -> str:
        """Render the counts."""
        return f"Tick(produced={self.produced}, sent={self.sent})"


class Scheduler:
    """Runs :meth:`run_once` every ``interval`` seconds in a daemon thread until stopped."""

    def __init__(
        self,
        kit: Personakit,
        *,
        interval: float = DEFAULT_INTERVAL,
        sender: SmtpSender | None = None,
    ) -> None:
        """Schedule ``kit``'s journeys; ``sender`` (optional) delivers the due e-mails."""
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            raise InvalidInput(
                "invalid interval", [Problem(where="interval", what="must be seconds > 0")]
            )
        self.kit = kit
        self.interval = float(interval)
        self.sender = sender
        self.ticks = 0
        self._stop = threading.Event()
        self._ran = threading.Condition()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        """Render with the interval and whether it sends e-mail."""
        return f"Scheduler(interval={self.interval}, smtp={self.sender is not None})"

    def run_once(self) -> Tick:
        """One run: ``run_due`` at the kit's clock, then the SMTP drain if configured."""
        produced = self.kit.journeys.run_due().produced
        sent = drain(self.kit.journeys, self.sender).sent if self.sender is not None else 0
        return Tick(produced, sent)

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="personakit-demo-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Wake the thread, let a run in progress finish, and join it. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def wait_for(self, ticks: int, timeout: float) -> bool:
        """Block until at least ``ticks`` runs have completed (tests); False on timeout."""
        with self._ran:
            return self._ran.wait_for(lambda: self.ticks >= ticks, timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except PersonakitError as exc:  # a failing store: say so, and try again next time
                _log.warning("demo scheduler run failed: %s", type(exc).__name__)
            with self._ran:
                self.ticks += 1
                self._ran.notify_all()
            self._stop.wait(self.interval)
