"""RFC 3261 §17 timer values (Table 4) and their reliable-transport variants."""

from __future__ import annotations

import pytest

from softphone.sip.timers import DEFAULT_TIMERS, T1, T2, T4, TRYING_DELAY, TimerConfig


def test_rfc3261_table_4_defaults() -> None:
    t = DEFAULT_TIMERS
    assert (T1, T2, T4) == (0.5, 4.0, 5.0)
    assert t.timer_a(reliable=False) == 0.5
    assert t.timer_b == t.timer_f == t.timer_h == t.timer_j(reliable=False) == 32.0
    assert t.timer_d(reliable=False) == 32.0
    assert t.timer_e(reliable=False) == t.timer_g(reliable=False) == 0.5
    assert t.timer_i(reliable=False) == t.timer_k(reliable=False) == 5.0
    assert t.timer_l == t.timer_m == 32.0  # RFC 6026
    assert TRYING_DELAY == 0.2


def test_reliable_transport_has_no_retransmissions_and_no_wait_states() -> None:
    t = DEFAULT_TIMERS
    assert t.timer_a(reliable=True) is t.timer_e(reliable=True) is t.timer_g(reliable=True) is None
    assert t.timer_d(reliable=True) == t.timer_i(reliable=True) == 0.0
    assert t.timer_j(reliable=True) == t.timer_k(reliable=True) == 0.0
    assert t.timer_b == 32.0  # the transaction still times out


def test_raising_t1_scales_the_64_t1_timers_and_keeps_timer_d_covering_timer_h() -> None:
    t = TimerConfig(t1=1.0, t2=8.0)
    assert t.timer_b == t.timer_f == t.timer_h == 64.0
    assert t.timer_d(reliable=False) >= t.timer_h


def test_backoff_doubles_and_caps_at_t2_only_when_asked() -> None:
    t = DEFAULT_TIMERS
    intervals = [0.5]
    for _ in range(5):
        intervals.append(t.next_interval(intervals[-1], capped=True))
    assert intervals == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert t.next_interval(16.0, capped=False) == 32.0


@pytest.mark.parametrize(("t1", "t2", "t4"), [(0, 4, 5), (5, 4, 5), (0.5, 4, 0)])
def test_nonsense_timer_values_are_refused(t1: float, t2: float, t4: float) -> None:
    with pytest.raises(ValueError):
        TimerConfig(t1, t2, t4)
