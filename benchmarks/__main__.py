"""`make bench`: run every benchmark module and print its figures as ratios.

Each `benchmarks/bench_*.py` exposes `run() -> list[dict]`; a row has `name`, `value`,
`unit`, and, where there is one, the `baseline` measured in the same run and the `ratio`
(value / baseline, or the reverse for rates, as the module explains in `note`).
Pass module names to run only some: `python -m benchmarks course store`.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))
    console = Console(width=None if sys.stdout.isatty() else 140)  # a log keeps its columns
    table = Table("benchmark", "value", "baseline", "ratio", "note", title="studyapp benchmarks")
    rows_out = []
    failed = 0
    for name in names:
        start = time.perf_counter()
        try:
            rows = importlib.import_module(f"benchmarks.bench_{name}").run()
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the rest
            failed += 1
            table.add_row(name, f"[red]failed: {exc}", "", "", "")
            continue
        for row in rows:
            rows_out.append(row)
            baseline = row.get("baseline")
            ratio = row.get("ratio")
            table.add_row(
                row["name"],
                f"{row['value']:.4g} {row.get('unit', '')}",
                "" if baseline is None else f"{baseline:.4g} {row.get('unit', '')}",
                "" if ratio is None else f"{ratio:.3g}",
                row.get("note", ""),
            )
        console.log(f"{name}: {time.perf_counter() - start:.1f} s")
    console.print(table)
    out = here.parent / ".bench-results.json"
    out.write_text(json.dumps(rows_out, indent=2, default=str))
    console.print(f"figures written to {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
