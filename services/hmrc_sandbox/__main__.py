from services.common.runner import run_service
from services.hmrc_sandbox.app import SPEC, create_app

run_service(SPEC, create_app)
