"""Behaviours mutation testing found unguarded (issue 19, tests/mutation/): each test fails on a realistic bug that
the other tests let through. They go through the public API (trainer records, checkpoint files, log contents, row
reports, loss values) so they survive refactors of the code behind it.
"""

import fcntl
import pickle
import re
import threading
import time
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoTokenizer

from heygen_lib.checkpoints import read_checkpoint, write_checkpoint
from heygen_lib.data import Dialogue, Pair, Turn, build_pairs, split_dialogues
from heygen_lib.data.pairs import format_pair
from heygen_lib.gan.discriminators import CNNDiscriminator, CNNDiscriminatorConfig
from heygen_lib.gan.generators import LSTMGenerator, LSTMGeneratorConfig
from heygen_lib.gan.losses import gradient_penalty, policy_gradient_loss
from heygen_lib.gan.training import GANTrainer, TrainConfig
from heygen_lib.jsonl_log import JsonlLog, utc_timestamp
from heygen_lib.data.dialogue_format import DialogueFormat
from heygen_lib.nlg.rows import IGNORE, PadCollator, RowReport, encode_pairs
from heygen_lib.torch_utils import make_optimizer

from known_critics import LinearCritic, OneDtypeCritic

# --- WGAN-GP: the gradient penalty must reach the critic's loss ("wgan_gp" misspelt in the trainer) ---


def first_critic_loss(gp_weight: float) -> float:
    torch.manual_seed(0)
    generator = LSTMGenerator(LSTMGeneratorConfig(vocab_size=12, max_len=6, embed_dim=8, hidden_dim=8))
    critic = CNNDiscriminator(CNNDiscriminatorConfig(vocab_size=12, max_len=6, embed_dim=8, filter_widths=(2,),
                                                     filter_counts=(4,)))
    real = torch.randint(12, (64, 6), generator=torch.Generator().manual_seed(1))
    config = TrainConfig(method="gumbel", loss="wgan-gp", gp_weight=gp_weight, batch_size=16, d_steps=1,
                         anneal_steps=1)
    return GANTrainer(generator, critic, real, config).adversarial_step()["d_loss"]


def test_the_wgan_gp_critic_loss_grows_by_the_penalty_times_its_weight():
    without, once, twice = first_critic_loss(0.0), first_critic_loss(10.0), first_critic_loss(20.0)
    penalty = (once - without) / 10.0
    assert penalty > 1e-4  # an untrained critic is far from 1-Lipschitz: the penalty is not zero
    assert twice - without == pytest.approx(20.0 * penalty, rel=1e-4)


# --- checkpoints: written atomically, read without unpickling code ---


@dataclass
class Config:
    width: int = 4


def test_a_save_that_crashes_midway_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = write_checkpoint({"config": {"width": 4}, "step": 1, "w": torch.ones(3)}, tmp_path / "ckpt.pt")

    def crash_midway(state, file, *args, **kwargs):
        if hasattr(file, "write"):
            file.write(b"PK\x03\x04 half a checkpoint")
        else:
            open(file, "wb").write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt("interrupted while saving")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint({"config": {"width": 4}, "step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    state = read_checkpoint(path, torch.device("cpu"), Config())
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))


class RunsCodeWhenUnpickled:
    ran = False

    def __reduce__(self):
        return (RunsCodeWhenUnpickled._run, ())

    @staticmethod
    def _run():
        RunsCodeWhenUnpickled.ran = True
        return "pwned"


def test_a_checkpoint_that_would_run_code_when_loaded_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"config": {"width": 4}, "payload": RunsCodeWhenUnpickled()}, path)
    with pytest.raises((pickle.UnpicklingError, ValueError)):  # the kit's CheckpointError is a ValueError
        read_checkpoint(path, torch.device("cpu"), Config())
    assert not RunsCodeWhenUnpickled.ran


# --- the append-only log: appends wait for the file lock; only a cut LAST line is "cut short" ---


def test_an_append_waits_while_another_writer_holds_the_log_lock(tmp_path):
    log = JsonlLog(tmp_path / "log.jsonl")
    log.append({"i": 0})
    with open(log.path, "a") as other_writer:
        fcntl.flock(other_writer, fcntl.LOCK_EX)
        appender = threading.Thread(target=log.append, args=({"i": 1},))
        appender.start()
        time.sleep(0.5)
        written_while_locked = [r["i"] for r in JsonlLog(log.path).read().records]
        fcntl.flock(other_writer, fcntl.LOCK_UN)
    appender.join(timeout=10)
    assert written_while_locked == [0]
    assert [r["i"] for r in log.read().records] == [0, 1]


def test_only_a_bad_last_line_without_newline_is_called_cut_short(tmp_path):
    log = JsonlLog(tmp_path / "log.jsonl")
    log.path.write_text('{"i": 0}\n{"i": 1, oops}\n{"i": 2}\n{"i": 3, "te')
    skipped = {s.line: s.reason for s in log.read().skipped}
    assert sorted(skipped) == [2, 4]
    assert skipped[2].startswith("not valid JSON") and skipped[4].startswith("cut short")
    log.path.write_text('{"i": 0}\n{"i": 1, oops}\n')  # complete but invalid last line: not a crash
    assert [s.reason.startswith("not valid JSON") for s in log.read().skipped] == [True]


# --- training rows: a row of exactly max_length tokens is not cut ---


@pytest.fixture(scope="module")
def tokenizer(chat_model_folder):
    return AutoTokenizer.from_pretrained(chat_model_folder)


def test_a_row_of_exactly_max_length_is_kept_whole_and_one_token_less_cuts_it(tokenizer):
    fmt = DialogueFormat()
    pair = Pair((Turn("customer", "where is my parcel"),), Turn("agent", "it ships today, thanks"), "d1", "test", 1)
    prompt = tokenizer(fmt.prompt(pair.context), add_special_tokens=False)["input_ids"]
    target = tokenizer(fmt.target(pair.response.text), add_special_tokens=False)["input_ids"]
    exact = len(prompt) + len(target)
    (row,), report = encode_pairs(tokenizer, [pair], max_length=exact)
    assert row["input_ids"] == prompt + target and row["labels"] == [IGNORE] * len(prompt) + target
    assert (report.context_cut, report.response_cut, report.longest) == (0, 0, exact)
    (row,), report = encode_pairs(tokenizer, [pair], max_length=exact - 1)
    assert len(row["input_ids"]) == exact - 1 and (report.context_cut, report.response_cut) == (1, 0)


# --- GAN losses: the penalty's defaults and input handling; the baseline is a constant; optimiser settings reach it ---


def test_the_gradient_penalty_weight_defaults_to_wgan_gps_ten():
    critic = LinearCritic(torch.full((3, 4), 0.5))  # ||w|| = sqrt(3)
    penalty = gradient_penalty(critic, torch.randint(0, 4, (5, 3)), torch.softmax(torch.randn(5, 3, 4), -1))
    assert penalty.item() == pytest.approx(10.0 * (3**0.5 - 1) ** 2, rel=1e-6)


@pytest.mark.parametrize("one_hot_side", ["real", "fake"])
def test_the_penalty_takes_the_vocabulary_and_precision_from_whichever_input_is_one_hot(one_hot_side):
    # T = 3 positions, V = 5 tokens (T != V, so the wrong axis cannot pass)
    critic = OneDtypeCritic(torch.full((3, 5), 0.5, dtype=torch.float64))
    ids = torch.randint(0, 5, (4, 3))
    one_hots = F.one_hot(torch.randint(0, 5, (4, 3)), 5).double()
    real, fake = (one_hots, ids) if one_hot_side == "real" else (ids, one_hots)
    penalty = gradient_penalty(critic, real, fake, weight=1.0)
    assert penalty.item() == pytest.approx((15**0.5 * 0.5 - 1) ** 2, rel=1e-6)


def test_a_baseline_tensor_is_a_constant_of_the_policy_gradient():
    log_probs = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    baseline = torch.tensor(0.5, requires_grad=True)
    loss = policy_gradient_loss(log_probs, torch.tensor([[1.0, 0.0]]), baseline)
    assert loss.item() == pytest.approx(-((1.0 - 0.5) * -1.0 + (0.0 - 0.5) * -2.0) / 2)
    loss.backward()
    assert baseline.grad is None and log_probs.grad is not None


def test_optimiser_settings_reach_the_optimiser():
    params = [nn.Parameter(torch.zeros(3))]
    assert make_optimizer(params, "adam").param_groups[0]["weight_decay"] == 0.0
    assert make_optimizer(params, "adam", weight_decay=0.1).param_groups[0]["weight_decay"] == 0.1
    rmsprop = make_optimizer(params, "rmsprop", alpha=0.9, weight_decay=0.2).param_groups[0]
    assert (rmsprop["alpha"], rmsprop["weight_decay"]) == (0.9, 0.2)


# --- the append-only log: what it refuses, how it writes, how it reports ---


def test_the_log_refuses_what_is_not_a_json_object_and_values_json_cannot_hold(tmp_path):
    log = JsonlLog(tmp_path / "log.jsonl")
    with pytest.raises(TypeError, match="a log record must be a dict, got list"):
        log.append([1, 2])
    with pytest.raises(ValueError):
        log.append({"score": float("nan")})  # NaN is not JSON: other readers would choke on the line
    assert not log.path.exists() or log.path.read_bytes() == b""


def test_the_log_writes_plain_utf8_one_line_per_record(tmp_path):
    log = JsonlLog(tmp_path / "log.jsonl")
    log.append({"text": "caf\u00e9 \u2728"})
    log.append({"i": 2})
    assert log.path.read_bytes() == '{"text": "caf\u00e9 \u2728"}\n{"i": 2}\n'.encode("utf-8")


def test_skipped_lines_are_described_in_file_order_naming_file_and_line(tmp_path):
    log = JsonlLog(tmp_path / "log.jsonl")
    log.path.write_text('[1]\n{"i": 1}\n\n{oops}\n{"i": 4}\n{"i": 5, "te')
    contents = log.read()
    assert contents.lines == [2, 5] and [s.line for s in contents.skipped] == [1, 4, 6]
    lines = log.describe_skipped(list(reversed(contents.skipped))).splitlines()
    assert lines[0] == f"{log.path}, line 1: skipped, expected a JSON object, got list"
    assert lines[1].startswith(f"{log.path}, line 4: skipped, not valid JSON")
    assert lines[2] == f"{log.path}, line 6: skipped, cut short (the writer stopped mid-line)"


def test_time_stamps_are_utc_to_the_second():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", utc_timestamp())


# --- pairs and splits: defaults, provenance, the printed form, an empty split allowed ---


def conversation(id: str, n_turns: int) -> Dialogue:
    return Dialogue(id, tuple(Turn("customer" if i % 2 == 0 else "agent", f"{id} turn {i}") for i in range(n_turns)),
                    "support")


def test_pairs_keep_three_turns_of_context_by_default_and_say_where_they_come_from():
    last = build_pairs([conversation("d7", 6)])[-1]
    assert [t.text for t in last.context] == ["d7 turn 2", "d7 turn 3", "d7 turn 4"]
    assert (last.dialogue_id, last.source, last.turn_index) == ("d7", "support", 5)


def test_a_pair_prints_as_its_context_then_the_marked_response():
    pair = build_pairs([conversation("d7", 3)], context_turns=2)[-1]
    assert format_pair(pair) == ("[support:d7 turn 2]\n  customer: d7 turn 0\n  agent: d7 turn 1\n"
                                 "->customer: d7 turn 2")


def test_a_split_may_be_empty_when_its_fraction_is_zero():
    splits = split_dialogues([conversation(f"d{i}", 2) for i in range(10)], fractions=(0.9, 0.1, 0.0))
    assert splits.sizes() == {"train": 9, "dev": 1, "test": 0}


def test_a_checkpoint_goes_into_new_folders_and_names_itself_when_its_config_differs(tmp_path):
    path = write_checkpoint({"config": {"width": 4}, "w": torch.ones(2)}, tmp_path / "runs" / "gan" / "last.pt")
    assert path == tmp_path / "runs" / "gan" / "last.pt" and sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]
    with pytest.raises(ValueError) as refused:
        read_checkpoint(path, torch.device("cpu"), Config(width=5))
    assert str(path) in str(refused.value) and "width" in str(refused.value)


def test_the_row_report_says_what_fitting_changed():
    report = RowReport(rows=120, max_length=192, context_cut=7, response_cut=2, longest=301)
    assert str(report) == ("120 rows of at most 192 tokens (longest pair 301): 7 lost their oldest context, "
                           "2 had their response cut")


def test_rows_need_room_for_the_marker_and_a_token_and_a_collator_needs_a_pad_token(tokenizer):
    pair = Pair((Turn("customer", "hi"),), Turn("agent", "hello"), "d1", "test", 1)
    with pytest.raises(ValueError, match="max_length must hold the marker and one response token, got 1"):
        encode_pairs(tokenizer, [pair], max_length=1)
    with pytest.raises(ValueError, match="the tokenizer has no pad token; call add_format_tokens"):
        PadCollator(pad_id=None, eos_id=0)
