"""The official OpenAI Python SDK against `moonpalace mock`: real SDK, real sockets."""
import asyncio
import json

import openai
import pytest

from test_mock_support import MODEL, USER, http

WEATHER = [{"type": "function", "function": {
    "name": "get_weather", "description": "weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city"]}}}]
TIME = [{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}]


def client(base, **kw):
    return openai.OpenAI(base_url=base, api_key="sk-test", max_retries=0, **kw)


def test_create_returns_a_chat_completion(mock_server):
    completion = client(mock_server).chat.completions.create(model=MODEL, messages=USER)
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == MODEL
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_stream_deltas_concatenate_to_the_non_stream_answer(mock_server):
    sdk = client(mock_server)
    whole = sdk.chat.completions.create(model=MODEL, messages=USER, seed=3)
    parts, finish, choice_usage, top_usage = [], None, None, None
    for chunk in sdk.chat.completions.create(model=MODEL, messages=USER, seed=3, stream=True,
                                             stream_options={"include_usage": True}):
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage:
            top_usage = chunk.usage
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
            extra = getattr(choice, "model_extra", None) or {}
            choice_usage = extra.get("usage", choice_usage)
    assert "".join(parts) == whole.choices[0].message.content
    assert finish == "stop"
    assert choice_usage["completion_tokens"] == whole.usage.completion_tokens
    assert top_usage.completion_tokens == whole.usage.completion_tokens


def test_async_client_create_and_stream(mock_server):
    async def run():
        sdk = openai.AsyncOpenAI(base_url=mock_server, api_key="sk-test", max_retries=0)
        completion = await sdk.chat.completions.create(model=MODEL, messages=USER)
        stream = await sdk.chat.completions.create(model=MODEL, messages=USER, stream=True)
        text = ""
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
        await sdk.close()
        return completion, text
    completion, text = asyncio.run(run())
    assert completion.choices[0].message.content
    assert text


def test_tool_calls_non_stream_and_stream(mock_server):
    sdk = client(mock_server)
    completion = sdk.chat.completions.create(model=MODEL, messages=USER, tools=WEATHER + TIME)
    calls = completion.choices[0].message.tool_calls
    assert completion.choices[0].finish_reason == "tool_calls"
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert "city" in json.loads(calls[0].function.arguments)

    merged = {}
    fragments = 0
    for chunk in sdk.chat.completions.create(model=MODEL, messages=USER, tools=WEATHER + TIME, stream=True):
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or []:
                entry = merged.setdefault(call.index, {"id": None, "name": None, "arguments": ""})
                if call.id:
                    entry["id"], entry["name"] = call.id, call.function.name
                if call.function and call.function.arguments:
                    entry["arguments"] += call.function.arguments
                    fragments += 1
    assert sorted(merged) == [0, 1]
    assert merged[0]["name"] == "get_weather" and merged[0]["id"]
    assert json.loads(merged[0]["arguments"]) == json.loads(calls[0].function.arguments)
    assert fragments > 2  # arguments arrive in pieces


def test_tool_result_turn_gets_a_text_answer(mock_server):
    messages = USER + [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "functions.get_weather:0", "type": "function",
                                                             "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "sunny"}]
    completion = client(mock_server).chat.completions.create(model=MODEL, messages=messages, tools=WEATHER)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content


def test_thinking_model_streams_reasoning_before_content(mock_server):
    order = []
    for chunk in client(mock_server).chat.completions.create(model="kimi-k2-thinking", messages=USER, stream=True):
        for choice in chunk.choices:
            extra = choice.delta.model_extra or {}
            if extra.get("reasoning_content"):
                order.append("reasoning")
            if choice.delta.content:
                order.append("content")
    assert order[0] == "reasoning" and "content" in order
    assert order.index("content") > max(i for i, kind in enumerate(order) if kind == "reasoning")


def test_n_choices_and_max_tokens(mock_server):
    sdk = client(mock_server)
    completion = sdk.chat.completions.create(model=MODEL, messages=USER, n=3)
    assert [c.index for c in completion.choices] == [0, 1, 2]
    assert len({c.message.content for c in completion.choices}) == 3
    short = sdk.chat.completions.create(model=MODEL, messages=USER, max_tokens=4)
    assert short.choices[0].finish_reason == "length"
    assert short.usage.completion_tokens == 4
    seen = set()
    for chunk in sdk.chat.completions.create(model=MODEL, messages=USER, n=2, stream=True):
        seen.update(c.index for c in chunk.choices)
    assert seen == {0, 1}


def test_raw_response_carries_moonshot_headers(mock_server):
    raw = client(mock_server).chat.completions.with_raw_response.create(model=MODEL, messages=USER)
    assert len(raw.headers["msh-request-id"]) == 36
    assert raw.headers["server-timing"].startswith("inner; dur=")
    assert raw.headers["msh-uid"] and raw.headers["msh-gid"]
    assert raw.parse().choices[0].message.content


def test_error_classes(mock_factory):
    base = mock_factory("--require-key", "sk-right")
    with pytest.raises(openai.AuthenticationError) as missing:
        openai.OpenAI(base_url=base, api_key="sk-wrong", max_retries=0).chat.completions.create(model=MODEL, messages=USER)
    assert missing.value.status_code == 401
    sdk = openai.OpenAI(base_url=base, api_key="sk-right", max_retries=0)
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model=MODEL, messages=[{"role": "robot", "content": "x"}])
    assert "messages[0].role" in str(bad.value)
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="no-such-model", messages=USER)
    status, _, _ = http("GET", base + "/models", headers={"Authorization": ""})
    assert status == 401


def test_models_balance_and_token_estimate(mock_server):
    models = [m.id for m in client(mock_server).models.list()]
    assert "kimi-k2-turbo-preview" in models and "moonshot-v1-8k" in models
    status, _, raw = http("GET", mock_server + "/users/me/balance")
    assert status == 200 and json.loads(raw)["data"]["available_balance"] > 0
    status, _, raw = http("POST", mock_server + "/tokenizers/estimate-token-count", {"model": MODEL, "messages": USER})
    assert status == 200 and json.loads(raw)["data"]["total_tokens"] > 0


def test_files_upload_list_content_delete(mock_server, tmp_path):
    sdk = client(mock_server)
    path = tmp_path / "notes.txt"
    path.write_text("月之暗面 moonpalace notes\nline two\n")
    uploaded = sdk.files.create(file=path, purpose="file-extract")
    assert uploaded.id and uploaded.bytes == len(path.read_bytes()) and uploaded.filename == "notes.txt"
    # has_more must be false, or the SDK's auto-pagination below would loop forever on `after=<last id>`.
    listed = json.loads(http("GET", mock_server + "/files")[2])
    assert listed["has_more"] is False and [f["id"] for f in listed["data"]] == [uploaded.id]
    assert json.loads(http("GET", mock_server + "/files?after=" + uploaded.id)[2])["data"] == []
    assert uploaded.id in [f.id for f in sdk.files.list()]
    assert sdk.files.retrieve(uploaded.id).status == "ok"
    content = json.loads(sdk.files.content(uploaded.id).text)
    assert content["content"] == path.read_text()
    assert sdk.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(uploaded.id)
    with pytest.raises(openai.BadRequestError) as wrong:
        sdk.files.create(file=path, purpose="batch")
    assert "file-extract" in str(wrong.value)
