# depthlens: API + dashboard on one port, embedded local exchanges by default (no network needed).
#   docker build -t depthlens .      python:3.11-slim from a registry, packages from PyPI
#   make docker-test                 no registry: a Debian base built with debootstrap, and the
#                                    packages from a wheelhouse built on the host (README, "Container")
# Any base with python3 and its venv module works: --build-arg BASE_IMAGE=depthlens-base:bookworm.
ARG BASE_IMAGE=python:3.11-slim

# ---- build: the venv and the sources; the wheels and build/ stay behind in this stage.
FROM ${BASE_IMAGE} AS build
# `--no-index` installs from build/wheelhouse alone, with no network during the build.
ARG PIP_INSTALL_ARGS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# A venv works the same on python:*-slim and on Debian's own python3 (which refuses a system pip).
RUN python3 -m venv /opt/venv
# The runtime packages at the locked versions, in their own layer so a code change reuses it;
# pip itself and the packages' own test suites (about 70 MB: pandas, numpy, pyarrow) left out.
# `build/wheelhouse*` matches nothing in a plain build, which then takes the wheels from PyPI.
COPY requirements-runtime.lock build/wheelhouse* /tmp/deps/
RUN /opt/venv/bin/pip install $PIP_INSTALL_ARGS --find-links /tmp/deps \
        -r /tmp/deps/requirements-runtime.lock \
    && /opt/venv/bin/pip uninstall --quiet --yes pip \
    && find /opt/venv/lib -depth -type d -path '*/site-packages/*/tests' -exec rm -rf {} +
# What .dockerignore lets through: the packages, main.py, config.py (and the wheelhouse, dropped).
COPY . /app
RUN rm -rf /app/build /app/requirements-runtime.lock && /opt/venv/bin/python -m compileall -q /app

# ---- the image: same base, the venv and the sources, an unprivileged user.
FROM ${BASE_IMAGE}
RUN useradd --uid 10001 --create-home depthlens
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER 10001
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DEPTHLENS_HOST=0.0.0.0
# DEPTHLENS_HOST: inside a container the port must be reachable from outside it (on a host,
# depthlens keeps 127.0.0.1). Publish it on the host's loopback: -p 127.0.0.1:8000:8000.
EXPOSE 8000
# Healthy once every book is live (/health says "ok"); the port follows DEPTHLENS_PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import json, os, sys, urllib.request as u; r = u.urlopen('http://127.0.0.1:%s/health' % os.environ.get('DEPTHLENS_PORT', '8000'), timeout=4); sys.exit(json.load(r)['status'] != 'ok')"
CMD ["python", "main.py"]
