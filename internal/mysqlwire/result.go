package mysqlwire

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// Column types (protocol values) used by the emulated servers.
const (
	TypeTiny       byte = 0x01
	TypeShort      byte = 0x02
	TypeLong       byte = 0x03
	TypeFloat      byte = 0x04
	TypeDouble     byte = 0x05
	TypeLongLong   byte = 0x08
	TypeNewDecimal byte = 0xf6
	TypeBlob       byte = 0xfc
	TypeVarString  byte = 0xfd
	TypeString     byte = 0xfe
)

// Column flags.
const (
	FlagNotNull  uint16 = 0x0001
	FlagBinary   uint16 = 0x0080
	FlagUnsigned uint16 = 0x0020
)

// Charsets.
const (
	CharsetUTF8General uint16 = 33
	CharsetBinary      uint16 = 63
)

// Server status flags.
const (
	statusAutocommit uint16 = 0x0002
)

// Column describes one result-set column.
type Column struct {
	Name     string
	Schema   string // "Manticore" on Manticore, "" on MatrixOne
	Table    string
	Type     byte
	Flags    uint16
	Charset  uint16 // 0 means CharsetUTF8General
	Length   uint32
	Decimals byte
}

// Value is one cell as text; Null marks SQL NULL.
type Value struct {
	S    string
	Null bool
}

// V makes a non-NULL value.
func V(s string) Value { return Value{S: s} }

// Null is SQL NULL.
var Null = Value{Null: true}

// Result is the answer to one statement: a result set when Columns is not
// nil (possibly with no rows), an OK packet otherwise.
type Result struct {
	Columns      []Column
	Rows         [][]Value
	AffectedRows uint64
	LastInsertID uint64
	// Warnings is reported in the OK packet or in the final EOF packet.
	Warnings uint16
}

// Error is an ERR packet. Code 0 with state "00000" is legal and is sent as
// is (MatrixOne's ExpectedEOB).
type Error struct {
	Code    uint16
	State   string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("ERROR %d (%s): %s", e.Code, e.State, e.Message)
}

// Errorf builds an *Error.
func Errorf(code uint16, state, format string, args ...any) *Error {
	return &Error{Code: code, State: state, Message: fmt.Sprintf(format, args...)}
}

func errPacket(e *Error) []byte {
	b := []byte{0xff, byte(e.Code), byte(e.Code >> 8), '#'}
	state := e.State
	for len(state) < 5 {
		state += "0"
	}
	b = append(b, state[:5]...)
	return append(b, e.Message...)
}

func okPacket(affected, lastID uint64, warnings uint16) []byte {
	b := []byte{0x00}
	b = appendLenEncInt(b, affected)
	b = appendLenEncInt(b, lastID)
	b = binary.LittleEndian.AppendUint16(b, statusAutocommit)
	return binary.LittleEndian.AppendUint16(b, warnings)
}

func eofPacket(warnings uint16) []byte {
	b := []byte{0xfe}
	b = binary.LittleEndian.AppendUint16(b, warnings)
	return binary.LittleEndian.AppendUint16(b, statusAutocommit)
}

func columnPacket(c Column) []byte {
	b := appendLenEncString(nil, "def")
	b = appendLenEncString(b, c.Schema)
	b = appendLenEncString(b, c.Table)
	b = appendLenEncString(b, c.Table)
	b = appendLenEncString(b, c.Name)
	b = appendLenEncString(b, c.Name)
	b = append(b, 0x0c)
	cs := c.Charset
	if cs == 0 {
		cs = CharsetUTF8General
	}
	b = binary.LittleEndian.AppendUint16(b, cs)
	b = binary.LittleEndian.AppendUint32(b, c.Length)
	b = append(b, c.Type)
	b = binary.LittleEndian.AppendUint16(b, c.Flags)
	return append(b, c.Decimals, 0, 0)
}

func textRow(row []Value) []byte {
	var b []byte
	for _, v := range row {
		if v.Null {
			b = append(b, 0xfb)
			continue
		}
		b = appendLenEncString(b, v.S)
	}
	return b
}

// binaryRow encodes a row for the binary protocol (prepared statements),
// converting each text value to its column's wire type.
func binaryRow(cols []Column, row []Value) ([]byte, error) {
	nullMap := make([]byte, (len(cols)+7+2)/8)
	b := []byte{0x00}
	var vals []byte
	for i, v := range row {
		if v.Null {
			pos := i + 2
			nullMap[pos/8] |= 1 << (pos % 8)
			continue
		}
		var err error
		vals, err = appendBinaryValue(vals, cols[i], v.S)
		if err != nil {
			return nil, err
		}
	}
	b = append(b, nullMap...)
	return append(b, vals...), nil
}

func appendBinaryValue(b []byte, c Column, s string) ([]byte, error) {
	unsigned := c.Flags&FlagUnsigned != 0
	parseInt := func(bits int) (uint64, error) {
		if unsigned {
			return strconv.ParseUint(s, 10, bits)
		}
		v, err := strconv.ParseInt(s, 10, bits)
		return uint64(v), err
	}
	switch c.Type {
	case TypeTiny:
		v, err := parseInt(8)
		return append(b, byte(v)), err
	case TypeShort:
		v, err := parseInt(16)
		return binary.LittleEndian.AppendUint16(b, uint16(v)), err
	case TypeLong:
		v, err := parseInt(32)
		return binary.LittleEndian.AppendUint32(b, uint32(v)), err
	case TypeLongLong:
		v, err := parseInt(64)
		return binary.LittleEndian.AppendUint64(b, v), err
	case TypeFloat:
		f, err := strconv.ParseFloat(s, 32)
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f))), err
	case TypeDouble:
		f, err := strconv.ParseFloat(s, 64)
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), err
	default:
		return appendLenEncString(b, s), nil
	}
}
