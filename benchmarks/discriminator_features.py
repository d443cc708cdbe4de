"""What the dialogue GAN's discriminator should read: the MLE model's hidden vectors, or a few scalar readings of them.

    python benchmarks/discriminator_features.py           # smoke sizes, the shipped stand-in (a few minutes on 2 cores)

The MLE model (the shipped stand-in fine-tuned on the support set's training pairs, as notebook 04 makes it) reads
every pair once. Two discriminators are trained on the same training pairs (real against generated, mismatched and
reversed) with the same seeds: one on the scalar readings `LMPairFeatures` gives (response NLL, length, ended,
context-response closeness, word overlap), one on those plus the mean hidden states of context and response
(``[c, r, c * r, |c - r|]``, hundreds of numbers). Printed: balanced accuracy on the training pairs and on the
held-out dev pairs, and the held-out accuracy on real replies alone, per seed; written to
`notebooks/results/discriminator_features.md`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

RESULTS = Path(__file__).resolve().parents[1] / "notebooks" / "results" / "discriminator_features.md"


class WithVectors:
    """`LMPairFeatures`' scalars with the mean hidden states of context and response in front."""

    def __init__(self, features):
        self.features = features

    @torch.no_grad()
    def __call__(self, contexts, texts):
        from heygen_lib.dialogue_gan import lm_policy
        from heygen_lib.torch_utils import eval_mode

        f, out = self.features, []
        with eval_mode(f.model):
            for start in range(0, len(texts), f.batch_size):
                batch = contexts[start : start + f.batch_size]
                prompts = lm_policy.encode_prompts(f.tokenizer, batch, f.max_prompt)
                responses = lm_policy.encode_responses(f.tokenizer, texts[start : start + f.batch_size], f.max_tokens)
                output = lm_policy.forward(f.model, prompts, responses, hidden=True)
                hidden, p = output.hidden_states[-1].float(), prompts.ids.size(1)
                pm, rm = prompts.mask[:, :, None].float(), responses.mask[:, :, None].float()
                c = (hidden[:, :p] * pm).sum(1) / pm.sum(1).clamp(min=1)
                r = (hidden[:, p:] * rm).sum(1) / rm.sum(1).clamp(min=1)
                out.append(torch.cat([c, r, c * r, (c - r).abs(), f.from_output(output, prompts, responses, batch)], 1))
        return torch.cat(out)


def main() -> None:
    from heygen_lib.data import prepare_pairs
    from heygen_lib.dialogue_gan import lm_pipeline as gan
    from heygen_lib.dialogue_gan.feature_discriminator import (accuracy_by_kind, featurize, fit_discriminator,
                                                               labelled_pairs)
    from heygen_lib.nlg.finetune import base_model
    from heygen_lib.paths import artifacts_dir
    from heygen_lib.profile import PROFILES

    sizes = PROFILES["smoke"].dialogue_gan
    prepared = prepare_pairs("support", seed=0)
    folder, _ = gan.mle_model(base_model(PROFILES["smoke"]), prepared.train, prepared.dev, sizes, 0,
                              folder=artifacts_dir() / "benchmarks" / "discriminator-mle", progress=False)
    reference, tokenizer = gan.load_frozen(folder)
    scalars = gan.lm_features(reference, tokenizer, sizes)

    def generated(pairs, seed):
        return gan.generate_texts(reference, tokenizer, [p.context for p in pairs], sizes.max_prompt,
                                  sizes.max_new_tokens, seed=seed)

    train_pairs = labelled_pairs(prepared.train, generated(prepared.train, 0), 0)
    dev_pairs = labelled_pairs(prepared.dev, generated(prepared.dev, 1), 1)
    lines = ["| features | numbers per pair | seed | training balanced | held-out balanced | held-out real |",
             "|---|---|---|---|---|---|"]
    for name, features in (("scalar readings", scalars), ("hidden vectors + scalars", WithVectors(scalars))):
        train, dev = featurize(features, train_pairs), featurize(features, dev_pairs)
        for seed in (0, 1, 2):
            model, _ = fit_discriminator(train, steps=sizes.d_fit_steps, seed=seed)
            a, b = accuracy_by_kind(model, train), accuracy_by_kind(model, dev)
            lines.append(f"| {name} | {train['real'].size(1)} | {seed} | {a['balanced']:.3f} | {b['balanced']:.3f} | "
                         f"{b['real']:.3f} |")
            print(lines[-1], flush=True)
    RESULTS.write_text("# The dialogue GAN's discriminator: scalar readings against hidden vectors\n\n"
                       "Command: `python benchmarks/discriminator_features.py` (smoke sizes: the shipped stand-in, "
                       f"MLE-fine-tuned on {len(prepared.train)} training pairs; held out: {len(prepared.dev)} dev "
                       f"pairs with their negatives; {sizes.d_fit_steps} classifier steps).\n\n" + "\n".join(lines)
                       + "\n", encoding="utf-8")
    print(f"written {RESULTS}")


if __name__ == "__main__":
    main()
