from heygen_lib.chat import Chatbot, DecodingConfig
from heygen_lib.chat import scripted


def test_a_script_goes_on_past_a_refused_message_and_counts_each_reply(model_and_tokenizer):
    bot = Chatbot(*model_and_tokenizer, DecodingConfig("greedy", max_new_tokens=4))
    shown = []
    replies, rows = scripted.play(bot, ["my parcel is late", "   ", "it was due monday"], show=shown.append)
    assert len(replies) == 2 and [r["reply"] for r in rows] == [1, 2]
    assert shown[1].startswith("refused: ") and shown[2].startswith("customer: 'it was due monday'")
    assert rows[1]["prompt tokens"] > rows[0]["prompt tokens"]  # the history is in the second prompt
    assert len(bot.history) == 4


def test_decodings_answer_a_fresh_conversation_each_time_and_leave_the_bots_decoding_alone(model_and_tokenizer):
    own = DecodingConfig("greedy", max_new_tokens=4)
    bot = Chatbot(*model_and_tokenizer, own)
    settings = {"greedy": own, "sample": DecodingConfig("sample", temperature=1.5, top_p=1.0, max_new_tokens=4)}
    rows = scripted.decodings(bot, "my kettle is broken", settings, repeats=2)
    assert [r["decoding"] for r in rows] == ["greedy", "sample"]
    assert rows[0]["distinct-2 of 2"] <= rows[1]["distinct-2 of 2"]  # greedy repeats itself exactly
    assert bot.decoding == own and bot.history == ()
