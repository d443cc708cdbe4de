"""Which stand-in to ship: pretrain a few shapes and budgets, then judge each where it matters, by the smoke
fine-tuning's replies.

    python benchmarks/stand_in_sweep.py --out artifacts/sweep            # every variant (hours on 2 CPU cores)
    python benchmarks/stand_in_sweep.py --out artifacts/sweep --table    # the table of what is measured so far

Each variant is pretrained with the kit's own `pretrain.pretrain` (the command that builds the shipped stand-in), and
snapshots are saved along the way; a snapshot is a point *inside* a cosine schedule (its learning rate has not
decayed yet), so it stands for "fewer steps" only roughly, and the table says which rows are snapshots. Every point
is then fine-tuned exactly as notebook 05 does in the smoke profile (`profile_config`), once per fine-tuning seed,
and measured on **all** test pairs: test perplexity, and the greedy replies the chatbot would write (repetition
penalty as in `nlg.evaluate`) to every test context: median words, identical share, looping share, distinct-2.
Finished points are kept in ``results.jsonl`` and skipped when the sweep runs again, so an interrupted sweep loses
at most one point.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

# name -> (PretrainConfig changes, snapshot steps); the steps are those of the 2,048-token batches
VARIANTS = {
    "4x128-600": ({"max_steps": 600, "warmup_ratio": 0.05, "evals": 4}, ()),  # the recipe shipped before this sweep
    "4x128": ({"layers": 4, "d_model": 128, "max_steps": 5200}, (1750, 3500)),
    "6x160": ({"layers": 6, "d_model": 160, "max_steps": 3500}, (1750,)),
}


def snapshot_callback(steps: tuple[int, ...], folder: Path):
    """A TrainerCallback that saves the model (as the shipped stand-in is saved) at the given steps."""
    from transformers import TrainerCallback

    from heygen_lib.nlg.pretrain import save_stand_in

    class Snapshots(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, processing_class=None, tokenizer=None, **kwargs):
            if state.global_step in steps:
                save_stand_in(model, processing_class or tokenizer, folder / f"step-{state.global_step}")

    return Snapshots()


def pretrain_variant(name: str, out: Path) -> Path:
    """Pretrain one variant unless its folder is complete; returns the folder."""
    from heygen_lib.nlg.pretrain import PretrainConfig, pretrain, read_manifest

    changes, steps = VARIANTS[name]
    folder = out / name
    if read_manifest(folder) is None:
        config = replace(PretrainConfig(), **changes)
        started = time.perf_counter()
        pretrain(config, folder, progress=False, callbacks=[snapshot_callback(steps, folder)])
        print(f"{name}: pretrained in {time.perf_counter() - started:.0f} s", flush=True)
    return folder


def measure(point: Path, seed: int, **changes) -> dict:
    """Fine-tune a copy of `point` as notebook 05 does (smoke; `changes` to its `FineTuneConfig`, e.g. another
    learning rate), then measure it on every test pair."""
    from heygen_lib.data import prepare_pairs
    from heygen_lib.nlg.compare import reply_stats
    from heygen_lib.nlg.evaluate import generate_responses, perplexity
    from heygen_lib.nlg.finetune import fine_tune, load_model, profile_config
    from heygen_lib.profile import PROFILES

    sizes = PROFILES["smoke"].nlg
    prepared = prepare_pairs("support", seed=0)
    config = replace(profile_config(sizes, seed=seed), **changes)
    model, tokenizer = load_model(point, device="cpu")
    started = time.perf_counter()
    result = fine_tune(model, tokenizer, prepared.train, prepared.dev, config, point / f".ft-{seed}", progress=False)
    replies = generate_responses(model, tokenizer, [p.context for p in prepared.test], sizes.max_new_tokens,
                                 seed=seed, max_length=config.max_length)
    stats = reply_stats(replies)
    return {"test ppl": perplexity(model, tokenizer, prepared.test, config.max_length), "steps": result.steps,
            "median words": stats["median words"], "identical": stats["identical share"],
            "looping": stats["looping share"], "distinct-2": stats["distinct-2"], "degenerate": stats["degenerate"],
            "seconds": round(time.perf_counter() - started, 1), "replies": replies[:5]}


def points(out: Path, name: str) -> list[tuple[str, Path]]:
    """(label, folder) of a variant's snapshots and its end point."""
    folder = out / name
    _, steps = VARIANTS[name]
    return [(f"{name} @ {s} (snapshot)", folder / f"step-{s}") for s in steps] + [(f"{name} @ end", folder)]


def table(results: list[dict]) -> str:
    """Markdown: one row per point, each number the mean over fine-tuning seeds with its range."""
    from heygen_lib.nlg.pretrain import loss_to_perplexity, read_manifest

    from heygen_lib.nlg.replies import REPLY_TARGETS, OPS

    lines = ["| point | parameters | pretraining steps | held-out Chit-Chat ppl | fine-tuned test ppl | median words "
             "| identical | looping | seeds meeting every reply target |", "|---|---|---|---|---|---|---|---|---|"]
    names = {"median words": "median words", "identical share": "identical", "looping share": "looping"}
    by_point: dict[str, list[dict]] = {}
    for result in results:
        by_point.setdefault(result["point"], []).append(result)
    def manifest_of(rows: list[dict]) -> dict:
        return read_manifest(Path(rows[0]["folder"]).parent if "snapshot" in rows[0]["point"] else rows[0]["folder"])

    def steps_of(point: str, manifest: dict) -> int:
        steps = point.split("@ ")[1].split(" ")[0].rstrip(",")
        return manifest["steps"] if steps == "end" else int(steps)

    ordered = sorted(by_point.items(), key=lambda item: (manifest_of(item[1])["parameters"],
                                                         steps_of(item[0], manifest_of(item[1])), item[0]))
    for point, rows in ordered:
        manifest = manifest_of(rows)
        steps = steps_of(point, manifest)
        held_out = "" if "snapshot" in point else f"{loss_to_perplexity(manifest['dev_loss']):.1f}"

        def span(key: str, fmt: str) -> str:
            values = [r[key] for r in rows]
            return f"{fmt.format(statistics.mean(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"

        met = sum(all(OPS[op](r[names[k]], bound) for k, (op, bound) in REPLY_TARGETS.items()) for r in rows)
        lines.append(f"| {point} | {manifest['parameters']:,} | {steps} | "
                     f"{held_out} | {span('test ppl', '{:.1f}')} | {span('median words', '{:.1f}')} | "
                     f"{span('identical', '{:.1%}')} | {span('looping', '{:.1%}')} | {met} of {len(rows)} |")
    return "\n".join(lines)


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the variants and results.jsonl")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2], help="fine-tuning seeds per point")
    parser.add_argument("--table", action="store_true", help="only print the table of the finished points")
    parser.add_argument("--finetune", default="", metavar="KEY=VALUE,...",
                        help="fine-tuning changes for every point, e.g. learning_rate=1e-3,lr_scheduler=linear "
                             "(each such recipe is a point of its own in the table)")
    args = parser.parse_args()
    changes = {k: _value(v) for k, v in (item.split("=", 1) for item in args.finetune.split(",") if item)}
    from heygen_lib.profile import PROFILES

    smoke = PROFILES["smoke"].nlg
    results_file = args.out / "results.jsonl"
    done = [json.loads(line) for line in results_file.read_text().splitlines()] if results_file.exists() else []
    if not args.table:
        args.out.mkdir(parents=True, exist_ok=True)
        for name in args.variants:
            pretrain_variant(name, args.out)
            for label, folder in points(args.out, name):
                recipe = {"learning_rate": smoke.learning_rate, "lr_scheduler": smoke.lr_scheduler, **changes}
                label += "".join(f", {k}={v}" for k, v in recipe.items())
                for seed in args.seeds:
                    if any(r["point"] == label and r["seed"] == seed for r in done):
                        continue
                    row = {"point": label, "folder": str(folder), "seed": seed, **measure(folder, seed, **changes)}
                    done.append(row)
                    with results_file.open("a", encoding="utf-8") as file:
                        file.write(json.dumps(row) + "\n")
                    print(f"{label} seed {seed}: ppl {row['test ppl']:.1f}, {row['median words']} words, "
                          f"identical {row['identical']:.1%}, looping {row['looping']:.1%}", flush=True)
    print(table(done))


if __name__ == "__main__":
    main()
