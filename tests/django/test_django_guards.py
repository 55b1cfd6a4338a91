"""Without ``SpannerSessionMiddleware``: a clear error at ``request.spanner``, W001 logged once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory, SimpleTestCase
from django.test.utils import override_settings

from django_app.guards import MiddlewareMissing, arm_first_request_check

from .base import SpannerTestCase

NO_SPANNER_MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
LOGGER = "django_app.guards"


class MissingMiddlewareTests(SpannerTestCase):
    @override_settings(MIDDLEWARE=NO_SPANNER_MIDDLEWARE)
    def test_view_gets_an_error_naming_the_fix(self) -> None:
        with pytest.raises(MiddlewareMissing) as caught:
            self.client.get("/notes/")
        message = str(caught.value)
        assert message.startswith("request.spanner is not set: add ")
        assert "'django_app.middleware.SpannerSessionMiddleware' to MIDDLEWARE" in message
        assert isinstance(caught.value, ImproperlyConfigured)

    def test_spanner_sessions_too(self) -> None:
        request = RequestFactory().get("/")
        with pytest.raises(MiddlewareMissing, match=r"^request.spanner_sessions is not set"):
            request.spanner_sessions["default"]

    def test_with_the_middleware_nothing_changes(self) -> None:
        response = self.client.get("/notes/")
        assert response.status_code == 200, response.content
        self.assert_all_returned()


class RequestAttributeTests(SimpleTestCase):
    def test_hasattr_and_getattr_default_still_work(self) -> None:
        request = RequestFactory().get("/")
        assert not hasattr(request, "spanner")
        assert getattr(request, "spanner_sessions", None) is None
        request.spanner = "set by the middleware"  # an instance attribute shadows the guard
        assert request.spanner == "set by the middleware"


class FirstRequestWarningTests(SimpleTestCase):
    @override_settings(MIDDLEWARE=NO_SPANNER_MIDDLEWARE)
    def test_w001_is_logged_once_at_the_first_request(self) -> None:
        arm_first_request_check()
        with self.assertLogs(LOGGER, "WARNING") as logs:
            self.client.get("/plain/")
            self.client.get("/plain/")
        [line] = logs.output
        assert "'django_app.middleware.SpannerSessionMiddleware' is not in MIDDLEWARE" in line
        assert "(spanner_pools.W001)" in line

    @override_settings(
        MIDDLEWARE=NO_SPANNER_MIDDLEWARE, SILENCED_SYSTEM_CHECKS=["spanner_pools.W001"]
    )
    def test_silenced_w001_is_not_logged(self) -> None:
        arm_first_request_check()
        with self.assertNoLogs(LOGGER, "WARNING"):
            self.client.get("/plain/")

    def test_nothing_logged_with_the_middleware(self) -> None:
        arm_first_request_check()
        with self.assertNoLogs(LOGGER, "WARNING"):
            self.client.get("/plain/")
