#!/usr/bin/env bash
# Build the documentation site (mkdocs.yml, docs/) and check it; exit non-zero on
# any warning.
#
#   bash scripts/build-docs.sh          # the site goes to site/
#
# 1. A venv of its own, .venvs/docs (PYATOMICS_DOCS_VENV to move it), made with
#    python3 (PYTHON to change it) and rebuilt when docs/requirements.txt or the
#    interpreter changes; the pinned requirements are installed into it.
# 2. The package itself, built from this checkout (the API page takes the C
#    types' docstrings from the compiled extension).
# 3. `mkdocs build --strict`: every warning is an error, including mkdocs'
#    validation of internal links and anchors (mkdocs.yml) and mkdocstrings'
#    unresolved references.
# 4. LinkChecker over the built site, served on 127.0.0.1: every page and asset
#    the pages link to must exist (anchors: see below).  Internal links only;
#    external ones are not fetched (the network is not assumed).
#
# The code examples on the pages are not run here: tests/test_docs.py runs every
# ```python block of README.md and docs/*.md in the test suite.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
venv=${PYATOMICS_DOCS_VENV:-$root/.venvs/docs}
requirements=docs/requirements.txt
site=$root/site

say() { printf '[build-docs] %s\n' "$*" >&2; }

# The venv is keyed by the requirements file and the interpreter, so a changed
# pin never runs against a stale environment.
key="$(sha256sum "$requirements" | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version)' | tr '\n' ' ')"
if [[ ! -x "$venv/bin/python" || "$(cat "$venv/.docs-key" 2>/dev/null)" != "$key" ]]; then
    say "creating $venv"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -r "$requirements"
    printf '%s' "$key" > "$venv/.docs-key"
fi

say "installing pyatomics from $root"
"$venv/bin/python" -m pip install -q --force-reinstall --no-deps --no-cache-dir "$root"

say "mkdocs build --strict"
# NO_MKDOCS_2_WARNING: mkdocs-material's banner about its end of life, not a
# warning about this site.
rm -rf "$site"
NO_MKDOCS_2_WARNING=1 "$venv/bin/mkdocs" build --strict --clean --site-dir "$site"

say "link check (internal links and anchors)"
# Over HTTP rather than file://: LinkChecker run as root drops to the user
# nobody, who may not be able to read a checkout under a private directory.
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/python" -m http.server --bind 127.0.0.1 --directory "$site" "$port" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/index.html', timeout=1)" \
        2>/dev/null && break
    sleep 0.1
done
# Anchors: mkdocs' validation above already checks every #anchor a page's
# Markdown links to (on its own page or another); the links mkdocs and
# mkdocstrings generate point at ids they generate.  PYATOMICS_DOCS_ANCHORS=1 adds
# LinkChecker's own anchor check over the HTML too (about a minute here: it
# fetches and parses a page again for every anchor).
options=(--no-status --no-robots --output text)
if [[ "${PYATOMICS_DOCS_ANCHORS:-0}" == 1 ]]; then
    config=$(mktemp)
    trap 'kill "$server" 2>/dev/null || true; rm -f "$config"' EXIT
    printf '[AnchorCheck]\n' > "$config"
    chmod a+r "$config"
    options+=(--config "$config")
fi
# Any warning or error makes LinkChecker exit 1.
env -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY \
    "$venv/bin/linkchecker" "${options[@]}" "http://127.0.0.1:$port/index.html"
say "ok: site/ built, no warnings, no broken internal links"
