//go:build !linux || !(amd64 || arm64)

package main

import "github.com/propwatch/propwatch/internal/loader"

// The loader's TLS API satisfies what startTLS needs.
var _ tlsLoader = (*loader.Loader)(nil)
