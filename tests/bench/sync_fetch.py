#!/usr/bin/env python3
"""Save every search page of the given participants to files, as the daemon
would fetch them (for the loader's own figure on the same bytes).

usage: sync_fetch.py BASE CA_FILE TOKENS_FILE OUT_DIR [THREADS]

TOKENS_FILE: "participant access refresh generation" lines (bbtest-unseal).
Prints the number of pages and bytes saved.
"""
import concurrent.futures
import http.client
import json
import os
import ssl
import sys
import threading
import urllib.parse

base, ca, tokfile, out = sys.argv[1:5]
threads = int(sys.argv[5]) if len(sys.argv) > 5 else 8
ctx = ssl.create_default_context(cafile=ca)
u0 = urllib.parse.urlsplit(base)
local = threading.local()
TYPES = "carrier,dme,hha,hospice,inpatient,outpatient,pde,snf"


def conn():
    if not getattr(local, "c", None):
        local.c = http.client.HTTPSConnection(u0.hostname, u0.port, context=ctx, timeout=120)
    return local.c


def get(url, token):
    u = urllib.parse.urlsplit(url)
    for attempt in range(2):
        try:
            c = conn()
            c.request("GET", u.path + "?" + u.query, headers={
                "Authorization": "Bearer " + token, "Accept": "application/fhir+json"})
            r = c.getresponse()
            return r.status, r.read()
        except (http.client.HTTPException, OSError):
            local.c = None
    raise RuntimeError("request failed twice")


def fetch(line):
    pid, access = line.split()[:2]
    pages = nbytes = 0
    for res in ("ExplanationOfBenefit", "Coverage", "Patient"):
        url = f"{base}/v2/fhir/{res}/?_count=50" + (f"&type={TYPES}" if res == "ExplanationOfBenefit" else "")
        n = 0
        while url:
            st, body = get(url, access)
            if st == 403 and res == "Patient":
                break
            if st != 200:
                raise RuntimeError(f"{pid} {res}: HTTP {st}")
            n += 1
            with open(os.path.join(out, f"{pid}-{res}-{n}.json"), "wb") as f:
                f.write(body)
            pages += 1
            nbytes += len(body)
            links = {l["relation"]: l["url"] for l in json.loads(body).get("link", [])}
            url = links.get("next")
    return pages, nbytes


lines = [l for l in open(tokfile) if l.strip()]
os.makedirs(out, exist_ok=True)
with concurrent.futures.ThreadPoolExecutor(threads) as ex:
    res = list(ex.map(fetch, lines))
print(sum(p for p, _ in res), sum(b for _, b in res))
