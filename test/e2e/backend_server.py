#!/usr/bin/env python3
"""A real HTTP backend for end-to-end tests: answers every GET with its own name and
logs each request's peer address (the way an operator checks what a load balancer sends).
GET /health answers with the status code written in <log>.health (200 when absent), so a
test can make a backend fail its HTTP check while its port stays open."""
import http.server
import os
import socket
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = f"{self.server.name} {self.client_address[0]}\n".encode()
        code = 200
        if self.path == "/health" and os.path.exists(self.server.log + ".health"):
            code = int(open(self.server.log + ".health").read().strip() or 200)
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open(self.server.log, "a") as f:
            ua = self.headers.get("User-Agent", "")
            f.write(f"{self.client_address[0]} {self.client_address[1]} {self.path} {ua}\n")

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # (socketserver's 5 overflows under a burst of new connections; nginx takes 511)


if __name__ == "__main__":
    ip, port, name, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if ":" in ip:  # an IPv6 address
        Server.address_family = socket.AF_INET6
    srv = Server((ip, port), Handler)
    srv.name, srv.log = name, log
    open(log, "a").close()  # a restarted server keeps its log
    srv.serve_forever()
