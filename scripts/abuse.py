#!/usr/bin/env python3
"""Drives a running Trellis with hostile request shapes and reports latency and RSS.

A measurement, not a test: it asserts nothing. Each shape (alias bombs, a fragment bomb,
deeply nested literals, and the largest requests the limits still allow) is sent 20 times;
the script prints the status, response size, worst latency and the server's resident memory
after each, then RSS after five idle seconds, so a change to the request limits or the
allocator can be compared before and after.

usage: scripts/abuse.py PID BASE TOKEN
  PID    the `trellis serve` process (its /proc/PID/status is read)
  BASE   e.g. http://127.0.0.1:8080
  TOKEN  a finance token: `trellis token --email finance@trellis.example`
"""
import json, sys, time, urllib.request, urllib.parse
pid, base, token = sys.argv[1], sys.argv[2], sys.argv[3]
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1]) // 1024
def post(q, v=None):
    req = urllib.request.Request(base + "/graphql", data=json.dumps({"query": q, "variables": v or {}}).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer " + token, "accept": "application/graphql-response+json"})
    t = time.time()
    try:
        with urllib.request.urlopen(req, timeout=60) as r: body = r.read(); st = r.status
    except urllib.error.HTTPError as e: body = e.read(); st = e.code
    return st, len(body), time.time() - t
print("RSS before:", rss(), "MB")
aliases = lambda n, f: "{ " + " ".join(f"a{i}: {f}" for i in range(n)) + " }"
bomb = "fragment F0 on Query { __typename }\n" + "".join(f"fragment F{i} on Query {{ ...F{i-1} ...F{i-1} }}\n" for i in range(1, 25)) + "query { ...F24 }"
cases = {
  "1000 x schools(first:100)": aliases(1000, "schools(first: 100) { edges { node { name urn } } }"),
  "250 x invoices(first:100) with lines+allocations": aliases(250, "invoices(first: 100) { edges { node { number lines { description } allocations { amount { formatted } } } } }"),
  "500 x ledgerExport": aliases(500, 'ledgerExport(academicYear: "2026/27")'),
  "fragment bomb 24": bomb,
  "list nested 5000": "{ school(urn: " + "[" * 5000 + "1" + "]" * 5000 + ") { name } }",
  "largest allowed: 120 x schools(first:100)": aliases(120, "schools(first: 100) { edges { node { name urn } } }"),
  "largest allowed: 45 x ledgerExport": aliases(45, 'ledgerExport(academicYear: "2026/27")'),
}
for name, q in cases.items():
    worst = 0
    for _ in range(20):
        st, n, dt = post(q); worst = max(worst, dt)
    print(f"{name}: status {st}, {n} bytes, worst {worst*1000:.0f} ms, RSS {rss()} MB")
time.sleep(5)
print("RSS after (5 s idle):", rss(), "MB")
