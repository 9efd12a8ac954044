"""Property-based run of the OpenAPI document against the app (schemathesis 4, in-process
ASGI): no input produces a server error or a response that breaks the documented schema."""

from __future__ import annotations

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

ADMIN_KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(scored_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = copy_home(scored_home, tmp_path_factory.mktemp("schemathesis") / "home")
    app_settings = home_settings(home)
    engine = make_engine(app_settings.service_database_url)
    create_schema(engine)
    with Session(engine) as session:
        ADMIN_KEY["X-API-Key"] = issue_key(
            session, app_settings.secret_key.get_secret_value(), Role.ADMIN).api_key
    engine.dispose()
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(app_settings))
    return schema.include(path_regex=r"^/(v1/|healthz|readyz|metrics)")


def test_api_conforms_to_its_schema(api_schema: Any) -> None:
    # schemathesis' pytest loader does not run under pytest 9, so each operation's
    # strategy is driven by hypothesis directly: the same cases and checks.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 14
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=ADMIN_KEY, checks=[
                not_a_server_error, response_schema_conformance, content_type_conformance,
                status_code_conformance])

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    assert not failures, "\n\n".join(failures)
