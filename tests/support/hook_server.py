#!/usr/bin/env python3
"""A scriptable webhook receiver for ecplan's tests (standard library only).

Listens on 127.0.0.1 (port 0 picks a free port), records every request as one
JSON line in --log (method, path, query, headers, body, time, action), and
answers each request according to a per-path script of actions:

  200, 404, 500, ...  answer with that status and a small JSON body
  429:N, 503:N        that status with "Retry-After: N" (seconds)
  429:date+N          that status with Retry-After as an HTTP-date N s ahead
  301:/where          a redirect (any 3xx) with "Location: /where"
  400:echo, 500:echo  that status with a body echoing the request's headers
                      (secrets included, as a careless receiver might) followed by
                      1000 bytes of padding
  hang:S              sleep S seconds (past the client's timeout), then 200
  close               close the connection without answering

A script is a comma-separated sequence consumed one action per request; the
last action repeats once the sequence is used up. "500,500,200" fails twice
then succeeds.

  --script PATH=SEQ   script for PATH (repeatable), e.g. --script "/h=500,200"
  --default SEQ       script for paths without one (default "200")
  --port N            port (default 0: any free port)
  --port-file FILE    write the chosen port there (atomically) once listening
  --log FILE          JSON lines, one per request (default: none)
  --max-lifetime S    exit after S seconds, so a crashed test leaves no
                      server behind (default 300)
  --tls-cert FILE     serve HTTPS with this certificate (PEM) ...
  --tls-key FILE      ... and key, e.g. a self-signed pair to prove that
                      clients verify certificates

The first line on stdout is the chosen port. Control endpoint (not logged):
POST /__control/script with JSON {"path": "/h", "script": "500,200"} replaces
a script (and restarts it); POST /__control/reset clears all scripts and
counters.
"""
import argparse
import email.utils
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Scripts:
    def __init__(self, default):
        self.lock = threading.Lock()
        self.default = default
        self.scripts = {}
        self.counts = {}

    def set(self, path, seq):
        with self.lock:
            self.scripts[path] = [a.strip() for a in seq.split(",") if a.strip()]
            self.counts[path] = 0

    def reset(self):
        with self.lock:
            self.scripts.clear()
            self.counts.clear()

    def next_action(self, path):
        with self.lock:
            seq = self.scripts.get(path, self.default)
            n = self.counts.get(path, 0)
            self.counts[path] = n + 1
            return seq[min(n, len(seq) - 1)] if seq else "200"


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so "close" and "hang" affect
    # exactly one attempt.
    protocol_version = "HTTP/1.0"
    server_version = "hook_server/1"

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, headers=(), body=b""):
        try:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _control(self, path, body):
        srv = self.server
        if path == "/__control/script":
            req = json.loads(body or b"{}")
            srv.scripts.set(req["path"], req["script"])
        elif path == "/__control/reset":
            srv.scripts.reset()
        else:
            return self._send(404, body=b'{"error":"unknown control"}')
        self._send(200, body=b'{"ok":true}')

    def _handle(self):
        split = urlsplit(self.path)
        body = self._body()
        if split.path.startswith("/__control/"):
            return self._control(split.path, body)
        action = self.server.scripts.next_action(split.path)
        record = {
            "time": time.time(),
            "method": self.command,
            "path": split.path,
            "query": split.query,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "action": action,
        }
        self.server.record(record)
        self._act(action)

    def _act(self, action):
        kind, _, arg = action.partition(":")
        if kind == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if kind == "hang":
            time.sleep(float(arg or 30))
            return self._send(200, body=b'{"ok":true}')
        status = int(kind)
        headers = []
        if 300 <= status <= 399:
            headers.append(("Location", arg or "/redirected"))
        elif arg.startswith("date+"):
            when = time.time() + float(arg[5:])
            headers.append(("Retry-After", email.utils.formatdate(when, usegmt=True)))
        elif arg == "echo":
            payload = json.dumps({"error": "rejected", "status": status,
                                  "you_sent": dict(self.headers.items()),
                                  "padding": "p" * 1000}).encode()
            return self._send(status, headers, payload)
        elif arg:
            headers.append(("Retry-After", arg))
        payload = json.dumps({"status": status}).encode()
        self._send(status, headers, payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, scripts, log_path):
        super().__init__(addr, Handler)
        self.scripts = scripts
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None

    def handle_error(self, request, client_address):
        # Clients that hang up or reject our certificate are part of the
        # tests, not errors worth a traceback.
        pass

    def record(self, rec):
        if not self.log_file:
            return
        with self.log_lock:
            self.log_file.write(json.dumps(rec, sort_keys=True) + "\n")
            self.log_file.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--script", action="append", default=[])
    ap.add_argument("--default", default="200")
    ap.add_argument("--max-lifetime", type=float, default=300)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()

    scripts = Scripts([a.strip() for a in args.default.split(",") if a.strip()])
    for s in args.script:
        path, sep, seq = s.partition("=")
        if not sep or not path.startswith("/"):
            ap.error("--script wants PATH=SEQ, e.g. /hook=500,200")
        scripts.set(path, seq)

    srv = Server(("127.0.0.1", args.port), scripts, args.log)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        # Handshake in the handler thread, so a failing client blocks nobody.
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
    port = srv.server_address[1]
    print(port, flush=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)

    timer = threading.Timer(args.max_lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
