#!/usr/bin/env bash
# The Kubernetes control plane of the tests (internal/kubetest): etcd and
# kubectl come from Debian (etcd-server, kubectl); kube-apiserver, which
# Debian does not package, is built here from the Go module proxy.
#
#   kube/controlplane.sh build   build kube-apiserver into the cache, unless
#                                it is there already (about 5 minutes on 2
#                                cores the first time; the Go build cache
#                                makes a rebuild a matter of seconds)
#   kube/controlplane.sh path    print where the binary goes
#
# The cache is ${PROPWATCH_CACHE:-/var/cache/propwatch}; internal/kubetest
# looks for kube-apiserver-$VERSION there, and skips its tests when it is
# missing (fails them with PROPWATCH_REQUIRE_KUBE=1).
#
# k8s.io/kubernetes replaces its staging modules (k8s.io/api, ...) with
# local paths, so `go install k8s.io/kubernetes/cmd/kube-apiserver@...`
# refuses it. A throwaway module that requires it and points each staging
# module at its published release (v0.X.Y for v1.X.Y) builds it.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=v1.37.2 # internal/kubetest.Version: change both together
GO=${GO:-go}
CACHE=${PROPWATCH_CACHE:-/var/cache/propwatch}
OUT=$CACHE/kube-apiserver-$VERSION

build() {
	if [ -x "$OUT" ]; then
		echo "kube-apiserver $VERSION: $OUT (cached)"
		return
	fi
	mkdir -p "$CACHE"
	local start=$SECONDS
	work=$(mktemp -d "$CACHE/build.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	echo "kube-apiserver $VERSION: building into $OUT (about 5 minutes on 2 cores the first time)"
	local gover
	gover=$(sed -n 's/^go //p' go.mod)
	cat >"$work/go.mod" <<-GOMOD
		module kas

		go $gover

		require k8s.io/kubernetes $VERSION
	GOMOD
	local mod
	mod=$("$GO" mod download -json "k8s.io/kubernetes@$VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	[ -f "$mod" ] || { echo "controlplane.sh: no go.mod of k8s.io/kubernetes@$VERSION in the module cache" >&2; exit 1; }
	{
		echo 'replace ('
		awk -v v="v0.${VERSION#v1.}" '{
			for (i = 1; i + 2 <= NF; i++)
				if ($(i + 1) == "=>" && $(i + 2) ~ /^\.\/staging\//) print "\t" $i " => " $i " " v
		}' "$mod"
		echo ')'
	} >>"$work/go.mod"
	# What the server says it is (/version, kubectl version); without
	# these it is v0.0.0-master.
	local minor=${VERSION#v1.}
	minor=${minor%%.*}
	local ldflags="-X k8s.io/component-base/version.gitVersion=$VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	printf '//go:build tools\n\npackage kas\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >"$work/tools.go"
	(cd "$work" && "$GO" mod tidy && "$GO" build -ldflags="$ldflags" -o "$work/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
	mv "$work/kube-apiserver" "$OUT"
	echo "kube-apiserver $VERSION: built in $((SECONDS - start))s: $OUT"
}

case "${1:-}" in
build) build ;;
path) echo "$OUT" ;;
*)
	echo "usage: $0 build|path" >&2
	exit 2
	;;
esac
