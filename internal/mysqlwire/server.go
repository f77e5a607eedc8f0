package mysqlwire

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"errors"
	"net"
	"sync"
)

// ConnInfo is what the client said in its handshake response.
type ConnInfo struct {
	ID           uint32
	User         string
	Database     string
	AuthResponse []byte
	Salt         []byte // the 20-byte scramble the server sent
	RemoteAddr   string
}

// CheckNativePassword reports whether the handshake's auth response proves
// knowledge of password under mysql_native_password:
// SHA1(password) XOR SHA1(salt + SHA1(SHA1(password))). An empty password
// is proved by an empty response.
func (c ConnInfo) CheckNativePassword(password string) bool {
	if password == "" {
		return len(c.AuthResponse) == 0
	}
	h1 := sha1.Sum([]byte(password))
	h2 := sha1.Sum(h1[:])
	h := sha1.New()
	h.Write(c.Salt)
	h.Write(h2[:])
	h3 := h.Sum(nil)
	want := make([]byte, len(h1))
	for i := range h1 {
		want[i] = h1[i] ^ h3[i]
	}
	return subtle.ConstantTimeCompare(want, c.AuthResponse) == 1
}

// Query is one statement to execute.
type Query struct {
	// SQL is the statement text; for a prepared statement, the template with
	// the parameters substituted as literals.
	SQL string
	// Prepared is true for COM_STMT_EXECUTE; Template is then the text that
	// was prepared, with its '?' placeholders.
	Prepared bool
	Template string
}

// Handler is an emulated server.
type Handler interface {
	// NewSession checks the credentials of a new connection and returns
	// its session, or an *Error to refuse the login.
	NewSession(info ConnInfo) (Session, error)
}

// HandlerFunc is a Handler made of a function, so that a server's type need
// not export its NewSession.
type HandlerFunc func(info ConnInfo) (Session, error)

// NewSession calls f.
func (f HandlerFunc) NewSession(info ConnInfo) (Session, error) { return f(info) }

// Session is one client connection's state.
type Session interface {
	// Query executes one statement. ctx is cancelled when the server
	// closes, not when the client goes away: the real servers finish a
	// statement whose client disconnected. An *Error is sent as an ERR
	// packet; any other error closes the connection.
	Query(ctx context.Context, q Query) (*Result, error)
	// InitDB handles COM_INIT_DB (and the database of the handshake).
	InitDB(db string) error
	// Close is called once when the connection ends.
	Close()
}

// Config configures a Server.
type Config struct {
	// ServerVersion is sent in the handshake.
	ServerVersion string
	Handler       Handler
}

// Server accepts MySQL-protocol connections on a loopback listener.
type Server struct {
	cfg    Config
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	nextID uint32
	wg     sync.WaitGroup
}

// Listen starts a server on addr ("127.0.0.1:0" for any free port).
func Listen(addr string, cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("mysqlwire: nil handler")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, ln: ln, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the listening address, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.nextID++
		id := s.nextID
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer s.forget(nc)
			s.serveConn(nc, id)
		}()
	}
}

func (s *Server) forget(nc net.Conn) {
	nc.Close()
	s.mu.Lock()
	delete(s.conns, nc)
	s.mu.Unlock()
}

// DropConnections closes every open client connection now. Statements
// being executed go on (as on the real servers); their answers are lost.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for nc := range s.conns {
		nc.Close()
	}
}

// OpenConnections returns the number of client connections.
func (s *Server) OpenConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close stops accepting, cancels running statements, closes every
// connection and waits for their goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	err := s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
	return err
}

func newSalt() []byte {
	salt := make([]byte, 20)
	_, _ = rand.Read(salt)
	for i := range salt {
		// The scramble must be printable and NUL-free: clients read part 2
		// as a NUL-terminated string.
		salt[i] = salt[i]%94 + 33
	}
	return salt
}

func (s *Server) serveConn(nc net.Conn, id uint32) {
	p := &packetIO{r: bufio.NewReader(nc), w: bufio.NewWriter(nc)}
	c := &conn{srv: s, p: p, id: id, remote: nc.RemoteAddr().String()}
	c.run()
}
