from __future__ import annotations

import pytest
from django.test import Client

from pbxweb.accounts.models import Extension
from tests.factories import make_extension


@pytest.fixture
def alice(db: None) -> Extension:
    """An ordinary extension (invented role name)."""
    return make_extension("201", first_name="Onthaal")


@pytest.fixture
def bob(db: None) -> Extension:
    return make_extension("202", first_name="Bib")


@pytest.fixture
def admin(db: None) -> Extension:
    return make_extension("299", first_name="Beheerder", is_staff=True)


@pytest.fixture
def alice_client(alice: Extension) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob: Extension) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def admin_client(admin: Extension) -> Client:
    client = Client()
    client.force_login(admin)
    return client
