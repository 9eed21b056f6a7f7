package hosts

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
)

func packet(proc uint32, payload []byte) []byte {
	p := make([]byte, packetHeaderLen, packetHeaderLen+len(payload))
	binary.BigEndian.PutUint32(p[0:], uint32(packetHeaderLen+len(payload)))
	binary.BigEndian.PutUint32(p[4:], remoteProgram)
	binary.BigEndian.PutUint32(p[8:], 1) // version
	binary.BigEndian.PutUint32(p[12:], proc)
	binary.BigEndian.PutUint32(p[16:], packetCall)
	binary.BigEndian.PutUint32(p[20:], 7) // serial
	return append(p, payload...)
}

// TestReadOnlyOpenRewrite feeds go-libvirt's opening packets through the
// rewriter in awkward pieces and checks that only the flags of the
// ConnectOpen call change.
func TestReadOnlyOpenRewrite(t *testing.T) {
	authList := packet(66, nil)
	// Optional name present, "qemu:///system" padded to 16 bytes, flags 0.
	open := packet(procConnectOpen, []byte("\x01\x00\x00\x00\x00\x00\x00\x0eqemu:///system\x00\x00\x00\x00\x00\x00"))
	later := packet(procConnectOpen, []byte("\x00\x00\x00\x00")) // after the open: left alone
	var stream []byte
	for _, p := range [][]byte{authList, open, later} {
		stream = append(stream, p...)
	}
	want := bytes.Clone(stream)
	want[len(authList)+len(open)-1] = connectReadOnly

	for _, chunk := range []int{1, 3, 5, 28, 29, len(stream)} {
		a, b := net.Pipe()
		c := &readOnlyOpen{Conn: a}
		go func() {
			for rest := stream; len(rest) > 0; {
				n := min(chunk, len(rest))
				if w, err := c.Write(rest[:n]); err != nil || w != n {
					t.Errorf("chunk %d: wrote %d of %d: %v", chunk, w, n, err)
					return
				}
				rest = rest[n:]
			}
			a.Close()
		}()
		got, err := io.ReadAll(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("chunk %d:\n got %x\nwant %x", chunk, got, want)
		}
	}
}
