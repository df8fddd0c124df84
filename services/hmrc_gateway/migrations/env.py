from services.common.migrations import run_env

run_env(None)
