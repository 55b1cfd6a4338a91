"""System checks: each ID fires for its bad setting, and none fires for a good one."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.checks import Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import SimpleTestCase
from django.test.utils import override_settings

from django_app.checks import check_deploy, check_middleware, check_settings
from django_app.conf import validate
from django_app.middleware import SpannerSessionMiddleware

GOOD: dict[str, Any] = {
    "default": {
        "PROJECT": "my-project",
        "INSTANCE": "main",
        "DATABASE": "app",
        "POOL": "pinging",
        "POOL_SIZE": 10,
        "PING_INTERVAL": 300,
    },
    "analytics": {
        "PROJECT": "my-project",
        "INSTANCE": "main",
        "DATABASE": "events",
        "POOL": "bursty",
    },
}


def alias(**values: Any) -> dict[str, Any]:
    """SPANNER with one 'default' alias: the good one updated with ``values`` (None deletes)."""
    merged = {**GOOD["default"], **values}
    return {"default": {k: v for k, v in merged.items() if v is not None}}


class SettingsChecksTests(SimpleTestCase):
    def check_error_codes(self, expected: list[str]) -> list[Any]:
        errors = check_settings([])
        assert [e.id for e in errors] == expected, [e.msg for e in errors]
        assert all(isinstance(e, Error) for e in errors)
        return errors

    @override_settings(SPANNER=GOOD)
    def test_good_settings_pass(self) -> None:
        self.check_error_codes([])

    def test_missing_setting(self) -> None:
        with self.settings():
            del settings.SPANNER
            [error] = self.check_error_codes(["spanner_pools.E001"])
        assert "SPANNER setting is missing" in error.msg

    @override_settings(SPANNER=[("default", {})])
    def test_not_a_dict(self) -> None:
        [error] = self.check_error_codes(["spanner_pools.E002"])
        assert "got [('default', {})] (list)" in error.msg

    @override_settings(SPANNER={"INSTANCE": "main", "DATABASE": "app"})
    def test_flat_settings_without_alias(self) -> None:
        [error] = self.check_error_codes(["spanner_pools.E002"])
        assert "'INSTANCE'" in error.msg
        assert "SPANNER = {'default': {...}}" in error.hint

    @override_settings(SPANNER={"analytics": GOOD["analytics"]})
    def test_no_default_alias(self) -> None:
        [error] = self.check_error_codes(["spanner_pools.E003"])
        assert "configured aliases: 'analytics'" in error.msg

    @override_settings(SPANNER={})
    def test_empty(self) -> None:
        self.check_error_codes(["spanner_pools.E003"])

    @override_settings(SPANNER={**GOOD, "": GOOD["default"], 5: GOOD["default"]})
    def test_bad_alias_names(self) -> None:
        errors = self.check_error_codes(["spanner_pools.E004", "spanner_pools.E004"])
        assert "alias '' " in errors[0].msg
        assert "alias 5 " in errors[1].msg

    @override_settings(SPANNER={**GOOD, "analytics": "events"})
    def test_alias_not_a_dict(self) -> None:
        [error] = self.check_error_codes(["spanner_pools.E005"])
        assert error.msg.startswith("SPANNER['analytics']: expected a dict of settings")
        assert "'events' (str)" in error.msg

    @override_settings(SPANNER=alias(POOLSIZE=3, pool="bursty"))
    def test_unknown_keys(self) -> None:
        errors = self.check_error_codes(["spanner_pools.E006", "spanner_pools.E006"])
        assert errors[0].msg == "SPANNER['default']['POOLSIZE']: unknown setting."
        assert errors[0].hint.startswith("Did you mean 'POOL_SIZE'?")
        assert errors[1].msg == "SPANNER['default']['pool']: unknown setting."
        assert errors[1].hint.startswith("Did you mean 'POOL'?")

    @override_settings(SPANNER=alias(INSTANCE=None, DATABASE=None))
    def test_missing_required_keys(self) -> None:
        errors = self.check_error_codes(["spanner_pools.E007", "spanner_pools.E007"])
        assert errors[0].msg == "SPANNER['default']['INSTANCE'] is required."
        assert errors[1].msg == "SPANNER['default']['DATABASE'] is required."

    @override_settings(SPANNER=alias(PROJECT=None, EMULATOR_HOST="localhost:9010"))
    def test_project_required_with_emulator(self) -> None:
        [error] = self.check_error_codes(["spanner_pools.E007"])
        assert error.msg.startswith("SPANNER['default']['PROJECT'] is required with the emulator")

    @override_settings(SPANNER=alias(POOL_SIZE=10.5))
    def test_bad_value(self) -> None:
        [error] = self.check_error_codes(["spanner_pools.E008"])
        assert (
            error.msg == "SPANNER['default']['POOL_SIZE']: expected an integer, got 10.5 (float)."
        )

    @override_settings(
        SPANNER=alias(POOL_SIZE=" 10 ", POOL_TIMEOUT="2.5", LABELS='{"team": "web"}')
    )
    def test_numeric_strings_are_accepted(self) -> None:
        # The one string rule of both adapters (settings often come from env vars).
        self.check_error_codes([])
        parsed, _ = validate(settings.SPANNER)
        assert parsed["default"].pool_size == 10
        assert parsed["default"].pool_timeout == 2.5
        assert dict(parsed["default"].labels) == {"team": "web"}

    @override_settings(SPANNER=alias(POOL_SIZE="ten", PING_INTERVAL="true", POOL="nope"))
    def test_unreadable_strings_name_the_key_and_the_rule(self) -> None:
        errors = self.check_error_codes(["spanner_pools.E008"] * 3)
        assert errors[0].msg.startswith("SPANNER['default']['POOL']:")
        assert errors[1].msg == (
            "SPANNER['default']['POOL_SIZE']: expected an integer (or a string of digits), "
            "got 'ten' (str)."
        )
        assert errors[2].msg == (
            "SPANNER['default']['PING_INTERVAL']: expected a number of seconds (or a numeric "
            "string), got 'true' (str)."
        )

    @override_settings(
        SPANNER={
            **alias(POOL="pooling", POOL_SIZE=0, PING_INTERVAL=-1, INSTANCE="Main"),
            "analytics": {**GOOD["analytics"], "LABELS": {"Team": "x"}},
        }
    )
    def test_every_bad_value_is_reported(self) -> None:
        errors = self.check_error_codes(["spanner_pools.E008"] * 5)
        keys = [e.msg.split(":")[0] for e in errors]
        assert keys == [
            "SPANNER['default']['INSTANCE']",
            "SPANNER['default']['POOL']",
            "SPANNER['default']['PING_INTERVAL']",
            "SPANNER['default']['POOL_SIZE']",
            "SPANNER['analytics']['LABELS']",
        ]
        assert "got 'pooling' (str)" in errors[1].msg

    @override_settings(SPANNER=alias(POOLSIZE=3, DATABASE=None, RPC_TIMEOUT="1s"))
    def test_mixed_problems(self) -> None:
        self.check_error_codes(["spanner_pools.E006", "spanner_pools.E007", "spanner_pools.E008"])


class MiddlewareAndDeployChecksTests(SimpleTestCase):
    def test_middleware_present(self) -> None:
        assert check_middleware([]) == []

    @override_settings(MIDDLEWARE=["django.middleware.common.CommonMiddleware"])
    def test_middleware_missing(self) -> None:
        [warning] = check_middleware([])
        assert warning.id == "spanner_pools.W001"
        assert isinstance(warning, Warning)

    @override_settings(MIDDLEWARE=["tests.django.test_django_checks.SubclassedMiddleware"])
    def test_middleware_subclass_counts(self) -> None:
        assert check_middleware([]) == []

    @override_settings(SPANNER=GOOD)
    def test_deploy_without_emulator(self) -> None:
        assert check_deploy([]) == []

    @override_settings(
        SPANNER={**GOOD, "analytics": {**GOOD["analytics"], "EMULATOR_HOST": "localhost:9010"}}
    )
    def test_deploy_with_emulator(self) -> None:
        [warning] = check_deploy([])
        assert warning.id == "spanner_pools.W002"
        assert "SPANNER['analytics']" in warning.msg


class CheckCommandTests(SimpleTestCase):
    @override_settings(SPANNER=GOOD)
    def test_check_command_is_silent_for_good_settings(self) -> None:
        call_command("check", "--tag", "spanner_pools")
        call_command("check")

    @override_settings(SPANNER=alias(POOL_SIZE="x"), MIDDLEWARE=[])
    def test_check_command_reports_ids(self) -> None:
        with pytest.raises(SystemCheckError) as info:
            call_command("check")
        text = str(info.value)
        assert "spanner_pools.E008" in text
        assert "spanner_pools.W001" in text
        assert "SPANNER['default']['POOL_SIZE']" in text


class SubclassedMiddleware(SpannerSessionMiddleware):
    """A user subclass still satisfies W001."""
