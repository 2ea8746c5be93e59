#!/usr/bin/env bash
# Builds pycocotools (the COCO API's reference evaluator) into a local folder outside the repository, for the tests that
# compare our COCO evaluation with it (tests/VisionRwkv.Tests/Detection/Evaluation/PycocotoolsComparisonTests.cs).
# Optional: when it cannot build, it says why, leaves a marker with the reason and exits 1; those tests then skip.
#
# Debian does not package pycocotools, so it needs one of these sources, tried in order:
#   1. COCOAPI_SRC=/path/to/cocoapi  a copy of github.com/cocodataset/cocoapi (the folder that holds PythonAPI/ and common/)
#   2. pip: `python3 -m pip install pycocotools` from the configured index or find-links (PyPI, a local wheel folder)
#   3. git clone https://github.com/cocodataset/cocoapi
# Build dependencies from Debian (installed when root with apt): cython3 python3-dev python3-numpy python3-setuptools.
#
# Result: $DEST/lib/pycocotools (importable with PYTHONPATH=$DEST/lib) and $DEST/python (the interpreter that imports it,
# with numpy). DEST defaults to ${RWKV_CACHE:-~/.cache/rwkv}/pycocotools. Run with --force to rebuild.
set -euo pipefail

CACHE="${RWKV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rwkv}"
DEST="${PYCOCOTOOLS_DIR:-$CACHE/pycocotools}"
say() { echo "[pycocotools] $*" >&2; }
fail() {
  mkdir -p "$DEST"
  echo "$*" > "$DEST/unavailable"
  say "not built: $* (the pycocotools comparison tests will be skipped; remove $DEST/unavailable to try again)"
  exit 1
}

if [ "${1:-}" = "--force" ]; then rm -rf "$DEST"; fi
if [ -f "$DEST/python" ] && PYTHONPATH="$DEST/lib" "$(cat "$DEST/python")" -c 'import pycocotools._mask' 2>/dev/null; then
  exit 0
fi
rm -f "$DEST/unavailable"

is_root() { [ "$(id -u)" = 0 ]; }
have_apt() { command -v apt-get >/dev/null 2>&1; }

# The interpreter: one that imports numpy (Debian's /usr/bin/python3 once python3-numpy is installed).
pick_python() {
  for p in "${PYTHON:-}" /usr/bin/python3 python3; do
    [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy' 2>/dev/null && { command -v "$p"; return 0; }
  done
  return 1
}
install_build_deps() {
  local need=0
  pick_python >/dev/null || need=1
  command -v cython3 >/dev/null 2>&1 || need=1
  [ -n "$(ls /usr/include/python3*/Python.h 2>/dev/null)" ] || need=1
  if [ "$need" = 1 ]; then
    if is_root && have_apt; then
      say "installing cython3 python3-dev python3-numpy python3-setuptools (to build pycocotools)"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cython3 python3-dev python3-numpy python3-setuptools >/dev/null \
        || fail "apt-get could not install cython3 python3-dev python3-numpy python3-setuptools"
    else
      fail "needs cython3, python3-dev, python3-numpy and python3-setuptools (not root or no apt-get here)"
    fi
  fi
}

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Builds the Cython extension from a cocoapi tree ($1 holds PythonAPI/ and common/) and copies the package to $DEST/lib.
build_from_tree() {
  local src="$1" py
  [ -f "$src/PythonAPI/setup.py" ] && [ -f "$src/common/maskApi.c" ] || return 1
  install_build_deps
  py="$(pick_python)" || fail "no python3 with numpy found"
  cp -r "$src/PythonAPI" "$src/common" "$WORK/"
  (cd "$WORK/PythonAPI" && "$py" setup.py build_ext --inplace >"$WORK/build.log" 2>&1) \
    || { tail -20 "$WORK/build.log" >&2; fail "the Cython build failed (log above)"; }
  rm -rf "$DEST/lib"
  mkdir -p "$DEST/lib"
  cp -r "$WORK/PythonAPI/pycocotools" "$DEST/lib/"
  echo "$py" > "$DEST/python"
  echo "$2" > "$DEST/source"
}

if [ -n "${COCOAPI_SRC:-}" ]; then
  say "building from COCOAPI_SRC=$COCOAPI_SRC"
  build_from_tree "$COCOAPI_SRC" "COCOAPI_SRC $COCOAPI_SRC" || fail "COCOAPI_SRC=$COCOAPI_SRC has no PythonAPI/setup.py and common/maskApi.c"
else
  install_build_deps
  py="$(pick_python)" || fail "no python3 with numpy found"
  if "$py" -m pip --version >/dev/null 2>&1 \
    && "$py" -m pip install -q --no-deps --timeout 15 --retries 0 --target "$WORK/pip" pycocotools >"$WORK/pip.log" 2>&1; then
    rm -rf "$DEST/lib"
    mkdir -p "$DEST/lib"
    cp -r "$WORK/pip/pycocotools" "$DEST/lib/"
    echo "$py" > "$DEST/python"
    echo "pip $(ls -d "$WORK"/pip/pycocotools-*.dist-info 2>/dev/null | xargs -r -n1 basename)" > "$DEST/source"
  elif command -v git >/dev/null 2>&1 \
    && timeout 60 git clone -q --depth 1 https://github.com/cocodataset/cocoapi "$WORK/cocoapi" >/dev/null 2>&1; then
    build_from_tree "$WORK/cocoapi" "git clone $(git -C "$WORK/cocoapi" rev-parse HEAD)" || fail "the cloned cocoapi has no PythonAPI"
  else
    fail "no source: PyPI (pip) and github.com are unreachable and COCOAPI_SRC is not set"
  fi
fi

PYTHONPATH="$DEST/lib" "$(cat "$DEST/python")" -c 'import pycocotools._mask' 2>"$WORK/import.log" \
  || { cat "$WORK/import.log" >&2; fail "built, but 'import pycocotools._mask' fails"; }
say "built into $DEST/lib from $(cat "$DEST/source")"
