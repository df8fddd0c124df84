from services.audit.models import AuditBase
from services.common.migrations import run_env

run_env(AuditBase.metadata)
