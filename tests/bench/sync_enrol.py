#!/usr/bin/env python3
"""Enrol many participants quickly through the real flow, several at a time.

usage: sync_enrol.py BBINGEST CONFIG CA_FILE FIRST LAST [THREADS]

For each i in FIRST..LAST: `bbingest enroll-url P%06d` gives Blue Button's
authorize URL; the sandbox approves BBUser%05d at once (login_hint) and
redirects to the daemon's /callback, which exchanges the code and stores the
sealed tokens.  Prints how many were enrolled; exits 1 on any failure.
"""
import concurrent.futures
import http.client
import ssl
import subprocess
import sys
import urllib.parse

bbingest, cfg, ca, first, last = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
threads = int(sys.argv[6]) if len(sys.argv) > 6 else 8
ctx = ssl.create_default_context(cafile=ca)


def get(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
    else:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request("GET", u.path + ("?" + u.query if u.query else ""))
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, r.getheader("Location")


def enrol(i):
    pid, user = "P%06d" % i, "BBUser%05d" % i
    url = subprocess.run([bbingest, "-c", cfg, "enroll-url", pid], check=True,
                         capture_output=True, text=True).stdout.strip()
    st, loc = get(url + "&login_hint=" + user)
    if st != 302 or not loc:
        raise RuntimeError(f"{pid}: authorize answered {st}")
    st, _ = get(loc)
    if st != 200:
        raise RuntimeError(f"{pid}: callback answered {st}")
    return pid


with concurrent.futures.ThreadPoolExecutor(threads) as ex:
    done = list(ex.map(enrol, range(first, last + 1)))
print(f"enrolled {len(done)} participants")
