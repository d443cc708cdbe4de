"""The clean-output checker catches each thing a student must never see, and passes what they should see."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from heygen_lib.notebook_output import (PROBLEM_MIME, bar_made_by_library, cell_problems, closed_bar_problem,
                                        figure_problems, text_bar_problem)
from heygen_lib.paths import PROJECT_ROOT


def stream(text, name="stdout"):
    return {"output_type": "stream", "name": name, "text": text}


def result(data):
    return {"output_type": "execute_result", "data": data, "metadata": {}, "execution_count": 1}


def display(data):
    return {"output_type": "display_data", "data": data, "metadata": {}}


def problems_of(*outputs, source="x = 1", tags=()):
    return cell_problems(source, list(outputs), list(tags))


def test_clean_outputs_have_no_problems():
    assert problems_of(
        stream("saved to artifacts/models/tiny (relative to the kit)\n"),
        stream("train: 100%|██████████| 40/40 [00:01<00:00, 31.2it/s]\n", name="stderr"),
        display({"text/markdown": "| check | value |", "text/plain": "<IPython.core.display.Markdown object>"}),
        display({"image/png": "iVBOR", "text/plain": "<Figure size 640x480 with 1 Axes>"}),
        result({"text/html": "<table></table>", "text/plain": "   a  b"}),
        display({"application/vnd.jupyter.widget-view+json": {"model_id": "1"}, "text/plain": "  0%|  | 0/5"}),
    ) == []


@pytest.mark.parametrize("path", [f"{PROJECT_ROOT}/artifacts/model", "/tmp/ipykernel_1/2.py", "/home/ada/kit/x.txt",
                                  "/root/.cache/huggingface", "/Users/ada/kit", r"C:\Users\ada\kit",
                                  "/srv/ci/heygen-kit", "/work/wt/other/heygen_lib/data/loaders.py"])
def test_machine_paths_are_caught_in_any_text(path):
    assert problems_of(stream(f"wrote {path}\n")) == [f"machine path {path!r} in stdout (print paths relative to the kit)"]
    assert problems_of(display({"text/markdown": f"see `{path}`"}))[0].startswith(f"machine path {path!r}")


def test_urls_and_relative_paths_are_not_machine_paths():
    assert problems_of(stream("https://example.org/home/page/a and runs/latest/tmp/x and ./home/y and 1/2/3\n")) == []


def test_error_outputs_and_tracebacks_are_caught():
    error = {"output_type": "error", "ename": "ValueError", "evalue": "pairs.jsonl line 3: no 'response'", "traceback": []}
    assert problems_of(error) == ["error output ValueError: pairs.jsonl line 3: no 'response'"]
    assert "traceback in stdout" in problems_of(stream("Traceback (most recent call last):\n  File x\n"))


@pytest.mark.parametrize("text", ["x.py:3: FutureWarning: `foo` is deprecated\n", "WARNING: the tokenizer is slow\n",
                                  "Warning: no GPU found\n"])
def test_warnings_are_caught_on_either_stream(text):
    for name in ("stdout", "stderr"):
        assert any(p.startswith(f"warning in {name}") for p in problems_of(stream(text, name)))


def test_any_other_text_on_stderr_is_caught():
    assert problems_of(stream("Some weights of GPT2 were not initialized\n", "stderr")) == [
        "text on stderr: 'Some weights of GPT2 were not initialized'"]


def test_bare_reprs_are_caught_in_printed_text():
    assert problems_of(stream("model in PosixPath('artifacts/x')\n")) == ["bare repr \"PosixPath('artifacts/x')\" in stdout"]
    assert problems_of(stream("<heygen_lib.chat.Chatbot object at 0x7f3a2c>\n")) == [
        "bare repr '<heygen_lib.chat.Chatbot object at 0x7f3a2c>' in stdout"]


def test_a_bare_return_value_is_caught_and_a_rich_one_is_not():
    assert problems_of(result({"text/plain": "2105"})) == ["stray return value '2105' (end the line with ';' or assign it)"]
    assert problems_of(display({"text/plain": "2105"})) == []  # display(...) is asked for
    assert problems_of(result({"text/plain": "<Figure size 640x480 with 1 Axes>"})) == [
        "figure shown as text '<Figure size 640x480 with 1 Axes>' (no image)"]


@pytest.mark.parametrize("line, problem", [
    ("train: 92%|█████████▏| 92/100 [00:01<00:00]", "progress bar 'train' left at 92% (92/100)"),
    ("99%|█████████▉| 99/100 [00:01<00:00]", "progress bar 'without description' left at 99% (99/100)"),
    ("Loading weights: 100%|██████████| 148/148 [00:00<00:00]", "third-party load/save progress bar 'Loading weights' (silence it)"),
    ("Writing model shards: 100%|██████████| 1/1 [00:00<00:00]", "third-party load/save progress bar 'Writing model shards' (silence it)"),
    ("train: 100%|██████████| 100/100 [00:01<00:00]", None),
])
def test_text_progress_bars_must_end_at_100_and_not_be_load_save_bars(line, problem):
    assert text_bar_problem(line) == problem


def test_a_bar_redrawn_with_carriage_returns_is_judged_by_its_last_state():
    redrawn = "train:  50%|█████     | 5/10\rtrain: 100%|██████████| 10/10\n"
    frozen = "train:  50%|█████     | 5/10\rtrain:  90%|█████████ | 9/10\n"
    assert problems_of(stream(redrawn, "stderr")) == []
    assert problems_of(stream(frozen, "stderr")) == ["progress bar 'train' left at 90% (9/10)"]


def test_nbval_comment_markers_are_caught_and_tags_are_not():
    source = "# NBVAL_IGNORE_OUTPUT\nprint(1)"
    assert problems_of(source=source) == [
        "nbval comment marker '# NBVAL_IGNORE_OUTPUT' in the source (use the cell tag 'nbval-ignore-output')"]
    assert problems_of(source="print(1)", tags=["nbval-ignore-output"]) == []


def test_a_check_output_tag_on_a_stripped_notebook_is_caught():
    assert problems_of(tags=["nbval-check-output"])[0].startswith("tag 'nbval-check-output'")


def test_problems_found_in_the_kernel_arrive_with_the_cell():
    found = display({PROBLEM_MIME: {"problems": ["figure 'loss': y axis has no label"]}, "text/plain": "…"})
    assert problems_of(found) == ["figure 'loss': y axis has no label"]


# --- figures (what the kernel watcher checks as each figure is drawn) ---


def drawn(fig):
    fig.canvas.draw()
    plt.close(fig)
    return figure_problems(fig)


def test_a_figure_with_labelled_axes_passes():
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [3.0, 2.0, 2.5])
    ax.set(title="loss", xlabel="epoch", ylabel="loss (nats / token)")
    assert drawn(fig) == []


def test_each_unlabelled_axis_is_named():
    fig, (left, right) = plt.subplots(1, 2)
    left.plot([0, 1], [0, 1])
    left.set(title="loss", xlabel="epoch")
    right.plot([0, 1], [0, 1])
    right.set_title("accuracy")
    assert drawn(fig) == ["figure 'loss': y axis has no label", "figure 'accuracy': x axis has no label",
                          "figure 'accuracy': y axis has no label"]


def test_offset_notation_is_caught_and_plain_ticks_pass():
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [6.8421, 6.8425, 6.8429])
    ax.set(title="nll", xlabel="step", ylabel="nll")
    assert drawn(fig) == ["figure 'nll': y axis uses offset notation ('+6.842'; ax.ticklabel_format(useOffset=False))"]
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [6.8421, 6.8425, 6.8429])
    ax.set(title="nll", xlabel="step", ylabel="nll")
    ax.ticklabel_format(useOffset=False)
    assert drawn(fig) == []


def test_axes_without_values_need_no_label():
    fig, axes = plt.subplots(2, 1, sharex=True)
    for ax in axes:
        ax.plot([0, 1], [0, 1])
        ax.set_ylabel("value")
    axes[1].set_xlabel("step")  # the top axes shows no x values: shared
    text_panel = fig.add_axes((0, 0, 0.1, 0.1))
    text_panel.axis("off")
    assert drawn(fig) == []


def test_a_figure_level_label_labels_every_axes():
    fig, axes = plt.subplots(1, 2, sharey=True)
    for ax in axes:
        ax.plot([0, 1], [0, 1])
        ax.set_xlabel("step")
    fig.supylabel("loss")
    assert drawn(fig) == []


def test_a_colour_bar_needs_its_label():
    fig, ax = plt.subplots()
    image = ax.imshow([[0, 1], [1, 0]])
    ax.set(title="attention", xlabel="key position", ylabel="query position")
    bar = fig.colorbar(image)
    assert drawn(fig) == ["figure 'attention': colour bar axis has no label"]
    bar.set_label("weight")
    assert drawn(fig) == []


# --- progress bars (what the kernel watcher checks as each bar closes) ---


def test_a_bar_closed_short_of_its_total_is_caught_unless_it_vanishes():
    assert closed_bar_problem("train", 92, 100, leave=True, made_by=None) == "progress bar 'train' closed at 92% (92/100)"
    assert closed_bar_problem("train", 92, 100, leave=False, made_by=None) is None
    assert closed_bar_problem("train", 100, 100, leave=True, made_by=None) is None


def test_a_library_load_or_save_bar_is_caught_and_the_kits_own_bars_are_not():
    assert closed_bar_problem("Loading weights", 148, 148, leave=True, made_by="transformers") == (
        "third-party load/save progress bar 'Loading weights' from transformers (silence it)")
    assert closed_bar_problem("loading corpus", 10, 10, leave=True, made_by=None) is None


class Frame:
    def __init__(self, module, filename="x.py"):
        self.f_globals = {"__name__": module}
        self.f_code = type("Code", (), {"co_filename": filename})


def test_the_maker_of_a_bar_is_the_first_caller_outside_tqdm():
    assert bar_made_by_library([Frame("tqdm.notebook"), Frame("transformers.modeling_utils"), Frame("__main__")]) == (
        "transformers")
    assert bar_made_by_library([Frame("tqdm.auto"), Frame("heygen_lib.gan.training"), Frame("transformers")]) is None
    assert bar_made_by_library([Frame("tqdm.std"), Frame("__main__", "<ipython-input-1>")]) is None


def test_a_notebooks_own_markdown_may_say_warning_but_not_show_a_python_warning():
    assert problems_of(display({"text/markdown": "Warning: every reply is one word (degenerate)"})) == []
    assert problems_of(display({"text/html": "<pre>x.py:3: UserWarning: careful</pre>"}))[0].startswith("warning in")
