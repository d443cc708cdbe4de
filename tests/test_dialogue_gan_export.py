import pytest

from heygen_lib.augment.filters import LengthFilter
from heygen_lib.data import load_pairs
from heygen_lib.dialogue_gan.export import default_filters, file_sha256
from heygen_lib.dialogue_gan.lstm.export import export_candidates
from heygen_lib.dialogue_gan.review import candidate_key
from heygen_lib.dialogue_gan.lstm.training import DialogueGANConfig, DialogueGANTrainer, train_mle

from toy_dialogues import encoded, tiny_models, toy_pairs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    vocab, train = encoded(toy_pairs(thanks="great thanks"), context_len=12)
    generator, discriminator = tiny_models(vocab)
    trainer = DialogueGANTrainer(generator, discriminator, train, vocab, DialogueGANConfig(batch_size=8, mle_lr=1e-2))
    train_mle(trainer, 15)
    checkpoint = trainer.save(tmp_path_factory.mktemp("gan") / "gan.pt")
    return trainer, vocab, train, checkpoint


def test_export_writes_the_best_candidates_with_provenance(trained, tmp_path):
    trainer, vocab, train, checkpoint = trained
    result = export_candidates(trainer.generator, trainer.discriminator, train, vocab, n=24, keep=5,
                               checkpoint=checkpoint, temperature=1.5, seed=3, filters=[LengthFilter(max_words=8)],
                               path=tmp_path / "candidates.jsonl")
    report = result.report
    assert report.generated == 24 and report.kept == len(result.candidates) == 5
    assert report.generated - sum(step.removed for step in report.steps) == report.kept  # every removal counted
    assert [s.name for s in report.steps] == ["unfinished", "unknown words", "length", "discriminator score", "rank"]
    scores = [p.meta["provenance"]["scores"]["discriminator"] for p in result.candidates]
    assert scores == sorted(scores, reverse=True)
    loaded = load_pairs(result.path)
    assert loaded == result.candidates
    first = loaded[0].meta["provenance"]
    assert first["checkpoint_sha256"] == file_sha256(checkpoint) and first["checkpoint"] == str(checkpoint)
    assert (first["seed"], first["temperature"], first["rank"]) == (3, 1.5, 0)
    assert first["config"]["hidden_dim"] == 16 and first["generator"].startswith("dialogue-gan")
    source = next(p for p in train.pairs if f"toy:{p.dialogue_id}:{p.turn_index}" == first["from"])
    assert loaded[0].context == source.context and first["context_dialogue_id"] == source.dialogue_id
    assert loaded[0].source == "gan" and loaded[0].meta["candidate_key"] == candidate_key(loaded[0])


def test_the_duplicate_filter_drops_copies_of_training_responses_and_says_so(trained, tmp_path):
    trainer, vocab, train, checkpoint = trained
    real_texts = [p.response.text for p in train.pairs]
    filters = default_filters(real_texts, max_words=8)[:3]  # the toy data is too regular for the perplexity filter
    result = export_candidates(trainer.generator, trainer.discriminator, train, vocab, n=32, keep=32,
                               checkpoint=checkpoint, filters=filters, path=tmp_path / "c.jsonl")
    copies = next(s for s in result.report.steps if s.name == "exact duplicates")
    assert copies.removed > 0  # a model fit to eight dialogues repeats its training data
    assert not {p.response.text.lower() for p in result.candidates} & {t.lower() for t in real_texts}
    assert "removed by exact duplicates" in str(result.report)


def test_an_export_that_keeps_nothing_raises_with_its_report(trained, tmp_path):
    trainer, vocab, train, checkpoint = trained
    with pytest.raises(ValueError, match="removed by discriminator score"):
        export_candidates(trainer.generator, trainer.discriminator, train, vocab, n=8, keep=4, checkpoint=checkpoint,
                          min_score=1.01, filters=[], path=tmp_path / "none.jsonl")
    assert not (tmp_path / "none.jsonl").exists()
