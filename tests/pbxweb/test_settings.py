"""Production settings are HTTPS-ready: ``manage.py check --deploy`` reports nothing."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_is_clean_with_production_settings(tmp_path) -> None:
    env = {
        **os.environ,
        "SECRET_KEY": "x7!Qm2#vR9pL4$wZ8tN1@bK6^cJ3&hF5*gD0yU-sE_aP+oI=lT",
        "ALLOWED_HOSTS": "pbx.example.org",
        "PBXWEB_HTTPS": "1",
        "DEBUG": "0",
        "PBXWEB_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_embedded_default_needs_no_configuration(tmp_path) -> None:
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    env["PBXWEB_VAR_DIR"] = str(tmp_path)
    code = ("from django.conf import settings as s; import django; django.setup(); "
            "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], "
            "s.CELERY_TASK_ALWAYS_EAGER, len(s.SECRET_KEY) >= 50)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60,
                            env={**env, "DJANGO_SETTINGS_MODULE": "pbxweb.settings"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3",
                                     "channels.layers.InMemoryChannelLayer", "True", "True"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
