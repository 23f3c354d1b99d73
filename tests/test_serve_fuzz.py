"""API fuzzing: schemathesis generates requests from the app's own OpenAPI schema.

Every generated request, valid or not, must get an answer that is not a 5xx and that matches
the schema (status code, content type, body). The number of examples is bounded so the test
stays well under a minute on 2 cores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from stancewire.model.engine import StanceEngine
from stancewire.serve.app import create_app
from stancewire.serve.settings import Settings

schemathesis = pytest.importorskip("schemathesis")
checks = schemathesis.checks


def test_api_answers_every_generated_request_within_its_schema(
    tiny_engine: StanceEngine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # small limits so generated requests reach them: the fuzzer should see 413s, not only 422s
    limits = Settings(
        model_dir=str(tiny_model_dir),
        batch_wait_ms=0,
        max_text_chars=2_000,
        max_targets=3,
        max_pairs=8,
        feedback_db_url=f"sqlite:///{tmp_path / 'feedback.sqlite3'}",
    )
    app = create_app(limits, engine=tiny_engine)
    tried: list[str] = []
    with TestClient(app):  # runs the lifespan: the model is loaded and warmed up for every call
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        for found in schema.get_all_operations():
            operation = found.ok()

            @given(case=operation.as_strategy())
            @settings(
                max_examples=25,
                deadline=None,
                derandomize=True,  # the same examples on every run: CI cannot go red by chance
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def answers_within_schema(case: Any) -> None:
                # Not checked: that every schema-valid request is accepted. Some are refused with 422
                # by design after the schema (whitespace-only text, a model directory that does not
                # exist), with a message saying why.
                case.call_and_validate(excluded_checks=[checks.positive_data_acceptance])

            answers_within_schema()
            tried.append(operation.label)
    # every route of the schema was fuzzed, so a new route cannot escape the test
    assert {"POST /v1/stance", "POST /v1/classify", "POST /v1/feedback", "GET /v1/model"} <= set(tried)
