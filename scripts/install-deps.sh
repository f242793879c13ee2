#!/usr/bin/env bash
# Installs the Debian 12 packages nimble builds and tests with (run as root). Skips apt when
# everything is already present, so repeated runs are fast and work offline.
set -euo pipefail
# libdnnl-dev's CMake config looks for OpenCL (oneDNN's GPU runtime) but only recommends
# ocl-icd-opencl-dev, which --no-install-recommends skips: without it `find_package(dnnl)` fails.
packages=(g++ cmake ninja-build libdnnl-dev ocl-icd-opencl-dev zlib1g-dev libcli11-dev nlohmann-json3-dev libfmt-dev
          ccache libgtest-dev libgmock-dev libbenchmark-dev dataset-fashion-mnist jq
          pybind11-dev python3-dev python3-numpy python3-pytest clang-format clang-tidy
          libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
          libturbojpeg0-dev libpng-dev libzip-dev
          python3-torch python3-torchvision python3-pil libopenblas0-pthread chromium
          libopenmpi-dev openmpi-bin clang libclang-rt-dev libomp-dev)
# PyTorch (the peer in bench/, the exporter of the torchvision models the ONNX import tests read, the
# fixtures' generator) comes with libopenblas0-pthread: without it Debian's PyTorch falls back to
# the reference BLAS. Node.js runs ONNX Runtime (scripts/install-onnxruntime.sh). The data readers
# decode JPEG with libturbojpeg, PNG with libpng and .npz archives with libzip.
# Open MPI builds libnimble_mpi.so (data-parallel runs under mpirun; docs/distributed.md).
# clang with its sanitizer and libFuzzer runtimes (libclang-rt-dev) and its OpenMP (libomp-dev) builds
# build-asan: the parser tests and the fuzz targets (scripts/configure-asan.sh, scripts/fuzz.sh).
# Headless chromium opens `nimble optimize`'s HTML page in tests/html/check_report.py (console errors, screenshot).
command -v node > /dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
