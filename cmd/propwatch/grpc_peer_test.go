package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// gRPC peers of the end-to-end tests: grpc-go's health service as the
// server (a real generated service, no protoc needed), and clients that
// call its Check method, with the OpenTelemetry gRPC instrumentation
// (otelgrpc) or context written into the metadata by hand.

// The gRPC client's mix, and what propwatch must count for it: one pair,
// protocol grpc.
const (
	grpcValid      = 6  // otelgrpc: a sampled span's traceparent, and baggage through the propagator
	grpcMissing    = 4  // no instrumentation
	grpcInvalid    = 3  // an upper-case traceparent in the metadata
	grpcPII        = 2  // a valid traceparent and the planted email and card in baggage
	grpcOversized  = 1  // 9000 bytes of baggage
	grpcConcurrent = 20 // otelgrpc, at once on one connection
	grpcRequests   = grpcValid + grpcMissing + grpcInvalid + grpcPII + grpcOversized + grpcConcurrent
)

func runGRPCPeer(role string) (bool, error) {
	switch role {
	case "grpc-server":
		return true, peerGRPCServer()
	case "grpc-client":
		return true, peerGRPCClient(os.Getenv("PEER_ADDR"))
	case "grpc-early":
		return true, peerGRPCEarly(os.Getenv("PEER_ADDR"))
	}
	return false, nil
}

// peerGRPCServer serves grpc-go's health service on loopback, without
// instrumentation (propwatch judges what the client sends). It prints its
// address first.
func peerGRPCServer() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	srv.Stop()
	return nil
}

// otelConn dials addr with otelgrpc's client handler, a real tracer
// provider that samples every span, and the W3C trace context and baggage
// propagators: what an instrumented Go service does.
func otelConn(addr string) (*grpc.ClientConn, func(), error) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(prop))))
	if err != nil {
		return nil, nil, err
	}
	return cc, func() { cc.Close(); tp.Shutdown(context.Background()) }, nil
}

// check makes one health Check call, with the metadata pairs md.
func check(cc *grpc.ClientConn, ctx context.Context, md ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// peerGRPCClient sends the mix, the instrumented calls on one connection
// and the others on a second, and prints "done".
func peerGRPCClient(addr string) error {
	inst, closeInst, err := otelConn(addr)
	if err != nil {
		return err
	}
	defer closeInst()
	plain, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer plain.Close()
	bag, err := baggage.Parse("tenant=acme,region=eu")
	if err != nil {
		return err
	}
	withBag := baggage.ContextWithBaggage(context.Background(), bag)
	tp := func(s string) string { return strings.TrimSpace(strings.TrimPrefix(s, "traceparent:")) }
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	for range grpcValid {
		add(check(inst, withBag))
	}
	for range grpcMissing {
		add(check(plain, context.Background()))
	}
	for range grpcInvalid {
		add(check(plain, context.Background(), "traceparent", tp(invalidTP)))
	}
	for range grpcPII {
		add(check(plain, context.Background(), "traceparent", tp(validTP), "baggage", "user="+plantedEmail+",card="+plantedCard))
	}
	add(check(plain, context.Background(), "traceparent", tp(validTP), "baggage", "big="+strings.Repeat("x", 9000)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range grpcConcurrent {
		wg.Go(func() {
			err := check(inst, withBag)
			mu.Lock()
			add(err)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Println("done")
	return nil
}

// peerGRPCEarly opens an instrumented connection and makes GRPC_WARMUP
// calls on it (so that its header table is built before propwatch starts),
// prints "connected", then for each line N on stdin makes N more calls on
// the same connection, one after another, and prints "done" after each
// line. Every call carries a traceparent (and baggage): none may be judged
// missing or invalid.
func peerGRPCEarly(addr string) error {
	cc, closeCC, err := otelConn(addr)
	if err != nil {
		return err
	}
	defer closeCC()
	bag, err := baggage.Parse("tenant=acme")
	if err != nil {
		return err
	}
	ctx := baggage.ContextWithBaggage(context.Background(), bag)
	warm, _ := strconv.Atoi(os.Getenv("GRPC_WARMUP"))
	for range warm {
		if err := check(cc, ctx); err != nil {
			return err
		}
	}
	fmt.Println("connected")
	for {
		line, err := readLine(os.Stdin)
		if err != nil {
			return nil // the test is done with us
		}
		n, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			return fmt.Errorf("line %q: %v", line, err)
		}
		for range n {
			if err := check(cc, ctx); err != nil {
				return err
			}
		}
		fmt.Println("done")
	}
}
