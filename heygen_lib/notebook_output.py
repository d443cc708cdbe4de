"""Clean outputs: what a student must never see in an executed notebook, found by a checker instead of by eye.

Two halves, because text shows only part of it:

- `cell_problems` reads one executed cell (its source, tags and outputs): machine paths, tracebacks and error
  outputs, warnings and other text on stderr, bare reprs and stray return values, progress bars printed as text that
  stopped short of 100 %, third-party load/save bars, ``# NBVAL_`` comment markers.
- `install_kernel_checks` runs inside the notebook's kernel (the nbval wiring in ``notebooks/conftest.py`` does it)
  and watches what the text of an output cannot show: every figure as it is drawn (each axis that shows values has a
  label; no offset notation) and every tqdm bar (closed at 100 %, or made by the kit rather than a library's
  load/save step). It publishes what it finds on the cell as an output of type `PROBLEM_MIME`, which
  `cell_problems` reads back, so the problems arrive with the cell that caused them.

``python -m heygen_lib.notebook_output runs/latest/*.ipynb`` runs the text half over executed copies.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from heygen_lib.paths import PROJECT_ROOT

PROBLEM_MIME = "application/x.heygen-output-problems+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
RICH_MIMES = ("text/html", "text/markdown", "text/latex", "image/png", "image/jpeg", "image/svg+xml", WIDGET_MIME)

# Absolute paths of this machine (kit, environment, home, temp) and the usual roots of any machine's paths.
_MACHINE_ROOTS = ("/tmp/", "/home/", "/root/", "/Users/", "/var/folders/", "/private/var/", "/content/",
                  "/usr/lib/", "/usr/local/", "/opt/", "site-packages/")
_NOT_PATH_BEFORE = r"(?<![\w/.:~-])"  # a URL's or a relative path's tail is not a machine path


def _machine_path_pattern() -> re.Pattern:
    here = {str(PROJECT_ROOT), str(Path(sys.prefix)), str(Path(sys.base_prefix)), tempfile.gettempdir(),
            str(Path.home())}
    here |= {os.path.realpath(p) for p in here}
    here = {p.rstrip("/") + "/" for p in here if len(p.strip("/")) > 1}
    alternatives = sorted(here | set(_MACHINE_ROOTS), key=len, reverse=True)
    windows = r"[A-Za-z]:\\(?:Users|Windows|Program Files)\\"
    any_deep_path = r"/[\w.@-]+(?:/[\w.@-]+){2,}"  # /a/b/c: an absolute path on any machine
    tail = r"[^\s'\"`<>()\[\]{}]*"
    known = "|".join(map(re.escape, alternatives))
    return re.compile(f"{_NOT_PATH_BEFORE}(?:{known}|{windows}|{any_deep_path}){tail}")


MACHINE_PATH = _machine_path_pattern()
BARE_REPR = re.compile(r"\b(?:Pure)?(?:Posix|Windows)?Path\('[^']*'\)|<[\w.]+(?: [\w.]+)* (?:object )?at 0x[0-9a-fA-F]+>")
FIGURE_REPR = re.compile(r"<Figure size \d+x\d+ with \d+ Axes>")
PYTHON_WARNING = re.compile(r"\b[A-Z]\w*Warning\b: |^\s*warnings\.warn\(", re.MULTILINE)
LOGGED_WARNING = re.compile(r"^\s*(?:WARNING|Warning)\b[:\s]", re.MULTILINE)  # printed text only: a notebook's own
# Markdown may well say "Warning:" to flag a degenerate result
TRACEBACK = re.compile(r"Traceback \(most recent call last\)")
NBVAL_COMMENT = re.compile(r"^\s*#\s*(NBVAL_\w+|PYTEST_VALIDATE_IGNORE_OUTPUT)", re.MULTILINE)
# tqdm's text format: "desc: 92%|█████████▏| 92/100 [00:01<00:00, 80.2it/s]"
TEXT_BAR = re.compile(r"^(?P<desc>.*?):?\s*(?P<pct>\d{1,3})%\|[^|]*\|\s*(?P<n>[\d.]+[kMGT]?)/(?P<total>[\d.]+[kMGT]?)")
LOAD_SAVE_WORDS = re.compile(r"(?i)\b(?:load\w*|writ\w*|sav\w*|download\w*|fetch\w*|upload\w*|shards?|map)\b")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _final_lines(text: str) -> list[str]:
    """The lines a reader finally sees: a carriage return overwrites its line (tqdm redraws this way)."""
    return [line.rsplit("\r", 1)[-1] for line in text.split("\n")]


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def text_bar_problem(line: str) -> str | None:
    """A progress bar printed as text that a reader sees short of 100 %, or a library's load/save bar."""
    match = TEXT_BAR.match(line.strip())
    if not match:
        return None
    desc = match["desc"].strip()
    if LOAD_SAVE_WORDS.search(desc):
        return f"third-party load/save progress bar {desc!r} (silence it)"
    if match["n"] != match["total"] or int(match["pct"]) != 100:
        return f"progress bar {desc or 'without description'!r} left at {match['pct']}% ({match['n']}/{match['total']})"
    return None


def text_problems(text: str, where: str) -> list[str]:
    """Machine paths, tracebacks, warnings and bare reprs in one piece of output text."""
    problems = [f"machine path {m.group(0).rstrip('.,:;')!r} in {where} (print paths relative to the kit)"
                for m in MACHINE_PATH.finditer(text)]
    if TRACEBACK.search(text):
        problems.append(f"traceback in {where}")
    printed = where in ("stdout", "stderr")
    problems += [f"warning in {where}: {_short(line)!r}" for line in _final_lines(text)
                 if PYTHON_WARNING.search(line) or (printed and LOGGED_WARNING.search(line))]
    problems += [f"bare repr {m.group(0)!r} in {where}" for m in BARE_REPR.finditer(text)]
    return problems


def output_problems(output: dict) -> list[str]:
    """Everything wrong with one output (an nbformat output dict)."""
    kind = output.get("output_type")
    if kind == "error":
        return [f"error output {output.get('ename')}: {_short(str(output.get('evalue', '')))}"]
    if kind == "stream":
        text = _text(output.get("text", ""))
        problems = text_problems(text, output.get("name", "stream"))
        warned = any(p.startswith("warning") for p in problems)  # a warning's second line is its source line
        for line in _final_lines(text):
            bar = text_bar_problem(line)
            if bar:
                problems.append(bar)
            elif output.get("name") == "stderr" and line.strip() and not warned and not TEXT_BAR.match(line.strip()):
                problems.append(f"text on stderr: {_short(line)!r}")
        return list(dict.fromkeys(problems))
    data = output.get("data", {})
    if PROBLEM_MIME in data:
        return list(data[PROBLEM_MIME].get("problems", []))
    problems = []
    for mime in ("text/plain", "text/html", "text/markdown", "text/latex"):
        if mime in data and not (mime == "text/plain" and WIDGET_MIME in data):  # a widget's text is its stand-in
            problems += text_problems(_text(data[mime]), mime)
    plain = _text(data.get("text/plain", ""))
    rich = any(mime in data for mime in RICH_MIMES)
    if FIGURE_REPR.search(plain) and "image/png" not in data:
        problems.append(f"figure shown as text {plain.strip()!r} (no image)")
    elif kind == "execute_result" and not rich:
        problems.append(f"stray return value {_short(plain)!r} (end the line with ';' or assign it)")
    return list(dict.fromkeys(problems))


def cell_problems(source: str, outputs: list[dict], tags: list[str] = ()) -> list[str]:
    """Every output-hygiene problem of one executed code cell, in the order a reader meets them."""
    problems = []
    for marker in NBVAL_COMMENT.findall(source):
        if marker == "NBVAL_CHECK_OUTPUT":
            problems.append(f"nbval comment marker '# {marker}' in the source: outputs are stored stripped, so it "
                            "compares nothing (remove it; state the effect as a lesson check)")
        else:
            problems.append(f"nbval comment marker '# {marker}' in the source (use the cell tag "
                            f"{marker.lower().replace('_', '-')!r})")
    if "nbval-check-output" in tags:
        problems.append("tag 'nbval-check-output' on a stripped notebook compares nothing (state it as a lesson check)")
    for output in outputs:
        problems += output_problems(output)
    return list(dict.fromkeys(problems))


def notebook_problems(path: Path) -> list[str]:
    """The text half of the checker over an executed notebook file: ``cell N: problem`` lines."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    found = []
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for index, cell in enumerate(code_cells):
        tags = cell.metadata.get("tags", [])
        found += [f"cell {index}: {p}" for p in cell_problems(cell.source, cell.get("outputs", []), tags)]
    return found


# --- inside the kernel ------------------------------------------------------------------------------------------


def figure_problems(figure) -> list[str]:
    """Axes of a drawn matplotlib figure that show values without a label, or with offset notation."""
    from matplotlib.ticker import ScalarFormatter

    title = figure._suptitle.get_text() if getattr(figure, "_suptitle", None) else ""
    sup = {"x": bool(getattr(figure, "_supxlabel", None) and figure._supxlabel.get_text()),
           "y": bool(getattr(figure, "_supylabel", None) and figure._supylabel.get_text())}
    problems = []
    for number, ax in enumerate(figure.axes, 1):
        if not ax.get_visible() or not ax.axison or ax.name == "polar":
            continue
        colorbar = getattr(ax, "_colorbar", None)
        owner = colorbar.mappable.axes if colorbar is not None and colorbar.mappable.axes is not None else ax
        name = owner.get_title() or title or f"axes {number}"
        axes = {"x": ax.xaxis, "y": ax.yaxis}
        if colorbar is not None:  # a colorbar is one axis: its long one
            axes = {"colour bar": ax.yaxis if colorbar.orientation == "vertical" else ax.xaxis}
        for letter, axis in axes.items():
            if not axis.get_visible():
                continue
            shows_values = any(t.get_visible() and t.get_text().strip() for t in axis.get_ticklabels())
            if shows_values and not axis.get_label_text().strip() and not sup.get(letter):
                problems.append(f"figure {name!r}: {letter} axis has no label")
            formatter = axis.get_major_formatter()
            if isinstance(formatter, ScalarFormatter) and formatter.offset:
                problems.append(f"figure {name!r}: {letter} axis uses offset notation "
                                f"({formatter.get_offset()!r}; ax.ticklabel_format(useOffset=False))")
    return problems


def bar_made_by_library(frames) -> str | None:
    """The top-level package that created a progress bar when it is a library, not the kit or the notebook."""
    for frame in frames:
        module = frame.f_globals.get("__name__", "")
        if module.split(".")[0] == "tqdm" or module == __name__:  # tqdm itself, its subclasses, this watcher
            continue
        if module.split(".")[0] == "heygen_lib" or module == "__main__" or frame.f_code.co_filename.startswith("<"):
            return None
        return module.split(".")[0]
    return None


def closed_bar_problem(desc: str, n: float, total: float | None, leave: bool, made_by: str | None) -> str | None:
    """What is wrong with a tqdm bar as it closes."""
    label = repr(desc) if desc else "without description"
    if made_by and LOAD_SAVE_WORDS.search(desc or ""):
        return f"third-party load/save progress bar {label} from {made_by} (silence it)"
    if total and n < total and leave:
        return f"progress bar {label} closed at {100 * n / total:.0f}% ({n:g}/{total:g})"
    return None


class KernelChecks:
    """Watches figures and tqdm bars in a running IPython kernel and reports per cell."""

    def __init__(self, shell):
        self.shell = shell
        self.problems: list[str] = []
        self.open_bars: dict[int, object] = {}  # by id: tqdm compares bars by screen position

    def install(self) -> None:
        from matplotlib.backend_bases import FigureCanvasBase
        from tqdm import std

        checks = self
        print_figure = FigureCanvasBase.print_figure

        def checked_print_figure(canvas, *args, **kwargs):
            result = print_figure(canvas, *args, **kwargs)
            checks.problems += figure_problems(canvas.figure)
            return result

        FigureCanvasBase.print_figure = checked_print_figure

        bar_init, bar_close = std.tqdm.__init__, std.tqdm.close

        def watched_init(bar, *args, **kwargs):
            bar._heygen_made_by = bar_made_by_library(_frames(sys._getframe(1)))
            bar_init(bar, *args, **kwargs)
            if not getattr(bar, "disable", True):
                checks.open_bars[id(bar)] = bar

        def watched_close(bar):
            if checks.open_bars.pop(id(bar), None) is not None:
                problem = closed_bar_problem(bar.desc, bar.n, bar.total, bar.leave, bar._heygen_made_by)
                if problem:
                    checks.problems.append(problem)
            return bar_close(bar)

        std.tqdm.__init__, std.tqdm.close = watched_init, watched_close
        self.shell.events.register("post_run_cell", self.report)
        self._silence_semicolon_lines_as_jupyter_does()

    def _silence_semicolon_lines_as_jupyter_does(self) -> None:
        """A cell ending in ';' shows no value. IPython finds the ';' in its input history, which a test runner that
        executes without history (nbval) leaves empty, so every such line would print its value under test only."""
        hook = self.shell.displayhook
        if not hasattr(hook, "semicolon_at_end_of_expression"):  # an older IPython: leave its hook alone
            return
        cell = {"source": ""}
        self.shell.events.register("pre_run_cell", lambda info: cell.update(source=info.raw_cell or ""))
        hook.quiet = lambda: hook.semicolon_at_end_of_expression(cell["source"])

    def report(self, result=None) -> None:
        """Publish this cell's problems (and bars it left open) on the cell, then start afresh."""
        from IPython.display import publish_display_data

        for bar in self.open_bars.values():
            label = repr(bar.desc) if bar.desc else "without description"
            self.problems.append(f"progress bar {label} left open at {bar.n:g}/{bar.total or '?'}")
        self.open_bars = {}
        if self.problems:
            publish_display_data({PROBLEM_MIME: {"problems": list(dict.fromkeys(self.problems))},
                                  "text/plain": "output problems: " + "; ".join(self.problems)})
        self.problems = []


def _frames(frame):
    while frame is not None:
        yield frame
        frame = frame.f_back


def install_kernel_checks() -> KernelChecks:
    """Start watching figures and progress bars in this kernel (the test wiring calls this once per notebook)."""
    from IPython import get_ipython

    checks = KernelChecks(get_ipython())
    checks.install()
    return checks


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    failed = 0
    for path in paths:
        for problem in notebook_problems(path):
            print(f"{path.name}: {problem}")
            failed += 1
    print(f"{failed} output problem(s) in {len(paths)} notebook(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
