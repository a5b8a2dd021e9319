"""A signed statement of the audit log's heads, kept outside the store (see ``_log``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from attrs import frozen

from personakit._codec import canonical_json
from personakit.audit._chains import MAX_CHAINS
from personakit.exceptions import InvalidInput, Problem

__all__ = ["Checkpoint"]


@frozen(kw_only=True)
class Checkpoint:
    """A signed statement of the chain head at some point: keep it outside the store."""

    tenant: str
    seq: int
    hash: str
    at: datetime
    mac: str
    #: ``(seq, hash)`` of chains 1, 2, … of a log with several chains (``seq``/``hash`` are
    #: chain 0's), signed with them: one MAC binds every head.
    heads: tuple[tuple[int, str], ...] = ()

    def signed_body(self) -> bytes:
        """The bytes the MAC covers."""
        body: dict[str, Any] = {
            "tenant": self.tenant,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at.isoformat(),
        }
        if self.heads:
            body["heads"] = [[seq, digest] for seq, digest in self.heads]
        return canonical_json(body)

    def to_json(self) -> dict[str, Any]:
        """The checkpoint as written to a file."""
        doc: dict[str, Any] = {
            "tenant": self.tenant,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at.isoformat(),
            "mac": self.mac,
        }
        if self.heads:
            doc["heads"] = [[seq, digest] for seq, digest in self.heads]
        return doc

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """Parse a checkpoint file's JSON; :class:`InvalidInput` names every bad field."""
        problems: list[Problem] = []
        if not isinstance(data, dict):
            raise InvalidInput("invalid checkpoint", [Problem(where="$", what="not an object")])
        for name, kind in (("tenant", str), ("seq", int), ("hash", str), ("at", str), ("mac", str)):
            if not isinstance(data.get(name), kind) or isinstance(data.get(name), bool):
                problems.append(
                    Problem(where=f"$.{name}", what=f"missing or not a {kind.__name__}")
                )
        at: datetime | None = None
        if isinstance(data.get("at"), str):
            try:
                at = datetime.fromisoformat(data["at"])
            except ValueError:
                problems.append(Problem(where="$.at", what="not an ISO 8601 timestamp"))
        heads = _parse_heads(data.get("heads", []), problems)
        if problems or at is None:
            raise InvalidInput("invalid checkpoint", problems)
        return cls(
            tenant=data["tenant"],
            seq=data["seq"],
            hash=data["hash"],
            at=at,
            mac=data["mac"],
            heads=heads,
        )


def _parse_heads(raw: object, problems: list[Problem]) -> tuple[tuple[int, str], ...]:
    if not isinstance(raw, list) or len(raw) >= MAX_CHAINS:
        problems.append(Problem(where="$.heads", what=f"not a list of under {MAX_CHAINS} heads"))
        return ()
    heads = []
    for n, head in enumerate(raw):
        if (
            not isinstance(head, list)
            or len(head) != 2  # noqa: PLR2004 ([seq, hash])
            or type(head[0]) is not int
            or not isinstance(head[1], str)
        ):
            problems.append(Problem(where=f"$.heads[{n}]", what="not a [seq, hash] pair"))
            continue
        heads.append((head[0], head[1]))
    return tuple(heads)
