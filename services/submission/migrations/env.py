from services.common.migrations import run_env
from services.submission.models import Base

run_env(Base.metadata)
