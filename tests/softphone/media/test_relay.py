"""The relay between two (or three) fake phones on loopback UDP.

Each phone is a plain asyncio datagram socket sending G.711 RTP; the relay legs are real
sockets. The receiving phone must see one continuous stream per leg whatever the source.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from softphone.media.dtmf import TelephoneEvent, build_digit_packets
from softphone.media.g711 import Codec, alaw_to_ulaw, encode_frames, ulaw_to_alaw
from softphone.media.player import RtpPlayer
from softphone.media.relay import MediaFormat, MediaRelay, RelayLeg
from softphone.media.rtp import RtpPacket
from softphone.media.tones import tone_pcm

LOOPBACK = "127.0.0.1"
TONE = encode_frames(tone_pcm(1000.0, 1.0), Codec.PCMU)


@pytest.fixture
async def relay(ports) -> AsyncIterator[MediaRelay]:
    relay = MediaRelay(ports, LOOPBACK, check_interval=0.05)
    yield relay
    await relay.stop()


async def _leg_for(relay: MediaRelay, phone, fmt: MediaFormat | None = None,
                   **kwargs) -> RelayLeg:
    leg = await relay.open_leg(fmt, **kwargs)
    leg.set_remote(phone.address)  # what the phone's SDP said
    return leg


async def _talk(phone, leg: RelayLeg, count: int, *, ssrc: int, first_seq: int = 100,
                first_ts: int = 5000, pt: int = 0, frames=TONE, interval: float = 0.005,
                ) -> list[bytes]:
    sent = []
    for n in range(count):
        packet = RtpPacket(payload_type=pt, sequence_number=(first_seq + n) & 0xFFFF,
                           timestamp=(first_ts + 160 * n) & 0xFFFFFFFF, ssrc=ssrc,
                           payload=frames[n % len(frames)], marker=n == 0).serialize()
        phone.send(packet, (LOOPBACK, leg.local_port))
        sent.append(packet)
        await asyncio.sleep(interval)
    return sent


def _assert_continuous(packets: list[RtpPacket], ssrc: int) -> None:
    assert {p.ssrc for p in packets} == {ssrc}
    for before, after in itertools.pairwise(packets):
        assert after.sequence_number == (before.sequence_number + 1) & 0xFFFF
        # Never backwards; telephone-events repeat their start timestamp (RFC 4733 §2.5.1.3).
        assert (after.timestamp - before.timestamp) & 0xFFFFFFFF < 0x80000000


async def test_bridged_phones_hear_each_other_with_each_legs_own_stream(
        relay, phone_factory) -> None:
    alice, bob = await phone_factory(), await phone_factory()
    a, b = await _leg_for(relay, alice), await _leg_for(relay, bob)
    relay.bridge(a, b)
    sent = await _talk(alice, a, 30, ssrc=0xA11CE, first_seq=65520)  # wraps around 65535
    await _talk(bob, b, 10, ssrc=0xB0B)
    got_bob = await bob.wait_for(30)
    got_alice = await alice.wait_for(10)
    _assert_continuous(got_bob, b.ssrc)
    _assert_continuous(got_alice, a.ssrc)
    assert a.ssrc != b.ssrc
    # Timestamps keep the source's spacing; payloads are untouched; marker on the first only.
    assert [p.timestamp - got_bob[0].timestamp for p in got_bob] == [160 * n for n in range(30)]
    assert [p.payload for p in got_bob] == [RtpPacket.parse(s).payload for s in sent]
    assert [p.marker for p in got_bob] == [True] + [False] * 29
    # Symmetric RTP: the relay sends from the leg's own port.
    assert set(bob.sources) == {(LOOPBACK, b.local_port)}
    assert a.packets_received == 30 and b.packets_received == 10


async def test_a_stranger_sending_to_a_leg_gets_neither_in_nor_out(relay, phone_factory) -> None:
    alice, bob, mallory = await phone_factory(), await phone_factory(), await phone_factory()
    a, b = await _leg_for(relay, alice), await _leg_for(relay, bob)
    relay.bridge(a, b)
    await _talk(alice, a, 5, ssrc=1)
    await _talk(bob, b, 1, ssrc=2)
    await _talk(mallory, a, 10, ssrc=666)  # after the latch: foreign
    await _talk(mallory, b, 10, ssrc=667)
    await _talk(alice, a, 5, ssrc=1, first_seq=105, first_ts=5000 + 800)
    await bob.wait_for(10)
    await alice.wait_for(1)
    await bob.quiet(0.05)
    assert len(bob.received) == 10 and len(alice.received) == 1
    _assert_continuous(bob.received, b.ssrc)
    assert a.foreign_dropped == 10 and b.foreign_dropped == 10
    assert mallory.received == []
    assert (a.peer, b.peer) == (alice.address, bob.address)


async def test_switching_sources_keeps_the_outgoing_stream_continuous(relay, phone_factory,
                                                                      ) -> None:
    """caller -> hold music -> transfer target: seq +1, timestamps follow real time, marker."""
    bob, alice, carol = await phone_factory(), await phone_factory(), await phone_factory()
    b, a, c = (await _leg_for(relay, bob), await _leg_for(relay, alice),
               await _leg_for(relay, carol))
    relay.bridge(a, b)
    await _talk(alice, a, 10, ssrc=0xA, interval=0.02)
    await bob.wait_for(10)

    music = RtpPlayer([b"\x55" * 160] * 3, loop_playback=True)
    music.start()
    relay.set_source(b, music)  # alice put bob on hold
    relay.set_source(a, None)
    await asyncio.sleep(0.2)
    on_hold = len(bob.received)
    assert on_hold >= 15

    relay.bridge(b, c)  # alice transferred bob to carol
    await _talk(carol, c, 10, ssrc=0xC, first_seq=30000, first_ts=999_999, interval=0.02)
    await bob.wait_for(on_hold + 10)
    await music.stop()

    got = bob.received
    _assert_continuous(got, b.ssrc)
    sources = ["alice"] * 10 + ["music"] * (on_hold - 10) + ["carol"] * 10
    payload_of = {"music": b"\x55" * 160}
    for packet, source in zip(got, sources, strict=True):
        if source in payload_of:
            assert packet.payload == payload_of[source]
    switches = [10, on_hold]
    assert [i for i, p in enumerate(got) if p.marker] == [0, *switches]
    for index in switches:
        # The timestamp jump matches the time between the packets, within a frame or two.
        real_gap = bob.arrivals[index] - bob.arrivals[index - 1]
        ts_gap = (got[index].timestamp - got[index - 1].timestamp) & 0xFFFFFFFF
        assert abs(ts_gap / 8000 - real_gap) < 0.045
    assert music.sinks == ()


async def test_dtmf_is_relayed_with_payload_type_mapping_and_reported(relay,
                                                                      phone_factory) -> None:
    alice, bob = await phone_factory(), await phone_factory()
    digits: list[str] = []
    a = await _leg_for(relay, alice, MediaFormat(Codec.PCMU, 0, 101),
                       on_dtmf=lambda leg, d: digits.append(d))
    b = await _leg_for(relay, bob, MediaFormat(Codec.PCMU, 0, 96))
    relay.bridge(a, b)
    await _talk(alice, a, 3, ssrc=7)
    for packet in build_digit_packets("5", payload_type=101, ssrc=7, first_sequence=103,
                                      timestamp=5000 + 480):
        alice.send(packet, (LOOPBACK, a.local_port))
        await asyncio.sleep(0.005)
    got = await bob.wait_for(3 + 7)
    events = got[3:]
    assert {p.payload_type for p in events} == {96}
    assert [p.marker for p in events] == [True] + [False] * 6
    assert len({p.timestamp for p in events}) == 1
    assert events[0].timestamp == got[2].timestamp + 160
    assert [TelephoneEvent.parse(p.payload).duration for p in events][-3:] == [800] * 3
    _assert_continuous(got, b.ssrc)
    assert digits == ["5"]


async def test_events_are_dropped_towards_a_leg_without_telephone_event(relay,
                                                                        phone_factory) -> None:
    alice, bob = await phone_factory(), await phone_factory()
    a = await _leg_for(relay, alice)
    b = await _leg_for(relay, bob, MediaFormat(Codec.PCMU, 0, None))
    relay.bridge(a, b)
    await _talk(alice, a, 2, ssrc=7)
    for packet in build_digit_packets("1", payload_type=101, ssrc=7, first_sequence=102,
                                      timestamp=5320):
        alice.send(packet, (LOOPBACK, a.local_port))
    await _talk(alice, a, 2, ssrc=7, first_seq=109, first_ts=5320 + 160 * 7)
    got = await bob.wait_for(4)
    await bob.quiet(0.05)
    assert [p.payload_type for p in got] == [0] * 4
    _assert_continuous(got, b.ssrc)


async def test_pcmu_to_pcma_legs_are_transcoded_by_table(relay, phone_factory) -> None:
    alice, bob = await phone_factory(), await phone_factory()
    a = await _leg_for(relay, alice, MediaFormat.for_codec(Codec.PCMU))
    b = await _leg_for(relay, bob, MediaFormat.for_codec(Codec.PCMA))
    relay.bridge(a, b)
    sent = await _talk(alice, a, 5, ssrc=1)
    alaw = [bytes([n]) * 160 for n in range(3)]
    await _talk(bob, b, 3, ssrc=2, pt=8, frames=alaw)
    got_bob = await bob.wait_for(5)
    got_alice = await alice.wait_for(3)
    assert {p.payload_type for p in got_bob} == {8}
    assert [p.payload for p in got_bob] == [RtpPacket.parse(s).payload.translate(ulaw_to_alaw)
                                           for s in sent]
    assert {p.payload_type for p in got_alice} == {0}
    assert [p.payload for p in got_alice] == [f.translate(alaw_to_ulaw) for f in alaw]


async def test_renegotiated_payload_type_is_applied_to_both_directions(relay,
                                                                       phone_factory) -> None:
    alice, bob = await phone_factory(), await phone_factory()
    a, b = await _leg_for(relay, alice), await _leg_for(relay, bob)
    relay.bridge(a, b)
    relay.set_format(a, MediaFormat(Codec.PCMU, 112, 101))  # re-INVITE: PCMU as dynamic 112
    await _talk(alice, a, 3, ssrc=1, pt=112)
    await _talk(bob, b, 3, ssrc=2)
    assert {p.payload_type for p in await bob.wait_for(3)} == {0}
    assert {p.payload_type for p in await alice.wait_for(3)} == {112}


async def test_shared_music_on_hold_feeds_several_legs(relay, phone_factory) -> None:
    await relay.start()
    phones = [await phone_factory() for _ in range(3)]
    legs = [await _leg_for(relay, p) for p in phones]
    for leg in legs:
        relay.set_source(leg, relay.music_on_hold)
    for phone, leg in zip(phones, legs, strict=True):
        _assert_continuous(await phone.wait_for(5), leg.ssrc)
    relay.close_leg(legs[0])
    assert len(relay.music_on_hold.sinks) == 2


async def test_inactivity_callback_names_the_dead_leg(relay, phone_factory) -> None:
    await relay.start()
    alice, bob = await phone_factory(), await phone_factory()
    a, b = await _leg_for(relay, alice), await _leg_for(relay, bob)
    relay.bridge(a, b)
    dead: list[RelayLeg] = []
    relay.watch_inactivity(a, dead.append, timeout=0.3)
    relay.watch_inactivity(b, dead.append, timeout=5.0)
    await _talk(alice, a, 5, ssrc=1, interval=0.02)
    async with asyncio.timeout(1.5):
        while not dead:
            await asyncio.sleep(0.02)
    assert dead == [a]


async def test_closing_a_leg_silences_its_listeners_and_frees_its_ports(relay,
                                                                        phone_factory) -> None:
    alice, bob = await phone_factory(), await phone_factory()
    a, b = await _leg_for(relay, alice), await _leg_for(relay, bob)
    relay.bridge(a, b)
    available = relay.ports.available
    relay.close_leg(a)
    assert b.source is None and a.closed and relay.ports.available == available + 1
    assert a not in relay.legs
    with pytest.raises(ValueError):
        relay.set_source(b, b)
