"""`moonpalace mock`: Kimi's partial mode and `response_format: json_object`, through the official OpenAI SDK."""
import json

import openai
import pytest

from test_mock_support import MODEL, USER


def client(base):
    return openai.OpenAI(base_url=base, api_key="sk-test", max_retries=0)


def streamed_text(stream):
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_partial_mode_continues_a_length_cut_answer_without_repeating_it(mock_server):
    sdk = client(mock_server)
    full = sdk.chat.completions.create(model=MODEL, messages=USER, seed=11).choices[0].message.content
    cut = sdk.chat.completions.create(model=MODEL, messages=USER, seed=11, max_tokens=5)
    assert cut.choices[0].finish_reason == "length"
    prefix = cut.choices[0].message.content
    assert full.startswith(prefix) and len(prefix) < len(full)
    partial = USER + [{"role": "assistant", "content": prefix, "partial": True}]
    rest = sdk.chat.completions.create(model=MODEL, messages=partial, seed=11)
    assert rest.choices[0].finish_reason == "stop"
    assert prefix + rest.choices[0].message.content == full   # the rest, not the prefix again
    streamed = streamed_text(sdk.chat.completions.create(model=MODEL, messages=partial, seed=11, stream=True))
    assert streamed == rest.choices[0].message.content


def test_partial_mode_with_any_prefix_answers_after_it(mock_server):
    sdk = client(mock_server)
    prefix = "月亮的背面"
    answer = sdk.chat.completions.create(
        model=MODEL, messages=USER + [{"role": "assistant", "content": prefix, "partial": True, "name": "Kimi"}])
    text = answer.choices[0].message.content
    assert text and not text.startswith(prefix)


@pytest.mark.parametrize("messages, needle", [
    (USER + [{"role": "assistant", "content": "x", "partial": True}, {"role": "user", "content": "y"}], "last message"),
    (USER[:-1] + [{"role": "user", "content": "x", "partial": True}], "role 'assistant'"),
])
def test_partial_flag_out_of_place_is_a_400(mock_server, messages, needle):
    with pytest.raises(openai.BadRequestError) as err:
        client(mock_server).chat.completions.create(model=MODEL, messages=messages)
    assert needle in str(err.value)


def test_json_object_content_parses_stream_and_non_stream(mock_server):
    sdk = client(mock_server)
    fmt = {"type": "json_object"}
    whole = sdk.chat.completions.create(model=MODEL, messages=USER, response_format=fmt, seed=5)
    content = whole.choices[0].message.content
    value = json.loads(content)
    assert isinstance(value, dict) and value["answer"] and value["keywords"]
    assert whole.choices[0].finish_reason == "stop"
    chunks = list(sdk.chat.completions.create(model=MODEL, messages=USER, response_format=fmt, seed=5, stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 5 and "".join(pieces) == content   # streamed token by token, same object


def test_json_object_cut_by_max_tokens_is_truncated_with_length(mock_server):
    answer = client(mock_server).chat.completions.create(
        model=MODEL, messages=USER, response_format={"type": "json_object"}, max_tokens=4)
    assert answer.choices[0].finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.choices[0].message.content)


@pytest.mark.parametrize("fmt, needle", [
    ({"type": "xml"}, "response_format.type"),
    ("json", "response_format"),
])
def test_bad_response_format_is_a_400(mock_server, fmt, needle):
    with pytest.raises(openai.BadRequestError) as err:
        client(mock_server).chat.completions.create(model=MODEL, messages=USER, response_format=fmt)
    assert needle in str(err.value)


def test_partial_with_json_object_is_refused(mock_server):
    with pytest.raises(openai.BadRequestError) as err:
        client(mock_server).chat.completions.create(
            model=MODEL, messages=USER + [{"role": "assistant", "content": "{", "partial": True}],
            response_format={"type": "json_object"})
    assert "partial mode" in str(err.value)
