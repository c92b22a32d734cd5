#!/usr/bin/env bash
# Copies the workspace's manifests into a skeleton tree whose every build target is a stub,
# so the image can compile the dependencies in a layer of their own (the cargo-chef idea,
# without cargo-chef). The skeleton depends only on Cargo.toml/Cargo.lock contents and on
# which target files exist, so editing Rust sources leaves it, and the dependency layer
# built from it, unchanged.
#
#   skeleton.sh SRC DEST
#
# A target root is any file Cargo discovers by convention (src/lib.rs, src/main.rs,
# src/bin/*.rs, src/bin/*/main.rs, build.rs, tests/*.rs, tests/*/main.rs, benches/*.rs,
# examples/*.rs) or names with `path = "…rs"` in a manifest. Each becomes `fn main() {}`,
# which compiles as a library, a binary, a test or a build script alike.
# `deploy/check` runs this and loads the result with `cargo metadata`, so a crate whose
# targets it misses fails there rather than in an image build.
set -euo pipefail

src=${1:?usage: skeleton.sh SRC DEST}
dest=${2:?usage: skeleton.sh SRC DEST}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
cd "$src"

cp Cargo.toml Cargo.lock "$dest/"

stub() {
  mkdir -p "$dest/$(dirname "$1")"
  printf 'fn main() {}\n' >"$dest/$1"
}

# Every package manifest below the root, outside build output and node_modules.
find . -mindepth 2 -name Cargo.toml \
  -not -path '*/target/*' -not -path '*/node_modules/*' -not -path './.git/*' -print |
  sed 's|^\./||' | sort |
  while IFS= read -r manifest; do
    pkg=$(dirname "$manifest")
    mkdir -p "$dest/$pkg"
    cp "$manifest" "$dest/$manifest"
    (
      cd "$pkg"
      for f in src/lib.rs src/main.rs build.rs src/bin/*.rs src/bin/*/main.rs \
        tests/*.rs tests/*/main.rs benches/*.rs examples/*.rs; do
        if [[ -f $f ]]; then echo "$f"; fi
      done
      # Explicit target paths: `path = "src/foo.rs"` on a line of its own.
      sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' Cargo.toml
    ) | sort -u | while IFS= read -r target; do
      stub "$pkg/$target"
    done
  done
