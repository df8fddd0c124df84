import sys

if sys.argv[1:2] == ["keys"]:
    from services.audit.keys import main

    raise SystemExit(main(sys.argv[2:]))

from services.audit.app import SPEC, create_app
from services.common.runner import run_service

run_service(SPEC, create_app)
