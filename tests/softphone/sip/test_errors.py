from __future__ import annotations

import pytest

from softphone.sip.errors import (
    FramingError,
    LocalProtocolError,
    RemoteProtocolError,
    SipProtocolError,
)


def test_status_hint_defaults_to_400_and_is_kept() -> None:
    assert SipProtocolError("x").status_hint == 400
    error = RemoteProtocolError("too big", status_hint=513)
    assert error.status_hint == 513
    assert str(error) == "too big"
    assert "513" in repr(error)


def test_hierarchy_separates_our_bugs_from_the_peers() -> None:
    assert issubclass(LocalProtocolError, SipProtocolError)
    assert issubclass(RemoteProtocolError, SipProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)
    assert not issubclass(RemoteProtocolError, ValueError)


def test_framing_error_is_remote_and_says_whether_to_answer() -> None:
    error = FramingError("garbage", can_answer=False)
    assert isinstance(error, RemoteProtocolError)
    assert error.status_hint == 400 and error.can_answer is False
    with pytest.raises(RemoteProtocolError):
        raise FramingError("header block too large", 513)
