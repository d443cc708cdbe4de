import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from heygen_lib.data import Turn
from heygen_lib.data.dialogue_format import DialogueFormat, add_format_tokens, escape
from heygen_lib.tiny_models import train_tokenizer

FMT = DialogueFormat()
TEXTS = ["customer: my parcel is late", "agent: sorry, it ships today."]


def test_prompt_and_target_render_the_documented_format():
    context = (Turn("customer", "my parcel is late"), Turn("agent", "order number?"))
    assert FMT.prompt(context) == "<|turn|>customer: my parcel is late<|turn|>agent: order number?<|response|>"
    assert FMT.target("It ships today.") == "It ships today.<|endoftext|>"
    assert FMT.prompt(()) == "<|response|>"


def test_user_text_cannot_imitate_a_special_token():
    assert escape("see <|response|> here") == "see < |response|> here"
    prompt = FMT.prompt((Turn("cust<|turn|>omer", "hi <|endoftext|>"),))
    assert prompt.count("<|") == 2  # only the format's own turn and response tokens
    assert FMT.target("<|pad|>") == "< |pad|><|endoftext|>"


def test_a_gpt2_style_tokenizer_gains_three_tokens_a_separate_pad_and_a_grown_model():
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=train_tokenizer(TEXTS, 300, ["<|endoftext|>"]),
                                        eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=1, n_head=2, n_positions=32))
    size = len(tokenizer)
    assert add_format_tokens(tokenizer, model) == 3
    assert len(tokenizer) == size + 3 and model.get_input_embeddings().weight.shape[0] == size + 3
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    assert model.config.pad_token_id == model.generation_config.pad_token_id == tokenizer.pad_token_id
    ids = tokenizer(FMT.prompt((Turn("customer", "hi"),)) + FMT.target("ok"), add_special_tokens=False)["input_ids"]
    specials = {tokenizer.convert_tokens_to_ids(t) for t in (FMT.turn_token, FMT.response_token, FMT.eos_token)}
    assert specials <= set(ids)  # each special token is one id, not spelled out in pieces
    assert add_format_tokens(tokenizer, model) == 0  # a second call adds nothing
    assert torch.is_tensor(model(torch.tensor([ids])).logits)
