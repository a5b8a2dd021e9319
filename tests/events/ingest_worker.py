"""A process of the concurrent-ingest test: ingests its own file into a shared DiskStore."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from personakit import LocalKeyProvider, Personakit


def main() -> None:
    store_dir, key, path = sys.argv[1], sys.argv[2], sys.argv[3]
    checkpoint = sys.argv[4] if len(sys.argv) > 4 else None
    with (
        Personakit.open(store_dir, keys=LocalKeyProvider(key)) as kit,
        Path(path).open("rb") as handle,
    ):
        summary = kit.ingest(handle, batch_size=200, checkpoint=checkpoint)
    print(json.dumps(summary.to_json()))


if __name__ == "__main__":
    main()
