import copy

import pytest
import torch

from heygen_lib.adversarial_state import TrainingDiverged
from heygen_lib.gan.discriminators import CNNDiscriminator, CNNDiscriminatorConfig
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
from heygen_lib.gan.oracle import OracleConfig, build_oracle, nll_oracle, sample_oracle_data
from heygen_lib.gan.evaluation import oracle_metrics
from heygen_lib.gan.losses import policy_gradient_loss
from heygen_lib.gan.rewards import rollout_rewards
from heygen_lib.gan.training import GANTrainer, TrainConfig, recipe, train_adversarial
from heygen_lib.torch_utils import eval_mode

ORACLE = OracleConfig(vocab_size=40, max_len=8, n_train=600, n_test=300)


@pytest.fixture(scope="module")
def oracle_data():
    oracle = build_oracle(ORACLE)
    return oracle, sample_oracle_data(oracle, ORACLE.n_train, seed=1), sample_oracle_data(oracle, ORACLE.n_test, seed=2)


def trainer(real, **config) -> GANTrainer:
    torch.manual_seed(0)
    generator = LSTMGenerator(LSTMGeneratorConfig(vocab_size=40, max_len=8, embed_dim=16, hidden_dim=16))
    discriminator = CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=40, max_len=8, embed_dim=16,
                                                            filter_widths=(2, 3), filter_counts=(8, 8)))
    return GANTrainer(generator, discriminator, real, TrainConfig(batch_size=32, rollouts=4, **config))


def test_mle_lowers_the_generators_nll_on_real_data(oracle_data):
    _, train, test = oracle_data
    t = trainer(train)
    before = t.generator.nll(test).mean().item()
    records = [t.mle_epoch() for _ in range(5)]
    assert t.generator.nll(test).mean().item() < before - 0.3
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5] and records[-1]["nll"] < records[0]["nll"]


@pytest.mark.parametrize(("method", "loss"), [("seqgan", "rsgan"), ("gumbel", "rsgan"), ("gumbel", "wgan-gp")])
def test_a_short_adversarial_run_lowers_nll_oracle_below_the_untrained_generators(oracle_data, method, loss):
    oracle, train, _ = oracle_data
    t = trainer(train, method=method, loss=loss, g_lr=1e-2, d_lr=1e-3, anneal_steps=30, beta_max=10.0)
    torch.manual_seed(1)
    untrained = nll_oracle(oracle, t.generator.sample(2000))
    for _ in range(3):
        t.discriminator_step()
    for _ in range(30):
        t.adversarial_step()
    torch.manual_seed(1)
    trained = nll_oracle(oracle, t.generator.sample(2000))
    assert trained < untrained - 0.1, (untrained, trained)


def test_a_seqgan_step_in_one_process_is_reinforce_on_the_batch_it_samples(oracle_data):
    """The step notebook 03 shows is the whole update in one process: the same numbers as SeqGAN written out."""
    _, train, _ = oracle_data
    t = trainer(train, method="seqgan", d_steps=0)
    generator, state = copy.deepcopy(t.generator), torch.get_rng_state()
    record = t.adversarial_step()
    torch.set_rng_state(state)
    with eval_mode(generator):
        samples = generator.sample(32)
    rewards = rollout_rewards(generator, t.discriminator, samples, 4)
    loss = policy_gradient_loss(-generator.token_nll(samples), rewards, rewards.mean())
    optimizer = torch.optim.Adam(generator.parameters(), lr=t.config.g_lr)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(generator.parameters(), t.config.clip)
    optimizer.step()
    assert (record["g_loss"], record["reward"]) == (loss.item(), rewards.mean().item())
    for by_hand, trained in zip(generator.parameters(), t.generator.parameters()):
        assert torch.equal(by_hand, trained)


def test_gumbel_inverse_temperature_grows_from_one_to_beta_max_at_the_last_step(oracle_data):
    t = trainer(oracle_data[1], method="gumbel", beta_max=1000.0, anneal_steps=4)
    betas = [t.adversarial_step()["beta"] for _ in range(6)]
    assert betas[0] == 1.0 and betas[1] == pytest.approx(10.0) and betas[3:] == [1000.0] * 3


def test_beta_is_annealed_over_the_runs_actual_length_when_anneal_steps_is_none(oracle_data):
    t = trainer(oracle_data[1], method="gumbel", beta_max=100.0)
    with pytest.raises(ValueError, match="anneal_steps"):
        t.beta()
    records = train_adversarial(t, 5)
    betas = [r["beta"] for r in records if r["phase"] == "adversarial"]
    assert betas[0] == 1.0 and betas[2] == pytest.approx(10.0) and betas[-1] == 100.0 and len(betas) == 5


def test_discriminator_accuracy_counts_pairs_where_the_real_sequence_scores_higher(oracle_data):
    t = trainer(oracle_data[1])

    class FirstToken(torch.nn.Module):  # the logit is the first token id; generated ids are below 40
        def forward(self, x):
            return x[:, 0].float()

    t.discriminator = FirstToken()
    assert t.discriminator_accuracy(torch.full((4, 8), 100)) == 1.0
    assert t.discriminator_accuracy(torch.full((4, 8), -1)) == 0.0
    assert t.discriminator_accuracy(torch.tensor([[100] * 8, [-1] * 8] * 2)) == 0.5


def test_discriminator_pretraining_reports_held_out_accuracy_on_data_it_never_trained_on(oracle_data):
    _, train, test = oracle_data
    small = train[:40]  # a real set small enough to memorise
    t = trainer(small, d_lr=1e-2)
    seen = []
    original = t._batch
    t._batch = lambda: seen.append(b := original()) or b
    record = t.pretrain_discriminator(test[:200], max_steps=60, target=1.01, check_every=30)
    trained_on = {tuple(r) for b in seen for r in b.tolist()}
    assert not trained_on & {tuple(r) for r in test[:200].tolist()} - {tuple(r) for r in small.tolist()}
    assert record["batches"] == 60 and record["phase"] == "d_pretrain"
    # 40 sequences seen hundreds of times: perfect on them, less so on sequences it never saw
    assert record["train_accuracy"] == 1.0 and 0.5 < record["held_out_accuracy"] < 1.0


def test_named_recipes_carry_the_papers_learning_rates():
    assert recipe("seqgan_paper").g_lr == 1e-2 and recipe("seqgan_paper").d_lr == 1e-4
    relgan = recipe("relgan", beta_max=1000.0)
    assert (relgan.g_lr, relgan.d_lr, relgan.loss, relgan.beta_max, relgan.anneal_steps) == (1e-4, 1e-4, "rsgan", 1000.0, None)
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe("leakgan")


def test_checkpoint_resume_gives_the_same_result_as_never_stopping(oracle_data, tmp_path):
    _, train, test = oracle_data
    straight = trainer(train, method="seqgan")
    for _ in range(2):
        straight.mle_epoch()
        straight.adversarial_step()
    interrupted = trainer(train, method="seqgan")
    interrupted.mle_epoch()
    interrupted.adversarial_step()
    path = interrupted.save(tmp_path / "ckpt.pt")
    resumed = trainer(train, method="seqgan").load(path)
    resumed.mle_epoch()
    resumed.adversarial_step()
    for a, b in zip(straight.generator.parameters(), resumed.generator.parameters()):
        assert torch.equal(a, b)
    assert resumed.history == straight.history
    assert torch.load(path, weights_only=True)["steps"]["adversarial"] == 1


def test_loading_a_checkpoint_of_another_config_is_refused(oracle_data, tmp_path):
    path = trainer(oracle_data[1], method="seqgan").save(tmp_path / "a.pt")
    with pytest.raises(ValueError, match="another TrainConfig"):
        trainer(oracle_data[1], method="gumbel").load(path)


def test_a_nan_loss_stops_training_with_a_clear_message(oracle_data):
    t = trainer(oracle_data[1])
    with torch.no_grad():
        t.generator.head.weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="mle loss is nan.*lower the learning rates"):
        t.mle_epoch()


def test_records_reach_the_callback_history_and_tensorboard(oracle_data, tmp_path):
    oracle, train, test = oracle_data
    seen = []
    t = trainer(train)
    t.callback = seen.append
    t.writer = __import__("torch.utils.tensorboard", fromlist=["SummaryWriter"]).SummaryWriter(str(tmp_path))
    t.mle_epoch()
    record = t.evaluate(oracle_metrics(oracle, test, n_samples=100))
    assert seen == t.history and record["phase"] == "eval" and record["mle_epochs"] == 1
    assert set(record) >= {"nll_oracle", "nll_test"}
    t.writer.flush()
    assert list(tmp_path.glob("events.out.tfevents.*"))


def test_unknown_method_or_loss_is_rejected():
    with pytest.raises(ValueError, match="method"):
        TrainConfig(method="leakgan")
    with pytest.raises(ValueError, match="loss"):
        TrainConfig(loss="lsgan")


def test_vae_generators_train_on_the_elbo_with_an_annealed_kl_weight(oracle_data):
    from heygen_lib.gan.generators import VAEGenerator, VAEGeneratorConfig

    _, train, test = oracle_data
    vae = VAEGenerator(VAEGeneratorConfig(vocab_size=40, max_len=8, embed_dim=16, hidden_dim=16, latent_dim=4))
    d = CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=40, max_len=8, embed_dim=16, filter_widths=(2,), filter_counts=(4,)))
    t = GANTrainer(vae, d, train, TrainConfig(batch_size=32, kl_schedule="linear", kl_epochs=4))
    before = vae.nll(test).mean().item()
    weights = [t.mle_epoch()["kl_weight"] for _ in range(5)]
    assert weights == [0.0, 0.5, 1.0, 1.0, 1.0]  # linear ramp over half of 4 epochs, then 1
    assert vae.nll(test).mean().item() < before
