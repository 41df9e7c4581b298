package tlsprobe

import (
	"errors"
	"testing"
)

func TestParseMapsLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Mapping
	}{
		{
			"7f2c5e400000-7f2c5e46b000 r-xp 00020000 08:01 1234567                    /usr/lib/x86_64-linux-gnu/libssl.so.3",
			Mapping{Start: 0x7f2c5e400000, End: 0x7f2c5e46b000, Perms: PermRead | PermExec, Offset: 0x20000,
				DevMajor: 8, DevMinor: 1, Inode: 1234567, Path: "/usr/lib/x86_64-linux-gnu/libssl.so.3"},
		},
		{
			"00400000-00401000 rw-s 00000000 00:00 0 ",
			Mapping{Start: 0x400000, End: 0x401000, Perms: PermRead | PermWrite | PermShared},
		},
		{
			"7ffd1c3a2000-7ffd1c3c3000 rw-p 00000000 00:00 0                          [stack]",
			Mapping{Start: 0x7ffd1c3a2000, End: 0x7ffd1c3c3000, Perms: PermRead | PermWrite, Path: "[stack]"},
		},
		{
			"7f00-8f00 r--p 00000000 fd:10 42    /opt/my app/libssl.so.1.1 (deleted)",
			Mapping{Start: 0x7f00, End: 0x8f00, Perms: PermRead, DevMajor: 0xfd, DevMinor: 0x10, Inode: 42,
				Path: "/opt/my app/libssl.so.1.1", Deleted: true},
		},
		{
			"1000-2000 ---p 00000000 103:02 7", // no path field at all
			Mapping{Start: 0x1000, End: 0x2000, DevMajor: 0x103, DevMinor: 2, Inode: 7},
		},
	} {
		got, err := ParseMapsLine([]byte(tc.line))
		if err != nil || got != tc.want {
			t.Errorf("ParseMapsLine(%q)\n got %+v, %v\nwant %+v", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "garbage", "1000 r-xp 0 08:01 1 /x", "2000-1000 r-xp 0 08:01 1 /x",
		"1000-2000 r-x 0 08:01 1 /x", "1000-2000 rwxq 0 08:01 1 /x", "1000-2000 pwxp 0 08:01 1 /x",
		"1000-2000 r-xp 0 0801 1 /x", "1000-2000 r-xp 0 08:01 x /x", "1000-2000 r-xp 0 08:01",
		"1000-12345678901234567 r-xp 0 08:01 1 /x", "1000-2000 r-xp 0 123456789:01 1 /x",
	} {
		if m, err := ParseMapsLine([]byte(bad)); !errors.Is(err, ErrMapsLine) {
			t.Errorf("ParseMapsLine(%q) = %+v, %v; want ErrMapsLine", bad, m, err)
		}
	}
}

func TestIsLibSSLName(t *testing.T) {
	for name, want := range map[string]bool{
		"/usr/lib/x86_64-linux-gnu/libssl.so.3":             true,
		"/usr/lib/x86_64-linux-gnu/libssl.so.1.1":           true,
		"/usr/lib64/libssl.so":                              true,
		"/site-packages/cryptography.libs/libssl-8d1b.so.3": true,
		"/usr/lib/x86_64-linux-gnu/libssl3.so":              false, // NSS
		"/usr/lib/libssl.a":                                 false,
		"/usr/lib/libcrypto.so.3":                           false,
		"libssl.so.3/other":                                 false,
		"/opt/libsslx.so.3":                                 false,
	} {
		if got := IsLibSSLName(name); got != want {
			t.Errorf("IsLibSSLName(%q) = %v, want %v", name, got, want)
		}
		line := []byte("1000-2000 r-xp 00000000 08:01 1 " + name)
		_, p, err := parseMapsLine(line)
		if err != nil {
			t.Fatal(err)
		}
		if got := mapsPathIsLibSSL(p); got != want {
			t.Errorf("mapsPathIsLibSSL(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzParseMapsLine checks that no line panics the parser, that a parsed
// line is consistent, and that formatting it back parses to the same value.
// Seeds live in testdata/fuzz/FuzzParseMapsLine.
func FuzzParseMapsLine(f *testing.F) {
	f.Add([]byte("7f2c5e400000-7f2c5e46b000 r-xp 00020000 08:01 1234567     /usr/lib/x86_64-linux-gnu/libssl.so.3"))
	f.Fuzz(func(t *testing.T, line []byte) {
		m, err := ParseMapsLine(line)
		if err != nil {
			if !errors.Is(err, ErrMapsLine) {
				t.Fatalf("error %v does not wrap ErrMapsLine", err)
			}
			return
		}
		if m.End < m.Start {
			t.Fatalf("%+v: end before start", m)
		}
		again, err := ParseMapsLine([]byte(m.String()))
		if err != nil {
			t.Fatalf("reparse %q: %v", m.String(), err)
		}
		if again != m {
			t.Fatalf("round trip\n got %+v\nwant %+v", again, m)
		}
	})
}

func BenchmarkParseMapsLine(b *testing.B) {
	line := []byte("7f2c5e400000-7f2c5e46b000 r-xp 00020000 08:01 1234567                    /usr/lib/x86_64-linux-gnu/libssl.so.3")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := parseMapsLine(line); err != nil {
			b.Fatal(err)
		}
	}
}
