"""Import N more items into a project from a separate process (loop.py --background-import).

    python benchmarks/_bg_import.py URL DATA_DIR PROJECT_ID N

Prints one JSON line: created, seconds. Uses the same service as the CLI.
"""

from __future__ import annotations

import sys

# Python puts this folder first on sys.path, where select.py (the selection
# benchmark) would shadow the standard library's select module: move it last.
sys.path.append(sys.path.pop(0))

import json
import time
from pathlib import Path

from _common import Record, item_text


def main() -> int:
    url, data_dir, project_id, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    from hitloop.api.context import AppContext
    from hitloop.services import items
    from hitloop.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=url)
    ctx = AppContext.from_settings(settings)
    recs = (
        Record(line=i + 1, text=item_text(i), external_id=f"bg{i}", meta={"bucket": i % 10}) for i in range(n)
    )
    t0 = time.perf_counter()
    result = items.import_records(
        ctx.db,
        ctx.media,
        project_id,
        None,
        recs,
        source="background",
        limits=ctx.limits,
        batch_size=settings.import_batch_size,
    )
    print(json.dumps({"created": result.created, "seconds": round(time.perf_counter() - t0, 2)}))
    ctx.db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
