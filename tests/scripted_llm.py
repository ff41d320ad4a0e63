"""A scripted OpenAI-compatible chat-completions server for tests: it answers what the test tells it to.

    with ScriptedLLM(lambda request: Reply("The answer [1].")) as server:
        ... --llm server.url ...

``script`` gets each request's JSON body and returns what to do: ``Reply(text)`` streams the
text as server-sent events in small pieces (or as one JSON object with ``stream=False``; with
``pause``, it stops halfway until that event is set);
``Status(code, body)`` answers with an HTTP error; ``Raw(bytes)`` sends those bytes as a
200 event stream; ``Stall(seconds)`` waits before answering; ``Endless()`` streams words until
the client hangs up. Every request (headers and body) is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Reply:
    text: str
    stream: bool = True
    # when set, the stream stops halfway until this event is set
    pause: threading.Event | None = None


@dataclass
class Status:
    code: int
    body: str = ""


@dataclass
class Raw:
    data: bytes


@dataclass
class Stall:
    seconds: float


@dataclass
class Endless:
    pass


class ScriptedLLM:
    def __init__(self, script: Callable[[dict], object]):
        self.script = script
        self.requests: list[dict] = []
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                action = outer.script(body)
                try:
                    outer._act(self, action)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def _act(self, handler, action) -> None:
        if isinstance(action, Stall):
            if self.stop.wait(action.seconds):
                return
            action = Reply("Too late [1].")
        if isinstance(action, Status):
            data = action.body.encode()
            handler.send_response(action.code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        if isinstance(action, Reply) and not action.stream:
            data = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": action.text},
                                            "finish_reason": "stop"}]}).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.end_headers()
        if isinstance(action, Raw):
            handler.wfile.write(action.data)
            return
        if isinstance(action, Endless):
            while not self.stop.is_set():
                handler.wfile.write(_event("and so on "))
                handler.wfile.flush()
                time.sleep(0.001)
            return
        text = action.text
        for begin in range(0, len(text), 7):
            if action.pause is not None and begin >= len(text) // 2 > begin - 7:
                action.pause.wait(30)
            handler.wfile.write(_event(text[begin : begin + 7]))
            handler.wfile.flush()
        handler.wfile.write(b"data: [DONE]\n\n")

    def __enter__(self) -> "ScriptedLLM":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def _event(piece: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": piece}}]}).encode() + b"\n\n"
