"""Service settings, read once from ``STANCEWIRE_*`` environment variables (or given directly)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Limits and choices of the API; each field is also the env var ``STANCEWIRE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="STANCEWIRE_", extra="forbid", protected_namespaces=())

    model_dir: str = Field("models/default", description="model directory to serve")
    device: str = Field("auto", pattern="^(auto|cpu|cuda)$", description="auto, cpu or cuda")
    precision: str = Field("auto", pattern="^(auto|fp32|bf16|fp16)$", description="compute precision")
    backend: str = Field(
        "auto",
        pattern="^(auto|torch|onnx)$",
        description="auto: at start-up, ONNX Runtime if it agrees with PyTorch on the check pairs and "
        "runs them faster on this machine, else PyTorch; torch; or onnx (CPU, fp32)",
    )
    max_text_chars: int = Field(50_000, ge=1, description="longest text accepted by /v1/stance")
    max_targets: int = Field(20, ge=1, description="most targets per /v1/stance request")
    max_target_chars: int = Field(500, ge=1, description="longest target proposition")
    max_pairs: int = Field(256, ge=1, description="most pairs per /v1/classify request")
    max_statement_chars: int = Field(5_000, ge=1, description="longest statement in /v1/classify")
    batch_size: int = Field(32, ge=1, le=1024, description="most pairs per forward pass (one micro-batch)")
    batch_wait_ms: float = Field(
        5.0, ge=0.0, le=1000.0, description="how long a micro-batch waits for more requests' pairs"
    )
    max_queue_pairs: int = Field(
        4096,
        ge=1,
        description="pairs allowed to wait for the model; beyond it requests get 503 + Retry-After",
    )
    max_batch_tokens: int = Field(
        8192,
        ge=16,
        description="most padded tokens in one forward pass; with length-sorted chunks, one huge request "
        "cannot make a pass slow for the small requests that share it",
    )
    request_timeout_s: float = Field(
        60.0, gt=0.0, description="a request whose pairs are not all scored by then gets 504 and is dropped"
    )
    max_body_bytes: int = Field(
        2_000_000, ge=1_000, description="largest request body; larger ones get 413 before they are read"
    )
    cors_origins: str = Field(
        "",
        description="comma-separated origins allowed to call the API from a browser page of their own "
        "(CORS); empty: none (the page at / is same-origin and needs none)",
    )
    log_format: str = Field("text", pattern="^(text|json)$", description="text, or json: one object per line")
    abstain_below: float = Field(
        0.0, ge=0.0, le=1.0, description="default confidence below which a prediction is marked uncertain"
    )
    api_keys: str = Field(
        "",
        description="comma-separated API keys; when set, /v1/* routes need 'Authorization: Bearer KEY' "
        "(/healthz, /readyz and /metrics stay open)",
    )
    api_keys_file: str = Field("", description="file with one API key per line (added to api_keys)")
    feedback_db_url: str = Field(
        "sqlite:///feedback.sqlite3",
        min_length=1,
        description="database of POST /v1/feedback corrections: a SQLAlchemy URL (SQLite file by default; "
        "postgresql+psycopg://... with a PostgreSQL driver installed); opened on the first correction",
    )

    def origins(self) -> list[str]:
        """The CORS origins, one per comma-separated entry."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    def keys(self) -> list[str]:
        """Every configured API key (from ``api_keys`` and ``api_keys_file``)."""
        from pathlib import Path

        found = [k.strip() for k in self.api_keys.split(",") if k.strip()]
        if self.api_keys_file:
            lines = Path(self.api_keys_file).read_text(encoding="utf-8").splitlines()
            found += [k.strip() for k in lines if k.strip() and not k.startswith("#")]
        return found
