"""Settings of one service process, from the environment (prefix ``SOFTCOLLECT_``)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOFTCOLLECT_KAFKA_", extra="ignore", populate_by_name=True)

    # KAFKA_BOOTSTRAP_SERVERS is honoured too: it is what tests and tooling commonly set.
    bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        validation_alias=AliasChoices("SOFTCOLLECT_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        if "SSL" not in self.security_protocol:
            return None
        ctx = ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)
        if self.ssl_certfile:
            ctx.load_cert_chain(str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None)
        return ctx

    def aiokafka_options(self) -> dict:
        """Connection options for aiokafka clients (producer, consumer, admin)."""
        opts: dict = {"bootstrap_servers": self.bootstrap_servers, "security_protocol": self.security_protocol}
        if ctx := self.ssl_context():
            opts["ssl_context"] = ctx
        if self.sasl_mechanism:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        return opts


class ServiceSettings(BaseSettings):
    """Everything a service process reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="SOFTCOLLECT_", extra="ignore")

    topic_prefix: str = "softcollect."
    # One partition count for every topic keeps each debtor's events co-partitioned.
    partitions: int = Field(6, ge=1)
    # SQLite is the embedded default (one-command demo); PostgreSQL for real deployments and tests.
    database_url: str | None = None
    # PostgreSQL schema of the service's tables; default: the service's name.
    db_schema: str | None = None
    data_dir: Path = Path(".softcollect")
    config_dir: Path = Path("config")
    web_host: str = "127.0.0.1"
    web_port: int | None = None
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    # A transient failure (database or broker unreachable, serialization conflict) is retried this
    # many times with exponential backoff before the message goes to the DLQ.
    max_attempts: int = Field(4, ge=1, le=20)
    retry_backoff_seconds: float = Field(0.2, gt=0)
    # Messages processed in one database transaction, and how long to wait to fill a batch.
    batch_size: int = Field(500, ge=1, le=10_000)
    batch_wait_seconds: float = Field(0.02, gt=0)
    outbox_poll_seconds: float = Field(0.5, gt=0)
    outbox_batch_size: int = Field(500, ge=1)
    # How long faust waits before committing acknowledged offsets; lower = smaller redelivery window.
    commit_interval_seconds: float = Field(1.0, gt=0)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    def database_url_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"
