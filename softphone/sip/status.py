"""SIP status codes and their reason phrases (RFC 3261 §21 and the extensions we meet).

A response always carries a number; the phrase is only for humans (§7.2: "the Reason-Phrase
is intended to give a short textual description ... a client is not required to examine or
display it"), so an unknown code is fine on the wire and ``reason_phrase`` falls back to the
class phrase.
"""

from __future__ import annotations

import enum

__all__ = ["SipStatus", "reason_phrase"]


class SipStatus(enum.IntEnum):
    """A status code with its standard phrase: ``SipStatus.NOT_FOUND.phrase == "Not Found"``."""

    phrase: str

    def __new__(cls, value: int, phrase: str) -> SipStatus:
        member = int.__new__(cls, value)
        member._value_ = value
        member.phrase = phrase
        return member

    # 1xx — §21.1
    TRYING = 100, "Trying"
    RINGING = 180, "Ringing"
    CALL_IS_BEING_FORWARDED = 181, "Call Is Being Forwarded"
    QUEUED = 182, "Queued"
    SESSION_PROGRESS = 183, "Session Progress"
    EARLY_DIALOG_TERMINATED = 199, "Early Dialog Terminated"  # RFC 6228
    # 2xx — §21.2
    OK = 200, "OK"
    ACCEPTED = 202, "Accepted"  # RFC 3265 (deprecated by RFC 6665, still sent)
    NO_NOTIFICATION = 204, "No Notification"  # RFC 5839
    # 3xx — §21.3
    MULTIPLE_CHOICES = 300, "Multiple Choices"
    MOVED_PERMANENTLY = 301, "Moved Permanently"
    MOVED_TEMPORARILY = 302, "Moved Temporarily"
    USE_PROXY = 305, "Use Proxy"
    ALTERNATIVE_SERVICE = 380, "Alternative Service"
    # 4xx — §21.4
    BAD_REQUEST = 400, "Bad Request"
    UNAUTHORIZED = 401, "Unauthorized"
    PAYMENT_REQUIRED = 402, "Payment Required"
    FORBIDDEN = 403, "Forbidden"
    NOT_FOUND = 404, "Not Found"
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed"
    NOT_ACCEPTABLE = 406, "Not Acceptable"
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required"
    REQUEST_TIMEOUT = 408, "Request Timeout"
    GONE = 410, "Gone"
    CONDITIONAL_REQUEST_FAILED = 412, "Conditional Request Failed"  # RFC 3903
    REQUEST_ENTITY_TOO_LARGE = 413, "Request Entity Too Large"
    REQUEST_URI_TOO_LONG = 414, "Request-URI Too Long"
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type"
    UNSUPPORTED_URI_SCHEME = 416, "Unsupported URI Scheme"
    BAD_EXTENSION = 420, "Bad Extension"
    EXTENSION_REQUIRED = 421, "Extension Required"
    SESSION_INTERVAL_TOO_SMALL = 422, "Session Interval Too Small"  # RFC 4028
    INTERVAL_TOO_BRIEF = 423, "Interval Too Brief"
    TEMPORARILY_UNAVAILABLE = 480, "Temporarily Unavailable"
    CALL_TRANSACTION_DOES_NOT_EXIST = 481, "Call/Transaction Does Not Exist"
    LOOP_DETECTED = 482, "Loop Detected"
    TOO_MANY_HOPS = 483, "Too Many Hops"
    ADDRESS_INCOMPLETE = 484, "Address Incomplete"
    AMBIGUOUS = 485, "Ambiguous"
    BUSY_HERE = 486, "Busy Here"
    REQUEST_TERMINATED = 487, "Request Terminated"
    NOT_ACCEPTABLE_HERE = 488, "Not Acceptable Here"
    BAD_EVENT = 489, "Bad Event"  # RFC 6665
    REQUEST_PENDING = 491, "Request Pending"
    UNDECIPHERABLE = 493, "Undecipherable"
    # 5xx — §21.5
    SERVER_INTERNAL_ERROR = 500, "Server Internal Error"
    NOT_IMPLEMENTED = 501, "Not Implemented"
    BAD_GATEWAY = 502, "Bad Gateway"
    SERVICE_UNAVAILABLE = 503, "Service Unavailable"
    SERVER_TIMEOUT = 504, "Server Time-out"
    VERSION_NOT_SUPPORTED = 505, "Version Not Supported"
    MESSAGE_TOO_LARGE = 513, "Message Too Large"
    PRECONDITION_FAILURE = 580, "Precondition Failure"  # RFC 3312
    # 6xx — §21.6
    BUSY_EVERYWHERE = 600, "Busy Everywhere"
    DECLINE = 603, "Decline"
    DOES_NOT_EXIST_ANYWHERE = 604, "Does Not Exist Anywhere"
    NOT_ACCEPTABLE_ANYWHERE = 606, "Not Acceptable"

    @property
    def is_provisional(self) -> bool:
        return self < 200

    @property
    def is_final(self) -> bool:
        return self >= 200


# §8.1.3.2: an unknown code is treated as the x00 of its class; the phrase follows that rule.
_CLASS_PHRASES = {1: "Trying", 2: "OK", 3: "Multiple Choices", 4: "Bad Request",
                  5: "Server Internal Error", 6: "Busy Everywhere"}
_BY_CODE: dict[int, SipStatus] = {int(s): s for s in SipStatus}


def reason_phrase(code: int) -> str:
    """The standard phrase for ``code``; for an unknown code, the phrase of its class."""
    status = _BY_CODE.get(code)
    if status is not None:
        return status.phrase
    return _CLASS_PHRASES.get(code // 100, "Unknown")
