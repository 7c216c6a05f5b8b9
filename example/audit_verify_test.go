package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAuditVerifyEvents runs the example on a SQLite file, lets demo-ciba-poll ask for alice, approves
// through the admin API and redeems; after the server stops, audit-verify -events reads the request,
// the approval and the redemption from the file with the public keys only, one line each, under one
// request ID, and says the log is intact (seed 001: an audit trail of every decision, CIBA included).
func TestAuditVerifyEvents(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "grants.db")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	stderr := &bannerWriter{ready: make(chan struct{})}
	go func() {
		done <- run(ctx, []string{"-addr", addr, "-db", db, "-admin-token", "audit-test-admin"}, stderr)
	}()
	select {
	case <-stderr.ready:
	case err := <-done:
		t.Fatalf("serve ended: %v", err)
	}
	base := "http://" + addr
	post := func(path string, form url.Values, auth func(*http.Request), out any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		auth(req)
		postJSON(t, req, out)
	}
	client := func(r *http.Request) { r.SetBasicAuth("demo-ciba-poll", "demo-ciba-secret") }
	admin := func(r *http.Request) { r.Header.Set("Authorization", "Bearer audit-test-admin") }
	var ack struct {
		AuthReqID string `json:"auth_req_id"`
	}
	post("/oauth2/bc-authorize", url.Values{"scope": {"openid"}, "login_hint": {"alice"}}, client, &ack)
	post("/admin/ciba/approve", url.Values{"auth_req_id": {ack.AuthReqID}}, admin, &struct{}{})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	post("/oauth2/token", url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {ack.AuthReqID}}, client, &tok)
	if tok.AccessToken == "" {
		t.Fatal("no access token")
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/admin/audit/jwks", nil)
	admin(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	jwksPath := filepath.Join(dir, "audit-jwks.json")
	if err := os.WriteFile(jwksPath, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}

	var out bytes.Buffer
	if err := auditVerify(context.Background(), []string{"-db", db, "-jwks", jwksPath, "-events"}, &out); err != nil {
		t.Fatalf("audit-verify: %v\n%s", err, out.String())
	}
	var got, requests []string
	line := regexp.MustCompile(`^\d+ \S+ ciba pending/(\w+) subject=alice (?:actor=\S+ )?client=demo-ciba-poll request=(\S+)`)
	for _, l := range strings.Split(out.String(), "\n") {
		if m := line.FindStringSubmatch(l); m != nil {
			got, requests = append(got, m[1]), append(requests, m[2])
			if strings.Contains(l, ack.AuthReqID) || strings.Contains(l, tok.AccessToken) {
				t.Errorf("a secret in the audit log: %s", l)
			}
		}
	}
	if strings.Join(got, " ") != "requested approved redeemed" {
		t.Fatalf("CIBA events %v, want requested approved redeemed; output:\n%s", got, out.String())
	}
	if requests[0] != requests[1] || requests[1] != requests[2] {
		t.Errorf("request IDs %v differ", requests)
	}
	if !strings.Contains(out.String(), "audit log intact: ") {
		t.Errorf("no verdict:\n%s", out.String())
	}
}
