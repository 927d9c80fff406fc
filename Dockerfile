# GradPlay web app. Build: docker build -t gradplay .   Run: docker run -p 8000:8000 gradplay
# For a class (other machines): docker run -p 8000:8000 \
#     -e GRADPLAY_ALLOWED_HOSTS=class.example.org,192.168.1.20 gradplay
# (the names or addresses the students type; see "Running for a class" in README.md)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The project checkout lives here; templates/ and static/ are read from it at runtime (the
# installed `app` package in site-packages has no copy), so the paths are set explicitly.
WORKDIR /srv/gradplay

COPY pyproject.toml README.md ./
COPY app ./app
COPY core ./core
COPY templates ./templates
COPY static ./static

RUN pip install . \
    && useradd --system --no-create-home --shell /usr/sbin/nologin gradplay

# one BLAS thread: the engine multiplies many tiny matrices (see core/__init__.py).
# GRADPLAY_ALLOWED_HOSTS: the Host names the server answers (and the WebSocket Origins it
# accepts). The default is this machine's own browser through a published port
# (http://localhost:8000); override it with the name other machines use.
ENV GRADPLAY_ALLOWED_HOSTS=localhost,127.0.0.1,[::1] \
    GRADPLAY_TEMPLATES_DIR=/srv/gradplay/templates \
    GRADPLAY_STATIC_DIR=/srv/gradplay/static \
    OPENBLAS_NUM_THREADS=1 \
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1

USER gradplay
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"

# 0.0.0.0 inside the container only; publish the port to choose who can reach it
CMD ["gradplay", "serve", "--host", "0.0.0.0", "--port", "8000"]
