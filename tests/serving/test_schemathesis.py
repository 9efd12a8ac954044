"""Property-based runs of the OpenAPI document against the app (schemathesis 4, in-process
ASGI), under every role's key: no input produces a server error or a response that breaks
the documented schema (status code, content type, body).

Two runs per role: each operation on its own (stateless), and stateful sequences that follow
links between operations (those schemathesis infers, and the main flows declared in
:data:`LINKS`: the ranking, then a sponsor and a review of it, then the review read and
given an outcome; a key issued, then revoked), so that operations are also reached with ids
that exist. Runs are derandomized: the same code gives the same cases.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from serving.app import create_app
from serving.db import create_schema, make_engine
from serving.keys import Role, issue_key
from tests.serving.conftest import copy_home, home_settings

KEYS: dict[str, dict[str, str]] = {}
KEY_IDS: set[str] = set()
ROLES = [role.value for role in Role]
CHECKS: list[Callable[..., Any]] = [not_a_server_error, response_schema_conformance,
                                    content_type_conformance, status_code_conformance]
#: Per role: examples per operation (stateless) and scenarios (stateful). Admin reaches
#: every operation, so it gets the most.
STATELESS_EXAMPLES = {Role.ADMIN.value: 10}
STATEFUL_SCENARIOS = {Role.ADMIN.value: 25}


def _ref(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


#: OpenAPI links of the main flows, added to the document for the stateful run (the service
#: publishes none): (source path, method, status) -> {name: (target path, method, params)}.
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("/v1/sponsors", "get", "200"): {
        "Sponsor": ("/v1/sponsors/{sponsor_id}", "get",
                    {"path.sponsor_id": "$response.body#/items/0/sponsor_id"}),
        "Review": ("/v1/sponsors/{sponsor_id}/reviews", "post",
                   {"path.sponsor_id": "$response.body#/items/0/sponsor_id"}),
    },
    ("/v1/sponsors/{sponsor_id}/reviews", "post", "201"): {
        "GetReview": ("/v1/reviews/{review_id}", "get",
                      {"path.review_id": "$response.body#/review_id"}),
        "Outcome": ("/v1/reviews/{review_id}/outcome", "post",
                    {"path.review_id": "$response.body#/review_id"}),
        "Reviews": ("/v1/sponsors/{sponsor_id}/reviews", "get",
                    {"path.sponsor_id": "$response.body#/sponsor_id"}),
    },
    ("/v1/admin/keys", "post", "201"): {
        "Revoke": ("/v1/admin/keys/{key_id}", "delete",
                   {"path.key_id": "$response.body#/key_id"}),
    },
}


def add_links(document: dict[str, Any]) -> None:
    for (path, method, status), links in LINKS.items():
        response = document["paths"][path][method]["responses"][status]
        response["links"] = {name: {"operationRef": _ref(target, target_method),
                                    "parameters": parameters}
                             for name, (target, target_method, parameters) in links.items()}


@pytest.fixture(scope="module")
def api_schema(scored_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = copy_home(scored_home, tmp_path_factory.mktemp("schemathesis") / "home")
    app_settings = home_settings(home)
    engine = make_engine(app_settings.service_database_url)
    create_schema(engine)
    with Session(engine) as session:
        for role in Role:
            issued = issue_key(session, app_settings.secret_key.get_secret_value(), role)
            KEYS[role.value] = {"X-API-Key": issued.api_key}
            KEY_IDS.add(issued.key_id)
    engine.dispose()
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings))
    add_links(schema.raw_schema)
    return schema.include(path_regex=r"^/(v1/|healthz|readyz|metrics)")


@pytest.mark.parametrize("role", ROLES)
def test_api_conforms_to_its_schema(api_schema: Any, role: str) -> None:
    # schemathesis' pytest loader does not run under pytest 9, so each operation's
    # strategy is driven by hypothesis directly: the same cases and checks.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 14
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=STATELESS_EXAMPLES.get(role, 4), deadline=None, database=None,
                  derandomize=True, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=KEYS[role], checks=CHECKS)

        try:
            check()
        # collect every operation's failure (schemathesis raises exception groups), then
        # report all
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_api_conforms_in_stateful_sequences(api_schema: Any, role: str) -> None:
    machine = api_schema.as_state_machine()
    calls: list[tuple[str, str, int]] = []

    class UnderRole(machine):  # type: ignore[misc, valid-type]
        def before_call(self, case: Any) -> None:
            # Never revoke the keys the run itself uses (a listed key id can reach DELETE).
            if case.path_parameters and case.path_parameters.get("key_id") in KEY_IDS:
                case.path_parameters["key_id"] = "00000000"

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": KEYS[role]}

        def after_call(self, response: Any, case: Any) -> None:
            calls.append((case.method.upper(), case.operation.path, response.status_code))

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    UnderRole.run(settings=settings(
        max_examples=STATEFUL_SCENARIOS.get(role, 8), stateful_step_count=6, deadline=None,
        database=None, derandomize=True, suppress_health_check=list(HealthCheck)))
    assert calls, "the state machine made no call"
    # The run reached operations through links, with ids the service had just answered.
    if role == Role.ADMIN.value:
        reached = {(method, path) for method, path, status in calls if status < 400}
        assert len(reached) >= 5, sorted(reached)
