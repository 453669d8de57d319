#!/usr/bin/env python3
"""Fake OpenAI-compatible upstream for router tests (stdlib only).

POST /v1/chat/completions; behaviour chosen by the request's "model":
  ok-*       200 with a chat.completion (or SSE chunks when "stream": true)
  e500-*     500            e429-*   429 with Retry-After: 0
  hang-*     sleeps 30 s before answering     close-*  closes without answering
  flakyN-*   503 for the first N requests to that model, then ok
Every request is appended as one JSON line to --log (path, model, auth
header, body) before answering, so tests can assert what was (not) sent.
Prints the listening port on stdout, then serves until killed.
"""
import argparse, json, re, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = {}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        model = str(body.get("model", ""))
        with LOCK:
            COUNTS[model] = COUNTS.get(model, 0) + 1
            count = COUNTS[model]
            with open(ARGS.log, "a") as f:
                f.write(json.dumps({"path": self.path, "model": model,
                                    "auth": self.headers.get("Authorization"), "body": body}) + "\n")
        m = re.match(r"flaky(\d+)-", model)
        if model.startswith("e500-") or (m and count <= int(m.group(1))):
            return self.reply(500 if not m else 503, {"error": {"message": "boom"}})
        if model.startswith("e429-"):
            return self.reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
        if model.startswith("hang-"):
            time.sleep(30)
        if model.startswith("close-"):
            self.close_connection = True
            self.connection.shutdown(2)
            return
        text = "answer from " + model
        if body.get("stream"):
            return self.stream(model, text, body)
        self.reply(200, {"id": "x", "object": "chat.completion", "model": model,
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}})

    def stream(self, model, text, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for w in text.split(" "):
            chunk = {"object": "chat.completion.chunk", "model": model,
                     "choices": [{"index": 0, "delta": {"content": w + " "}}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.flush()
        if (body.get("stream_options") or {}).get("include_usage"):
            u = {"object": "chat.completion.chunk", "choices": [],
                 "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
            self.wfile.write(b"data: " + json.dumps(u).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", required=True)
    ARGS = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()
    sys.stdout = open("/dev/null", "w")  # the reader closes its end after the port
    srv.serve_forever()
