"""The dialogue GAN (notebook 04): a generator writes responses to real contexts, a pair discriminator judges them,
adversarial training follows Li et al. 2017, and the best generated pairs go to review before notebook 05 uses them.

The generator that feeds notebook 05 is the pretrained causal LM: `lm_policy` (the LM as a policy over responses),
`feature_discriminator` (a pair discriminator on scalar readings of the LM), `lm_training` (REINFORCE with a
baseline and a KL penalty), `lm_pipeline` (the steps notebook 04 runs), `review_rule` (the scripted reviewer),
`per_size` (the GAN data for notebook 05's learning curve). Review: `review` (the append-only store) and
`review_widget`. Shared with the from-scratch contrast in `lstm/`: `data` (pairs as id tensors), `negatives` (what a
pair discriminator learns to reject) and `export` (filters, report, provenance).

Names that repeat across the kit, each for the same idea on another model:
- the policy-gradient loss, -(reward - baseline) x log-probability: `gan.losses.policy_gradient_loss` (per token,
  SeqGAN's rollout rewards), `lm_training.policy_gradient_loss` (per response, masked, with a KL term),
  `lstm.training.reinforce_loss` (per response, Li et al.'s form);
- `train_adversarial`: the adversarial loop of a trainer (`gan.training` for text GANs, `lstm.training` here;
  `lm_training.train_adversarial_lm` for the LM);
- a *recipe*: in `gan.training`, a named `TrainConfig` (`gan.training.recipe("seqgan_fast")`); everywhere else
  (`lm_pipeline`, `per_size`, `tiny_models`, `rehearsal`), the JSON record of how a cached model was built, compared
  before the cache is reused.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from heygen_lib.profile import PROFILES

# What a notebook opened alone builds when notebook 04's reviewed pairs are missing: the smoke pipeline with a third
# of its adversarial steps and half its candidates, a minute or two on 2 CPU cores.
QUICK = replace(PROFILES["smoke"].dialogue_gan, lm_adversarial_steps=4, lm_candidates=120, lm_keep=40)


def ensure_reviewed_pairs(profile=None) -> Path:
    """The reviewed GAN pairs notebook 05 mixes in (`review.reviewed_pairs_path()`); when the file is missing, a
    quick version is built (MLE, discriminator, a short adversarial run, export, the scripted rule review) at
    `QUICK` sizes, saying so in one line. A discriminator that cannot learn gives an empty set, said too."""
    from heygen_lib.dialogue_gan.feature_discriminator import DiscriminatorAtChance
    from heygen_lib.dialogue_gan.lm_pipeline import build_reviewed_export
    from heygen_lib.dialogue_gan.review import reviewed_pairs_path
    from heygen_lib.data.pair_files import load_pairs, save_pairs
    from heygen_lib.nlg.finetune import base_model
    from heygen_lib.quiet import quiet_file_progress
    from heygen_lib.profile import active_profile

    path = reviewed_pairs_path()
    if path.is_file():
        return path
    started = time.perf_counter()
    try:
        with quiet_file_progress():  # the judge's encoder would show transformers' "Loading weights" bar
            build_reviewed_export(QUICK, base_model(profile or active_profile()))
        made = f"{len(load_pairs(path, allow_empty=True))} accepted by the review rule"
    except DiscriminatorAtChance as err:
        save_pairs([], path)
        made = f"none: {str(err).split(', so')[0]}"
    print(f"no reviewed GAN pairs yet (notebook 04 makes them): built a quick set in "
          f"{time.perf_counter() - started:.0f} s, {made}")
    return path
