package mysqlwire

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
)

// Capability flags.
const (
	capLongPassword     uint32 = 0x00000001
	capFoundRows        uint32 = 0x00000002
	capLongFlag         uint32 = 0x00000004
	capConnectWithDB    uint32 = 0x00000008
	capProtocol41       uint32 = 0x00000200
	capTransactions     uint32 = 0x00002000
	capSecureConn       uint32 = 0x00008000
	capMultiResults     uint32 = 0x00020000
	capPluginAuth       uint32 = 0x00080000
	capConnectAttrs     uint32 = 0x00100000
	capPluginAuthLenEnc uint32 = 0x00200000

	serverCaps = capLongPassword | capFoundRows | capLongFlag | capConnectWithDB | capProtocol41 |
		capTransactions | capSecureConn | capMultiResults | capPluginAuth | capConnectAttrs | capPluginAuthLenEnc
)

// Commands.
const (
	comQuit        = 0x01
	comInitDB      = 0x02
	comQuery       = 0x03
	comPing        = 0x0e
	comStmtPrepare = 0x16
	comStmtExecute = 0x17
	comStmtClose   = 0x19
	comStmtReset   = 0x1a
)

const nativePassword = "mysql_native_password"

type stmt struct {
	template string
	params   int
}

type conn struct {
	srv    *Server
	p      *packetIO
	id     uint32
	remote string
	sess   Session

	stmts    map[uint32]*stmt
	nextStmt uint32
}

func (c *conn) run() {
	if err := c.handshake(); err != nil {
		return
	}
	defer c.sess.Close()
	for {
		c.p.seq = 0
		pkt, err := c.p.readPacket()
		if err != nil || len(pkt) == 0 {
			return
		}
		if !c.dispatch(pkt) {
			return
		}
	}
}

func (c *conn) handshake() error {
	salt := newSalt()
	b := []byte{10}
	b = append(b, c.srv.cfg.ServerVersion...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, c.id)
	b = append(b, salt[:8]...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(serverCaps&0xffff))
	b = append(b, byte(CharsetUTF8General))
	b = binary.LittleEndian.AppendUint16(b, statusAutocommit)
	b = binary.LittleEndian.AppendUint16(b, uint16(serverCaps>>16))
	b = append(b, 21)
	b = append(b, make([]byte, 10)...)
	b = append(b, salt[8:]...)
	b = append(b, 0)
	b = append(b, nativePassword...)
	b = append(b, 0)
	if err := c.p.writePacket(b); err != nil {
		return err
	}
	if err := c.p.flush(); err != nil {
		return err
	}
	pkt, err := c.p.readPacket()
	if err != nil {
		return err
	}
	info, err := parseHandshakeResponse(pkt)
	if err != nil {
		return err
	}
	info.ID, info.Salt, info.RemoteAddr = c.id, salt, c.remote
	sess, err := c.srv.cfg.Handler.NewSession(info)
	if err == nil && info.Database != "" {
		if err = sess.InitDB(info.Database); err != nil {
			sess.Close()
		}
	}
	if err != nil {
		var me *Error
		if !errors.As(err, &me) {
			me = Errorf(1045, "28000", "%v", err)
		}
		_ = c.p.writePacket(errPacket(me))
		_ = c.p.flush()
		return err
	}
	c.sess = sess
	if err := c.p.writePacket(okPacket(0, 0, 0)); err != nil {
		sess.Close()
		return err
	}
	if err := c.p.flush(); err != nil {
		sess.Close()
		return err
	}
	return nil
}

func parseHandshakeResponse(pkt []byte) (ConnInfo, error) {
	r := &reader{b: pkt}
	caps := r.uint32()
	if caps&capProtocol41 == 0 {
		return ConnInfo{}, errors.New("mysqlwire: client does not speak protocol 4.1")
	}
	r.uint32() // max packet
	r.byte1()  // charset
	r.bytes(23)
	var info ConnInfo
	info.User = r.nulString()
	switch {
	case caps&capPluginAuthLenEnc != 0:
		info.AuthResponse = r.lenEncBytes()
	case caps&capSecureConn != 0:
		info.AuthResponse = r.bytes(int(r.byte1()))
	default:
		info.AuthResponse = []byte(r.nulString())
	}
	if caps&capConnectWithDB != 0 && len(r.b) > 0 {
		info.Database = r.nulString()
	}
	if r.err != nil {
		return ConnInfo{}, r.err
	}
	info.AuthResponse = append([]byte(nil), info.AuthResponse...)
	return info, nil
}

// dispatch answers one command; false ends the connection.
func (c *conn) dispatch(pkt []byte) bool {
	body := pkt[1:]
	var err error
	switch pkt[0] {
	case comQuit:
		return false
	case comPing:
		err = c.write(okPacket(0, 0, 0))
	case comInitDB:
		if e := c.sess.InitDB(string(body)); e != nil {
			return c.sendError(e)
		}
		err = c.write(okPacket(0, 0, 0))
	case comQuery:
		res, e := c.sess.Query(c.srv.ctx, Query{SQL: string(body)})
		if e != nil {
			return c.sendError(e)
		}
		err = c.writeResult(res, false)
	case comStmtPrepare:
		err = c.prepare(string(body))
	case comStmtExecute:
		return c.execute(body)
	case comStmtClose:
		if len(body) >= 4 {
			delete(c.stmts, binary.LittleEndian.Uint32(body))
		}
		return true // no answer
	case comStmtReset:
		err = c.write(okPacket(0, 0, 0))
	default:
		return c.sendError(Errorf(1047, "08S01", "Unknown command"))
	}
	return err == nil
}

// sendError answers with an ERR packet when err is an *Error and ends the
// connection otherwise.
func (c *conn) sendError(err error) bool {
	var me *Error
	if !errors.As(err, &me) {
		return false
	}
	return c.write(errPacket(me)) == nil
}

func (c *conn) write(pkt []byte) error {
	if err := c.p.writePacket(pkt); err != nil {
		return err
	}
	return c.p.flush()
}

func (c *conn) writeResult(res *Result, binaryRows bool) error {
	if res == nil {
		res = &Result{}
	}
	if res.Columns == nil {
		return c.write(okPacket(res.AffectedRows, res.LastInsertID, res.Warnings))
	}
	if err := c.p.writePacket(appendLenEncInt(nil, uint64(len(res.Columns)))); err != nil {
		return err
	}
	for _, col := range res.Columns {
		if err := c.p.writePacket(columnPacket(col)); err != nil {
			return err
		}
	}
	if err := c.p.writePacket(eofPacket(0)); err != nil {
		return err
	}
	for _, row := range res.Rows {
		var pkt []byte
		if binaryRows {
			var err error
			if pkt, err = binaryRow(res.Columns, row); err != nil {
				return err
			}
		} else {
			pkt = textRow(row)
		}
		if err := c.p.writePacket(pkt); err != nil {
			return err
		}
	}
	if err := c.p.writePacket(eofPacket(res.Warnings)); err != nil {
		return err
	}
	return c.p.flush()
}

func (c *conn) prepare(sql string) error {
	n := countPlaceholders(sql)
	if c.stmts == nil {
		c.stmts = map[uint32]*stmt{}
	}
	c.nextStmt++
	id := c.nextStmt
	c.stmts[id] = &stmt{template: sql, params: n}
	b := []byte{0x00}
	b = binary.LittleEndian.AppendUint32(b, id)
	b = binary.LittleEndian.AppendUint16(b, 0) // columns are sent with each execution
	b = binary.LittleEndian.AppendUint16(b, uint16(n))
	b = append(b, 0, 0, 0)
	if err := c.p.writePacket(b); err != nil {
		return err
	}
	if n > 0 {
		for i := 0; i < n; i++ {
			if err := c.p.writePacket(columnPacket(Column{Name: "?", Type: TypeVarString, Charset: CharsetBinary})); err != nil {
				return err
			}
		}
		if err := c.p.writePacket(eofPacket(0)); err != nil {
			return err
		}
	}
	return c.p.flush()
}

func (c *conn) execute(body []byte) bool {
	r := &reader{b: body}
	id := r.uint32()
	r.byte1()  // cursor flags
	r.uint32() // iteration count
	st, ok := c.stmts[id]
	if r.err != nil || !ok {
		return c.sendError(Errorf(1243, "HY000", "Unknown prepared statement handler (%d) given to mysqld_stmt_execute", id))
	}
	args, err := readParams(r, st.params)
	if err != nil {
		return c.sendError(Errorf(1210, "HY000", "Incorrect arguments to mysqld_stmt_execute"))
	}
	q := Query{SQL: substitute(st.template, args), Prepared: true, Template: st.template}
	res, err := c.sess.Query(c.srv.ctx, q)
	if err != nil {
		return c.sendError(err)
	}
	return c.writeResult(res, true) == nil
}

// readParams decodes the parameter block of COM_STMT_EXECUTE into SQL
// literals.
func readParams(r *reader, n int) ([]string, error) {
	if n == 0 {
		return nil, nil
	}
	nullMap := r.bytes((n + 7) / 8)
	bound := r.byte1()
	if r.err != nil || bound != 1 {
		return nil, errShort
	}
	types := make([]uint16, n)
	for i := range types {
		types[i] = r.uint16()
	}
	out := make([]string, n)
	for i := 0; i < n; i++ {
		if nullMap[i/8]&(1<<(i%8)) != 0 {
			out[i] = "NULL"
			continue
		}
		typ, unsigned := byte(types[i]), types[i]&0x8000 != 0
		switch typ {
		case 0x06: // NULL
			out[i] = "NULL"
		case TypeTiny:
			out[i] = intLiteral(uint64(r.byte1()), 8, unsigned)
		case TypeShort:
			out[i] = intLiteral(uint64(r.uint16()), 16, unsigned)
		case TypeLong:
			out[i] = intLiteral(uint64(r.uint32()), 32, unsigned)
		case TypeLongLong:
			out[i] = intLiteral(r.uint64(), 64, unsigned)
		case TypeFloat:
			out[i] = strconv.FormatFloat(float64(math.Float32frombits(r.uint32())), 'g', -1, 32)
		case TypeDouble:
			out[i] = strconv.FormatFloat(math.Float64frombits(r.uint64()), 'g', -1, 64)
		default:
			out[i] = QuoteLiteral(string(r.lenEncBytes()))
		}
	}
	return out, r.err
}

func intLiteral(v uint64, bits int, unsigned bool) string {
	if unsigned {
		return strconv.FormatUint(v, 10)
	}
	shift := 64 - bits
	return strconv.FormatInt(int64(v<<shift)>>shift, 10)
}

// QuoteLiteral renders s as a single-quoted SQL string.
func QuoteLiteral(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(s) + "'"
}

// placeholders returns the byte offsets of the '?' outside quotes.
func placeholders(sql string) []int {
	var out []int
	var quote byte
	for i := 0; i < len(sql); i++ {
		ch := sql[i]
		switch {
		case quote != 0:
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"' || ch == '`':
			quote = ch
		case ch == '?':
			out = append(out, i)
		}
	}
	return out
}

func countPlaceholders(sql string) int { return len(placeholders(sql)) }

// substitute writes the literals in place of the placeholders, the way
// Manticore emulates prepared statements (MatrixOne gets the template too).
func substitute(sql string, args []string) string {
	pos := placeholders(sql)
	var b strings.Builder
	last := 0
	for i, p := range pos {
		if i >= len(args) {
			break
		}
		b.WriteString(sql[last:p])
		b.WriteString(args[i])
		last = p + 1
	}
	b.WriteString(sql[last:])
	return b.String()
}
