//go:build linux && (amd64 || arm64)

package loader

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/privtest"
)

// kafkaRequest is a request frame: size, api key, version, correlation id,
// client id "pw-test", then body bytes.
func kafkaRequest(key, version int16, corr int32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, 7)
	b = append(b, "pw-test"...)
	b = append(b, body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// kafkaResponse is a response frame: size, correlation id, body bytes.
func kafkaResponse(corr int32, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	return append(b, body...)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	return b
}

// readFrame reads one frame the way Kafka clients and brokers do: the four
// size bytes alone, then the rest.
func readFrame(t *testing.T, c net.Conn) []byte {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read frame size: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return append(size[:], body...)
}

// kafkaPair is one loopback connection: the broker's address, the
// client's end and the broker's end.
func kafkaPair(t *testing.T) (broker netip.AddrPort, client *net.TCPConn, conn net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	broker = ln.Addr().(*net.TCPAddr).AddrPort()
	client = dial(t, broker)
	conn, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return broker, client, conn
}

// kafkaShipped joins the Data of the Kafka events of one direction of a
// connection, checking that the first is a start and the rest are not.
func kafkaShipped(t *testing.T, evs []Event) (first Event, data []byte) {
	t.Helper()
	for i, ev := range evs {
		if ev.Protocol != Kafka || ev.Start != (i == 0) {
			t.Fatalf("event %d: protocol %v start %v:%s", i, ev.Protocol, ev.Start, describe(evs))
		}
		if len(ev.Data) != ev.Len && i < len(evs)-1 {
			t.Errorf("event %d: %d bytes of a %d-byte chunk piece shipped", i, len(ev.Data), ev.Len)
		}
		data = append(data, ev.Data...)
	}
	if len(evs) > 0 {
		first = evs[0]
	}
	return first, data
}

// TestKafka: Produce requests are shipped whole from the receiving end;
// Fetch and Metadata requests are not shipped, but their responses are,
// matched by correlation id, split over several events when one read moves
// more than one event holds; unrequested frames are not.
func TestKafka(t *testing.T) { eachHookSet(t, testKafka) }

func testKafka(t *testing.T, hooks HookSet) {
	privtest.RequireBPF(t)
	c := startCaptureRaw(t, Config{Hooks: hooks, captureSelf: true})
	broker, client, conn := kafkaPair(t)

	produce := kafkaRequest(kafka.APIProduce, 9, 7, randomBytes(300))
	fetch := kafkaRequest(kafka.APIFetch, 12, 8, randomBytes(40))
	fetchResp := kafkaResponse(8, randomBytes(100<<10))
	stray := kafkaResponse(99, randomBytes(64))
	meta := kafkaRequest(kafka.APIMetadata, 12, 9, randomBytes(20))
	metaResp := kafkaResponse(9, randomBytes(500))

	// Client to broker: the broker reads size, then frame.
	for _, req := range [][]byte{produce, fetch, meta} {
		if _, err := client.Write(req); err != nil {
			t.Fatal(err)
		}
		if got := readFrame(t, conn); !bytes.Equal(got, req) {
			t.Fatalf("broker read %d bytes, want the %d-byte request", len(got), len(req))
		}
	}
	// Broker to client, each response in one write.
	for _, resp := range [][]byte{stray, fetchResp, metaResp} {
		if _, err := conn.Write(resp); err != nil {
			t.Fatal(err)
		}
		if got := readFrame(t, client); !bytes.Equal(got, resp) {
			t.Fatalf("client read %d bytes, want the %d-byte response", len(got), len(resp))
		}
	}

	var toBroker, toClient []Event
	for _, ev := range on(c.sync(), broker) {
		switch {
		case ev.Direction == Ingress && ev.Local == broker:
			toBroker = append(toBroker, ev)
		case ev.Direction == Ingress && ev.Remote == broker:
			toClient = append(toClient, ev)
		default:
			t.Errorf("event at the sending end:%s", describe([]Event{ev}))
		}
	}
	first, data := kafkaShipped(t, toBroker)
	if !bytes.Equal(data, produce) || first.KafkaAPIKey != -1 {
		t.Errorf("to broker: %d bytes shipped (api key %d), want the %d-byte produce request only:%s",
			len(data), first.KafkaAPIKey, len(produce), describe(toBroker))
	}

	// The responses: the fetch's in several events, then the metadata's.
	var fetchEvs, metaEvs []Event
	for _, ev := range toClient {
		if ev.Start && ev.KafkaAPIKey == kafka.APIMetadata || len(metaEvs) > 0 {
			metaEvs = append(metaEvs, ev)
		} else {
			fetchEvs = append(fetchEvs, ev)
		}
	}
	first, data = kafkaShipped(t, fetchEvs)
	if !bytes.Equal(data, fetchResp) || first.KafkaAPIKey != kafka.APIFetch || first.KafkaAPIVersion != 12 {
		t.Errorf("fetch response: %d bytes in %d events (api %d v%d), want %d bytes answering Fetch v12",
			len(data), len(fetchEvs), first.KafkaAPIKey, first.KafkaAPIVersion, len(fetchResp))
	}
	if len(fetchEvs) < 2 {
		t.Errorf("a %d-byte response in %d events, want it split", len(fetchResp), len(fetchEvs))
	}
	first, data = kafkaShipped(t, metaEvs)
	if !bytes.Equal(data, metaResp) || first.KafkaAPIKey != kafka.APIMetadata || first.KafkaAPIVersion != 12 {
		t.Errorf("metadata response: %d bytes (api %d v%d), want %d bytes answering Metadata v12",
			len(data), first.KafkaAPIKey, first.KafkaAPIVersion, len(metaResp))
	}
}

// TestKafkaBudget: a frame longer than KafkaCaptureBytes is shipped up to
// it, and what follows on the stream is not taken for a continuation.
func TestKafkaBudget(t *testing.T) {
	privtest.RequireBPF(t)
	const budget = 32 << 10
	c := startCaptureRaw(t, Config{captureSelf: true, KafkaCaptureBytes: budget})
	broker, client, conn := kafkaPair(t)

	big := kafkaRequest(kafka.APIProduce, 9, 1, randomBytes(100<<10))
	small := kafkaRequest(kafka.APIProduce, 9, 2, randomBytes(100))
	for _, req := range [][]byte{big, small} {
		if _, err := client.Write(req); err != nil {
			t.Fatal(err)
		}
		readFrame(t, conn)
	}
	var starts [][]byte
	for _, ev := range on(c.sync(), broker) {
		if ev.Start {
			starts = append(starts, nil)
		}
		if len(starts) > 0 {
			starts[len(starts)-1] = append(starts[len(starts)-1], ev.Data...)
		}
	}
	if len(starts) != 2 || !bytes.Equal(starts[0], big[:budget]) || !bytes.Equal(starts[1], small) {
		lens := []int{}
		for _, s := range starts {
			lens = append(lens, len(s))
		}
		t.Errorf("frames shipped %v bytes, want [%d %d]", lens, budget, len(small))
	}
}
