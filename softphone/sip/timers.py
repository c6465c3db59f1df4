"""RFC 3261 §17 transaction timers, named after the RFC (Table 4 of RFC 3261, §A).

Every duration the transaction and dialog layers use comes from here, so that a reader can hold
the code against the RFC's table and an operator can change T1 in one place (§17.1.1.1 allows a
larger T1 on high-latency networks; all the 64*T1 timers scale with it).

Timers A, E and G (request/response retransmission) are not used at all on a reliable
transport: the transport retransmits for us. Timers D, I, J and K wait to absorb retransmissions
that cannot happen on a reliable transport, so they are zero there (§17.1.1.2, §17.1.2.2,
§17.2.1, §17.2.2). ``TimerConfig`` answers both questions with the transport's reliability.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# §17.1.1.1 / Table 4: RTT estimate; the start of every retransmission interval.
T1 = 0.5
# Table 4: the longest interval between retransmissions of non-INVITE requests and of
# INVITE responses.
T2 = 4.0
# Table 4: the longest time a message can stay in the network.
T4 = 5.0

# Timers B, F, H, J (and RFC 6026's L and M) are all this many T1 ("64*T1", Table 4).
TRANSACTION_TIMEOUT_T1_MULTIPLE = 64
# §17.1.1.2: Timer D is "at least 32 seconds for unreliable transports".
TIMER_D_UNRELIABLE = 32.0
# §16.6 step 11 (proxies only): Timer C "MUST be set to a value larger than 3 minutes".
TIMER_C = 180.0
# §17.2.1: the server sends 100 Trying itself unless the TU answers within 200 ms.
TRYING_DELAY = 0.2


class Timer(enum.StrEnum):
    """The RFC 3261 §17 timers (plus RFC 6026's L and M) by their letter."""

    A = "A"  # INVITE request retransmit interval, UDP only (§17.1.1.2)
    B = "B"  # INVITE client transaction timeout (§17.1.1.2)
    D = "D"  # wait time for response retransmits in INVITE client Completed (§17.1.1.2)
    E = "E"  # non-INVITE request retransmit interval, UDP only (§17.1.2.2)
    F = "F"  # non-INVITE client transaction timeout (§17.1.2.2)
    G = "G"  # INVITE final response retransmit interval, UDP only (§17.2.1)
    H = "H"  # wait time for ACK receipt in INVITE server Completed (§17.2.1)
    I = "I"  # noqa: E741 - the RFC's name. Wait time for ACK retransmits (§17.2.1)
    J = "J"  # wait time for non-INVITE request retransmits (§17.2.2)
    K = "K"  # wait time for response retransmits in non-INVITE client Completed (§17.1.2.2)
    L = "L"  # RFC 6026 §8.7: INVITE server Accepted -> Terminated
    M = "M"  # RFC 6026 §8.4: INVITE client Accepted -> Terminated


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """T1/T2/T4 for one engine, and the Timer A-M durations derived from them (Table 4)."""

    t1: float = T1
    t2: float = T2
    t4: float = T4

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2:
            raise ValueError("timers need 0 < T1 <= T2")
        if self.t4 <= 0:
            raise ValueError("T4 must be positive")

    @property
    def transaction_timeout(self) -> float:
        """64*T1: Timers B, F, H, J (unreliable), L and M."""
        return TRANSACTION_TIMEOUT_T1_MULTIPLE * self.t1

    # -- client ---------------------------------------------------------------------------
    def timer_a(self, reliable: bool) -> float | None:
        """Initial INVITE retransmit interval; doubles each time (§17.1.1.2). None: not used."""
        return None if reliable else self.t1

    @property
    def timer_b(self) -> float:
        return self.transaction_timeout

    def timer_d(self, reliable: bool) -> float:
        # "at least 32 seconds" (§17.1.1.2), and never shorter than the server's final-response
        # retransmission window (Timer H = 64*T1) when T1 was raised.
        return 0.0 if reliable else max(TIMER_D_UNRELIABLE, self.transaction_timeout)

    def timer_e(self, reliable: bool) -> float | None:
        """Initial non-INVITE retransmit interval; doubles up to T2 (§17.1.2.2)."""
        return None if reliable else self.t1

    @property
    def timer_f(self) -> float:
        return self.transaction_timeout

    def timer_k(self, reliable: bool) -> float:
        return 0.0 if reliable else self.t4

    @property
    def timer_m(self) -> float:
        return self.transaction_timeout

    # -- server ---------------------------------------------------------------------------
    def timer_g(self, reliable: bool) -> float | None:
        """Initial final-response retransmit interval; doubles up to T2 (§17.2.1)."""
        return None if reliable else self.t1

    @property
    def timer_h(self) -> float:
        return self.transaction_timeout

    def timer_i(self, reliable: bool) -> float:
        return 0.0 if reliable else self.t4

    def timer_j(self, reliable: bool) -> float:
        return 0.0 if reliable else self.transaction_timeout

    @property
    def timer_l(self) -> float:
        return self.transaction_timeout

    # -- backoff --------------------------------------------------------------------------
    def next_interval(self, interval: float, *, capped: bool) -> float:
        """The retransmission interval after ``interval``: doubled, capped at T2 if ``capped``.

        INVITE requests (Timer A) double without a cap (§17.1.1.2); non-INVITE requests
        (Timer E, §17.1.2.2), INVITE final responses (Timer G, §17.2.1) and the UAS core's 2xx
        (§13.3.1.4) stop doubling at T2.
        """
        doubled = 2 * interval
        return min(doubled, self.t2) if capped else doubled


DEFAULT_TIMERS = TimerConfig()
