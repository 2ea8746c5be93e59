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

# Builds the Cython extension in $1 (a folder with setup.py and pycocotools/, whose setup.py finds maskApi.c) and
# copies the package to $DEST/lib.
build_in() {
  local dir="$1" py
  install_build_deps
  py="$(pick_python)" || fail "no python3 with numpy found"
  (cd "$dir" && "$py" setup.py build_ext --inplace >"$WORK/build.log" 2>&1) \
    || { tail -20 "$WORK/build.log" >&2; fail "the Cython build failed (log above)"; }
  rm -rf "$DEST/lib"
  mkdir -p "$DEST/lib"
  cp -r "$dir/pycocotools" "$DEST/lib/"
  echo "$py" > "$DEST/python"
}

# 1. Find a source before installing anything, so a machine without one costs no apt run.
src_kind=""
if [ -n "${COCOAPI_SRC:-}" ]; then
  [ -f "$COCOAPI_SRC/PythonAPI/setup.py" ] && [ -f "$COCOAPI_SRC/common/maskApi.c" ] \
    || fail "COCOAPI_SRC=$COCOAPI_SRC has no PythonAPI/setup.py and common/maskApi.c"
  cp -r "$COCOAPI_SRC/PythonAPI" "$COCOAPI_SRC/common" "$WORK/"
  src_kind="tree"; src_desc="COCOAPI_SRC $COCOAPI_SRC"
else
  for p in "${PYTHON:-}" /usr/bin/python3 python3; do
    [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 && "$p" -m pip --version >/dev/null 2>&1 || continue
    if "$p" -m pip download -q --no-deps --timeout 15 --retries 0 -d "$WORK/dl" pycocotools >"$WORK/pip.log" 2>&1; then
      src_kind="pip"; src_desc="pip $(ls "$WORK/dl")"
      break
    fi
  done
  if [ -z "$src_kind" ] && command -v git >/dev/null 2>&1 \
    && timeout 60 git clone -q --depth 1 https://github.com/cocodataset/cocoapi "$WORK/cocoapi" >/dev/null 2>&1; then
    cp -r "$WORK/cocoapi/PythonAPI" "$WORK/cocoapi/common" "$WORK/"
    src_kind="tree"; src_desc="git clone $(git -C "$WORK/cocoapi" rev-parse HEAD)"
  fi
fi
[ -n "$src_kind" ] || fail "no source: PyPI (pip) and github.com are unreachable and COCOAPI_SRC is not set"

# 2. Build (or unpack a wheel).
if [ "$src_kind" = tree ]; then
  build_in "$WORK/PythonAPI"
else
  f="$(ls "$WORK"/dl/* | head -1)"
  case "$f" in
    *.whl)
      install_build_deps
      py="$(pick_python)" || fail "no python3 with numpy found"
      rm -rf "$DEST/lib"; mkdir -p "$DEST/lib"
      "$py" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$f" "$DEST/lib"
      echo "$py" > "$DEST/python" ;;
    *.tar.gz)
      mkdir -p "$WORK/sdist" && tar -xzf "$f" -C "$WORK/sdist"
      build_in "$(dirname "$(ls -d "$WORK"/sdist/*/setup.py | head -1)")" ;;
    *) fail "pip gave an unexpected file $f" ;;
  esac
fi
echo "$src_desc" > "$DEST/source"

PYTHONPATH="$DEST/lib" "$(cat "$DEST/python")" -c 'import pycocotools._mask' 2>"$WORK/import.log" \
  || { cat "$WORK/import.log" >&2; fail "built, but 'import pycocotools._mask' fails (a wheel for another Python?)"; }
say "built into $DEST/lib from $(cat "$DEST/source")"
