#!/usr/bin/env bash
# Builds the CUDA concord (`cargo build --features cuda`) on a machine without a GPU.
#
# candle compiles its kernels to PTX with nvcc, and cudarc links against the CUDA
# libraries. Both come from NVIDIA's CUDA 13.0 wheels on PyPI (downloaded, never
# installed), unpacked into target/cuda/toolkit. That folder is laid out like a toolkit
# root: bin/nvcc, include/, lib/ with unversioned .so names added. The driver library
# (libcuda) exists only on GPU hosts, so a stub with the same exports is built from
# cudarc's own symbol list to link against; at run time the real driver is used.
#
# CUDA 13.0 matches driver 580. Kernels ship as PTX for CUDA_COMPUTE_CAP (default 90:
# H100/H200), so the toolkit must not be newer than the GPU host's driver.
#
# The default CPU build and CI need none of this. Output: target/cuda/concord.
# On the GPU host the binary needs libcublas, libcublasLt, libcurand and libnvrtc of
# CUDA 13 on LD_LIBRARY_PATH (there from its CUDA install, or copy them from
# target/cuda/toolkit/lib).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
CUDA_DIR=target/cuda
TOOLKIT=$CUDA_DIR/toolkit
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
PACKAGES=(
    nvidia-cuda-nvcc==13.0.88
    nvidia-nvvm==13.0.88
    nvidia-cuda-crt==13.0.88
    nvidia-cuda-cccl==13.0.85
    nvidia-cuda-runtime==13.0.96
    nvidia-cuda-nvrtc==13.0.88
    nvidia-cublas==13.0.2.14
    nvidia-curand==10.4.0.35
)

cargo fetch --locked

if [ ! -x "$TOOLKIT/bin/nvcc" ] || [ ! -e "$TOOLKIT/lib/stubs/libcuda.so" ]; then
    echo "== CUDA 13.0 toolkit from PyPI wheels into $TOOLKIT"
    mkdir -p "$CUDA_DIR/wheels"
    "$PYTHON" -m pip download --no-deps --only-binary=:all: -d "$CUDA_DIR/wheels" "${PACKAGES[@]}"
    rm -rf "$CUDA_DIR/unpack" "$TOOLKIT"
    for wheel in "$CUDA_DIR"/wheels/*.whl; do
        "$PYTHON" -m zipfile -e "$wheel" "$CUDA_DIR/unpack"
    done
    mv "$CUDA_DIR/unpack/nvidia/cu13" "$TOOLKIT"
    rm -rf "$CUDA_DIR/unpack"
    # Wheels do not keep file modes.
    chmod +x "$TOOLKIT"/bin/* "$TOOLKIT"/nvvm/bin/*
    # The linker wants unversioned names (libcublas.so), the wheels ship libcublas.so.13.
    for lib in "$TOOLKIT"/lib/lib*.so.*; do
        name=$(basename "$lib")
        ln -sf "$name" "$TOOLKIT/lib/${name%%.so.*}.so"
    done

    echo "== libcuda stub from cudarc's driver symbols"
    SYS=$(cargo metadata --locked --format-version 1 --features concord-cli/cuda | "$PYTHON" -c '
import json, pathlib, sys
pkgs = json.load(sys.stdin)["packages"]
cudarc = [p for p in pkgs if p["name"] == "cudarc"]
print(pathlib.Path(cudarc[0]["manifest_path"]).parent / "src/driver/sys/mod.rs")')
    mkdir -p "$TOOLKIT/lib/stubs"
    grep -o 'load::<_F>("cu[A-Za-z0-9_]*")' "$SYS" | sed 's/.*("\(.*\)")/\1/' | sort -u |
        awk '{ printf "int %s(void) { return 999; /* CUDA_ERROR_UNKNOWN */ }\n", $1 }' \
            >"$TOOLKIT/lib/stubs/libcuda_stub.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$TOOLKIT/lib/stubs/libcuda.so" \
        "$TOOLKIT/lib/stubs/libcuda_stub.c"
    ln -sf libcuda.so "$TOOLKIT/lib/stubs/libcuda.so.1"
fi

echo "== cargo build --release --features cuda (compute capability $CUDA_COMPUTE_CAP)"
export CUDA_ROOT="$PWD/$TOOLKIT"
export PATH="$CUDA_ROOT/bin:$PATH"
# A target folder of its own keeps the CPU build's cache untouched.
CARGO_TARGET_DIR=$CUDA_DIR/build cargo build --release --locked -p concord-cli --features cuda --bin concord
cp "$CUDA_DIR/build/release/concord" "$CUDA_DIR/concord"
strip --strip-all "$CUDA_DIR/concord"
# The binary is over 64 MiB (its PTX kernels); xz makes it about 9 MiB to carry.
xz -T0 -6 -c "$CUDA_DIR/concord" >"$CUDA_DIR/concord.xz"
ls -la "$CUDA_DIR/concord" "$CUDA_DIR/concord.xz"

# Smoke test without a GPU: with the stub driver the binary starts, runs on the CPU,
# and refuses `--device cuda` with the driver's error.
if [ -e models/multilingual-e5-small/config.json ]; then
    export LD_LIBRARY_PATH="$CUDA_ROOT/lib:$CUDA_ROOT/lib/stubs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    "$CUDA_DIR/concord" --device cpu eval golden
    if "$CUDA_DIR/concord" --device cuda eval golden 2>/dev/null; then
        echo "a stub driver cannot run CUDA; this should have failed" >&2
        exit 1
    fi
fi
echo "built $CUDA_DIR/concord; on the GPU host: concord --device cuda ..."
