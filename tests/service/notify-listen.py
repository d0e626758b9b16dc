#!/usr/bin/env python3
"""Stand in for systemd's notification socket in tests.

    notify-listen.py SOCKET_PATH OUT_FILE

Binds a Unix datagram socket at SOCKET_PATH and appends every datagram it
receives to OUT_FILE as one line (newlines inside a message become " | "),
flushing each, until it is killed.
"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", encoding="utf-8") as f:
    f.write("")
    f.flush()
    while True:
        msg = s.recv(65536).decode("utf-8", "replace")
        f.write(msg.replace("\n", " | ") + "\n")
        f.flush()
