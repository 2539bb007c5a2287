"""The proxy's HTTP/1 server at the byte level (raw sockets): pipelined requests, HTTP/1.0 clients, `Expect:
100-continue`, keep-alive after an unread request body, and a broken request among good ones."""
import json
import socket
import time

from test_proxy_util import dump_exchanges, proxy_factory  # noqa: F401 (fixtures)


def echo_endpoint(mock_server):
    """The mock's echo route as the upstream: every forwarded request comes back as JSON of what it received."""
    return mock_server.removesuffix("/v1") + "/_mock/echo"


class Reader:
    """Reads HTTP/1 responses off a socket: head, then the body by Content-Length, chunks, or until close."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        piece = self.sock.recv(65536)
        if not piece:
            raise EOFError("connection closed")
        self.buf += piece

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def head(self):
        status = self._line().decode()
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            name, value = line.decode().split(":", 1)
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def response(self, head_request=False):
        status, headers = self.head()
        while status.split()[1].startswith("1"):       # interim responses
            status, headers = self.head()
        if head_request:
            return status, headers, b""
        if "content-length" in headers:
            return status, headers, self._exactly(int(headers["content-length"]))
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()
                    return status, headers, body
                body += self._exactly(size)
                self._line()
        body = self.buf
        self.buf = b""
        while True:
            try:
                self._fill()
            except EOFError:
                break
            body += self.buf
            self.buf = b""
        return status, headers, body

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def connect(proxy):
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def post(path, body, extra=b"", version=b"HTTP/1.1"):
    return (b"POST " + path + b" " + version + b"\r\nHost: x\r\nContent-Type: application/json\r\n" + extra
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_pipelined_requests_are_answered_in_order_and_all_recorded(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(echo_endpoint(mock_server))
    chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    wire = (post(b"/v1/one?a=1", b'{"n":1}')
            + b"GET /v1/two?b=2 HTTP/1.1\r\nHost: x\r\n\r\n"
            + b"PUT /v1/three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
            + b"HEAD /v1/four HTTP/1.1\r\nHost: x\r\n\r\n"
            + post(b"/v1/five", b"x" * 100_000))
    with connect(proxy) as sock:
        sock.sendall(wire)                                   # all five at once, before any answer
        r = Reader(sock)
        answers = [r.response(head_request=(i == 3)) for i in range(5)]
    assert [a[0].split()[1] for a in answers] == ["200"] * 5, answers
    echoed = [json.loads(a[2]) for i, a in enumerate(answers) if i != 3]
    assert [(e["method"], e["path"]) for e in echoed] == [
        ("POST", "/v1/one?a=1"), ("GET", "/v1/two?b=2"), ("PUT", "/v1/three"), ("POST", "/v1/five")]
    assert echoed[2]["body_length"] == 11 and echoed[3]["body_length"] == 100_000
    assert answers[3][1]["content-length"] == answers[3][1]["content-length"]    # HEAD: head only, no body read
    ex = dump_exchanges(moonpalace_bin, proxy.data_dir)
    targets = sorted(e["begin"]["target"] for e in ex.values() if e["begin"] and e["end"])
    assert targets == sorted(["/v1/one?a=1", "/v1/two?b=2", "/v1/three", "/v1/four", "/v1/five"]), ex


def test_http10_clients_close_and_keep_alive(mock_server, proxy_factory):
    proxy = proxy_factory(echo_endpoint(mock_server))
    # Plain HTTP/1.0: answered in 1.0, the connection closes after the response.
    with connect(proxy) as sock:
        sock.sendall(post(b"/v1/plain", b'{"a":1}', version=b"HTTP/1.0"))
        r = Reader(sock)
        status, headers, body = r.response()
        assert status.startswith("HTTP/1.0 200"), status
        assert json.loads(body)["path"] == "/v1/plain"
        assert r.closed()
    # HTTP/1.0 with keep-alive and a response of known length: the connection stays, a second request works.
    with connect(proxy) as sock:
        r = Reader(sock)
        for i in range(2):
            sock.sendall(post(b"/v1/keep%d" % i, b"{}", extra=b"Connection: keep-alive\r\n", version=b"HTTP/1.0"))
            status, headers, body = r.response()
            assert status.startswith("HTTP/1.0 200") and headers.get("connection", "").lower() == "keep-alive", headers
            assert json.loads(body)["path"] == "/v1/keep%d" % i
    # HTTP/1.0 and a stream (no length): no chunked framing for a 1.0 client, the close ends the body.
    streaming = proxy_factory(mock_server)
    chat = json.dumps({"model": "moonshot-v1-8k", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    with connect(streaming) as sock:
        sock.sendall(post(b"/v1/chat/completions", chat.encode(), version=b"HTTP/1.0",
                          extra=b"Connection: keep-alive\r\nX-Mock-Chunks: 5\r\n"))
        status, headers, body = Reader(sock).response()
        assert status.startswith("HTTP/1.0 200") and "transfer-encoding" not in headers, headers
        assert headers.get("connection", "").lower() == "close" and "event-stream" in headers["content-type"]
        assert body.count(b"data: ") >= 5 and body.endswith(b"data: [DONE]\n\n") and b"\r\n" not in body, body


def test_expect_100_continue_is_answered_before_the_body_is_sent(mock_server, proxy_factory, moonpalace_bin):
    proxy = proxy_factory(echo_endpoint(mock_server))
    body = b'{"big":"' + b"y" * 200_000 + b'"}'
    with connect(proxy) as sock:
        sock.sendall(b"POST /v1/expect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Expect: 100-continue\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        r = Reader(sock)
        sock.settimeout(10)
        status, _ = r.head()                                    # the body is not sent yet
        assert status.startswith("HTTP/1.1 100"), status
        sock.sendall(body)
        status, headers, answer = r.response()
        assert status.startswith("HTTP/1.1 200"), status
        echoed = json.loads(answer)
        assert echoed["body_length"] == len(body) and "expect" not in echoed["headers"]   # Expect is hop-local
    ex = [e for e in dump_exchanges(moonpalace_bin, proxy.data_dir).values() if e["end"]]
    assert len(ex) == 1 and ex[0]["begin"]["target"] == "/v1/expect"


def test_unread_request_body_keeps_the_connection_usable(mock_server, proxy_factory):
    """GET / is answered locally without reading a body the client sent along: the rest is read and dropped, and
    the next request on the same connection is forwarded as usual."""
    proxy = proxy_factory(echo_endpoint(mock_server))
    with connect(proxy) as sock:
        r = Reader(sock)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n")
        status, headers, body = r.response()
        assert status.startswith("HTTP/1.1 200") and b"MoonPalace is running" in body
        sock.sendall(b"z" * 300_000)
        sock.sendall(post(b"/v1/after", b'{"k":2}'))
        status, headers, body = r.response()
        assert status.startswith("HTTP/1.1 200") and json.loads(body)["path"] == "/v1/after"


def test_broken_request_gets_400_and_the_proxy_keeps_serving(mock_server, proxy_factory):
    proxy = proxy_factory(echo_endpoint(mock_server))
    with connect(proxy) as sock:
        sock.sendall(post(b"/v1/fine", b"{}") + b"NOT HTTP AT ALL\x00\r\n\r\n")
        r = Reader(sock)
        status, _, body = r.response()
        assert status.startswith("HTTP/1.1 200") and json.loads(body)["path"] == "/v1/fine"
        status, headers, _ = r.response()
        assert status.startswith("HTTP/1.1 400") and headers.get("connection") == "close"
        assert r.closed()
    with connect(proxy) as sock:
        sock.sendall(post(b"/v1/next", b"{}", extra=b"Connection: close\r\n"))
        r = Reader(sock)
        status, headers, body = r.response()
        assert status.startswith("HTTP/1.1 200") and headers.get("connection") == "close"
        assert json.loads(body)["path"] == "/v1/next" and r.closed()


def test_sigterm_closes_idle_connections_and_finishes_the_response_in_flight(mock_server, proxy_factory, moonpalace_bin):
    import signal
    proxy = proxy_factory(mock_server)
    chat = json.dumps({"model": "moonshot-v1-8k", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    idle = connect(proxy)
    idle_reader = Reader(idle)
    idle.sendall(post(b"/v1/chat/completions", chat.encode(), extra=b"X-Mock-Chunks: 2\r\n"))
    assert idle_reader.response()[0].startswith("HTTP/1.1 200")           # a kept-alive connection, now idle
    busy = connect(proxy)
    busy.sendall(post(b"/v1/chat/completions", chat.encode(),
                      extra=b"X-Mock-Chunks: 20\r\nX-Mock-Chunk-Delay-Ms: 50\r\nX-Request-Id: in-flight\r\n"))
    busy_reader = Reader(busy)
    status, headers = busy_reader.head()                                   # the stream is under way
    assert status.startswith("HTTP/1.1 200"), status
    proxy.process.popen.send_signal(signal.SIGTERM)
    assert idle_reader.closed(timeout=10), "an idle keep-alive connection must not hold up the shutdown"
    rest = busy_reader.buf
    busy.settimeout(20)
    while b"data: [DONE]" not in rest:
        piece = busy.recv(65536)
        assert piece, f"the response in flight was cut by the shutdown: {rest[-300:]!r}"
        rest += piece
    assert proxy.process.popen.wait(timeout=20) == 0
    idle.close()
    busy.close()
    ex = [e for e in dump_exchanges(moonpalace_bin, proxy.data_dir).values()
          if e["begin"] and e["begin"].get("client_request_id") == "in-flight"]
    assert len(ex) == 1 and ex[0]["end"] is not None, ex
