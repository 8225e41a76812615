#!/usr/bin/env python3
"""A real HTTP backend for end-to-end tests: answers every GET with its own name and
logs each request's peer address (the way an operator checks what a load balancer sends)."""
import http.server
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = f"{self.server.name} {self.client_address[0]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open(self.server.log, "a") as f:
            f.write(f"{self.client_address[0]} {self.client_address[1]} {self.path}\n")

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    ip, port, name, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    srv = Server((ip, port), Handler)
    srv.name, srv.log = name, log
    open(log, "w").close()
    srv.serve_forever()
