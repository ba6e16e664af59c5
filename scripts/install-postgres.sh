#!/usr/bin/env bash
# What the PostgreSQL store's tests and `concord bench store` run on: Debian's
# PostgreSQL 15 server and client unpacked into target/pg (no system change: the
# server finds its share and lib folders relative to its own binary), and pgvector
# 0.8.0 built from Debian's source tarball (checked against the checksum Debian's .dsc
# publishes) against the unpacked server headers and installed into that same tree.
# Prints the bin folder to use (CONCORD_PG_BIN) on its last line. Run again, it does
# nothing; `--force` unpacks and builds afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD/target/pg"
bin="$root/usr/lib/postgresql/15/bin"
ext="$root/usr/share/postgresql/15/extension/vector.control"
pgvector_version=0.8.0
pgvector_sha256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
pgvector_url="http://deb.debian.org/debian/pool/main/p/pgvector/pgvector_${pgvector_version}.orig.tar.gz"

if [[ ${1:-} == --force ]]; then
    rm -rf "$root"
fi
if [[ -x $bin/postgres && -f $ext ]]; then
    echo "$bin"
    exit 0
fi

rm -rf "$root"
mkdir -p "$root/debs"
(
    cd "$root/debs"
    # apt-get download as root warns that its sandbox user cannot write here; harmless.
    apt-get download postgresql-15 postgresql-client-15 postgresql-server-dev-15 libpq5 2>&1 |
        grep -v "^W: Download is performed unsandboxed" >&2 || true
    ls postgresql-15_*.deb postgresql-client-15_*.deb postgresql-server-dev-15_*.deb libpq5_*.deb >/dev/null
)
for deb in "$root"/debs/*.deb; do
    dpkg-deb -x "$deb" "$root"
done

# The server's shared libraries (ICU, OpenSSL, LDAP, ...) come from the system; install
# Debian's server package only where some are missing, for its dependencies.
libs="$root/usr/lib/x86_64-linux-gnu"
if LD_LIBRARY_PATH="$libs" ldd "$bin/postgres" "$bin/pg_basebackup" | grep -q "not found"; then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get install -y --no-install-recommends postgresql-15 ||
        { "${sudo[@]}" apt-get update && "${sudo[@]}" apt-get install -y --no-install-recommends postgresql-15; }
fi

src="$root/src"
mkdir -p "$src"
curl -fsSL --retry 3 -o "$src/pgvector.tar.gz" "$pgvector_url"
echo "$pgvector_sha256  $src/pgvector.tar.gz" | sha256sum -c --quiet
tar -xzf "$src/pgvector.tar.gz" -C "$src"
# pg_config, unpacked beside the server, reports the folders of this tree. OPTFLAGS
# left empty: the default -march=native would tie the build to this processor.
make -s -C "$src/pgvector-$pgvector_version" PG_CONFIG="$bin/pg_config" OPTFLAGS="" \
    with_llvm=no -j2 >/dev/null
make -s -C "$src/pgvector-$pgvector_version" PG_CONFIG="$bin/pg_config" with_llvm=no install >/dev/null
test -f "$ext"
echo "$bin"
