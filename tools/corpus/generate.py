#!/usr/bin/env python3
"""Deterministic generator of realistic Moonshot (Kimi) API traffic, for the LZ4 dictionary and the benchmarks.

Each exchange has request headers and a chat request body (system prompt, history, user message, optional tools), and
response headers with a body that is either a `chat.completion` JSON (40 %) or an SSE stream of
`chat.completion.chunk` events with 1–8-character deltas, optional reasoning and tool-call fragments, and a final
usage chunk (60 %). Text mixes Chinese and English, generated from word pools; `--pool train` and `--pool test` use
disjoint halves of every pool, so a dictionary trained on one cannot memorise the other's text.

  generate.py --pool train --samples DIR --count 1500     # one file per record payload, for `zstd --train`
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
    pieces = 0
    if model == "kimi-thinking-preview" or rng.random() < 0.15:
        reasoning = text.mixed(rng.randint(10, 80))
        i = 0
        while i < len(reasoning):
            n = rng.randint(1, 8)
            out.append(chunk({"reasoning_content": reasoning[i:i + n]})); i += n; pieces += 1
    content = text.mixed(rng.randint(10, 200))
    i = 0
    while i < len(content):
        n = rng.randint(1, 8)
        out.append(chunk({"content": content[i:i + n]})); i += n; pieces += 1
    finish = "stop"
    if rng.random() < 0.12:
        finish = "tool_calls"
        args = json.dumps({"city": text.chinese(2), "query": text.english(rng.randint(2, 6))}, ensure_ascii=False)
        out.append(chunk({"tool_calls": [{"index": 0, "id": "call_" + rid(rng, 12), "type": "function",
                                          "function": {"name": rng.choice(TOOL_NAMES), "arguments": ""}}]}))
        j = 0
        while j < len(args):
            n = rng.randint(1, 8)
            out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[j:j + n]}}]})); j += n
    elif rng.random() < 0.05:
        finish = "length"
    u = usage(rng, pieces)
    out.append(chunk({}, finish, {"usage": u}))
    if rng.random() < 0.5:  # include_usage: an OpenAI-style trailing chunk with top-level usage
        out.append("data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": created,
                                          "model": model, "choices": [], "usage": u},
                                         ensure_ascii=False, separators=(",", ":")) + "\n\n")
    out.append("data: [DONE]\n\n")
    return "".join(out)


def exchange(rng, text):
    stream = rng.random() < 0.6
    req_headers, req_body = request(rng, text, stream)
    model = json.loads(req_body)["model"]
    cid = rng.choice(["chatcmpl-", "cmpl-"]) + rid(rng)
    created = 1_760_000_000 + rng.randint(0, 10_000_000)
    body = sse_stream(rng, text, model, cid, created) if stream else completion_json(rng, text, model, cid, created)
    status = 200 if rng.random() < 0.97 else rng.choice([400, 429, 500])
    if status != 200:
        stream = False
        body = json.dumps({"error": {"type": rng.choice(["rate_limit_reached_error", "invalid_request_error",
                                                         "server_error"]), "message": text.english(12)}})
    return {"method": "POST", "target": "/v1/chat/completions", "request_headers": req_headers,
            "request_body": req_body, "status": status, "response_headers": response_headers(rng, stream, created),
            "response_body": body, "stream": stream, "model": model, "chatcmpl": cid}


def header_text(headers):
    return "".join("%s: %s\n" % (k, v) for k, v in headers)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", choices=["train", "test"], required=True)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=None, help="default: 1 for train, 2 for test")
    ap.add_argument("--samples", help="directory: one file per record payload (request, response)")
    ap.add_argument("--jsonl", help="file: one exchange per line")
    a = ap.parse_args()
    rng = random.Random(a.seed if a.seed is not None else (1 if a.pool == "train" else 2))
    text = Text(rng, a.pool)
    if a.samples:
        os.makedirs(a.samples, exist_ok=True)
    out = open(a.jsonl, "w", encoding="utf-8") if a.jsonl else None
    for n in range(a.count):
        x = exchange(rng, text)
        if a.samples:
            with open(os.path.join(a.samples, "%05d-req" % n), "w", encoding="utf-8") as f:
                f.write("POST %s\n%s\n%s" % (x["target"], header_text(x["request_headers"]), x["request_body"]))
            with open(os.path.join(a.samples, "%05d-res" % n), "w", encoding="utf-8") as f:
                f.write("%d\n%s\n%s" % (x["status"], header_text(x["response_headers"]), x["response_body"]))
        if out:
            out.write(json.dumps(x, ensure_ascii=False) + "\n")
    if out:
        out.close()


if __name__ == "__main__":
    main()
