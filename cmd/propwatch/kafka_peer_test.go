package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Kafka peers of the end-to-end test: a broker (franz-go's kfake, a
// Kafka-protocol broker in this process) and franz-go clients, each a
// process of its own so that each has its service name.

// kafkaTopics are the topics the broker serves.
var kafkaTopics = []string{"orders", "payments", "audit", "legacy", "kcat-in", "shipments", "chain-in", "chain-out"}

// runKafkaPeer runs the Kafka roles; ok is false for other roles.
func runKafkaPeer(role string) (ok bool, err error) {
	switch role {
	case "kafka-broker":
		return true, kafkaBroker()
	case "kafka-producer":
		return true, kafkaProducer()
	case "kafka-consumer":
		return true, kafkaConsumer()
	case "kafka-bad":
		return true, kafkaBad()
	}
	return false, nil
}

// kafkaBroker serves the topics on loopback until stdin closes; it prints
// its address first.
func kafkaBroker() error {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, kafkaTopics...))
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println(c.ListenAddrs()[0])
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// kafkaCodecs are the KAFKA_CODEC values.
var kafkaCodecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// kafkaClient opens a client of PEER_ADDR; KAFKA_OLD=1 caps the protocol
// at Kafka 0.11 (Produce v3, Fetch v5: the oldest with record headers);
// PEER_TLS_CA set, it dials with TLS and trusts that CA (the broker of
// tlsKafkaBroker).
func kafkaClient(opts ...kgo.Opt) (*kgo.Client, error) {
	opts = append(opts, kgo.SeedBrokers(os.Getenv("PEER_ADDR")))
	if os.Getenv("PEER_TLS_CA") != "" {
		cfg, err := tlsClientConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if os.Getenv("KAFKA_OLD") == "1" {
		opts = append(opts, kgo.MaxVersions(kversion.V0_11_0()))
	}
	return kgo.NewClient(opts...)
}

// kafkaProducer produces KAFKA_N records to KAFKA_TOPIC, compressed with
// KAFKA_CODEC, with the headers KAFKA_HEADERS names: "none", "valid"
// (traceparent and baggage) or "pii" (the planted email in baggage). It
// prints "done" once every record is acknowledged.
func kafkaProducer() error {
	codec, ok := kafkaCodecs[os.Getenv("KAFKA_CODEC")]
	if !ok {
		return fmt.Errorf("KAFKA_CODEC %q", os.Getenv("KAFKA_CODEC"))
	}
	n, err := strconv.Atoi(os.Getenv("KAFKA_N"))
	if err != nil {
		return err
	}
	cl, err := kafkaClient(kgo.ProducerBatchCompression(codec), kgo.DefaultProduceTopic(os.Getenv("KAFKA_TOPIC")))
	if err != nil {
		return err
	}
	defer cl.Close()
	var headers []kgo.RecordHeader
	switch os.Getenv("KAFKA_HEADERS") {
	case "valid":
		headers = []kgo.RecordHeader{
			{Key: "traceparent", Value: []byte(strings.TrimSpace(strings.TrimPrefix(validTP, "traceparent:")))},
			{Key: "baggage", Value: []byte("tenant=acme,region=eu")},
		}
	case "pii":
		headers = []kgo.RecordHeader{
			{Key: "traceparent", Value: []byte(strings.TrimSpace(strings.TrimPrefix(validTP, "traceparent:")))},
			{Key: "baggage", Value: []byte("user=" + plantedEmail)},
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte(strings.Repeat("v", 200) + strconv.Itoa(i)), Headers: headers}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return err
	}
	fmt.Println("done")
	return nil
}

// kafkaConsumer reads KAFKA_N records of KAFKA_TOPIC from its start and
// prints "done". With KAFKA_TO set it is a relay: it produces each record
// to KAFKA_TO, by default without its headers, the consumer that drops the
// context it received, the break propwatch exists to find;
// KAFKA_RELAY_CONTEXT=same keeps the record's headers (the trace goes on),
// =fresh gives each record a traceparent of a new trace (the consumer
// whose handler lost the record's context, and whose SDK started anew);
// with KAFKA_PRINT_FRESH=1 it prints "fresh " and each of those
// traceparents before producing, so that a test knows the new roots' ids.
func kafkaConsumer() error {
	n, err := strconv.Atoi(os.Getenv("KAFKA_N"))
	if err != nil {
		return err
	}
	to := os.Getenv("KAFKA_TO")
	opts := []kgo.Opt{kgo.ConsumeTopics(os.Getenv("KAFKA_TOPIC")), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if to != "" {
		opts = append(opts, kgo.DefaultProduceTopic(to))
	}
	cl, err := kafkaClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return err
		}
		got += fs.NumRecords()
		if to == "" {
			continue
		}
		var out []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) {
			rec := &kgo.Record{Value: r.Value}
			switch os.Getenv("KAFKA_RELAY_CONTEXT") {
			case "same":
				rec.Headers = r.Headers
			case "fresh":
				tp := freshTraceparent()
				if os.Getenv("KAFKA_PRINT_FRESH") == "1" {
					fmt.Println("fresh " + tp)
				}
				rec.Headers = []kgo.RecordHeader{{Key: "traceparent", Value: []byte(tp)}}
			}
			out = append(out, rec)
		})
		if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
			return err
		}
	}
	fmt.Println("done")
	return nil
}

// kafkaBad sends the broker what no client should, each on a connection
// of its own: random bytes, a Produce request header over a body of
// garbage, and a Produce request whose size promises far more than comes
// before the connection closes. It prints "done".
func kafkaBad() error {
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rand.IntN(256))
		}
		return b
	}
	produce := func(size uint32, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, size)
		b = binary.BigEndian.AppendUint16(b, 0) // Produce
		b = binary.BigEndian.AppendUint16(b, 9)
		b = binary.BigEndian.AppendUint32(b, 1) // correlation id
		b = binary.BigEndian.AppendUint16(b, 3)
		b = append(b, "bad"...)
		return append(b, body...)
	}
	body := garbage(2000)
	// The broker (kfake) allocates whatever size a frame's first four
	// bytes give. Wholly random, that is up to 4 GiB: a machine with
	// little memory (the 2 GiB guests of make test-kernels) cannot map
	// it and the broker dies. A zero first byte keeps the random size
	// under 16 MiB, which is still far more than comes.
	random := garbage(4096)
	random[0] = 0
	for _, msg := range [][]byte{
		random,
		produce(uint32(11+len(body)), body),
		produce(50<<20, garbage(3000)),
	} {
		c, err := net.Dial("tcp", os.Getenv("PEER_ADDR"))
		if err != nil {
			return err
		}
		c.Write(msg)
		time.Sleep(50 * time.Millisecond)
		c.Close()
	}
	fmt.Println("done")
	return nil
}
