# Sourced by the scripts here: make sure .venv exists and holds this project (editable), its dev
# tools and the optional Ray engine (so the tests cover it). Re-installs only when pyproject.toml
# changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.deid-installed"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating $VENV" >&2
    python3 -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    echo "installing the project and its dependencies into $VENV (about 2 minutes the first time)" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev,ray]" 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
    "$VENV/bin/python" -c "import torch, torchvision, captum, cv2, skimage, click, safetensors, ray" \
        || { echo "the install into $VENV failed; see the messages above" >&2; exit 1; }
    echo "$want" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
