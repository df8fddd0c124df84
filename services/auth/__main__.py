from services.auth.app import SPEC, create_app
from services.common.runner import run_service

run_service(SPEC, create_app)
