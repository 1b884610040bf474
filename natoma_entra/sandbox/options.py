"""The knobs of one sandbox, passed in by whoever opens it (a test, a benchmark, `--sandbox`): never process globals.

Variants: Graph behaviours Microsoft's documentation leaves open, each played on request so the CLI can be tested
against every plausible answer (docs/graph-assumptions.md says what each one settles and how to check it on a real
tenant). Without variants the sandbox plays the answers the CLI was first written against.
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

TEMPLATES_UNLISTED = "templates-unlisted"
LEGACY_TEMPLATE_ONLY = "legacy-template-only"
COLLECTION_TEST_REFUSED = "collection-test-refused"
SECRETS_REPLACE = "secrets-replace"
SECRETS_MASKED = "secrets-masked"
SLOW_REPLICATION = "slow-replication"
POD_STATUS_INFO = "pod-statusinfo-shape"
VALIDATE_SYNCFABRIC_BODY = "validate-syncfabric-body"
THROTTLED_WRITES = "throttled-writes"
RETRY_AFTER_DATE = "retry-after-http-date"
ROLE_DISABLE_LAG = "role-disable-lag"
EMPTY_PAGES = "empty-pages"
FORWARD_COMPATIBLE = "forward-compatible-fields"
SECRETS_UNREADABLE = "secrets-unreadable"
GROUP_UPSERT_CONFLICT = "group-upsert-conflict"
SECRETS_CLEAR_REFUSED = "secrets-clear-refused"

THROTTLE_SECONDS = 3  # the Retry-After of the throttling variants: over 2 s, so the CLI says its wait
ROLE_DISABLE_LAG_SECONDS = 5.0  # how long a disabled app role still reads (and counts as) enabled

# name -> what it plays (the CLI lists these for an unknown --sandbox-variant)
VARIANTS: dict[str, str] = {
    TEMPLATES_UNLISTED: "GET .../synchronization/templates lists no template, yet POST jobs {templateId: 'scim'} "
                        "works",
    LEGACY_TEMPLATE_ONLY: "the template list holds only the legacy 'customappsso' template; POST jobs with 'scim' "
                          "still works",
    COLLECTION_TEST_REFUSED: "the job-less POST .../jobs/validateCredentials is refused for a reason that is not the "
                             "credentials (400 BadRequest); the job-level test works",
    SECRETS_REPLACE: "PUT .../synchronization/secrets replaces the whole set instead of merging keys",
    SECRETS_MASKED: "GET .../synchronization/secrets masks every value, BaseAddress and SyncAll included ('*')",
    SLOW_REPLICATION: "a new job, its schema, new assignments and a new service principal answer 403/404/409 (or "
                      "stay unlisted) for replication_seconds after creation (20 s when not set)",
    POD_STATUS_INFO: "provisionOnDemand answers its second documented shape: key 'Microsoft.Identity.Health.CPP."
                     "Common.DataContracts.SyncFabric.StatusInfo', value a JSON array of records",
    VALIDATE_SYNCFABRIC_BODY: "a failed credentials test answers 400 UnknownError with syncfabric's JSON message "
                              "(the SCIM endpoint's HTTP status inside) instead of the portal's error code",
    THROTTLED_WRITES: f"every write is answered 429 with Retry-After: {THROTTLE_SECONDS} (seconds) once before it "
                      "is applied",
    RETRY_AFTER_DATE: f"every write is answered 429 once before it is applied, with Retry-After as an HTTP-date "
                      f"{THROTTLE_SECONDS} s ahead (RFC 9110 10.2.3); every other Retry-After is a date too",
    ROLE_DISABLE_LAG: f"for {ROLE_DISABLE_LAG_SECONDS:g} s after the PATCH that disables an app role, the application "
                      "reads the role back enabled and a PATCH that changes it answers 400 "
                      "CannotDeleteOrUpdateEnabledEntitlement",
    EMPTY_PAGES: "every collection answers an empty page carrying @odata.nextLink before each page, and after the "
                 "last one",
    FORWARD_COMPATIBLE: "every object carries properties and annotations the CLI does not know (@odata.type, "
                        "@microsoft.graph.tips, a property added later), the schema at every level included",
    SECRETS_UNREADABLE: "GET .../synchronization/secrets is not offered (404 from syncfabric); PUT works",
    GROUP_UPSERT_CONFLICT: "PATCH /groups(uniqueName='...') with Prefer: create-if-missing, for a uniqueName a group "
                           "already holds, answers 400 (another object has that uniqueName) instead of updating it",
    SECRETS_CLEAR_REFUSED: "PUT .../synchronization/secrets with an empty BaseAddress or SecretToken answers 400: "
                           "saved credentials cannot be cleared through Graph",
}

DEFAULT_REPLICATION_SECONDS = 20.0
ENV_VARIANTS = "NATOMA_ENTRA_SANDBOX_VARIANTS"


class UnknownVariant(ValueError):
    def __init__(self, names: Iterable[str]):
        self.names = sorted(names)
        super().__init__(f"unknown sandbox variant {', '.join(self.names)}; known: {', '.join(sorted(VARIANTS))}")


def parse_variants(names: Iterable[str] | str | None) -> frozenset[str]:
    """Variant names from flags and/or a comma-separated string ("a,b"); "all" selects every variant.
    Raises UnknownVariant naming the culprits."""
    if names is None:
        return frozenset()
    if isinstance(names, str):
        names = [names]
    out: set[str] = set()
    for item in names:
        for name in str(item).split(","):
            name = name.strip()
            if name:
                out.add(name)
    if "all" in out:
        out.discard("all")
        out |= set(VARIANTS)
    unknown = out - set(VARIANTS)
    if unknown:
        raise UnknownVariant(unknown)
    return frozenset(out)


def variants_from_env(env: dict[str, str] | None = None) -> frozenset[str]:
    return parse_variants((env if env is not None else os.environ).get(ENV_VARIANTS) or None)


@dataclass
class SimulatedClock:
    """Simulated time for a sandbox and the code under test: sleep() advances it at once (no real waiting)."""

    t: float = 0.0
    epoch: _dt.datetime = _dt.datetime(2026, 1, 5, 9, 0, tzinfo=_dt.timezone.utc)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> _dt.datetime:
        return self.epoch + _dt.timedelta(seconds=self.t)

    def advance(self, seconds: float) -> None:
        self.t += max(0.0, float(seconds))

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)


@dataclass
class SandboxOptions:
    """How the simulated tenant behaves, beyond its data.

    - ``faults``: fault rules (sandbox/faults.py) applied by the transport: latency, 429, 5xx, dropped connections.
    - ``sp_role_lag``: seconds (on the tenant's clock) before roles PATCHed onto an application show on its service
      principal.
    - ``denied_permissions``: Graph permissions the caller lacks (routes needing one answer 403).
    - ``variants``: names from ``VARIANTS``: the open Graph behaviours to play.
    - ``replication_seconds``: seconds (tenant clock) a new job, schema, assignment or service principal stays
      unreadable after creation; 0 = at once (``slow-replication`` without it uses 20 s).
    - ``clock``: a SimulatedClock driving the tenant's time (rate limits, timestamps, replication, a cycle's
      progress); the CLI then paces and waits on it too, so nothing really sleeps. None: real time.
    - ``cycle_seconds_per_user``: how long (simulated) a provisioning cycle spends per user in scope; 0: a cycle
      ends the moment it starts.
    - ``sign_in``: the kind of access token a run gets (sandbox/tokens.py): "application" (an app-only token whose
      ``roles`` are the granted permissions), "delegated" (``scp`` and ``wids``, as `az login` gives) or "opaque"
      (the plain well-known token: claims that cannot be read).
    - ``directory_roles``: the Entra roles of the signed-in user of a delegated token (its ``wids``).
    - ``also_granted``: permissions the token carries beyond the default grant (e.g. Application.ReadWrite.OwnedBy).
    """

    faults: list[Any] = field(default_factory=list)
    sp_role_lag: float = 0
    denied_permissions: set[str] = field(default_factory=set)
    variants: frozenset[str] = frozenset()
    replication_seconds: float = 0.0
    clock: SimulatedClock | Callable[[], float] | None = None
    cycle_seconds_per_user: float = 0.0
    sign_in: str = "application"
    directory_roles: frozenset[str] = frozenset({"Cloud Application Administrator"})
    also_granted: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.variants = parse_variants(self.variants)

    def tenant_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"sp_role_lag": self.sp_role_lag, "denied_permissions": set(self.denied_permissions),
                                "variants": parse_variants(self.variants), "replication_seconds": self.replication_seconds}
        if isinstance(self.clock, SimulatedClock):
            opts.update(clock=self.clock.monotonic, now=self.clock.now)
        elif self.clock is not None:  # a bare callable giving seconds
            opts["clock"] = self.clock
        return opts
