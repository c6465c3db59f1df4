from softphone.pbx.bans import AuthFailureBans, BanPolicy


def test_an_address_is_banned_after_repeated_failures_then_released() -> None:
    bans = AuthFailureBans(BanPolicy(max_failures=3, window=60, ban_seconds=100))
    assert not bans.record_failure("10.0.0.1", 0)
    assert not bans.record_failure("10.0.0.1", 1)
    assert bans.record_failure("10.0.0.1", 2)
    assert bans.is_banned("10.0.0.1", 50)
    assert not bans.is_banned("10.0.0.2", 50)
    assert not bans.is_banned("10.0.0.1", 103)


def test_failures_spread_beyond_the_window_do_not_ban() -> None:
    bans = AuthFailureBans(BanPolicy(max_failures=3, window=10))
    for t in (0, 11, 22, 33):
        assert not bans.record_failure("10.0.0.1", t)
    assert not bans.is_banned("10.0.0.1", 34)


def test_success_resets_the_count() -> None:
    bans = AuthFailureBans(BanPolicy(max_failures=2))
    bans.record_failure("10.0.0.1", 0)
    bans.record_success("10.0.0.1")
    assert not bans.record_failure("10.0.0.1", 1)


def test_memory_stays_bounded_under_a_flood_of_addresses() -> None:
    bans = AuthFailureBans(BanPolicy(max_failures=5, max_tracked=1000))
    for index in range(20_000):
        bans.record_failure(f"10.{index // 65536}.{index // 256 % 256}.{index % 256}", index)
    assert len(bans._failures) <= 1000
