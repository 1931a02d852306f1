"""One real ingest worker for the whole ingest package (starting one costs seconds)."""

import pytest

from tests.ingest.harness import Ingest


@pytest.fixture(scope="package")
def ingest(tmp_path_factory, pg_url, kafka_bootstrap):
    ing = Ingest(tmp_path_factory.mktemp("ingest"), pg_url)
    ing.worker.start()
    yield ing
    ing.stop()
