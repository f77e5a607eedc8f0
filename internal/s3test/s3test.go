// Package s3test gives tests the S3 server .ci/seaweedfs.sh starts and
// loopback proxies in front of it: CutProxy cuts connections mid-body;
// FaultProxy counts requests by S3 operation and, by rules, loses the
// answer of the N-th request of an operation after the server processed
// it, answers it with a 5xx (before or after forwarding it), or cuts its
// connection before forwarding it; Goroutines checks that a client left
// no goroutine behind.
package s3test

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Server is the real S3 server of the test run.
type Server struct {
	Endpoint string // http://127.0.0.1:port
	Bucket   string
}

// Require returns the server .ci/seaweedfs.sh started
// (DBCTL_S3_TEST_ENDPOINT, DBCTL_S3_TEST_BUCKET, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY). Without them the test is skipped with the reason,
// except under CI=true, where it fails: CI must run these tests.
func Require(t testing.TB) Server {
	t.Helper()
	s := Server{Endpoint: os.Getenv("DBCTL_S3_TEST_ENDPOINT"), Bucket: os.Getenv("DBCTL_S3_TEST_BUCKET")}
	if s.Endpoint == "" || s.Bucket == "" || os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		msg := "no S3 server: DBCTL_S3_TEST_ENDPOINT, DBCTL_S3_TEST_BUCKET and AWS_ACCESS_KEY_ID unset (. .ci/seaweedfs.sh && seaweedfs_start)"
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true: " + msg)
		}
		t.Skip(msg)
	}
	return s
}

// Available reports whether Require would not skip.
func Available() bool {
	return os.Getenv("CI") == "true" || os.Getenv("DBCTL_S3_TEST_ENDPOINT") != ""
}

// Location returns a fresh "s3://bucket/test/<name>-<random>" location.
func (s Server) Location(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", "-", " ", "_", "=", "-").Replace(t.Name())
	return "s3://" + s.Bucket + "/test/" + strings.ToLower(name) + "-" + hex.EncodeToString(b)
}

// CutProxy forwards TCP connections to the server and cuts every
// connection once it has carried more than Limit bytes towards the server
// (while Limit > 0): a connection dropped in the middle of a request body.
type CutProxy struct {
	Endpoint string // http://127.0.0.1:port of the proxy
	Limit    atomic.Int64
	Cuts     atomic.Int64
	ln       net.Listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

// NewCutProxy starts a proxy to target ("http://host:port"), closed when
// the test ends.
func NewCutProxy(t testing.TB, target string, limit int64) *CutProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &CutProxy{Endpoint: "http://" + ln.Addr().String(), ln: ln, conns: map[net.Conn]bool{}}
	p.Limit.Store(limit)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = true
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c, u.Host)
				p.mu.Lock()
				delete(p.conns, c)
				p.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns { // idle keep-alive connections of the client
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *CutProxy) serve(c net.Conn, target string) {
	defer c.Close()
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, up)
		c.Close()
		close(done)
	}()
	buf := make([]byte, 32<<10)
	var sent int64
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if lim := p.Limit.Load(); lim > 0 && sent+int64(n) > lim {
				_, _ = up.Write(buf[:lim-sent])
				p.Cuts.Add(1)
				// an abrupt close: the server sees a truncated body, the
				// client a reset connection
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
				c.Close()
				up.Close()
				<-done
				return
			}
			if _, werr := up.Write(buf[:n]); werr != nil {
				break
			}
			sent += int64(n)
		}
		if err != nil {
			break
		}
	}
	if tc, ok := up.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
}

// IsUploadPart reports whether r uploads a part of a multipart upload.
func IsUploadPart(r *http.Request) bool {
	q := r.URL.Query()
	return r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId")
}
