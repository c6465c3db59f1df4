from __future__ import annotations

import pytest
from django.test import Client

from pbxweb.accounts.models import Extension
from tests.factories import make_extension


@pytest.fixture
def onthaal(db: None) -> Extension:
    return make_extension("201", first_name="Onthaal")


@pytest.fixture
def loket(db: None) -> Extension:
    return make_extension("202", first_name="Bevolking", last_name="Loket 1")


@pytest.fixture
def onthaal_client(onthaal: Extension) -> Client:
    client = Client()
    client.force_login(onthaal)
    return client
