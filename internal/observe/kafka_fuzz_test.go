package observe

import (
	"testing"

	"github.com/propwatch/propwatch/internal/loader"
	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
)

// FuzzHandleKafka feeds arbitrary Kafka event sequences through the
// observer: chunks of any bytes on four sockets (requests on two, Fetch
// and Metadata responses on the others), flagged as starts or
// continuations, some captured only in part, with tight caps. Nothing may
// panic, the reassembly stays within its caps, a gap is never a request,
// and Flush leaves nothing reserved.
func FuzzHandleKafka(f *testing.F) {
	c := kafkatest.Codecs
	produce := produceFrame(9, 1, topic("orders", kafkatest.Batch(c[1], 0, krecords(5)), kafkatest.Batch(c[5], 0, krecords(3))))
	fetch := fetchFrame(12, 2, topic("orders", kafkatest.Batch(c[3], 0, krecords(6))))
	tp := topic("", kafkatest.Batch(c[0], 0, krecords(2)))
	tp.ID = ordersID
	produce13 := produceFrame(13, 3, tp)
	md := kafkatest.ResponseFrame(kafka.APIMetadata, 12, 1, kafkatest.MetadataBody(12, kafkatest.Topic{Name: "orders", ID: ordersID}))
	f.Add(produce, []byte{0x08, 0x10, 0x20, 0xf0})
	f.Add(append(append([]byte(nil), fetch...), produce...), []byte{0x0a, 0x72, 0x02, 0x7a, 0x08, 0x70})
	f.Add(append(append([]byte(nil), md...), produce13...), []byte{0x0b, 0x73, 0x09, 0x71, 0x01})
	f.Add(produce[:100], []byte{0x88})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), []byte{0x08})
	root := procRoot(f)
	f.Fuzz(func(t *testing.T, data []byte, plan []byte) {
		const memory = 8192
		fx := newFixtureIn(t, root, func(c *Config) {
			c.KafkaMaxFrames = 2
			c.KafkaMaxFrame = 4096
			c.KafkaMemory = memory
			c.LoopbackBothEnds = true
		})
		for _, p := range plan {
			if len(data) == 0 {
				break
			}
			n := int(p>>4&7) * 48
			if n == 0 || n > len(data) {
				n = len(data)
			}
			chunk := data[:n]
			data = data[n:]
			sock := uint64(p & 3)
			ev := &loader.Event{
				TGID: clientPID, Sock: sock, Local: kclient, Remote: brokerAddr, Protocol: loader.Kafka,
				Direction: loader.Direction((p >> 2) & 1), Start: p&0x08 != 0,
				KafkaAPIKey: -1, KafkaAPIVersion: -1, Len: len(chunk), Data: chunk,
			}
			if ev.Direction == loader.Ingress {
				ev.TGID, ev.Local, ev.Remote = brokerPID, brokerAddr, kclient
			}
			if ev.Start {
				switch sock {
				case 2:
					ev.KafkaAPIKey, ev.KafkaAPIVersion = kafka.APIFetch, 12
				case 3:
					ev.KafkaAPIKey, ev.KafkaAPIVersion = kafka.APIMetadata, 12
				}
			}
			if p&0x80 != 0 && len(chunk) > 1 {
				ev.Data = chunk[:len(chunk)/2]
			}
			fx.event(ev)
			k := &fx.obs.kafka
			if k.frames.Len() > 2 || k.reserved > memory || k.freeSize > memory/4 {
				t.Fatalf("%d frames, %d bytes reserved, %d free", k.frames.Len(), k.reserved, k.freeSize)
			}
			for _, fr := range k.frames.m {
				if len(fr.buf) > 4096 || (fr.want > 0 && len(fr.buf) > fr.want) || cap(fr.buf) > fr.reserved {
					t.Fatalf("frame of %d bytes (cap %d), want %d, reserved %d", len(fr.buf), cap(fr.buf), fr.want, fr.reserved)
				}
			}
		}
		fx.obs.Flush()
		if fx.obs.kafka.frames.Len() != 0 || fx.obs.kafka.reserved != 0 {
			t.Fatalf("%d frames, %d bytes after Flush", fx.obs.kafka.frames.Len(), fx.obs.kafka.reserved)
		}
		for _, p := range fx.agg.Snapshot().Pairs {
			if p.MissingContext+p.InvalidContext > p.Requests || p.Truncated > p.Requests {
				t.Fatalf("pair %+v", p)
			}
		}
	})
}
