#!/usr/bin/env bash
# Re-vendors GraphiQL's production assets from npm, pinned, and checks them.
#
#   crates/gateway/assets/graphiql/vendor.sh          # download, verify npm's integrity, copy
#   crates/gateway/assets/graphiql/vendor.sh --check  # only check the committed files (SHA256SUMS)
#
# The gateway embeds these files with include_bytes! (src/http/graphiql.rs), so /graphiql works
# with no network. To upgrade, change the versions and integrities below (from
# `npm view <pkg>@<version> dist.integrity`), run this, rerun the GraphiQL e2e test and commit
# the files with the new SHA256SUMS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

GRAPHIQL=4.1.2 # the last line with a UMD build (5.x is ESM with Monaco workers)
REACT=18.3.1   # what graphiql 4 peers with; the UMD production builds
declare -A INTEGRITY=(
  ["graphiql@$GRAPHIQL"]="sha512-rNlzQIAzm6i2KBXmVQWBgLvt0TloxFVB2d18bukvdsvjEuFDHsKx5IVOomL1W1o5WW+tE54+ioHb2AEKzO2cUg=="
  ["react@$REACT"]="sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ=="
  ["react-dom@$REACT"]="sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw=="
)

if [[ "${1:-}" != "--check" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  for spec in "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT"; do
    tgz="$(cd "$work" && npm pack --silent "$spec")"
    got="sha512-$(openssl dgst -sha512 -binary "$work/$tgz" | base64 -w0)"
    if [[ "$got" != "${INTEGRITY[$spec]}" ]]; then
      echo "$spec: integrity $got, expected ${INTEGRITY[$spec]}" >&2
      exit 1
    fi
    mkdir -p "$work/${spec%@*}"
    tar -xzf "$work/$tgz" -C "$work/${spec%@*}"
  done
  cp "$work/graphiql/package/graphiql.min.js" "$work/graphiql/package/graphiql.min.css" .
  cp "$work/react/package/umd/react.production.min.js" .
  cp "$work/react-dom/package/umd/react-dom.production.min.js" .
  cp "$work/graphiql/package/LICENSE" LICENSE.graphiql
  cp "$work/react/package/LICENSE" LICENSE.react
  cp "$work/react-dom/package/LICENSE" LICENSE.react-dom
  sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js >SHA256SUMS
fi
sha256sum --check --quiet SHA256SUMS
echo "GraphiQL $GRAPHIQL and React $REACT production assets: OK"
