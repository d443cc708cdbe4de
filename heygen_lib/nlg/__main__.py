"""Fine-tune the support chatbot's model from a terminal, as notebook 05 does: ``python -m heygen_lib.nlg``.

The same library calls and the same profile sizes as the notebook (``HEYGEN_PROFILE`` or ``--profile``), each
overridable by a flag; the model goes where notebook 06 and ``python -m heygen_lib.chat`` read it
(``artifacts/nlg/model``). Several processes, one batch split over them:

    torchrun --standalone --nproc_per_node 2 -m heygen_lib.nlg --batch-size 16
    accelerate launch --num_processes 2 -m heygen_lib.nlg --batch-size 16

``--batch-size`` is the rows of one forward pass summed over processes, so the optimizer sees the same batch, and
the same learning rate and early-stopping decision hold, whatever the number of processes (README: "When you
outgrow Colab").
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from heygen_lib.data.loaders import CORPORA
from heygen_lib.paths import artifacts_dir, shown_path
from heygen_lib.profile import PROFILES, active_profile
from heygen_lib.settings import model_name_or_folder, output_folder

# torch and transformers (about 20 s to import on 2 busy cores) load in `run`, once the work starts: --help and a
# mistyped flag answer at once.
if TYPE_CHECKING:
    from heygen_lib.nlg.finetune import FineTuneConfig


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m heygen_lib.nlg", description=__doc__.splitlines()[0],
                                     epilog="Unset flags take the profile's value (heygen_lib/profile.py, NlgSizes) "
                                            "or FineTuneConfig's default.")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None,
                        help="sizes to use (default: HEYGEN_PROFILE, else full on a GPU and smoke on a CPU)")
    parser.add_argument("--model", default=None,
                        help="hub name or folder to start from (default: as notebook 05, HEYGEN_MODEL or the profile's "
                             "model or the kit's pretrained stand-in; 'tiny': an untrained tiny GPT-2 for quick tries)")
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="support")
    parser.add_argument("--limit", type=int, default=None, help="dialogues to load (default: all)")
    parser.add_argument("--output", type=Path, default=None,
                        help="where the model goes (default: nlg/model in the artifacts folder, where notebook 06 and "
                             "python -m heygen_lib.chat read it)")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="checkpoints and TensorBoard logs (default: artifacts/nlg/runs/cli)")
    parser.add_argument("--resume", action="store_true",
                        help="keep full checkpoints and continue from the newest one in --run-dir")
    parser.add_argument("--epochs", type=float, default=None)
    parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps; replaces --epochs")
    parser.add_argument("--batch-size", type=int, default=None, help="rows per forward pass, summed over processes")
    parser.add_argument("--gradient-accumulation", type=int, default=None)
    parser.add_argument("--learning-rate", type=float, default=None)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--freeze", default=None,
                        help="which parameters train: none, top-k, head or lora (FineTuneConfig.freeze)")
    parser.add_argument("--top-k", type=int, default=None, help="blocks trained with --freeze top-k")
    parser.add_argument("--lora-rank", type=int, default=None, help="rank of the updates with --freeze lora")
    parser.add_argument("--dropout", type=float, default=None)
    parser.add_argument("--early-stopping-patience", type=int, default=None)
    parser.add_argument("--evals-per-epoch", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report-to", choices=("none", "tensorboard"), default="tensorboard")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs, CI)")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace, sizes) -> FineTuneConfig:
    """Notebook 05's config (the profile's sizes), then every flag that was given."""
    from heygen_lib.nlg.finetune import profile_config

    config = profile_config(sizes, args.seed, report_to=args.report_to, resume=args.resume)
    flags = {name: getattr(args, name) for name in (
        "epochs", "max_steps", "batch_size", "gradient_accumulation", "learning_rate", "max_length", "freeze", "top_k",
        "lora_rank", "dropout", "early_stopping_patience", "evals_per_epoch")}
    return replace(config, **{name: value for name, value in flags.items() if value is not None})


def check_paths(args: argparse.Namespace) -> None:
    """Refuse a --model, --output or --run-dir that cannot work, in one line, before anything loads."""
    if args.model not in (None, "tiny"):
        args.model = model_name_or_folder(args.model, "--model")
    for flag, what in (("output", "give a folder to save the model in"),
                       ("run_dir", "give a folder for checkpoints and logs")):
        if getattr(args, flag) is not None:
            setattr(args, flag, output_folder(getattr(args, flag), f"--{flag.replace('_', '-')}", what))


def run(args: argparse.Namespace, callbacks: Sequence = ()) -> Path:
    """Load the pairs and the model, fine-tune, save on rank 0; returns the model folder. `callbacks` go to
    `fine_tune` (loss-record functions or TrainerCallbacks)."""
    check_paths(args)
    from heygen_lib import distributed
    from heygen_lib.data import prepare_pairs
    from heygen_lib.nlg.finetune import (base_model, fine_tune, load_model, model_dir, save_model, tiny_base_dir,
                                         tokenizer_texts)
    from heygen_lib.quiet import quiet_file_progress
    from heygen_lib.tiny_models import build_tiny_causal_lm

    profile = PROFILES[args.profile] if args.profile else active_profile()
    sizes = profile.nlg
    config = build_config(args, sizes)
    distributed.per_process_batch(config.batch_size)  # refuse a batch that does not split before loading anything
    distributed.init()
    prepared = prepare_pairs(args.corpus, seed=args.seed, limit=args.limit)
    train, dev = prepared.train, prepared.dev
    name = args.model
    if name == "tiny":  # rank 0 builds the tiny model's folder, the others then read it
        with quiet_file_progress():
            distributed.on_main(lambda: build_tiny_causal_lm(tokenizer_texts(train), tiny_base_dir()))
        name = tiny_base_dir()
    elif name is None:  # HEYGEN_MODEL, else the profile's model, else the shipped stand-in (checked on load)
        name = base_model(profile)
    processes = distributed.world_size()
    distributed.say(f"profile {profile.name}; model {shown_path(name)}; {args.corpus}: {len(train)} train, {len(dev)} dev "
                    f"pairs; {processes} process{'es' if processes > 1 else ''}, "
                    f"{distributed.per_process_batch(config.batch_size)} rows each per forward pass")
    distributed.say(str(config))
    try:
        model, tokenizer = load_model(name, device=distributed.device())
    except OSError as err:
        raise OSError(f"cannot load --model {name}: {str(err).strip().splitlines()[0]}") from err
    run_dir = args.run_dir or artifacts_dir() / "nlg" / "runs" / "cli"
    result = fine_tune(model, tokenizer, train, dev, config, run_dir, callbacks=callbacks,
                       progress=not args.no_progress and distributed.is_main())
    output = args.output or model_dir()
    distributed.on_main(lambda: save_model(model, tokenizer, output))
    before = next(r["loss"] for r in result.history if r["phase"] == "dev" and r["step"] == 0)
    stopped = " (stopped early)" if result.stopped_early else ""
    distributed.say(f"{result.steps} of {result.planned_steps} steps{stopped}"
                    f"; dev perplexity {math.exp(before):.1f} before, {math.exp(result.best_dev_loss):.1f} at the kept "
                    f"step {result.best_step}; {result.trainable_parameters:,} trainable parameters; "
                    f"{result.seconds:.0f} s; saved to {shown_path(output)}")
    return output


def main(argv: Sequence[str] | None = None, callbacks: Sequence = ()) -> int:
    args = parse_args(argv)
    try:
        run(args, callbacks)
    except (ValueError, OSError) as err:  # a wrong flag value, a missing file or model name: one line, no traceback
        print(f"error: {str(err).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
