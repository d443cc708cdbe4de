"""Train the dialogue GAN and export its reviewed pairs from a terminal, as notebook 04 does.

``python -m heygen_lib.dialogue_gan`` runs `lm_pipeline.build_reviewed_export` (what `ensure_reviewed_pairs` runs at
smoke size): the pretrained LM fine-tuned by MLE on the support pairs, the pair discriminator on its features, one
adversarial run, the independent judge, the export of candidates, and the scripted rule review. It writes what
notebook 04 writes and notebook 05 reads: ``artifacts/dialogue_gan/lm/mle`` (reused when made by the same recipe),
``lm/adversarial-seed<S>.pt``, the candidates, the review file and ``reviewed_pairs.jsonl``. Notebook 04's seed
comparison (adversarial vs teacher-forcing-only runs over several seeds) and its hand review stay in the notebook.

Under ``torchrun --nproc_per_node N`` the MLE fine-tuning is data-parallel (`Trainer`) and so is the adversarial
run: each step's contexts are split over the processes in ``--sample-shards`` seeded shards (default: one per
process; fix it to make runs on different process counts draw the same samples and resume each other's checkpoint),
policy and discriminator gradients are averaged over processes (`gan.data_parallel.DataParallel`), and each
context's samples, rewards and baseline stay in the process that drew them. The pair discriminator's fit repeats in
every process (seeded: the same in each); the judge, the export and the review run on rank 0 alone, and only rank 0
prints and writes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from heygen_lib.profile import PROFILES, DialogueGanSizes, active_profile
from heygen_lib.settings import model_name_or_folder

# torch and transformers load once the work starts (`distributed` too): --help and a mistyped flag answer at once.

# flag -> the DialogueGanSizes field it overrides
OVERRIDES = {"mle_epochs": "lm_mle_epochs", "d_fit_steps": "d_fit_steps", "steps": "lm_adversarial_steps",
             "candidates": "lm_candidates", "keep": "lm_keep"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m heygen_lib.dialogue_gan", description=__doc__.splitlines()[0],
                                     epilog="Unset flags take the profile's value (heygen_lib/profile.py, "
                                            "DialogueGanSizes). Under torchrun MLE and the adversarial steps are "
                                            "data-parallel; the discriminator fit repeats in every process, and the "
                                            "judge, export and review run on rank 0 alone.")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None,
                        help="sizes to use (default: HEYGEN_PROFILE, else full on a GPU and smoke on a CPU)")
    parser.add_argument("--model", default=None,
                        help="base causal LM, a hub name or folder (default: HEYGEN_MODEL, else the profile's)")
    parser.add_argument("--mle-epochs", type=float, default=None, help="MLE fine-tuning passes over the pairs")
    parser.add_argument("--d-fit-steps", type=int, default=None, help="discriminator updates")
    parser.add_argument("--steps", type=int, default=None, help="adversarial steps")
    parser.add_argument("--candidates", type=int, default=None, help="responses generated for the export")
    parser.add_argument("--keep", type=int, default=None, help="best candidates that go to review")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-shards", type=int, default=None,
                        help="split each adversarial step's contexts into this many seeded shards (a multiple of "
                             "the number of processes, dividing the contexts per step; default: one per process): "
                             "runs with the same value draw the same samples on any number of processes")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    return parser.parse_args(argv)


def sizes_for(args: argparse.Namespace) -> DialogueGanSizes:
    """The profile's dialogue-GAN sizes with the flags' overrides; refuses values that cannot run."""
    profile = PROFILES[args.profile] if args.profile else active_profile()
    changes = {field: getattr(args, flag) for flag, field in OVERRIDES.items() if getattr(args, flag) is not None}
    for flag, value in changes.items():
        if value <= 0:
            name = next(f for f, field in OVERRIDES.items() if field == flag).replace("_", "-")
            raise ValueError(f"--{name} must be positive, got {value}")
    sizes = replace(profile.dialogue_gan, **changes)
    if sizes.lm_keep > sizes.lm_candidates:
        raise ValueError(f"--keep {sizes.lm_keep} is more than the {sizes.lm_candidates} candidates generated")
    return sizes


def sample_shards(args: argparse.Namespace, sizes: DialogueGanSizes) -> int:
    """--sample-shards, or one shard per process; refuses a count the processes or the contexts do not split."""
    from heygen_lib import distributed

    processes = distributed.world_size()
    shards = args.sample_shards or processes
    if shards < 1 or shards % processes or sizes.contexts_per_step % shards:
        raise ValueError(f"--sample-shards {shards} must be a multiple of the {processes} processes and divide the "
                         f"{sizes.contexts_per_step} contexts per step")
    return shards


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.model:
            args.model = model_name_or_folder(args.model, "--model")
        sizes = sizes_for(args)
        shards = sample_shards(args, sizes)  # refused before any work
        from heygen_lib import distributed
        from heygen_lib.dialogue_gan.lm_pipeline import build_reviewed_export
        from heygen_lib.nlg.finetune import base_model
        from heygen_lib.paths import shown_path

        profile = PROFILES[args.profile] if args.profile else active_profile()
        distributed.init()
        if not args.model:  # the offline stand-in is pretrained once, by rank 0, on first use
            distributed.on_main(lambda: base_model(profile))
        base = args.model or base_model(profile)
        distributed.say(f"profile {profile.name}; base model {shown_path(base)}; MLE {sizes.lm_mle_epochs} epochs, "
                        f"discriminator {sizes.d_fit_steps} steps, {sizes.lm_adversarial_steps} adversarial steps, "
                        f"{sizes.lm_candidates} candidates, {sizes.lm_keep} kept for review; seed {args.seed}")
        if distributed.launched():
            distributed.say(f"{distributed.world_size()} processes: {sizes.contexts_per_step} contexts per adversarial "
                            f"step in {shards} seeded shards, {sizes.contexts_per_step // distributed.world_size()} "
                            "contexts each")
        path = build_reviewed_export(sizes, base, seed=args.seed, progress=args.progress, sample_shards=shards)
    except (ValueError, OSError) as err:  # a wrong flag value, a missing model, an export with nothing accepted
        print(f"error: {str(err).strip().splitlines()[0]}", file=sys.stderr)
        return 2
    distributed.say(f"reviewed pairs for notebook 05: {shown_path(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
