#!/usr/bin/env python3
"""A fake OpenAI-compatible chat completions server for the eval tests
(python3 stdlib only). The answer is scripted by the last user message:

  ANSWER: text      reply with `text` (rest of that line)
  TOOL: name {json} reply with a tool call
  FAIL500           HTTP 500 with an OpenAI error body
  FAILDROP          close the connection without a response
  FAILONCE          HTTP 503 the first time this exact message is seen
  SLOW              sleep 0.3 s before answering
anything else        reply "ok"

Streams (SSE, with a usage chunk) when the request says stream: true.
Every request sleeps --delay seconds so concurrency is observable;
GET /stats returns {"requests", "max_inflight"}. The listening port is
written to --port-file once the server is ready."""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"requests": 0, "inflight": 0, "max_inflight": 0, "seen": set()}


def script(messages):
    text = ""
    for m in messages:
        if m.get("role") == "user" and isinstance(m.get("content"), str):
            text = m["content"]
    for line in text.splitlines():
        if line.startswith("ANSWER:"):
            return {"content": line[len("ANSWER:"):].strip()}, text
        if line.startswith("TOOL:"):
            name, _, args = line[len("TOOL:"):].strip().partition(" ")
            return {"tool": name, "args": args.strip() or "{}"}, text
    return {"content": "ok"}, text


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.0

    def log_message(self, *args):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                self.send_json(200, {"requests": STATE["requests"], "max_inflight": STATE["max_inflight"]})
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        req = json.loads(self.rfile.read(length) or b"{}")
        with LOCK:
            STATE["requests"] += 1
            STATE["inflight"] += 1
            STATE["max_inflight"] = max(STATE["max_inflight"], STATE["inflight"])
        try:
            self.answer(req)
        finally:
            with LOCK:
                STATE["inflight"] -= 1

    def answer(self, req):
        if not self.path.endswith("/v1/chat/completions"):
            self.send_json(404, {"error": {"message": "no route " + self.path}})
            return
        plan, text = script(req.get("messages", []))
        time.sleep(self.delay + (0.3 if "SLOW" in text else 0.0))
        if "FAIL500" in text:
            self.send_json(500, {"error": {"message": "scripted failure", "type": "server_error"}})
            return
        if "FAILDROP" in text:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if "FAILONCE" in text:
            with LOCK:
                first = text not in STATE["seen"]
                STATE["seen"].add(text)
            if first:
                self.send_json(503, {"error": {"message": "overloaded, try later"}})
                return
        usage = {"prompt_tokens": len(text.split()), "completion_tokens": len(plan.get("content", "x y").split()),
                 "total_tokens": 0}
        if req.get("stream"):
            self.stream(req, plan, usage)
        else:
            self.send_json(200, self.whole(req, plan, usage))

    def whole(self, req, plan, usage):
        msg = {"role": "assistant", "content": plan.get("content")}
        if "tool" in plan:
            msg["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": plan["tool"], "arguments": plan["args"]}}]
        return {"id": "x", "object": "chat.completion", "model": req.get("model", ""),
                "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}], "usage": usage}

    def stream(self, req, plan, usage):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def event(delta, finish=None, extra=None):
            obj = {"id": "x", "object": "chat.completion.chunk",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if extra:
                obj = extra
            self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
            self.wfile.flush()

        event({"role": "assistant"})
        if "tool" in plan:
            args = plan["args"]
            half = len(args) // 2
            event({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": plan["tool"], "arguments": args[:half]}}]})
            event({"tool_calls": [{"index": 0, "function": {"arguments": args[half:]}}]})
        else:
            content = plan["content"]
            half = len(content) // 2
            event({"content": content[:half]})
            event({"content": content[half:]})
        event({}, "stop")
        if (req.get("stream_options") or {}).get("include_usage"):
            event(None, extra={"id": "x", "object": "chat.completion.chunk", "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--delay", type=float, default=0.05)
    a = ap.parse_args()
    Handler.delay = a.delay
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
