"""The LM dialogue GAN's loss (sign, baseline, KL, masking), its stop on a chance-level discriminator, and resume."""

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from heygen_lib.adversarial_state import TrainingDiverged, guarded_update
from heygen_lib.data.dialogue import Turn
from heygen_lib.data.pairs import Pair
from heygen_lib.dialogue_gan import lm_policy
from heygen_lib.dialogue_gan.feature_discriminator import (DiscriminatorAtChance, LMPairFeatures, accuracy_by_kind,
                                                           featurize, fit_discriminator, labelled_pairs,
                                                           overlap_features, require_learned)
from heygen_lib.dialogue_gan.lm_training import (AdversarialLMConfig, AdversarialLMTrainer, leave_one_out_baseline,
                                                 policy_gradient_loss, sequence_kl)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_leave_one_out_baseline_is_the_mean_of_the_other_samples_of_the_same_context():
    rewards = torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])  # two contexts, K = 3
    assert leave_one_out_baseline(rewards, 3).tolist() == [2.5, 2.0, 1.5, 25.0, 20.0, 15.0]


def test_policy_gradient_raises_log_probs_of_samples_above_their_baseline_and_lowers_those_below():
    log_probs = torch.full((2, 3), -1.0, requires_grad=True)
    mask = torch.ones(2, 3, dtype=torch.bool)
    no_kl = torch.zeros(2)
    loss = policy_gradient_loss(log_probs, mask, torch.tensor([0.9, 0.1]), 0.5, no_kl, kl_coef=0.0)
    loss.backward()
    # gradient descent moves log_probs against the gradient: up for the rewarded sample, down for the other
    assert torch.allclose(log_probs.grad[0], torch.full((3,), -0.4 / 2))
    assert torch.allclose(log_probs.grad[1], torch.full((3,), 0.4 / 2))
    one_sided = policy_gradient_loss(log_probs, mask, torch.tensor([0.9, 0.5]), 0.5, no_kl, 0.0)
    assert one_sided.item() == pytest.approx(-(0.4 * -3) / 2)


def test_a_reward_equal_to_its_baseline_gives_no_gradient():
    log_probs = torch.randn(4, 5, requires_grad=True)
    rewards = torch.tensor([0.3, 0.7, 0.2, 0.9])
    policy_gradient_loss(log_probs, torch.ones(4, 5, dtype=torch.bool), rewards, rewards, torch.zeros(4),
                         kl_coef=0.0).backward()
    assert log_probs.grad.abs().max().item() == 0.0


def test_the_kl_penalty_charges_samples_the_policy_likes_more_than_the_reference():
    log_probs = torch.tensor([[-1.0, -1.0], [-1.0, -1.0]], requires_grad=True)
    ref = torch.tensor([[-2.0, -2.0], [-1.0, -1.0]])  # sample 0: k = +2 nats; sample 1: k = 0
    mask = torch.ones(2, 2, dtype=torch.bool)
    assert sequence_kl(log_probs, ref, mask).tolist() == [2.0, 0.0]
    policy_gradient_loss(log_probs, mask, torch.tensor([0.5, 0.5]), 0.5, sequence_kl(log_probs, ref, mask),
                         kl_coef=0.1).backward()
    assert torch.allclose(log_probs.grad[0], torch.full((2,), 0.2 / 2))  # advantage -0.2: pushed down
    assert log_probs.grad[1].abs().max().item() == 0.0


def test_masked_positions_get_no_gradient_and_no_kl():
    log_probs = torch.randn(2, 4, requires_grad=True)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    ref = log_probs.detach() - 5.0
    assert sequence_kl(log_probs, ref, mask).tolist() == [10.0, 20.0]
    policy_gradient_loss(log_probs, mask, torch.tensor([1.0, 0.0]), 0.0, sequence_kl(log_probs, ref, mask),
                         kl_coef=0.0).backward()
    assert log_probs.grad[0, 2:].abs().max().item() == 0.0
    assert log_probs.grad[0, :2].abs().min().item() > 0


class _WithoutLogitsToKeep(torch.nn.Module):
    """A causal LM whose forward takes no ``logits_to_keep`` (transformers before 4.45): every position projected."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, attention_mask, position_ids, output_hidden_states=False):
        return self.inner(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                          output_hidden_states=output_hidden_states)


@pytest.mark.parametrize("wrapped", [False, True], ids=["logits_to_keep", "without it"])
def test_token_log_probs_score_each_response_token_from_the_position_before_it_and_never_the_context(
        model_and_tokenizer, wrapped):
    model, tokenizer = model_and_tokenizer
    pad = tokenizer.pad_token_id
    prompts = lm_policy.Prompts(torch.tensor([[pad, 7, 8, 9], [5, 6, 7, 8]]), torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]]))
    responses = lm_policy.Responses(torch.tensor([[11, 12, pad], [13, 14, 15]]),
                                    torch.tensor([[True, True, False], [True, True, True]]))
    with torch.no_grad():
        out = lm_policy.forward(_WithoutLogitsToKeep(model) if wrapped else model, prompts, responses)
        ids = torch.cat([prompts.ids, responses.ids], 1)
        mask = torch.cat([prompts.mask, responses.mask.long()], 1)
        every = model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(1) - 1).clamp(min=0)).logits
    assert out.logits.shape[1] == 3 + 1  # the prompt's last position, then one per response token
    torch.testing.assert_close(out.logits, every[:, 3:], rtol=1e-5, atol=1e-5)
    log_probs = lm_policy.token_log_probs(out.logits, responses)
    expected = every[:, 3:6].log_softmax(-1).gather(2, responses.ids[:, :, None])[:, :, 0] * responses.mask
    torch.testing.assert_close(log_probs, expected, rtol=1e-5, atol=1e-5)
    assert log_probs[0, 2].item() == 0.0  # off the mask


def test_response_mask_ends_after_the_first_end_token():
    ids = torch.tensor([[5, 2, 6, 2], [5, 6, 7, 8]])
    assert lm_policy.response_mask(ids, eos_id=2).tolist() == [[True, True, False, False], [True] * 4]


def test_a_nan_loss_stops_training_with_its_phase_named():
    weight = torch.nn.Parameter(torch.ones(1))
    with pytest.raises(TrainingDiverged, match="policy loss is nan at step 3"):
        guarded_update(torch.optim.SGD([weight], lr=0.1), weight.sum() * float("nan"), [weight], 1.0, "policy",
                       "step 3")


def test_a_discriminator_at_chance_stops_adversarial_training_with_a_message():
    torch.manual_seed(0)
    same = {kind: torch.randn(200, 6) for kind in ("real", "generated", "mismatched", "reversed")}
    model, _ = fit_discriminator(same, steps=60)
    held_out = accuracy_by_kind(model, {kind: torch.randn(300, 6) for kind in same})
    assert abs(held_out["balanced"] - 0.5) < 0.1
    with pytest.raises(DiscriminatorAtChance, match="0.5 is chance.*adversarial training stops"):
        require_learned(held_out, 0.6)


def test_a_discriminator_learns_separable_kinds_and_reports_each():
    torch.manual_seed(0)
    feats = {"real": torch.randn(200, 4) + 2, "generated": torch.randn(200, 4) - 2,
             "mismatched": torch.randn(200, 4) - 2}
    model, losses = fit_discriminator(feats, steps=100)
    report = accuracy_by_kind(model, feats)
    assert losses[-1] < losses[0] / 3
    assert report["real"] > 0.95 and report["generated"] > 0.95 and report["balanced"] > 0.95
    require_learned(report, 0.7)


def test_overlap_features_count_the_customers_content_words_an_answer_picks_up_and_ignore_function_words():
    context = [Turn("customer", "Hi there"), Turn("customer", "My blender order 1234 is late")]
    answer, other, filler = "Sorry! Your blender order 1234 ships today.", "Please restart the router.", "It is the one."
    rows = overlap_features([context] * 3, [answer, other, filler])
    # answer: {sorry, blender, order, 1234, ships, today}: 3 of its 6 in the context, all 3 in the last turn; the
    # context's {hi, blender, order, 1234, late} ("there", "my", "is" are function words, speakers are not words)
    assert rows[0].tolist() == pytest.approx([3 / 6, 3 / 5, 3 / 6, 1.0])
    assert rows[1].tolist() == [0.0, 0.0, 0.0, 0.0]  # another dialogue's answer shares nothing
    assert rows[2].tolist() == [0.0, 0.0, 0.0, 0.0]  # "it", "is", "the", "one" carry no topic: nothing shared
    assert overlap_features([], []).shape == (0, 4)


def _pairs(n=8):
    turns = [("where is my parcel", "it ships today, thanks"), ("my order is late", "sorry, what is the order number?")]
    return [Pair((Turn("customer", turns[i % 2][0]),), Turn("agent", turns[i % 2][1]), f"d{i}", "test", 1)
            for i in range(n)]


@pytest.fixture
def lm_trainer_parts(chat_model_folder):
    tokenizer = AutoTokenizer.from_pretrained(chat_model_folder)
    reference = AutoModelForCausalLM.from_pretrained(chat_model_folder).eval()
    pairs = _pairs()
    features = LMPairFeatures(reference, tokenizer, max_prompt=24, max_tokens=8)
    generated = [p.response.text[::-1] for p in pairs]
    feats = featurize(features, labelled_pairs(pairs, generated))
    discriminator, _ = fit_discriminator(feats, steps=5)
    return chat_model_folder, tokenizer, reference, pairs, feats, discriminator


def _trainer(parts, config):
    folder, tokenizer, reference, pairs, feats, discriminator = parts
    policy = AutoModelForCausalLM.from_pretrained(folder)
    fixed = {k: v for k, v in feats.items() if k != "generated"}
    return AdversarialLMTrainer(policy, reference, tokenizer, copy.deepcopy(discriminator), pairs, fixed, config)


def test_the_adversarial_run_resumes_from_its_checkpoint_with_the_same_numbers(lm_trainer_parts, tmp_path):
    config = AdversarialLMConfig(contexts_per_step=2, samples_per_context=2, max_prompt=24, max_new_tokens=6,
                                 lr=1e-3, teacher_forcing=0.5)
    straight = _trainer(lm_trainer_parts, config)
    expected = [straight.step() for _ in range(4)]
    first = _trainer(lm_trainer_parts, config)
    [first.step() for _ in range(2)]
    first.save(tmp_path / "run.pt")
    resumed = _trainer(lm_trainer_parts, config).load(tmp_path / "run.pt")
    again = [resumed.step() for _ in range(2)]
    for want, got in zip(expected[2:], again):
        assert got["step"] == want["step"]
        for key in ("reward", "kl", "policy_loss", "teacher_nll", "d_loss"):
            assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6)
    assert len(resumed.history) == 4
    with pytest.raises(ValueError, match="another AdversarialLMConfig"):
        _trainer(lm_trainer_parts, AdversarialLMConfig(kl_coef=0.5)).load(tmp_path / "run.pt")


def test_a_step_in_one_process_is_the_update_the_module_docstring_writes(lm_trainer_parts):
    """REINFORCE with the leave-one-out baseline and the KL charge, plus teacher forcing, written out by hand on the
    step's own contexts and samples, gives the trainer's numbers and weights."""
    _, tokenizer, reference, pairs, _, _ = lm_trainer_parts
    config = AdversarialLMConfig(contexts_per_step=2, samples_per_context=2, max_prompt=24, max_new_tokens=6,
                                 lr=1e-3, teacher_forcing=0.5, d_steps=0)
    trainer = _trainer(lm_trainer_parts, config)
    policy, discriminator = copy.deepcopy(trainer.policy), copy.deepcopy(trainer.discriminator)
    record = trainer.step()

    rows = torch.randint(len(pairs), (2,), generator=torch.Generator().manual_seed(0)).tolist()
    batch = [pairs[i] for i in rows]
    prompts = lm_policy.encode_prompts(tokenizer, [p.context for p in batch], 24)
    repeated = prompts.repeat(2)
    samples = lm_policy.sample(policy, tokenizer, repeated, 6, 1.0, seed=0)
    with torch.no_grad():
        ref_out = lm_policy.forward(reference, repeated, samples, hidden=True)
        features = LMPairFeatures(reference, tokenizer, 24, 6).from_output(
            ref_out, repeated, samples, [p.context for p in batch for _ in range(2)])
    rewards = discriminator.probability(features)
    policy.eval()
    log_probs = lm_policy.token_log_probs(lm_policy.forward(policy, repeated, samples).logits, samples)
    kl = sequence_kl(log_probs, lm_policy.token_log_probs(ref_out.logits, samples), samples.mask)
    pg = policy_gradient_loss(log_probs, samples.mask, rewards, leave_one_out_baseline(rewards, 2), kl, 0.05)
    real = lm_policy.encode_responses(tokenizer, [p.response.text for p in batch], 6)
    teacher = -lm_policy.token_log_probs(lm_policy.forward(policy, prompts, real).logits, real).sum() / real.mask.sum()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-3, weight_decay=0.0)
    (pg + 0.5 * teacher).backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    optimizer.step()

    assert record["policy_loss"] == pytest.approx(pg.item(), abs=1e-7)
    assert record["teacher_nll"] == pytest.approx(teacher.item(), abs=1e-7)
    assert (record["reward"], record["kl"]) == pytest.approx((rewards.mean().item(), kl.mean().item()), abs=1e-7)
    for (name, by_hand), trained in zip(policy.named_parameters(), trainer.policy.parameters()):
        torch.testing.assert_close(trained, by_hand, rtol=0, atol=1e-7, msg=name)


def test_the_control_run_never_updates_the_discriminator(lm_trainer_parts):
    trainer = _trainer(lm_trainer_parts, AdversarialLMConfig(contexts_per_step=2, samples_per_context=2,
                                                              max_prompt=24, max_new_tokens=6, reward_weight=0.0,
                                                              teacher_forcing=1.0, d_steps=0))
    before = copy.deepcopy(trainer.discriminator.state_dict())
    record = trainer.step()
    assert "d_loss" not in record and record["teacher_nll"] > 0
    assert all(torch.equal(before[k], v) for k, v in trainer.discriminator.state_dict().items())


def test_sampling_from_the_top_1_token_is_greedy_and_no_cut_samples_beyond_it(lm_trainer_parts):
    _, tokenizer, reference, pairs, _, _ = lm_trainer_parts
    prompts = lm_policy.encode_prompts(tokenizer, [p.context for p in pairs], max_tokens=24)
    greedy = lm_policy.sample(reference, tokenizer, prompts, 8, temperature=0)
    top_1 = lm_policy.sample(reference, tokenizer, prompts, 8, temperature=1.0, seed=3, top_k=1)
    whole = lm_policy.sample(reference, tokenizer, prompts, 8, temperature=1.0, seed=3)
    assert torch.equal(top_1.ids, greedy.ids)
    assert not torch.equal(whole.ids, greedy.ids)
