package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// rawConn is one keep-alive HTTP/1.1 connection that writes pre-built POST requests and reads the
// answers with as little work as possible. A Go net/http client costs about as much CPU per request as
// the server under test, so on one core it, not the server, would set the pace; this one costs a
// fraction of that. It understands what the two servers send: Content-Length or chunked bodies.
type rawConn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	head []byte // request line and headers up to "Content-Length: "
	body []byte // scratch for the answer's body
}

func newRawConn(target string, basic string) (*rawConn, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	var h bytes.Buffer
	fmt.Fprintf(&h, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: grants-bench\r\nContent-Type: application/x-www-form-urlencoded\r\n", u.RequestURI(), u.Host)
	if basic != "" {
		fmt.Fprintf(&h, "Authorization: %s\r\n", basic)
	}
	h.WriteString("Content-Length: ")
	return &rawConn{addr: u.Host, head: h.Bytes()}, nil
}

func (rc *rawConn) dial() error {
	c, err := net.DialTimeout("tcp", rc.addr, 5*time.Second)
	if err != nil {
		return err
	}
	rc.c = c
	rc.r = bufio.NewReaderSize(c, 16<<10)
	rc.w = bufio.NewWriterSize(c, 8<<10)
	return nil
}

func (rc *rawConn) close() {
	if rc.c != nil {
		_ = rc.c.Close()
		rc.c = nil
	}
}

// post sends body and returns the status and the answer's body (valid until the next call). A broken
// connection is redialled once.
func (rc *rawConn) post(ctx context.Context, body []byte) (int, []byte, error) {
	for attempt := 0; ; attempt++ {
		if rc.c == nil {
			if err := rc.dial(); err != nil {
				return 0, nil, err
			}
		}
		_ = rc.c.SetDeadline(time.Now().Add(10 * time.Second))
		status, b, err := rc.roundTrip(body)
		if err == nil {
			return status, b, nil
		}
		rc.close()
		if attempt > 0 || ctx.Err() != nil {
			return 0, nil, err
		}
	}
}

func (rc *rawConn) roundTrip(body []byte) (int, []byte, error) {
	w := rc.w
	w.Write(rc.head)
	w.WriteString(strconv.Itoa(len(body)))
	w.WriteString("\r\n\r\n")
	w.Write(body)
	if err := w.Flush(); err != nil {
		return 0, nil, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closeAfter := -1, false, false
	for {
		line, err = rc.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, err
		}
		if len(line) <= 2 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case asciiEqualFold(k, "content-length"):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, nil, err
			}
		case asciiEqualFold(k, "transfer-encoding"):
			chunked = asciiEqualFold(v, "chunked")
		case asciiEqualFold(k, "connection"):
			closeAfter = asciiEqualFold(v, "close")
		}
	}
	rc.body = rc.body[:0]
	switch {
	case chunked:
		for {
			line, err = rc.r.ReadSlice('\n')
			if err != nil {
				return 0, nil, err
			}
			semi := bytes.IndexByte(line, ';')
			if semi < 0 {
				semi = len(line)
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(line[:semi])), 16, 64)
			if err != nil {
				return 0, nil, err
			}
			if n == 0 {
				// Trailers, then the final CRLF.
				for {
					line, err = rc.r.ReadSlice('\n')
					if err != nil {
						return 0, nil, err
					}
					if len(line) <= 2 {
						break
					}
				}
				break
			}
			if err := rc.readN(int(n)); err != nil {
				return 0, nil, err
			}
			if _, err := rc.r.Discard(2); err != nil {
				return 0, nil, err
			}
		}
	case length >= 0:
		if err := rc.readN(length); err != nil {
			return 0, nil, err
		}
	default:
		return 0, nil, errors.New("answer without Content-Length or chunked encoding")
	}
	if closeAfter {
		rc.close()
	}
	return status, rc.body, nil
}

func (rc *rawConn) readN(n int) error {
	start := len(rc.body)
	if cap(rc.body)-start < n {
		nb := make([]byte, start, start+n+1024)
		copy(nb, rc.body)
		rc.body = nb
	}
	rc.body = rc.body[:start+n]
	_, err := io.ReadFull(rc.r, rc.body[start:])
	return err
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
