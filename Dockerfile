# syntax=docker/dockerfile:1
# One image for web (gunicorn), worker (celery worker) and beat (celery beat);
# docker-compose.yml runs it with different commands.
# Front-end packages come from the npm lock, in a throw-away stage.
FROM node:20-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app

# Runtime dependencies only (requirements.in), pinned to the versions in the lock.
COPY requirements.in requirements.lock ./
RUN pip install -c requirements.lock -r requirements.in

# App code stays root-owned (read-only for the app user); only var/ and media/ are writable.
COPY . .
COPY --from=assets /build/node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

# Static files are collected into the image (served by WhiteNoise). The settings'
# dev defaults (SQLite, filesystem broker) are enough for collectstatic.
RUN SECRET_KEY=collectstatic-only DEBUG=0 python manage.py collectstatic --noinput \
 && mkdir -p var media \
 && chown -R app:app var media

USER app

EXPOSE 8000

CMD ["gunicorn", "portal.wsgi:application", "-b", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
