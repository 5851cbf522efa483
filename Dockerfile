# syntax=docker/dockerfile:1

# ---- build: a wheel of the project and its dependencies ----
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade "pip>=24" "build>=1.2"
COPY pyproject.toml README.md ./
COPY api ./api
COPY billing ./billing
RUN python -m build --wheel --outdir /wheels . \
 && pip wheel --no-cache-dir --wheel-dir /wheels /wheels/*.whl

# ---- runtime: only the installed wheels, run as an unprivileged user ----
FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SYNDICATE_ENVIRONMENT=production \
    SYNDICATE_DATABASE_URL=sqlite:////data/syndicate.db
RUN groupadd --system --gid 10001 syndicate && useradd --system --uid 10001 --gid syndicate --home-dir /app syndicate \
 && mkdir -p /app /data && chown syndicate:syndicate /app /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels "syndicate==0.1.0" && rm -rf /wheels
WORKDIR /app
USER 10001
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"]
# Migrations first, then the server; WORKERS API processes (the worker loop runs in-process
# unless SYNDICATE_RUN_WORKER_IN_PROCESS=false and `syndicate worker` runs beside it).
ENV WORKERS=2
CMD ["sh", "-c", "syndicate db upgrade && exec syndicate serve --host 0.0.0.0 --port 8000 --workers \"$WORKERS\""]
