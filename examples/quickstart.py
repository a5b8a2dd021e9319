"""A short end-to-end run of personakit on the embedded store.

    python examples/quickstart.py [STORE_DIR]

Creates (or reuses) a store, resolves a customer by e-mail, keeps an encrypted profile record,
audits it, checks that no plaintext reached the disk, verifies the audit chain against a
checkpoint, and crypto-shreds the customer. Uses a throw-away master key unless
PERSONAKIT_MASTER_KEY is set.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from personakit import LocalKeyProvider, Personakit, SubjectNotFound, generate_master_key


def files_containing(root: Path, needle: bytes) -> list[Path]:
    """Every file under root whose raw bytes contain needle (SQLite WAL included)."""
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def main() -> int:
    root = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(tempfile.mkdtemp(prefix="personakit-demo-"))
    )
    key = os.environ.get("PERSONAKIT_MASTER_KEY") or generate_master_key()
    email = "alice.baker@example.com"
    print(f"store: {root}")
    with Personakit.open(root, keys=LocalKeyProvider(key)) as kit:
        subject = kit.identity.resolve(f"email:{email}", create=True)
        kit.identity.attach(subject, "customer:1042")
        with kit.store.transaction():
            kit.vault.put_json(
                subject, "traits", "main", {"email": email, "first_name": "Alice", "city": "Lyon"}
            )
            kit.audit.append(
                "traits.updated",
                subject=kit.subject_ref(subject),
                data={"fields": ["city", "email", "first_name"]},
            )
        print(
            f"customer:1042 -> {kit.identity.resolve('customer:1042')} (same subject as the e-mail)"
        )
        print(f"profile read back: {kit.vault.get_json(subject, 'traits', 'main')}")

        leaks = files_containing(root, email.encode())
        print(f"files containing the e-mail in clear: {len(leaks)}")
        checkpoint = kit.audit.checkpoint()
        report = kit.audit.verify(checkpoint)
        print(f"audit chain: {report}")

        with kit.store.transaction():
            kit.identity.drop_all(subject)
            removed = kit.vault.delete_subject(subject)
            kit.audit.append(
                "subject.erased", subject=kit.subject_ref(subject), data={"records": removed}
            )
        kit.keyring.shred(subject)
        scrub = kit.store.scrub()
        try:
            kit.identity.resolve(f"email:{email}")
        except SubjectNotFound:
            print(f"after erasure: e-mail no longer resolves; {removed} records removed")
        print(f"physical scrub: {scrub.status}")
        ok = not leaks and report.ok and kit.audit.verify(checkpoint).ok
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
