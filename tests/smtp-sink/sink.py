"""A real SMTP server on loopback for Trellis's tests (aiosmtpd).

Every message it accepts is written to --dir as NNNNNN.eml, exactly as received, after an
`X-Envelope-To:` line per envelope recipient; each file appears whole (written aside, then
renamed), so a reader never sees half a message. Recipients whose local part starts with
`reject` are refused with 550 (a permanent failure: Trellis must dead-letter them).

Prints `ready <port>` on stdout once it accepts connections; stops on SIGTERM.
"""

import argparse
import asyncio
import itertools
import os
import signal

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        existing = [int(n[:-4]) for n in os.listdir(directory) if n.endswith(".eml")]
        self.counter = itertools.count(max(existing, default=0) + 1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@", 1)[0].lower().startswith("reject"):
            return "550 5.1.1 <%s>: no such mailbox here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        number = next(self.counter)
        head = "".join("X-Envelope-To: %s\r\n" % r for r in envelope.rcpt_tos).encode()
        body = envelope.original_content or envelope.content
        if isinstance(body, str):
            body = body.encode()
        final = os.path.join(self.directory, "%06d.eml" % number)
        aside = final + ".part"
        with open(aside, "wb") as f:
            f.write(head + body)
        os.replace(aside, final)
        return "250 2.0.0 accepted as %06d" % number


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    controller = Controller(Sink(args.dir), hostname="127.0.0.1", port=args.port)
    controller.start()
    print("ready %d" % args.port, flush=True)
    loop = asyncio.new_event_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    loop.run_until_complete(stop)
    controller.stop()


if __name__ == "__main__":
    main()
