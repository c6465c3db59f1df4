"""REGISTER with digest through the engine in-process, on one core: registrations/s.

The same exchange as ``bench_register.py`` (SIPp's exact message shapes: REGISTER → 401 →
REGISTER with MD5 credentials → 200), fed straight into ``Engine._on_data`` with the
transport's ``send`` replaced by a list. What is timed is the engine's own work per datagram
(parse, §8.2 validation, Via stamp, challenge or transaction + digest + registrar, response
built and serialized); the client's side (message text, the digest answer) is not. No socket,
so other processes on the machine disturb it far less than the SIPp benchmark.

    .venv/bin/python bench/bench_register_engine.py [--registrations 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softphone.pbx.bans import BanPolicy
from softphone.pbx.config import EngineConfig
from softphone.pbx.engine import Engine
from softphone.pbx.storage import MemoryStore, SipCredentials
from softphone.sip.digest import answer_challenge, ha1_md5, ha1_sha256
from softphone.sip.headers import parse_auth
from softphone.sip.transport import Peer, TransportKind

REALM = "pbxweb"
FIRST = 10000
CONFIG = EngineConfig(host="127.0.0.1", udp_port=0, tcp_port=None, tls_port=None,
                      realm=REALM, nonce_secret=b"bench-secret-0123456789abcdef",
                      digest_algorithms=("MD5",), bans=BanPolicy(max_failures=10**6))

# What SIPp 3.6 sends for bench/scenarios/register_digest.xml (captured with -trace_msg).
FIRST_REGISTER = (
    "REGISTER sip:127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{pid}-{call}-0;rport\r\n"
    "From: <sip:{ext}@127.0.0.1>;tag={pid}SIPpTag{call}\r\n"
    "To: <sip:{ext}@127.0.0.1>\r\n"
    "Call-ID: {call}-{pid}@127.0.0.1\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Contact: <sip:{ext}@127.0.0.1:{port};transport=UDP>\r\n"
    "Max-Forwards: 70\r\n"
    "Expires: 600\r\n"
    "User-Agent: SIPp register\r\n"
    "Content-Length: 0\r\n\r\n")
SECOND_REGISTER = (
    "REGISTER sip:127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{pid}-{call}-2;rport\r\n"
    "From: <sip:{ext}@127.0.0.1>;tag={pid}SIPpTag{call}\r\n"
    "To: <sip:{ext}@127.0.0.1>\r\n"
    "Call-ID: {call}-{pid}@127.0.0.1\r\n"
    "CSeq: 2 REGISTER\r\n"
    "Contact: <sip:{ext}@127.0.0.1:{port};transport=UDP>\r\n"
    "Authorization: Digest username=\"{ext}\",realm=\"{realm}\",cnonce=\"6b8b4567\","
    "nc=00000001,qop=auth,uri=\"sip:127.0.0.1:5060\",nonce=\"{nonce}\","
    "response=\"{response}\",algorithm=MD5\r\n"
    "Max-Forwards: 70\r\n"
    "Expires: 600\r\n"
    "User-Agent: SIPp register\r\n"
    "Content-Length: 0\r\n\r\n")
_NONCE = re.compile(rb"WWW-Authenticate: (Digest [^\r\n]*)")


def second_register(challenge: bytes, ext: int, call: int, pid: int, port: int) -> bytes:
    found = _NONCE.search(challenge)
    assert found is not None, challenge
    params = parse_auth(found[1].decode()).as_dict()
    answer = parse_auth(answer_challenge(params, method="REGISTER", uri="sip:127.0.0.1:5060",
                                         username=str(ext), password=f"sip-{ext}",
                                         cnonce="6b8b4567")).as_dict()
    return SECOND_REGISTER.format(ext=ext, call=call, pid=pid, port=port, realm=REALM,
                                  nonce=params["nonce"], response=answer["response"]).encode()


async def run(registrations: int, extensions: int, rounds: int, collector: bool) -> None:
    store = MemoryStore([SipCredentials(str(n), REALM, ha1_md5(str(n), REALM, f"sip-{n}"),
                                        ha1_sha256(str(n), REALM, f"sip-{n}"))
                         for n in range(FIRST, FIRST + extensions)])
    engine = Engine(CONFIG, store)
    await engine.start()
    sent: list[bytes] = []

    def send(data: bytes, peer: Peer) -> bool:
        sent.append(data)
        return True

    engine.transports.send = send  # type: ignore[method-assign]
    # As in runengine: what start() loaded stays out of the cyclic collector's sight.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    if not collector:
        gc.disable()
    # Two SIPp processes, each with its own port; each extension belongs to one of them.
    peers = [Peer(TransportKind.UDP, "127.0.0.1", port) for port in (40001, 40002)]
    call = 0
    try:
        for round_number in range(rounds):
            challenged = registered = 0
            engine_time = 0.0
            clock = time.perf_counter
            for i in range(registrations):
                call += 1
                ext = FIRST + i % extensions
                peer = peers[i % 2]
                first = FIRST_REGISTER.format(ext=ext, call=call, pid=peer.port,
                                              port=peer.port).encode()
                start = clock()
                engine._on_data(first, peer)
                engine_time += clock() - start
                challenge = sent.pop()
                challenged += challenge.startswith(b"SIP/2.0 401 ")
                second = second_register(challenge, ext, call, peer.port, peer.port)
                start = clock()
                engine._on_data(second, peer)
                engine_time += clock() - start
                registered += sent.pop().startswith(b"SIP/2.0 200 ")
                if i % 200 == 199:
                    await asyncio.sleep(0)  # the write-behind and the timers get their turn
            assert challenged == registered == registrations, (challenged, registered)
            tracked = len(gc.get_objects())
            print(f"round {round_number + 1}: {registrations} registrations, "
                  f"{registrations / engine_time:,.0f}/s of engine time "
                  f"({engine_time / registrations * 1e6:.0f} µs each: 2 requests, "
                  f"2 responses); {len(engine.layer)} live transactions, "
                  f"{tracked / len(engine.layer):.1f} objects tracked by the collector "
                  "per transaction")
    finally:
        await engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=20_000)
    parser.add_argument("--extensions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-gc", action="store_true",
                        help="switch the cyclic collector off: the code's own cost alone")
    args = parser.parse_args()
    work = run(args.registrations, args.extensions, args.rounds, not args.no_gc)
    try:
        import uvloop
    except ImportError:
        asyncio.run(work)
    else:
        uvloop.run(work)


if __name__ == "__main__":
    main()
