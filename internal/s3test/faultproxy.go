package s3test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Fault is what a FaultProxy does to a request a Rule selects.
type Fault string

const (
	// LoseAnswer forwards the request, reads the server's whole answer
	// (the request has taken effect), then cuts the client's connection
	// (RST) without answering: the write landed, the client cannot know.
	LoseAnswer Fault = "lose-answer"
	// FailBefore answers 500 InternalError without forwarding.
	FailBefore Fault = "5xx-before"
	// FailAfter forwards the request and, once the server answered,
	// answers 500 InternalError instead: the write landed, the client is
	// told it failed.
	FailAfter Fault = "5xx-after"
	// CutBefore cuts the client's connection (RST) before forwarding.
	CutBefore Fault = "cut-before"
)

// Faults are all the faults, in a fixed order.
var Faults = []Fault{LoseAnswer, FailBefore, FailAfter, CutBefore}

// Rule selects requests: the N-th (from 1) request of operation Op (see
// Operation; "" any) whose key ends with KeySuffix, and the Times-1 next
// ones of the same kind (Times 0 is 1; -1 is all from the N-th on).
type Rule struct {
	Op        string
	KeySuffix string
	N         int
	Times     int
	Fault     Fault
}

// Request is one request the proxy served.
type Request struct {
	Op, Key string
	Fault   Fault // "" when forwarded as it was
}

// FaultProxy is an HTTP proxy to the server that records every request by
// operation and applies Rules (and the Fail hook). Requests keep their Host
// header, so their signatures stay valid. It keeps no idle connection to
// the server, so that once its clients are gone it has no goroutine left
// but its listener's.
type FaultProxy struct {
	Endpoint string
	// Fail, when set, is asked about every request that no rule selects:
	// a status other than 0 is answered with that status and an S3 error
	// body of code, without forwarding.
	Fail func(r *http.Request) (status int, code string)

	target *url.URL
	up     *http.Transport
	mu     sync.Mutex
	rules  []*ruleState
	served []Request
}

type ruleState struct {
	Rule
	seen int
}

// NewFaultProxy starts a proxy to target, closed when the test ends.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{target: u, up: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(p.serve)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		p.up.CloseIdleConnections()
	})
	p.Endpoint = "http://" + ln.Addr().String()
	return p
}

// SetFail replaces the Fail hook.
func (p *FaultProxy) SetFail(f func(r *http.Request) (int, string)) {
	p.mu.Lock()
	p.Fail = f
	p.mu.Unlock()
}

// AddRule adds a rule; rules are tried in the order added.
func (p *FaultProxy) AddRule(r Rule) {
	p.mu.Lock()
	p.rules = append(p.rules, &ruleState{Rule: r})
	p.mu.Unlock()
}

// Requests returns the requests served so far, in order.
func (p *FaultProxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.served...)
}

// Count returns how many requests of operation op were served ("" all).
func (p *FaultProxy) Count(op string) int {
	n := 0
	for _, r := range p.Requests() {
		if op == "" || r.Op == op {
			n++
		}
	}
	return n
}

// Reset forgets the requests served and the rules.
func (p *FaultProxy) Reset() {
	p.mu.Lock()
	p.served, p.rules = nil, nil
	p.mu.Unlock()
}

// decide records r and returns the fault to apply ("" none).
func (p *FaultProxy) decide(r *http.Request) (Fault, func(*http.Request) (int, string)) {
	op, _, key := Operation(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	var fault Fault
	for _, rs := range p.rules {
		if (rs.Op != "" && rs.Op != op) || !strings.HasSuffix(key, rs.KeySuffix) {
			continue
		}
		rs.seen++
		times := rs.Times
		if times == 0 {
			times = 1
		}
		if rs.seen >= rs.N && (times < 0 || rs.seen < rs.N+times) {
			fault = rs.Fault
			break
		}
	}
	p.served = append(p.served, Request{Op: op, Key: key, Fault: fault})
	return fault, p.Fail
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	fault, fail := p.decide(r)
	switch fault {
	case "":
		if fail != nil {
			if status, code := fail(r); status != 0 {
				_, _ = io.Copy(io.Discard, r.Body)
				s3Error(w, status, code)
				return
			}
		}
	case FailBefore:
		_, _ = io.Copy(io.Discard, r.Body)
		s3Error(w, http.StatusInternalServerError, "InternalError")
		return
	case CutBefore:
		cut(w)
		return
	}
	resp, err := p.forward(r)
	if err != nil {
		cut(w) // the client's request was cancelled, or the server is gone
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case err != nil || fault == LoseAnswer:
		cut(w)
	case fault == FailAfter:
		s3Error(w, http.StatusInternalServerError, "InternalError")
	default:
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, bytes.NewReader(body))
	}
}

// forward sends r to the server as it came (Host, headers, body).
func (p *FaultProxy) forward(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.target.Scheme, p.target.Host
	out.Host = r.Host
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return p.up.RoundTrip(out)
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the test proxy</Message></Error>`, code)
}

// cut resets the client's connection without an answer.
func cut(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("s3test: the proxy's ResponseWriter cannot be hijacked")
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// Operation names the S3 operation of a path-style request, with its
// bucket and key: HeadBucket, ListObjectsV2, ListMultipartUploads,
// DeleteObjects, HeadObject, GetObject, PutObject, UploadPart,
// CreateMultipartUpload, CompleteMultipartUpload, AbortMultipartUpload,
// ListParts, DeleteObject, CopyObject; "" for others.
func Operation(r *http.Request) (op, bucket, key string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ = strings.Cut(path, "/")
	q := r.URL.Query()
	switch r.Method {
	case http.MethodHead:
		if key == "" {
			return "HeadBucket", bucket, key
		}
		return "HeadObject", bucket, key
	case http.MethodGet:
		switch {
		case key == "" && q.Has("uploads"):
			return "ListMultipartUploads", bucket, key
		case key == "":
			return "ListObjectsV2", bucket, key
		case q.Has("uploadId"):
			return "ListParts", bucket, key
		}
		return "GetObject", bucket, key
	case http.MethodPut:
		switch {
		case q.Has("partNumber") && q.Has("uploadId"):
			return "UploadPart", bucket, key
		case r.Header.Get("X-Amz-Copy-Source") != "":
			return "CopyObject", bucket, key
		}
		return "PutObject", bucket, key
	case http.MethodPost:
		switch {
		case key == "" && q.Has("delete"):
			return "DeleteObjects", bucket, key
		case q.Has("uploads"):
			return "CreateMultipartUpload", bucket, key
		case q.Has("uploadId"):
			return "CompleteMultipartUpload", bucket, key
		}
	case http.MethodDelete:
		if q.Has("uploadId") {
			return "AbortMultipartUpload", bucket, key
		}
		return "DeleteObject", bucket, key
	}
	return "", bucket, key
}
