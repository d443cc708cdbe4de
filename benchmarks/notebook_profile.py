"""Where a notebook's time goes: its code cells run in this process under cProfile, then the cells and the kit's
heaviest calls, by CPU seconds.

    python benchmarks/notebook_profile.py 05                 # smoke profile, the notebook whose name starts with 05
    python benchmarks/notebook_profile.py 04 --top 25        # more library functions

The cells run as Jupyter would run them (IPython, the notebook's folder as working directory), in the smoke profile
unless HEYGEN_PROFILE says otherwise, with artifacts where HEYGEN_ARTIFACTS_DIR points. Printed: each code cell's
wall and CPU seconds, then the `heygen_lib` functions with the most cumulative CPU time (a function's time includes
what it calls, so nested calls appear twice: read the table top down as "where the time is spent inside").
CPU time is the number to compare between machines and loads; wall time depends on what else runs.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing


def run_cells(notebook: Path) -> tuple[list[dict], pstats.Stats]:
    """Run every code cell of `notebook` in one IPython shell under cProfile; the cells' timings and the profile."""
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    cells = [c for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code"]
    shell = InteractiveShell.instance()
    shell.enable_gui = lambda gui=None: None  # `%matplotlib inline` asks for a GUI loop; plots go nowhere here
    os.chdir(notebook.parent)
    profiler, timings = cProfile.Profile(time.process_time), []  # CPU seconds: load-independent
    for index, cell in enumerate(cells):
        wall, cpu = time.perf_counter(), time.process_time()
        profiler.enable()
        result = shell.run_cell(cell.source, silent=True)
        profiler.disable()
        timings.append({"cell": index, "first line": cell.source.strip().splitlines()[0][:60] if cell.source.strip()
                        else "", "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu})
        if not result.success:
            raise SystemExit(f"cell {index} failed: {result.error_in_exec or result.error_before_exec}")
    return timings, pstats.Stats(profiler)


def kit_functions(stats: pstats.Stats, top: int) -> list[tuple[str, int, float]]:
    """(function, calls, cumulative CPU seconds) of the `heygen_lib` functions with the most cumulative time."""
    rows = []
    for (filename, line, name), (_, calls, _, cumulative, _) in stats.stats.items():
        if f"{os.sep}heygen_lib{os.sep}" in filename:
            module = Path(filename).relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
            rows.append((f"{module}.{name}", calls, cumulative))
    return sorted(rows, key=lambda row: -row[2])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefix", help="the notebook, by the start of its name (e.g. 05)")
    parser.add_argument("--top", type=int, default=15, help="library functions to list")
    args = parser.parse_args()
    os.environ.setdefault("HEYGEN_PROFILE", "smoke")
    notebook = next(iter(sorted((ROOT / "notebooks").glob(f"{args.prefix}*.ipynb"))), None)
    if notebook is None:
        raise SystemExit(f"no notebook starts with {args.prefix!r}")
    timings, stats = run_cells(notebook)
    print(f"{notebook.name}: {sum(t['wall_s'] for t in timings):.0f} s wall, "
          f"{sum(t['cpu_s'] for t in timings):.0f} CPU-s (load at the end {os.getloadavg()[0]:.1f})\n")
    print("| cell | first line | wall s | CPU s |\n|---|---|---|---|")
    for t in sorted(timings, key=lambda t: -t["cpu_s"]):
        if t["cpu_s"] >= 1:
            print(f"| {t['cell']} | `{t['first line']}` | {t['wall_s']:.1f} | {t['cpu_s']:.1f} |")
    print("\n| library function | calls | cumulative CPU s |\n|---|---|---|")
    for name, calls, seconds in kit_functions(stats, args.top):
        print(f"| `{name}` | {calls} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
