"""The dialogue GAN (notebook 04): a generator writes responses to real contexts, a pair discriminator judges them,
adversarial training follows Li et al. 2017, and the best generated pairs go to review before notebook 05 uses them.

The generator that feeds notebook 05 is the pretrained causal LM: `lm_policy` (the LM as a policy over responses),
`feature_discriminator` (pair discriminators on the LM's or MiniLM's features), `lm_training` (REINFORCE with a
baseline and a KL penalty), `lm_pipeline` (the steps notebook 04 runs), `review_rule` (the scripted reviewer).
The from-scratch LSTM version stays as the teaching contrast: `data`, `generator`, `discriminator`, `negatives`,
`training`, `evaluation`, `export`. Review: `review` (the append-only store) and `review_widget`.
"""

from __future__ import annotations

from pathlib import Path


def ensure_reviewed_pairs(profile=None) -> Path:
    """The reviewed GAN pairs notebook 05 mixes in (`review.reviewed_pairs_path()`); when the file is missing, a
    quick version is built (MLE, discriminator, a short adversarial run, export, the scripted rule review) at the
    smoke profile's sizes, saying so in one line."""
    from heygen_lib.dialogue_gan.lm_pipeline import build_reviewed_export
    from heygen_lib.dialogue_gan.review import reviewed_pairs_path
    from heygen_lib.nlg.finetune import base_model, quiet_file_progress
    from heygen_lib.profile import PROFILES, active_profile

    path = reviewed_pairs_path()
    if path.is_file():
        return path
    profile = profile or active_profile()
    print("no reviewed GAN pairs yet (notebook 04 makes them): building a quick set at smoke size, a few minutes")
    with quiet_file_progress():  # the judge's encoder would show transformers' "Loading weights" bar
        return build_reviewed_export(PROFILES["smoke"].dialogue_gan, base_model(profile))
