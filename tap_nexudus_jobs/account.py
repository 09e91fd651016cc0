"""What one Nexudus account gives a run, built once by the tap and shared by every stream.

Nexudus counts its rate limits per account and a login per `client_id`, so a second
stream or partition must not bring a second request budget or a second login: the
budget, the pacer, the HTTP session, the retry policy and the authenticator exist once
per run.
"""

from __future__ import annotations

import logging
import typing as t
from functools import cached_property

from tap_nexudus_jobs.auth import build_authenticator
from tap_nexudus_jobs.budget import RequestBudget
from tap_nexudus_jobs.pacing import PacedSession, RequestPacer
from tap_nexudus_jobs.retries import HttpPolicy

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from singer_sdk.authenticators import APIAuthenticatorBase

logger = logging.getLogger("tap-nexudus-jobs")


class NexudusAccount:
    """Pacing, session, retry policy and authentication for one run against one account.

    `config` is the tap's validated config, with the settings schema's defaults filled in.
    """

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        # Built on first use, so that discovery works with any config.
        self._config = config

    @property
    def api_url(self) -> str:
        """`api_url` without a trailing slash."""
        return str(self._config["api_url"]).rstrip("/")

    @property
    def request_timeout(self) -> int:
        """`request_timeout`, seconds."""
        return int(self._config["request_timeout"])

    @cached_property
    def budget(self) -> RequestBudget:
        """The run's cap and the account's hour, which every request asks first."""
        max_requests = self._config.get("max_requests_per_run")
        return RequestBudget(
            max_requests=int(max_requests) if max_requests is not None else None,
            per_hour=int(self._config["requests_per_hour"]),
            log=logger.info,
        )

    @cached_property
    def pacer(self) -> RequestPacer:
        """The one pace of the run's requests, behind the budget."""
        return RequestPacer.from_config(self._config, self.budget, logger.info)

    @cached_property
    def session(self) -> PacedSession:
        """The HTTP session the streams' requests are sent through."""
        return PacedSession(self.pacer)

    @cached_property
    def token_session(self) -> PacedSession:
        """Token requests' own session, on the same pacer.

        The SDK makes the authenticator the `auth` of the streams' session when it
        prepares a request, so a token request sent through that session would try to
        authenticate itself first.
        """
        return PacedSession(self.pacer)

    @cached_property
    def policy(self) -> HttpPolicy:
        """The retry policy every request is sent under."""
        return HttpPolicy(log=logger, on_throttled=self.pacer.throttled, stop=self.budget.stop)

    @cached_property
    def authenticator(self) -> APIAuthenticatorBase:
        """One authenticator for the run, so a password-grant token is fetched once."""
        return build_authenticator(
            self._config,
            api_url=self.api_url,
            session=self.token_session,
            policy=self.policy,
            timeout=self.request_timeout,
        )
