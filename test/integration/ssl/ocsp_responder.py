"""An OCSP responder on 127.0.0.1 for the stapling tests.

`openssl ocsp -port` listens on every address, which a test must not do;
so this small HTTP server takes the requests on loopback and has the real
`openssl ocsp` answer each one (-reqin/-respout: the same responder code,
index and signing key).  Its output, with each request's text, goes to
stdout as `openssl ocsp -text` prints it, so a test counts requests by
"OCSP Request Data:" as before.

usage: ocsp_responder.py PORT INDEX SIGNER_CRT SIGNER_KEY CA_CRT WORKDIR
"""
import http.server
import os
import subprocess
import sys
import tempfile


def main():
    port, index, rsigner, rkey, ca, workdir = sys.argv[1:7]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            self.answer(self.rfile.read(n))

        def answer(self, der):
            with tempfile.TemporaryDirectory(dir=workdir) as d:
                req = os.path.join(d, "req.der")
                resp = os.path.join(d, "resp.der")
                with open(req, "wb") as f:
                    f.write(der)
                out = subprocess.run(
                    ["openssl", "ocsp", "-index", index, "-rsigner", rsigner,
                     "-rkey", rkey, "-CA", ca, "-ndays", "1", "-text",
                     "-reqin", req, "-respout", resp],
                    capture_output=True)
                sys.stdout.buffer.write(out.stdout + out.stderr)
                sys.stdout.flush()
                if out.returncode != 0 or not os.path.exists(resp):
                    self.send_response(500)
                    self.end_headers()
                    return
                with open(resp, "rb") as f:
                    body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/ocsp-response")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
    print("waiting for OCSP client connections", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
