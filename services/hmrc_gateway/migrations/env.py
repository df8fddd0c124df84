from services.common.migrations import run_env
from services.hmrc_gateway.models import metadata

run_env(metadata)
