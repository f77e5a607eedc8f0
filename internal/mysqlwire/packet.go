// Package mysqlwire is the server side of the MySQL client/server protocol,
// as much of it as the embedded test servers of package dbctltest need:
// handshake v10 with mysql_native_password, COM_QUERY with text result sets,
// OK/ERR/EOF packets, COM_PING, COM_QUIT, COM_INIT_DB and prepared
// statements (COM_STMT_PREPARE/EXECUTE/CLOSE/RESET with binary rows).
//
// It is internal: users start servers through dbctltest.
package mysqlwire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// maxPacket is the largest payload of one physical packet.
const maxPacket = 1<<24 - 1

// packetIO reads and writes packets with their sequence numbers.
type packetIO struct {
	r   *bufio.Reader
	w   *bufio.Writer
	seq uint8
}

// readPacket reads one logical packet (joining 16 MiB continuation
// packets) and checks its sequence number.
func (p *packetIO) readPacket() ([]byte, error) {
	var payload []byte
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
			return nil, err
		}
		n := int(uint32(hdr[0]) | uint32(hdr[1])<<8 | uint32(hdr[2])<<16)
		if hdr[3] != p.seq {
			return nil, fmt.Errorf("mysqlwire: packet sequence %d, want %d", hdr[3], p.seq)
		}
		p.seq++
		buf := make([]byte, n)
		if _, err := io.ReadFull(p.r, buf); err != nil {
			return nil, err
		}
		payload = append(payload, buf...)
		if n < maxPacket {
			return payload, nil
		}
	}
}

// writePacket buffers one logical packet; flush sends it.
func (p *packetIO) writePacket(payload []byte) error {
	for {
		n := len(payload)
		if n > maxPacket {
			n = maxPacket
		}
		hdr := [4]byte{byte(n), byte(n >> 8), byte(n >> 16), p.seq}
		p.seq++
		if _, err := p.w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := p.w.Write(payload[:n]); err != nil {
			return err
		}
		payload = payload[n:]
		if n < maxPacket {
			return nil
		}
	}
}

func (p *packetIO) flush() error { return p.w.Flush() }

// appendLenEncInt appends a length-encoded integer.
func appendLenEncInt(b []byte, v uint64) []byte {
	switch {
	case v < 251:
		return append(b, byte(v))
	case v < 1<<16:
		return append(b, 0xfc, byte(v), byte(v>>8))
	case v < 1<<24:
		return append(b, 0xfd, byte(v), byte(v>>8), byte(v>>16))
	default:
		b = append(b, 0xfe)
		return binary.LittleEndian.AppendUint64(b, v)
	}
}

func appendLenEncString(b []byte, s string) []byte {
	b = appendLenEncInt(b, uint64(len(s)))
	return append(b, s...)
}

var errShort = errors.New("mysqlwire: packet too short")

// reader walks a packet payload.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() { r.err = errShort }

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || len(r.b) < n {
		r.fail()
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte1() byte {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) uint16() uint16 {
	b := r.bytes(2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *reader) uint32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) uint64() uint64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (r *reader) nulString() string {
	if r.err != nil {
		return ""
	}
	for i, c := range r.b {
		if c == 0 {
			s := string(r.b[:i])
			r.b = r.b[i+1:]
			return s
		}
	}
	r.fail()
	return ""
}

func (r *reader) lenEncInt() uint64 {
	c := r.byte1()
	switch c {
	case 0xfc:
		return uint64(r.uint16())
	case 0xfd:
		b := r.bytes(3)
		if b == nil {
			return 0
		}
		return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16
	case 0xfe:
		return r.uint64()
	}
	return uint64(c)
}

func (r *reader) lenEncBytes() []byte {
	n := r.lenEncInt()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	return r.bytes(int(n))
}
