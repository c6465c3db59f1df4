from __future__ import annotations

import pytest

from softphone.sip.sdp import (
    PCMA,
    PCMU,
    TELEPHONE_EVENT,
    Direction,
    SdpError,
    SessionDescription,
    answer_direction,
    build_answer,
    build_offer,
)

OFFER = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.10\r\n"
    b"t=0 0\r\n"
    b"a=tool:phone\r\n"
    b"m=audio 49170 RTP/AVP 18 8 0 101\r\n"
    b"a=rtpmap:18 G729/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
    b"a=ptime:20\r\n"
    b"m=video 51372 RTP/AVP 31\r\n"
    b"a=rtpmap:31 H261/90000\r\n"
)


def answer_to(offer: bytes, **kwargs: object) -> SessionDescription:
    return build_answer(SessionDescription.parse(offer), "192.0.2.99", 40000,
                        session_id="7", session_version=1, **kwargs)  # type: ignore[arg-type]


def test_parse_reads_sessions_media_and_attributes() -> None:
    sdp = SessionDescription.parse(OFFER)
    assert sdp.origin.username == "alice" and sdp.origin.session_version == 2890844526
    assert sdp.connection is not None and sdp.connection.address == "192.0.2.10"
    audio, video = sdp.media
    assert (audio.media, audio.port, audio.protocol) == ("audio", 49170, "RTP/AVP")
    assert audio.formats == ("18", "8", "0", "101")
    maps = audio.rtpmaps
    assert maps[0].encoding == "PCMU"  # static payload type, no rtpmap needed (RFC 3551)
    assert maps[101].encoding == "telephone-event" and audio.fmtp(101) == "0-15"
    assert audio.ptime == 20 and audio.direction is None
    assert sdp.media_direction(0) is Direction.SENDRECV
    assert video.rtpmaps[31].clock_rate == 90000
    assert sdp.attributes == (("tool", "phone"),)


def test_serialization_round_trips() -> None:
    sdp = SessionDescription.parse(OFFER)
    assert bytes(sdp) == OFFER
    assert SessionDescription.parse(OFFER.replace(b"\r\n", b"\n")) == sdp


@pytest.mark.parametrize("body", [
    b"", b"v=1\r\n", b"v=0\r\no=x\r\ns=-\r\n", b"v=0\r\ns=-\r\n",
    OFFER.replace(b"m=audio 49170", b"m=audio 65536"),
    OFFER.replace(b"m=audio 49170", b"m=audio -1"),
    OFFER.replace(b"RTP/AVP 18 8", b"RTP/AVP 18 800"),
    OFFER.replace(b"a=tool:phone", b"garbage"),
    OFFER.replace(b"c=IN IP4 192.0.2.10", b"c=IN IP6 not-an-address"),
    OFFER + b"c=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.5\r\n",
    OFFER + b"m=audio 1 RTP/AVP 0\r\n" * 20,
    b"v=0\r\n" + b"a=x\r\n" * 5000,
    b"\xff\xfe",
])
def test_bad_sdp_is_400(body: bytes) -> None:
    with pytest.raises(SdpError) as info:
        SessionDescription.parse(body)
    assert info.value.status_hint == 400


def test_answer_picks_the_offerers_first_common_codec_and_keeps_its_numbers() -> None:
    answer = answer_to(OFFER)
    audio, video = answer.media
    assert audio.port == 40000 and audio.formats == ("8", "101")  # PCMA came before PCMU
    assert audio.rtpmaps[8].encoding == "PCMA"
    assert audio.fmtp(101) == "0-15" and audio.ptime == 20
    assert audio.direction is Direction.SENDRECV
    assert (video.media, video.port, video.formats) == ("video", 0, ("31",))  # rejected
    assert answer.connection is not None and answer.connection.address == "192.0.2.99"
    assert SessionDescription.parse(bytes(answer)) == answer


def test_answer_respects_our_codec_list() -> None:
    audio = answer_to(OFFER, codecs=(PCMU,)).media[0]
    assert audio.formats == ("0",)


def test_no_common_codec_is_488() -> None:
    offer = OFFER.replace(b"RTP/AVP 18 8 0 101", b"RTP/AVP 18 101")
    with pytest.raises(SdpError) as info:
        answer_to(offer)
    assert info.value.status_hint == 488
    with pytest.raises(SdpError):
        answer_to(OFFER.replace(b"m=audio 49170", b"m=audio 0"))  # audio already rejected


def test_second_audio_stream_is_rejected() -> None:
    offer = OFFER + b"m=audio 49180 RTP/AVP 0\r\n"
    answer = answer_to(offer)
    assert [m.port for m in answer.media] == [40000, 0, 0]


@pytest.mark.parametrize(("offered", "wanted", "answer"), [
    (Direction.SENDRECV, Direction.SENDRECV, Direction.SENDRECV),
    (Direction.SENDONLY, Direction.SENDRECV, Direction.RECVONLY),  # they hold us
    (Direction.RECVONLY, Direction.SENDRECV, Direction.SENDONLY),
    (Direction.INACTIVE, Direction.SENDRECV, Direction.INACTIVE),
    (Direction.SENDRECV, Direction.SENDONLY, Direction.SENDONLY),  # we hold them
    (Direction.SENDONLY, Direction.SENDONLY, Direction.INACTIVE),  # both hold
])
def test_direction_rules(offered: Direction, wanted: Direction, answer: Direction) -> None:
    assert answer_direction(offered, wanted) is answer


def test_hold_offers_are_answered_with_the_reverse_direction() -> None:
    sendonly = OFFER.replace(b"a=ptime:20", b"a=ptime:20\r\na=sendonly")
    assert answer_to(sendonly).media[0].direction is Direction.RECVONLY
    session_level = OFFER.replace(b"a=tool:phone", b"a=inactive")
    assert answer_to(session_level).media[0].direction is Direction.INACTIVE
    # RFC 3264 §8.4: RFC 2543 hold with c=0.0.0.0 — the offerer does not want our media.
    legacy = OFFER.replace(b"c=IN IP4 192.0.2.10", b"c=IN IP4 0.0.0.0")
    assert SessionDescription.parse(legacy).media_direction(0) is Direction.SENDONLY
    assert answer_to(legacy).media[0].direction is Direction.RECVONLY


def test_our_offer() -> None:
    offer = build_offer("2001:db8::5", 40002, session_id="9", session_version=2,
                        codecs=(PCMU, PCMA, TELEPHONE_EVENT), direction=Direction.SENDONLY)
    text = bytes(offer)
    assert b"c=IN IP6 2001:db8::5\r\n" in text and b"[" not in text  # RFC 5118 §4.6
    assert b"m=audio 40002 RTP/AVP 0 8 101\r\n" in text
    assert b"a=fmtp:101 0-16\r\n" in text and b"a=sendonly\r\n" in text
    assert SessionDescription.parse(text) == offer
    # An answerer that is us accepts our own offer.
    assert answer_to(text).media[0].formats == ("0", "101")
