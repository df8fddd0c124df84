from services.common.migrations import run_env
from services.obligations.models import metadata

run_env(metadata)
