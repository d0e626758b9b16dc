#!/usr/bin/env python3
"""A stand-in for the Blue Button API's capability statement, over HTTPS.

    api-stub.py CERT KEY PORT_FILE CONTROL_DIR

Answers GET /v2/fhir/metadata with 200 and a small CapabilityStatement, or
with 503 while CONTROL_DIR/down exists; everything else is 404.  Writes the
port it listens on (127.0.0.1, a free port) to PORT_FILE.  Used by the
health tests, which need an API that can be made to fail on demand.
"""
import http.server
import os
import ssl
import sys

cert, key, port_file, control = sys.argv[1:5]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path != "/v2/fhir/metadata":
            self.send_response(404)
            self.end_headers()
            return
        if os.path.exists(os.path.join(control, "down")):
            body = b'{"detail": "service unavailable"}'
            self.send_response(503)
        else:
            body = b'{"resourceType": "CapabilityStatement", "status": "active"}'
            self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
