"""Dagster resource holding the Stripe connection settings for runs."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from stripe_assets.settings import API_BASE_ENV, API_KEY_ENV, StripeSettings


class StripeResource(ConfigurableResource):
    """Stripe connection for runs. Every field is optional: unset fields come from the
    environment (`STRIPE_API_KEY`, `STRIPE_API_BASE`, ...) or dlt's secrets.toml when a run
    starts. To set the key explicitly, use `EnvVar("STRIPE_API_KEY")` so that only the
    variable's name is stored in run config.
    """

    api_key: str | None = Field(
        default=None, description=f"Secret or restricted key; default: ${API_KEY_ENV}."
    )
    api_base: str | None = Field(
        default=None, description=f"Server root; default: ${API_BASE_ENV} or api.stripe.com."
    )
    api_version: str | None = Field(default=None, description="Stripe-Version header.")
    requests_per_second: float | None = Field(
        default=None, description="Request budget; default 25 for test keys, 100 for live."
    )
    max_workers: int | None = Field(default=None, description="Concurrent requests.")

    def settings(self) -> StripeSettings:
        """Resolve the settings now (at run time), failing clearly when no key is set."""
        return StripeSettings.resolve(
            api_key=self.api_key,
            api_base=self.api_base,
            api_version=self.api_version,
            requests_per_second=self.requests_per_second,
            max_workers=self.max_workers,
        )
