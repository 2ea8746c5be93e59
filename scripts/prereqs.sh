#!/usr/bin/env bash
# Ensures everything the toolkit needs on this machine; called by ./rwkv and ./test.sh.
# Idempotent and quiet when all is present; says what it installs. Exit non-zero with an explanation when a
# prerequisite is missing and cannot be installed here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${RWKV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rwkv}"
say() { echo "[setup] $*" >&2; }
die() { echo "[setup] error: $*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }
have_apt() { command -v apt-get >/dev/null 2>&1; }
APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. The .NET SDK (global.json asks for 10.0.100 or a later feature band).
if ! command -v dotnet >/dev/null 2>&1; then
  die "the .NET 10 SDK is not installed. Install it (https://dot.net, or 'apt-get install dotnet-sdk-10.0' where your distribution ships it) and run this again."
fi

# 2. A libstdc++ with GLIBCXX_3.4.32: TorchSharp 0.107's native bridge needs GCC 13's libstdc++.
find_libstdcxx() {
  for f in /lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6 /usr/lib/libstdc++.so.6; do
    [ -e "$f" ] && { echo "$f"; return; }
  done
}
libstdcxx_ok() {
  local f; f="$(find_libstdcxx)"
  [ -n "$f" ] && grep -aq 'GLIBCXX_3.4.32' "$f"
}
if ! libstdcxx_ok; then
  . /etc/os-release 2>/dev/null || true
  if is_root && have_apt && [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
    say "installing libstdc++6 from Debian 13 (trixie): TorchSharp needs GLIBCXX_3.4.32, Debian 12 has 3.4.30 (about 35 s)"
    mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
    [ -n "$mirror" ] || mirror="http://deb.debian.org/debian"
    echo "deb $mirror trixie main" > /etc/apt/sources.list.d/trixie.list
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' > /etc/apt/preferences.d/trixie-pin
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t trixie libstdc++6 >/dev/null
    libstdcxx_ok || die "libstdc++6 from trixie was installed but GLIBCXX_3.4.32 is still missing"
  else
    die "TorchSharp needs a libstdc++ with GLIBCXX_3.4.32 (GCC 13 or newer); this system's is older.
  On Debian 12 as root this script installs it from Debian 13 (see ../shared/env.md); otherwise upgrade libstdc++6
  (Ubuntu 24.04+, Debian 13+ and Fedora 39+ already have it) and run this again."
  fi
fi

# 3. The embedded default data set: Fashion-MNIST (IDX files).
FMNIST_DEB=/usr/share/datasets/fashion-mnist
fmnist_files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"
fmnist_ok() { local d="$1"; for f in $fmnist_files; do [ -s "$d/$f" ] || [ -s "$d/${f%.gz}" ] || return 1; done; }
if ! fmnist_ok "$FMNIST_DEB" && ! fmnist_ok "$CACHE/fashion-mnist"; then
  if is_root && have_apt; then
    say "installing dataset-fashion-mnist (Fashion-MNIST IDX files, 30 MB)"
    apt_install dataset-fashion-mnist || say "apt could not install dataset-fashion-mnist; downloading instead"
  fi
  if ! fmnist_ok "$FMNIST_DEB"; then
    # No apt package: fetch the four official files and verify their published MD5 sums.
    mkdir -p "$CACHE/fashion-mnist"
    base="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
    say "downloading Fashion-MNIST into $CACHE/fashion-mnist"
    while read -r sum f; do
      dst="$CACHE/fashion-mnist/$f"
      if [ ! -s "$dst" ]; then
        curl -fsSL "$base/$f" -o "$dst.part" || die "could not download $base/$f"
        mv "$dst.part" "$dst"
      fi
      echo "$sum  $dst" | md5sum -c --quiet - || { rm -f "$dst"; die "checksum mismatch for $dst (removed; run again)"; }
    done <<'SUMS'
8d4fb7e6c68d591d4c3dfef9ec88bf0d train-images-idx3-ubyte.gz
25c81989df183df01b3e8a0aad5dffbe train-labels-idx1-ubyte.gz
bef4ecab320f06d8554ea6380940ec79 t10k-images-idx3-ubyte.gz
bb300cfdad3c16e7a12a480ee83cd310 t10k-labels-idx1-ubyte.gz
SUMS
  fi
fi

# 4. Tools the tests use: exiftool writes EXIF orientation into test photos.
if ! command -v exiftool >/dev/null 2>&1; then
  if is_root && have_apt; then
    say "installing libimage-exiftool-perl (exiftool, used by the image-decoding tests)"
    apt_install libimage-exiftool-perl
  else
    say "warning: exiftool is missing; EXIF-orientation tests will be skipped (install libimage-exiftool-perl)"
  fi
fi

# 4a. Independent references for the decoding and labeling tests (optional: the tests skip with a message without them):
#     Pillow (python3-pil) decodes the generated image set for the parity tests; ImageMagick makes the files Pillow
#     cannot write (interlaced and 16-bit RGB PNG, ImageMagick's CMYK JPEG, bilevel TIFF).
if ! /usr/bin/python3 -c 'import PIL' >/dev/null 2>&1 && ! python3 -c 'import PIL' >/dev/null 2>&1; then
  if is_root && have_apt; then
    say "installing python3-pil (Pillow: the reference decoder of the image tests)"
    apt_install python3-pil || say "warning: python3-pil could not be installed; the Pillow parity tests will be skipped"
  else
    say "warning: Pillow is missing; the Pillow parity tests will be skipped (install python3-pil)"
  fi
fi
if ! command -v identify >/dev/null 2>&1; then
  if is_root && have_apt; then
    say "installing imagemagick (makes test images Pillow cannot write)"
    apt_install imagemagick || say "warning: imagemagick could not be installed; a few generated test images will be missing"
  else
    say "warning: ImageMagick is missing; a few generated test images will be missing (install imagemagick)"
  fi
fi

# 4a'. scikit-learn, the reference the Medical metric tests compare AUROC, AP, ROC points and confusion counts with
#      (optional: those tests skip with a message without it). Debian's package installs into /usr/bin/python3.
if ! /usr/bin/python3 -c 'import sklearn.metrics' >/dev/null 2>&1 && ! python3 -c 'import sklearn.metrics' >/dev/null 2>&1; then
  if is_root && have_apt; then
    say "installing python3-sklearn (scikit-learn: the reference of the medical-evaluation metric tests)"
    apt_install python3-sklearn || say "warning: python3-sklearn could not be installed; the scikit-learn comparison tests will be skipped"
  else
    say "warning: scikit-learn is missing; the scikit-learn comparison tests will be skipped (install python3-sklearn)"
  fi
fi

# 4b. g++: the tests compile the CUDA kernels' source as C++ and run it on the CPU (they skip without it).
if ! command -v g++ >/dev/null 2>&1; then
  if is_root && have_apt; then
    say "installing g++ (the CUDA-kernel emulation tests compile the kernels as C++)"
    apt_install g++ || say "warning: g++ could not be installed; the CUDA-kernel emulation tests will be skipped"
  else
    say "warning: g++ is missing; the CUDA-kernel emulation tests will be skipped"
  fi
fi

# 4c. The Debian fortune files, the corpus of the main text job (rwkv text train --data fortunes): real English
#     prose, public, a few MB (optional: without them only that data spec fails, naming the packages).
if [ ! -f /usr/share/games/fortunes/fortunes ]; then
  if is_root && have_apt; then
    say "installing fortunes and fortunes-min (the English fortune files: the corpus of the main text job, about 3 MB)"
    apt_install fortunes fortunes-min || say "warning: fortunes could not be installed; 'rwkv text train --data fortunes' will not work"
  else
    say "warning: the fortune files are missing; 'rwkv text train --data fortunes' needs the packages fortunes and fortunes-min"
  fi
fi

# 5. libjpeg-turbo's TurboJPEG: decodes JPEG photos about 1.5x faster than Skia's built-in decoder (optional;
#    the decoder falls back to Skia without it).
if ! ldconfig -p 2>/dev/null | grep 'libturbojpeg.so.0' >/dev/null; then  # no -q: an early exit would SIGPIPE ldconfig under pipefail
  if is_root && have_apt; then
    say "installing libturbojpeg0 (fast JPEG decoding)"
    apt_install libturbojpeg0 || say "warning: libturbojpeg0 could not be installed; JPEG decoding uses Skia"
  fi
fi

# 5b. pycocotools, the reference the COCO-evaluation tests compare with (optional). Debian does not package it, so
#     scripts/build-pycocotools.sh builds it from a source it can reach (COCOAPI_SRC, pip, git); where none is
#     reachable it leaves a marker with the reason and those tests skip. Tried once, not on every call.
PYCOCO_DIR="${PYCOCOTOOLS_DIR:-$CACHE/pycocotools}"
if [ ! -f "$PYCOCO_DIR/python" ] && [ ! -f "$PYCOCO_DIR/unavailable" ]; then
  say "building pycocotools into $PYCOCO_DIR (optional: the COCO-evaluation comparison tests use it)"
  RWKV_CACHE="$CACHE" bash "$ROOT/scripts/build-pycocotools.sh" || say "warning: pycocotools not built; the pycocotools comparison tests will be skipped"
fi

# 5b. DICOM decoders: OpenJPEG (JPEG 2000) and CharLS (JPEG-LS), loaded at run time by the DICOM reader (optional:
#     without them those transfer syntaxes give a clear error naming the missing library).
if ! ldconfig -p 2>/dev/null | grep 'libopenjp2.so.7' >/dev/null || ! ldconfig -p 2>/dev/null | grep 'libcharls.so.2' >/dev/null; then
  if is_root && have_apt; then
    say "installing libopenjp2-7 and libcharls2 (JPEG 2000 and JPEG-LS decoding of DICOM files)"
    apt_install libopenjp2-7 libcharls2 || say "warning: libopenjp2-7/libcharls2 could not be installed; JPEG 2000 and JPEG-LS DICOM files will not decode"
  else
    say "warning: libopenjp2-7 or libcharls2 is missing; JPEG 2000 and JPEG-LS DICOM files will not decode"
  fi
fi

# 5c. Test references for the DICOM reader: pydicom with GDCM and numpy (and Pillow, which the export script uses to
#     write test JPEGs). Optional: without them the pydicom comparison tests are skipped with a message.
pyref() {
  for py in python3 /usr/bin/python3; do
    "$py" -c 'import pydicom, gdcm, numpy, PIL' >/dev/null 2>&1 && return 0
  done
  return 1
}
if command -v python3 >/dev/null 2>&1 || have_apt; then
  if ! pyref; then
    if is_root && have_apt; then
      say "installing python3-pydicom python3-gdcm python3-numpy python3-pil (reference for the DICOM tests)"
      apt_install python3-pydicom python3-gdcm python3-numpy python3-pil || say "warning: the pydicom test reference could not be installed; those tests will be skipped"
    else
      say "warning: python3-pydicom/python3-gdcm/python3-numpy are missing; the pydicom comparison tests will be skipped"
    fi
  fi
fi

# 5d. Chromium, headless: renders the X-ray triage report.html once in a test to check every embedded image loads
#     (optional: without it that test is skipped with a message).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  if is_root && have_apt; then
    say "installing chromium (headless rendering check of the evaluation report, about 100 MB)"
    apt_install chromium || say "warning: chromium could not be installed; the report rendering test will be skipped"
  else
    say "warning: chromium is missing; the report rendering test will be skipped (install chromium)"
  fi
fi

# 6. NuGet packages (TorchSharp with the CPU LibTorch is about 600 MB on first restore).
pkgs="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
if [ ! -d "$pkgs/libtorch-cpu-linux-x64/2.10.0" ] || [ ! -f "$ROOT/src/Cli/obj/project.assets.json" ]; then
  say "restoring NuGet packages (first time: TorchSharp with LibTorch CPU, about 600 MB)"
  dotnet restore "$ROOT/Rwkv.sln" --nologo -v q >&2
fi
