from softphone.pbx.location import BindingOutcome, BindingUpdate, Location

NOW = 1_000_000.0


def register(location: Location, contact: str, expires: int = 600, call_id: str = "c1",
             cseq: int = 1, now: float = NOW, q: float = 1.0):
    return location.apply("201", [BindingUpdate(contact, expires, q)], call_id=call_id,
                          cseq=cseq, now=now, source="udp:127.0.0.1:5070")


def test_one_extension_has_several_devices_highest_q_first() -> None:
    location = Location()
    register(location, "sip:201@10.0.0.1:5060", q=0.5, call_id="desk")
    register(location, "sip:201@10.0.0.2:5060", q=0.9, call_id="dect")
    contacts = [b.contact for b in location.lookup("201", NOW)]
    assert contacts == ["sip:201@10.0.0.2:5060", "sip:201@10.0.0.1:5060"]


def test_refresh_needs_a_higher_cseq_from_the_same_call_id() -> None:
    location = Location()
    assert register(location, "sip:a@h", cseq=5)[0][0] is BindingOutcome.ADDED
    assert register(location, "sip:a@h", cseq=5)[0][0] is BindingOutcome.OUT_OF_ORDER
    assert register(location, "sip:a@h", cseq=4)[0][0] is BindingOutcome.OUT_OF_ORDER
    assert not location.check_order("201", "c1", 5)
    assert location.check_order("201", "c1", 6)
    assert register(location, "sip:a@h", cseq=6)[0][0] is BindingOutcome.REFRESHED
    # A rebooted phone uses a new Call-ID: any CSeq goes.
    assert register(location, "sip:a@h", cseq=1, call_id="c2")[0][0] is BindingOutcome.REFRESHED


def test_expires_zero_removes_and_expiry_cleans_up() -> None:
    location = Location()
    register(location, "sip:a@h", expires=60)
    register(location, "sip:b@h", expires=600, call_id="c2")
    outcome, binding = register(location, "sip:a@h", expires=0, cseq=2)[0]
    assert outcome is BindingOutcome.REMOVED and binding.contact == "sip:a@h"
    assert location.next_expiry() == NOW + 600
    assert location.lookup("201", NOW + 601) == []
    expired = location.expire(NOW + 601)
    assert [b.contact for b in expired] == ["sip:b@h"]
    assert location.count() == 0 and location.next_expiry() is None


def test_star_removes_every_binding_but_respects_order() -> None:
    location = Location()
    register(location, "sip:a@h", call_id="x", cseq=10)
    register(location, "sip:b@h", call_id="y", cseq=1)
    removed = location.remove_all("201", call_id="x", cseq=3)
    assert [b.contact for b in removed] == ["sip:b@h"]
    assert [b.contact for b in location.lookup("201", NOW)] == ["sip:a@h"]


def test_loaded_bindings_skip_the_expired() -> None:
    source = Location()
    register(source, "sip:a@h", expires=10)
    register(source, "sip:b@h", expires=1000, call_id="c2")
    restored = Location()
    restored.load(source.lookup("201", NOW), now=NOW + 100)
    assert [b.contact for b in restored.lookup("201", NOW + 100)] == ["sip:b@h"]
    assert restored.lookup("201", NOW + 100)[0].remaining(NOW + 100) == 900
