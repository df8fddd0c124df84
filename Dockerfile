# syntax=docker/dockerfile:1.7
#
# One image for every service; the service is its argument:
#   docker run IMAGE services.submission     (python -m services.submission)
#   docker run IMAGE deploy.migrate auth     (the chart's migration Job)
#   docker run IMAGE services.canary         (the chart's canary CronJob)
#
# Why one image and not one per service (docs/decisions/0040-images.md): every service is
# the same Python distribution - one pyproject, one dependency set, one shared library
# (services/common) whose outbox/inbox, telemetry and settings contracts must match across
# services. Per-service images would differ only in their command, yet cost six builds,
# six scans and six pushes per change, and would let services run different versions of
# the shared library by accident. One image is built, scanned, signed and pinned once; the
# chart starts each Deployment with its own module.
#
# The base is pinned by exact version in both stages (bump them together); the Kubernetes
# probes (/healthz, /readyz) are the health checks - Docker's HEALTHCHECK is not used by
# Kubernetes, and the image also runs the migration Job and the canary, which serve nothing.
# checkov:skip=CKV_DOCKER_2: health is checked by the chart's startup/liveness/readiness probes

# -- build: resolve and install the dependencies into a virtual environment ---------------
FROM python:3.11.14-slim-bookworm AS build
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
# Dependencies first (only pyproject.toml), so code changes do not re-resolve them. Wheels
# only: nothing is compiled, so not even this stage needs a compiler.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt \
 && /opt/venv/bin/pip install --only-binary=:all: -r requirements.txt \
 && /opt/venv/bin/pip uninstall --yes pip setuptools wheel
# Bytecode is compiled here, once: at run time nothing is written (PYTHONDONTWRITEBYTECODE,
# read-only root filesystem) and start-up still skips compiling.
COPY services ./app/services
COPY deploy ./app/deploy
COPY contracts ./app/contracts
RUN python -m compileall -q /opt/venv ./app/services ./app/deploy

# -- runtime: the interpreter, the environment and the source; no compiler, no pip --------
FROM python:3.11.14-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PATH=/opt/venv/bin:$PATH \
    HOME=/tmp
RUN groupadd --system --gid 10001 mtd \
 && useradd --system --uid 10001 --gid mtd --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin mtd
# The base image's own pip is not needed at run time.
RUN rm -rf /usr/local/lib/python3.11/site-packages/pip* \
      /usr/local/lib/python3.11/site-packages/setuptools* \
      /usr/local/lib/python3.11/site-packages/wheel* \
      /usr/local/bin/pip* /root/.cache
COPY --from=build /opt/venv /opt/venv
# Source layout as in the repository (the gateway and the simulator read contracts/hmrc/
# relative to the services package), owned by root: the service user can read, not write.
COPY --from=build /src/app /app
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# The module to run is a required argument (see above); the chart always passes one.
ENTRYPOINT ["python", "-m"]
