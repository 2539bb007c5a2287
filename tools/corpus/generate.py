#!/usr/bin/env python3
"""Deterministic generator of realistic Moonshot (Kimi) API traffic, for the LZ4 dictionary and the benchmarks.

Each exchange has request headers and a chat request body (system prompt, history, user message, optional tools), and
response headers with a body that is either a `chat.completion` JSON (40 %) or an SSE stream of
`chat.completion.chunk` events, one token per event as the API streams them (a CJK token is 1–2 characters, an
English one a word with its leading space or a piece of a long word, punctuation and code 1–4 characters), optional
reasoning and tool-call fragments, and a final usage chunk (60 %). Text mixes Chinese and English, generated from word pools; `--pool train` and `--pool test` use
disjoint halves of every pool, so a dictionary trained on one cannot memorise the other's text.

  generate.py --pool train --payloads DIR --count 4000    # begin/end record payloads (FORMAT.md), for `zstd --train`
  generate.py --pool train --samples DIR --count 1500     # one text file per request/response (dictionary 1's input)
  generate.py --pool test  --jsonl FILE  --count 2000     # JSON Lines of exchanges, for `moonpalace log _bench`
"""
import argparse, json, os, random, string, uuid

from vocab import ENGLISH, CHINESE, SYSTEM_PROMPTS_TRAIN, SYSTEM_PROMPTS_TEST, halves

MODELS = ["kimi-k2-0905-preview", "kimi-latest", "moonshot-v1-8k", "moonshot-v1-32k", "kimi-k2-turbo-preview",
          "kimi-thinking-preview", "moonshot-v1-128k"]
TOOL_NAMES = ["get_weather", "search_web", "query_database", "send_email", "create_calendar_event",
              "translate_text", "run_python", "fetch_url", "lookup_stock_price", "read_file"]
PARAM_TYPES = ["string", "integer", "number", "boolean"]


class Text:
    def __init__(self, rng, pool):
        self.rng = rng
        en_a, en_b = halves(ENGLISH)
        zh_a, zh_b = halves(CHINESE)
        self.en, self.zh = (en_a, zh_a) if pool == "train" else (en_b, zh_b)
        self.system_prompts = SYSTEM_PROMPTS_TRAIN if pool == "train" else SYSTEM_PROMPTS_TEST

    def english(self, words):
        r = self.rng
        out, sentence = [], []
        for _ in range(words):
            w = r.choice(self.en)
            sentence.append(w.capitalize() if not sentence else w)
            if len(sentence) > r.randint(6, 16):
                out.append(" ".join(sentence) + r.choice([".", ".", ".", "?", "!", ":"]))
                sentence = []
        if sentence:
            out.append(" ".join(sentence) + ".")
        return " ".join(out)

    def chinese(self, words):
        r = self.rng
        out = []
        for i in range(words):
            out.append(r.choice(self.zh))
            if r.random() < 0.12:
                out.append(r.choice(["，", "，", "。", "；", "、", "？", "！"]))
        return "".join(out) + "。"

    def mixed(self, words):
        r = self.rng
        parts = []
        while words > 0:
            n = min(words, r.randint(4, 30))
            parts.append(self.chinese(n) if r.random() < 0.55 else self.english(n))
            words -= n
        if r.random() < 0.3:
            parts.insert(r.randint(0, len(parts)), "\n\n```python\nresult = %s(%d)\nprint(result)\n```\n" % (
                r.choice(self.en), r.randint(1, 999)))
        if r.random() < 0.3:
            parts = ["\n".join("%d. %s" % (i + 1, p) for i, p in enumerate(parts))]
        return " ".join(parts)


def is_cjk(ch):
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"


def tokens(rng, text):
    """Splits text into token-sized pieces, roughly like a BPE tokenizer with a large CJK vocabulary (Kimi's):
    CJK runs in 1–2-character tokens, English words with their leading space (long words in two pieces),
    anything else (punctuation, digits, code, newlines) in 1–4-character pieces."""
    out, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if is_cjk(ch):
            k = 1 if rng.random() < 0.35 else 2
            j = i
            while j < n and j - i < k and is_cjk(text[j]):
                j += 1
        elif ch.isalpha() or (ch == " " and i + 1 < n and text[i + 1].isascii() and text[i + 1].isalpha()):
            j = i + 1
            while j < n and text[j].isascii() and text[j].isalpha():
                j += 1
            if j - i > 8:
                j = i + rng.randint(3, j - i - 3)
        else:
            j = min(n, i + rng.randint(1, 4))
            k = i + 1
            while k < j and not is_cjk(text[k]) and not text[k].isalpha():
                k += 1
            j = k
        out.append(text[i:j])
        i = j
    return out


def rid(rng, n=24):
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def tools(rng, text):
    out = []
    for name in rng.sample(TOOL_NAMES, rng.randint(1, 4)):
        props, required = {}, []
        for _ in range(rng.randint(1, 5)):
            p = rng.choice(text.en) + "_" + rng.choice(["id", "name", "query", "limit", "unit", "date", "city"])
            props[p] = {"type": rng.choice(PARAM_TYPES), "description": text.mixed(rng.randint(4, 14))}
            if rng.random() < 0.6:
                required.append(p)
        out.append({"type": "function", "function": {"name": name, "description": text.mixed(rng.randint(6, 20)),
                    "parameters": {"type": "object", "properties": props, "required": required}}})
    return out


def request(rng, text, stream):
    messages = [{"role": "system", "content": rng.choice(text.system_prompts)}]
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        messages.append({"role": "user", "content": text.mixed(rng.randint(5, 60))})
        messages.append({"role": "assistant", "content": text.mixed(rng.randint(10, 120))})
    messages.append({"role": "user", "content": text.mixed(rng.randint(5, 80))})
    body = {"model": rng.choice(MODELS), "messages": messages, "temperature": rng.choice([0.3, 0.3, 0.6, 1.0])}
    if rng.random() < 0.3:
        body["tools"] = tools(rng, text)
    if rng.random() < 0.3:
        body["max_tokens"] = rng.choice([512, 1024, 2048, 4096])
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    headers = [["Host", "api.moonshot.cn"], ["Content-Type", "application/json"],
               ["Authorization", "Bearer " + "*" * 47 + rid(rng, 4)],
               ["User-Agent", rng.choice(["OpenAI/Python 1.54.3", "OpenAI/Python 1.99.1", "curl/8.5.0",
                                          "OpenAI/JS 4.73.0"])],
               ["Accept", "text/event-stream" if stream else "application/json"],
               ["X-Stainless-Lang", "python"], ["X-Stainless-Runtime-Version", "3.11.7"]]
    return headers, json.dumps(body, ensure_ascii=False, separators=(", ", ": ") if rng.random() < 0.5 else (",", ":"))


def response_headers(rng, stream, created):
    return [["Date", "Mon, %02d Nov 2026 %02d:%02d:%02d GMT" % (rng.randint(1, 28), rng.randint(0, 23),
                                                                 rng.randint(0, 59), rng.randint(0, 59))],
            ["Content-Type", "text/event-stream" if stream else "application/json; charset=utf-8"],
            ["Connection", "keep-alive"], ["Msh-Request-Id", str(uuid.UUID(int=rng.getrandbits(128)))],
            ["Server-Timing", "inner; dur=%d" % rng.randint(80, 30000)],
            ["Msh-Uid", rid(rng, 20).lower()], ["Msh-Gid", rng.choice(["enterprise-tier-5", "tier-1", "tier-3"])],
            ["Vary", "Accept-Encoding"], ["Server", "nginx"], ["Strict-Transport-Security", "max-age=15724800"]]


def usage(rng, completion):
    prompt = rng.randint(20, 6000)
    u = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if rng.random() < 0.4:
        u["cached_tokens"] = rng.randint(0, prompt)
    return u


def completion_json(rng, text, model, cid, created):
    content = text.mixed(rng.randint(10, 160))
    msg = {"role": "assistant", "content": content}
    finish = "stop"
    if rng.random() < 0.15:
        msg["tool_calls"] = [{"index": 0, "id": rng.choice(TOOL_NAMES) + ":" + str(rng.randint(0, 9)), "type": "function",
                              "function": {"name": rng.choice(TOOL_NAMES),
                                           "arguments": json.dumps({"query": text.mixed(rng.randint(2, 8))}, ensure_ascii=False)}}]
        finish = "tool_calls"
    body = {"id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
            "usage": usage(rng, max(1, len(content) // 2))}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def sse_stream(rng, text, model, cid, created):
    def chunk(delta, finish=None, extra=None):
        c = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        if extra:
            c["choices"][0].update(extra)
        return "data: " + json.dumps(c, ensure_ascii=False, separators=(",", ":")) + "\n\n"

    out = [chunk({"role": "assistant", "content": ""})]
    message = {"role": "assistant", "content": ""}
    pieces = 0
    if model == "kimi-thinking-preview" or rng.random() < 0.15:
        reasoning = text.mixed(rng.randint(10, 80))
        for t in tokens(rng, reasoning):
            out.append(chunk({"reasoning_content": t})); pieces += 1
        message["reasoning_content"] = reasoning
    content = text.mixed(rng.randint(10, 200))
    for t in tokens(rng, content):
        out.append(chunk({"content": t})); pieces += 1
    message["content"] = content
    finish = "stop"
    if rng.random() < 0.12:
        finish = "tool_calls"
        args = json.dumps({"city": text.chinese(2), "query": text.english(rng.randint(2, 6))}, ensure_ascii=False)
        call = {"index": 0, "id": "call_" + rid(rng, 12), "type": "function",
                "function": {"name": rng.choice(TOOL_NAMES), "arguments": ""}}
        out.append(chunk({"tool_calls": [call]}))
        for t in tokens(rng, args):
            out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": t}}]}))
        call["function"]["arguments"] = args
        message["tool_calls"] = [call]
    elif rng.random() < 0.05:
        finish = "length"
    u = usage(rng, pieces)
    out.append(chunk({}, finish, {"usage": u}))
    if rng.random() < 0.5:  # include_usage: an OpenAI-style trailing chunk with top-level usage
        out.append("data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                          "model": model, "choices": [], "usage": u},
                                         ensure_ascii=False, separators=(",", ":")) + "\n\n")
    out.append("data: [DONE]\n\n")
    # What the proxy stores beside the stream (end record field 20): the chat.completion merged from the chunks.
    merged = {"id": cid, "object": "chat.completion", "created": created, "model": model,
              "choices": [{"index": 0, "message": message, "finish_reason": finish, "usage": u}], "usage": u}
    return "".join(out), json.dumps(merged, ensure_ascii=False, separators=(",", ":"))


def exchange(rng, text):
    stream = rng.random() < 0.6
    req_headers, req_body = request(rng, text, stream)
    model = json.loads(req_body)["model"]
    cid = rng.choice(["chatcmpl-", "cmpl-"]) + rid(rng)
    created = 1_760_000_000 + rng.randint(0, 10_000_000)
    merged = None
    if stream:
        body, merged = sse_stream(rng, text, model, cid, created)
    else:
        body = completion_json(rng, text, model, cid, created)
    status = 200 if rng.random() < 0.97 else rng.choice([400, 429, 500])
    if status != 200:
        stream = False
        merged = None
        body = json.dumps({"error": {"type": rng.choice(["rate_limit_reached_error", "invalid_request_error",
                                                         "server_error"]), "message": text.english(12)}})
    return {"method": "POST", "target": "/v1/chat/completions", "request_headers": req_headers,
            "request_body": req_body, "status": status, "response_headers": response_headers(rng, stream, created),
            "response_body": body, "merged": merged, "stream": stream, "model": model, "chatcmpl": cid}


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def tlv_uint(tag, v):
    return varint(tag << 3) + varint(v) if v else b""


def tlv_sint(tag, v):
    return tlv_uint(tag, (v << 1) ^ (v >> 63))


def tlv_bytes(tag, b, omit_empty=True):
    return b"" if omit_empty and not b else varint(tag << 3 | 2) + varint(len(b)) + b


def tlv_str(tag, s, omit_empty=True):
    return tlv_bytes(tag, s.encode("utf-8"), omit_empty)


def tlv_header(tag, name, value):
    return tlv_bytes(tag, tlv_str(1, name) + tlv_str(2, value), omit_empty=False)


def payloads(rng, x):
    """The begin and end record payloads (FORMAT.md, "Record payloads") moonpalace writes for exchange `x`,
    with the fields the proxy fills: what LZ4 and the dictionary really see."""
    req, res = x["request_body"].encode("utf-8"), x["response_body"].encode("utf-8")
    started = 1_763_900_000_000_000 + rng.randint(0, 10 ** 12)
    flags = 1 if x["stream"] else 0
    begin = (b"\x01" + tlv_sint(2, started) + tlv_str(3, x["method"]) + tlv_str(4, x["target"])
             + tlv_str(5, "https://api.moonshot.cn")
             + b"".join(tlv_header(6, k, v) for k, v in x["request_headers"])
             + tlv_bytes(7, req) + tlv_uint(10, flags))
    ttfb = rng.randint(150_000, 3_000_000)
    timings = tlv_sint(1, ttfb) + tlv_sint(2, ttfb + rng.randint(0, 200_000)) + tlv_sint(3, ttfb + rng.randint(0, 30_000_000))
    u = json.loads(x["merged"] or x["response_body"]).get("usage") if x["status"] == 200 else None
    end = (b"\x01" + tlv_sint(2, started + rng.randint(200_000, 30_000_000)) + tlv_sint(3, x["status"])
           + b"".join(tlv_header(4, k, v) for k, v in x["response_headers"])
           + tlv_bytes(5, res) + tlv_uint(7, len(req)) + tlv_uint(8, len(res)) + tlv_bytes(9, timings, omit_empty=False)
           + tlv_str(10, dict(x["response_headers"]).get("Msh-Request-Id", ""), omit_empty=False)
           + (tlv_str(11, x["chatcmpl"], omit_empty=False) if x["status"] == 200 else b"")
           + tlv_str(14, x["model"], omit_empty=False))
    if u:
        end += tlv_bytes(15, tlv_sint(1, u["prompt_tokens"]) + tlv_sint(2, u["completion_tokens"])
                         + tlv_sint(3, u["total_tokens"]) + tlv_sint(4, u.get("cached_tokens", 0)), omit_empty=False)
    if x["status"] == 200:
        end += tlv_str(16, "stop", omit_empty=False)
    end += tlv_uint(17, flags)
    if x["merged"]:
        end += tlv_str(20, x["merged"], omit_empty=False)
    return begin, end


def header_text(headers):
    return "".join("%s: %s\n" % (k, v) for k, v in headers)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", choices=["train", "test"], required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=None, help="default: 1 for train, 2 for test")
    ap.add_argument("--samples", help="directory: one text file per request and per response")
    ap.add_argument("--payloads", help="directory: the begin and end record payloads of each exchange")
    ap.add_argument("--jsonl", help="file: one exchange per line")
    a = ap.parse_args()
    rng = random.Random(a.seed if a.seed is not None else (1 if a.pool == "train" else 2))
    text = Text(rng, a.pool)
    if a.samples:
        os.makedirs(a.samples, exist_ok=True)
    if a.payloads:
        os.makedirs(a.payloads, exist_ok=True)
        payload_rng = random.Random(7919 * (a.seed if a.seed is not None else 0) + 17)
    out = open(a.jsonl, "w", encoding="utf-8") if a.jsonl else None
    for n in range(a.count):
        x = exchange(rng, text)
        if a.payloads:
            begin, end = payloads(payload_rng, x)
            with open(os.path.join(a.payloads, "%05d-begin" % n), "wb") as f:
                f.write(begin)
            with open(os.path.join(a.payloads, "%05d-end" % n), "wb") as f:
                f.write(end)
        if a.samples:
            with open(os.path.join(a.samples, "%05d-req" % n), "w", encoding="utf-8") as f:
                f.write("POST %s\n%s\n%s" % (x["target"], header_text(x["request_headers"]), x["request_body"]))
            with open(os.path.join(a.samples, "%05d-res" % n), "w", encoding="utf-8") as f:
                f.write("%d\n%s\n%s%s" % (x["status"], header_text(x["response_headers"]), x["response_body"],
                                           "\n" + x["merged"] if x["merged"] else ""))
        if out:
            out.write(json.dumps(x, ensure_ascii=False) + "\n")
    if out:
        out.close()


if __name__ == "__main__":
    main()
