from softphone.pbx.location import Location
from softphone.pbx.registrar import (
    ContactSpec,
    RegisterRequest,
    RegistrarPolicy,
    process_register,
)

NOW = 5_000.0
POLICY = RegistrarPolicy(default_expires=3600, min_expires=60, max_expires=3600,
                         max_bindings_per_aor=3)


def request(*contacts: ContactSpec, star: bool = False, expires: int | None = None,
            call_id: str = "cid", cseq: int = 1) -> RegisterRequest:
    return RegisterRequest(aor="201", contacts=list(contacts), star=star, expires_header=expires,
                           call_id=call_id, cseq=cseq, source="udp:127.0.0.1:5070")


def test_register_adds_a_binding_and_lists_all_in_the_answer() -> None:
    location = Location()
    process_register(location, request(ContactSpec("sip:201@a", None), call_id="x"), POLICY, NOW)
    answer = process_register(location, request(ContactSpec("sip:201@b", 600)), POLICY, NOW)
    assert answer.status == 200
    assert {(b.contact, b.remaining(NOW)) for b in answer.bindings} == {
        ("sip:201@a", 3600), ("sip:201@b", 600)}


def test_expires_header_applies_when_the_contact_has_none_and_is_capped() -> None:
    location = Location()
    answer = process_register(location, request(ContactSpec("sip:201@a", None), expires=99999),
                              POLICY, NOW)
    assert answer.bindings[0].remaining(NOW) == 3600


def test_too_brief_interval_gets_423_with_min_expires() -> None:
    location = Location()
    answer = process_register(location, request(ContactSpec("sip:201@a", 30)), POLICY, NOW)
    assert (answer.status, answer.min_expires) == (423, 60)
    assert location.count() == 0


def test_star_needs_expires_zero_and_no_other_contact() -> None:
    location = Location()
    process_register(location, request(ContactSpec("sip:201@a", 600)), POLICY, NOW)
    assert process_register(location, request(star=True, expires=600, cseq=2), POLICY,
                            NOW).status == 400
    assert process_register(location, request(ContactSpec("sip:201@b", 0), star=True,
                                               expires=0, cseq=2), POLICY, NOW).status == 400
    answer = process_register(location, request(star=True, expires=0, cseq=3), POLICY, NOW)
    assert answer.status == 200 and [b.contact for b in answer.removed] == ["sip:201@a"]
    assert location.count() == 0


def test_an_old_cseq_from_the_same_call_id_is_refused_with_500() -> None:
    location = Location()
    process_register(location, request(ContactSpec("sip:201@a", 600), cseq=7), POLICY, NOW)
    answer = process_register(location, request(ContactSpec("sip:201@a", 0), cseq=6), POLICY, NOW)
    assert answer.status == 500
    assert location.count() == 1


def test_device_count_per_extension_is_capped() -> None:
    location = Location()
    for index in range(3):
        assert process_register(location, request(ContactSpec(f"sip:201@{index}", 600),
                                                  call_id=f"c{index}"), POLICY, NOW).status == 200
    assert process_register(location, request(ContactSpec("sip:201@9", 600), call_id="c9"),
                            POLICY, NOW).status == 403
    # Refreshing an existing device is still fine.
    assert process_register(location, request(ContactSpec("sip:201@0", 600), call_id="c0",
                                              cseq=2), POLICY, NOW).status == 200


def test_absurd_contacts_are_refused() -> None:
    location = Location()
    long_uri = "sip:201@" + "a" * 600
    assert process_register(location, request(ContactSpec(long_uri, 600)), POLICY,
                            NOW).status == 400
    many = [ContactSpec(f"sip:201@h{index}", 600) for index in range(11)]
    assert process_register(location, request(*many), POLICY, NOW).status == 400
    assert location.count() == 0
