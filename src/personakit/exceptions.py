"""Every error personakit raises on purpose.

The tree::

    PersonakitError
    ├── InvalidInput (ValueError)          bad input; carries *every* problem found
    │   ├── InvalidManifest                 the purposes manifest does not validate
    │   ├── InvalidTransition               a request cannot move to that state (DSR workflow)
    │   └── UsageError                      a CLI or API call is malformed (exit code 2)
    ├── ConsentRequired (PermissionError)   no lawful basis for this subject and purpose
    ├── SubjectNotFound (LookupError)       an identifier or pseudonym resolves to nothing
    ├── BudgetExceeded (PermissionError)    a DP release would overspend the privacy budget
    ├── ErasureIncomplete (RuntimeError)    erasure left something behind (re-run to finish it)
    ├── ConfigurationError (ValueError)     bad key material, bad store settings, bad options
    │   └── MasterKeyMismatch               the master key is not the one this keyring was made with
    ├── StorageError (OSError)              the backend failed; the backend's error is the __cause__
    │   └── StorageConflict                 lost a deadlock / serialization conflict: retry
    ├── IntegrityError (RuntimeError)       a record failed authentication or is not ours (opaque)
    └── AuditChainBroken (RuntimeError)     ``verify(strict=True)`` found the audit chain tampered

Messages never contain personal data: an :class:`InvalidInput` names the *location* and the
*rule* that failed, never the offending value, so that logging an exception cannot leak an
e-mail address into a log file.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

__all__ = [
    "AuditChainBroken",
    "BudgetExceeded",
    "ConfigurationError",
    "ConsentRequired",
    "ErasureIncomplete",
    "IntegrityError",
    "InvalidInput",
    "InvalidManifest",
    "InvalidTransition",
    "MasterKeyMismatch",
    "PersonakitError",
    "Problem",
    "StorageConflict",
    "StorageError",
    "SubjectNotFound",
    "UsageError",
]


class PersonakitError(Exception):
    """Root of every error personakit raises on purpose."""


@frozen(kw_only=True)
class Problem:
    """One thing wrong with an input.

    ``where`` is a JSON-path-like location (``$.traits.email``, ``line 3``, ``--store``);
    ``what`` says which rule failed, without echoing the value.
    """

    where: str
    what: str

    def __str__(self) -> str:
        """Render as ``where: what``."""
        return f"{self.where}: {self.what}"


class InvalidInput(PersonakitError, ValueError):
    """Input was rejected; ``problems`` lists every problem found, not just the first.

    Nothing was written when this is raised.
    """

    def __init__(self, summary: str, problems: Iterable[Problem] = ()) -> None:
        """Build from a one-line summary and the list of problems."""
        self.summary = summary
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.problems:
            return self.summary
        listed = "; ".join(str(problem) for problem in self.problems)
        return f"{self.summary} ({len(self.problems)} problem(s)): {listed}"


class InvalidManifest(InvalidInput):
    """The purposes manifest failed validation."""


class InvalidTransition(InvalidInput):
    """A data-subject request cannot take this step from its current state.

    ``state`` is the request's current state and ``action`` the step refused (``run``,
    ``extend``, ``deny``, …); nothing was written.
    """

    def __init__(self, action: str, state: str, why: str) -> None:
        """Say which step was refused, from which state, and why."""
        self.action = action
        self.state = state
        super().__init__(
            f"cannot {action} a request in state {state!r}",
            [Problem(where="request", what=why)],
        )


class UsageError(InvalidInput):
    """A command or call was malformed (unknown option, missing argument)."""


class ConsentRequired(PersonakitError, PermissionError):
    """Processing for ``purpose`` needs a lawful basis this subject has not given."""

    def __init__(self, subject: str, purpose: str, reason: str = "no current consent") -> None:
        """``subject`` is the pseudonym (``sub_…``), never a host identifier."""
        self.subject = subject
        self.purpose = purpose
        self.reason = reason
        super().__init__(f"{purpose!r} not allowed for {subject}: {reason}")


class SubjectNotFound(PersonakitError, LookupError):
    """No subject for this identifier or pseudonym (never existed, or erased)."""

    def __init__(self, what: str = "subject") -> None:
        """``what`` describes the lookup (an identifier *kind*, never its value)."""
        self.what = what
        super().__init__(f"no such {what}")


class BudgetExceeded(PersonakitError, PermissionError):
    """A differentially private release would exceed the dataset's privacy budget."""


class ErasureIncomplete(PersonakitError, RuntimeError):
    """An erasure finished its steps but something of the subject is still there.

    ``leftovers`` names *what* remains (``data_key``, ``records``, ``index_entries``), never a
    value. The erasure log keeps the erasure open: running the erasure again (or
    ``personakit erasure replay``) finishes it.
    """

    def __init__(self, leftovers: Iterable[str]) -> None:
        """List what was left behind."""
        self.leftovers: tuple[str, ...] = tuple(leftovers)
        super().__init__(
            "erasure incomplete, run it again to finish: left behind " + ", ".join(self.leftovers)
        )


class ConfigurationError(PersonakitError, ValueError):
    """Bad configuration: key material, store settings or options."""


class MasterKeyMismatch(ConfigurationError):
    """The master key given is not the one this keyring was created or rotated to."""


class StorageError(PersonakitError, OSError):
    """The storage backend failed; the backend's own exception is chained as ``__cause__``."""


class StorageConflict(StorageError):
    """The transaction lost a deadlock or a serialization conflict and was rolled back whole.

    Nothing of it was written; running the same transaction again may succeed (bulk ingest
    does so itself).
    """


class IntegrityError(PersonakitError, RuntimeError):
    """A stored record failed authentication, or is not in a format personakit wrote.

    Deliberately opaque (like ``cryptography.fernet.InvalidToken``): it does not say whether the
    key, the nonce, the associated data or the ciphertext was wrong.
    """

    def __init__(self, message: str = "record failed integrity check") -> None:
        """Build with a fixed, non-revealing message by default."""
        super().__init__(message)


class AuditChainBroken(PersonakitError, RuntimeError):
    """The audit chain does not verify; ``report`` holds the full verification report."""

    def __init__(self, report: object) -> None:
        """Wrap a :class:`personakit.audit.VerifyReport`."""
        self.report = report
        super().__init__(f"audit chain does not verify: {report}")
