#!/usr/bin/env python3
"""Measures the notifications outbox against a real SMTP server on loopback.

A measurement, not a test: it asserts nothing. It starts the SMTP sink (tests/smtp-sink) and
`trellis serve` on a fresh SQLite file with the demo data, whose invoicing run and receipts
leave a burst of messages in the outbox, and reports:

  1. burst throughput: messages sent per second while the worker drains the demo's backlog
     (from the first to the last `sent_at`);
  2. commit-to-delivery delay: a head books places one request at a time (each booking is an
     outbox event with two or three messages), and the delay from each event's commit
     (`domain_events.occurred_at`) to its messages' `sent_at` is reported as p50/p95/max.
     With the default TRELLIS_NOTIFY_POLL_MS=1000 the worker looks every second, so about
     half a second is expected.

usage: scripts/bench-outbox.py [--binary target/release/trellis] [--bookings 40] [--poll-ms 1000]
Needs `scripts/test` to have installed the sink once (target/smtp-sink-venv), or run
`python3 -m venv target/smtp-sink-venv && target/smtp-sink-venv/bin/pip install -r tests/smtp-sink/requirements.txt`.
"""
import argparse, datetime, json, os, socket, sqlite3, subprocess, tempfile, time, urllib.request, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
p = argparse.ArgumentParser()
p.add_argument("--binary", default=os.path.join(ROOT, "target/release/trellis"))
p.add_argument("--bookings", type=int, default=40)
p.add_argument("--poll-ms", type=int, default=1000)
args = p.parse_args()

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

def ts(text):
    return datetime.datetime.fromisoformat(text.replace(" ", "T")).timestamp()

work = tempfile.mkdtemp(prefix="trellis-bench-outbox.")
smtp_port, http_port = free_port(), free_port()
sink = subprocess.Popen([os.path.join(ROOT, "target/smtp-sink-venv/bin/python"), os.path.join(ROOT, "tests/smtp-sink/sink.py"),
                         "--port", str(smtp_port), "--dir", os.path.join(work, "mail")], stdout=subprocess.PIPE)
assert sink.stdout.readline().startswith(b"ready"), "the SMTP sink did not start"
db = os.path.join(work, "bench.db")
env = dict(os.environ, TRELLIS_DATABASE_URL=f"sqlite://{db}?mode=rwc", TRELLIS_LISTEN=f"127.0.0.1:{http_port}",
           TRELLIS_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", TRELLIS_JOBS="false", TRELLIS_NOTIFY_POLL_MS=str(args.poll_ms),
           TRELLIS_JWT_SECRET="bench-secret-bench-secret-bench-secret", RUST_LOG="warn",
           # A load test of the outbox, not of the rate limits.
           TRELLIS_RATE_LIMIT_PER_MIN="0", TRELLIS_RATE_LIMIT_ANONYMOUS_PER_MIN="0")
server = subprocess.Popen([args.binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
base = f"http://127.0.0.1:{http_port}"
try:
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1); break
        except Exception:
            time.sleep(0.1)
    def outbox():
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            return c.execute("SELECT COUNT(*), SUM(status = 'SENT') FROM notifications").fetchone()
    while True:
        total, sent = outbox()
        pending = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("SELECT COUNT(*) FROM domain_events WHERE handled_at IS NULL").fetchone()[0]
        if total and sent == total and pending == 0: break
        time.sleep(0.2)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        first, last = c.execute("SELECT MIN(sent_at), MAX(sent_at) FROM notifications").fetchone()
    span = ts(last) - ts(first)
    print(f"burst: {total} messages sent in {span:.2f} s = {total / span:.0f} messages/s")

    token = subprocess.run([args.binary, "token", "--email", "head@holly-park.example"], env=env, capture_output=True, text=True).stdout.strip().split()[-1]
    def gql(q, v=None):
        req = urllib.request.Request(base + "/graphql", data=json.dumps({"query": q, "variables": v or {}}).encode(),
            headers={"content-type": "application/json", "authorization": "Bearer " + token})
        return json.load(urllib.request.urlopen(req, timeout=30))
    school = gql("{ viewer { schools { id } } }")["data"]["viewer"]["schools"][0]["id"]
    sessions = [e["node"] for e in gql("{ sessions(first: 100) { edges { node { id placesLeft bookable } } } }")["data"]["sessions"]["edges"]
                if e["node"]["bookable"] and e["node"]["placesLeft"] > 0]
    booked = 0
    for i in range(args.bookings):
        s = sessions[i % len(sessions)]
        r = gql("mutation($i: BookingCreateInput!) { bookingCreate(input: $i) { booking { status } userErrors { message } } }",
                {"i": {"schoolId": school, "sessionId": s["id"], "settlement": "INVOICE", "joinWaitlist": True,
                       "attendees": [{"name": f"Bench {i}", "email": f"bench{i}@holly-park.example"}]}})
        booked += r.get("data", {}).get("bookingCreate", {}).get("booking") is not None
        time.sleep(0.2)
    time.sleep(args.poll_ms / 1000 * 3 + 2)
    as_text = lambda v: str(uuid.UUID(bytes=v)) if isinstance(v, bytes) else str(v)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        events = {as_text(i): ts(at) for i, at, kind in c.execute("SELECT id, occurred_at, kind FROM domain_events")
                  if kind in ("booking.confirmed", "booking.waitlisted") and ts(at) > ts(last)}
        sent_rows = c.execute("SELECT dedupe_key, sent_at FROM notifications WHERE sent_at IS NOT NULL").fetchall()
    delays = sorted(ts(sent) - events[key] for key, sent in sent_rows if key in events)
    if delays:
        pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
        print(f"delay commit -> delivered ({booked} bookings, {len(delays)} messages, poll {args.poll_ms} ms): "
              f"p50 {pick(0.5) * 1000:.0f} ms, p95 {pick(0.95) * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms")
    else:
        print("no booking messages were measured; see", os.path.join(work, "server.log"))
finally:
    server.terminate(); sink.terminate()
