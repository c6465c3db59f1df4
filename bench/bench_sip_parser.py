"""SIP parser throughput on one core: messages/s for a typical REGISTER and INVITE (with SDP).

Three figures per message kind:
- ``parse``: ``parse_message`` alone (syntax, framing, Request-URI; headers stay text);
- ``parse+validate``: what the engine does with every request it receives — parse, then
  ``validate_request``, which parses Via, CSeq, From, To, Call-ID, Contact...;
- ``+response``: the above plus building and serializing the §8.2.6 response.

Each is measured on distinct messages (every one has its own URIs, tags, Call-ID and branch,
so no cache helps) and on one message repeated (the URI cache hits, as for retransmissions
and a busy phone's requests).

    .venv/bin/python bench/bench_sip_parser.py [--count 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softphone.sip.message import SipRequest
from softphone.sip.parser import parse_message, validate_request

REGISTER = (
    "REGISTER sip:pbx.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.{n3}:5060;branch=z9hG4bK{n}a7c;rport\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Extension {n}" <sip:{n}@pbx.example.com>;tag=f{n}x81\r\n'
    "To: <sip:{n}@pbx.example.com>\r\n"
    "Call-ID: {n}-4bd2e1@192.0.2.{n3}\r\n"
    "CSeq: 42 REGISTER\r\n"
    "Contact: <sip:{n}@192.0.2.{n3}:5060;transport=udp>;+sip.instance=\"<urn:uuid:{n}>\"\r\n"
    "Expires: 3600\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
    "Supported: replaces, path, outbound\r\n"
    "User-Agent: Yealink SIP-T46U 108.86.0.20\r\n"
    "Authorization: Digest username=\"{n}\", realm=\"pbx.example.com\", "
    "nonce=\"AAABk2cX0e2QbSx9\", uri=\"sip:pbx.example.com\", response=\"5f2a1e3d\", "
    "algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n"
    "Content-Length: 0\r\n\r\n"
)

SDP = (
    "v=0\r\no=- 20518 0 IN IP4 192.0.2.{n3}\r\ns=SDP data\r\nc=IN IP4 192.0.2.{n3}\r\n"
    "t=0 0\r\nm=audio 11796 RTP/AVP 0 8 18 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
)

INVITE = (
    "INVITE sip:{m}@pbx.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.{n3}:5060;branch=z9hG4bK{n}e9f;rport\r\n"
    "Max-Forwards: 70\r\n"
    'From: "Extension {n}" <sip:{n}@pbx.example.com>;tag=f{n}q2\r\n'
    "To: <sip:{m}@pbx.example.com>\r\n"
    "Call-ID: {n}-9c1e0a@192.0.2.{n3}\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:{n}@192.0.2.{n3}:5060>\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, INFO\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: Yealink SIP-T46U 108.86.0.20\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: {length}\r\n\r\n{sdp}"
)


def register(n: int) -> bytes:
    return REGISTER.format(n=n, n3=n % 250 + 1).encode()


def invite(n: int) -> bytes:
    sdp = SDP.format(n3=n % 250 + 1)
    return INVITE.format(n=n, m=n + 1, n3=n % 250 + 1, sdp=sdp,
                         length=len(sdp.encode())).encode()


def parse_only(data: bytes) -> None:
    parse_message(data)


def parse_and_validate(data: bytes) -> None:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    validate_request(message)


def with_response(data: bytes) -> None:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    validate_request(message)
    bytes(message.make_response(200, to_tag="srv"))


def rate(work: Callable[[bytes], None], messages: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for data in messages:
            work(data)
        best = min(best, time.perf_counter() - start)
    return len(messages) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    base = 10_000_000  # distinct numbers, beyond the URI cache's size
    print(f"{'message':<10}{'set':<11}{'parse':>12}{'parse+validate':>17}{'+response':>12}"
          "   (messages/s, one core)")
    for name, make in (("REGISTER", register), ("INVITE", invite)):
        distinct = [make(base + i) for i in range(args.count)]
        repeated = [make(base)] * args.count
        for label, messages in (("distinct", distinct), ("repeated", repeated)):
            figures = [rate(work, messages, args.rounds)
                       for work in (parse_only, parse_and_validate, with_response)]
            print(f"{name:<10}{label:<11}" + "".join(
                f"{figure:>{width},.0f}" for figure, width in zip(figures, (12, 17, 12),
                                                                   strict=True)))
        print(f"{'':<10}{'size':<11}{len(distinct[0]):>12} octets")


if __name__ == "__main__":
    main()
