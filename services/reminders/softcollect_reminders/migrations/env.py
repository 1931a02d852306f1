from softcollect_runtime.db import run_alembic_env

run_alembic_env()
