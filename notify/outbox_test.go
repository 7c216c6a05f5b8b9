package notify_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/notify"
)

func TestOutboxKeepsTheLastMessagesNewestFirst(t *testing.T) {
	t.Parallel()
	o := notify.NewOutbox(3)
	for i := 1; i <= 5; i++ {
		require.NoError(t, o.Send(t.Context(), smsTo(fmt.Sprintf("+1415555010%d", i))))
	}
	var got []string
	for _, m := range o.Messages() {
		got = append(got, m.To)
	}
	require.Equal(t, []string{"+14155550105", "+14155550104", "+14155550103"}, got)
}

func TestOutboxPartlyFilled(t *testing.T) {
	t.Parallel()
	o := notify.NewOutbox(0) // default capacity
	require.Empty(t, o.Messages())
	require.NoError(t, o.Send(t.Context(), smsTo("+14155550101")))
	require.NoError(t, o.Send(t.Context(), emailTo("ana@example.com")))
	msgs := o.Messages()
	require.Len(t, msgs, 2)
	require.Equal(t, "ana@example.com", msgs[0].To)
	require.Equal(t, "+14155550101", msgs[1].To)
}

func TestOutboxValidatesAndCopies(t *testing.T) {
	t.Parallel()
	o := notify.NewOutbox(10)
	require.ErrorIs(t, o.Send(t.Context(), smsTo("12345")), notify.ErrInvalidMessage)
	require.Empty(t, o.Messages(), "an invalid message is not kept")

	m := smsTo("+14155550100")
	m.Meta = map[string]string{"kind": "otp"}
	require.NoError(t, o.Send(t.Context(), m))
	m.Meta["kind"] = "changed by the caller"
	got := o.Messages()
	require.Equal(t, "otp", got[0].Meta["kind"])
	got[0].Meta["kind"] = "changed by a reader"
	require.Equal(t, "otp", o.Messages()[0].Meta["kind"])
}

func TestOutboxIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	o := notify.NewOutbox(8)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, o.Send(t.Context(), smsTo(fmt.Sprintf("+1415555%04d", i))))
			_ = o.Messages()
			rec := httptest.NewRecorder()
			o.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/outbox", nil))
		}()
	}
	wg.Wait()
	require.Len(t, o.Messages(), 8)
}

func newTestOutbox(t *testing.T) *notify.Outbox {
	t.Helper()
	o := notify.NewOutbox(10)
	o.Now = func() time.Time { return fixedNow }
	first := emailTo("ana@example.com")
	first.Subject = "First message"
	require.NoError(t, o.Send(t.Context(), first))
	require.NoError(t, o.Send(t.Context(), notify.Message{
		To:      "Eve <eve@example.com>",
		Channel: notify.Email,
		Subject: `<img src=x onerror=alert(1)>`,
		Text:    "Approve at https://example.com/verify?code=AB&x=1. Not javascript:alert(1) <script>alert(2)</script>",
		HTML:    `<p onclick="x()">Hi</p><script>alert(3)</script>`,
		Locale:  "en",
		Meta:    map[string]string{"kind": "<b>alert</b>"},
	}))
	return o
}

func TestOutboxPageEscapesEverythingAndLinksURLs(t *testing.T) {
	t.Parallel()
	o := newTestOutbox(t)
	rec := httptest.NewRecorder()
	o.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/outbox", nil))
	res := rec.Result()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'none'")
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	page := string(body)

	// The only script is the page's own refresher, allowed by its hash and nothing else.
	require.Equal(t, 1, strings.Count(page, "<script"), "no script but the refresher")
	_, script, ok := strings.Cut(page, `<script id="outbox-refresh">`)
	require.True(t, ok)
	script, _, _ = strings.Cut(script, "</script>")
	sum := sha256.Sum256([]byte(script))
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "; script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"';",
		"scripts are allowed by that hash only")
	require.NotContains(t, page, "<img")
	require.NotContains(t, page, "<b>alert")
	require.Contains(t, page, "&lt;script&gt;alert(2)&lt;/script&gt;")
	require.Contains(t, page, "&lt;img src=x onerror=alert(1)&gt;")
	require.Contains(t, page, `<a href="https://example.com/verify?code=AB&amp;x=1">https://example.com/verify?code=AB&amp;x=1</a>. Not javascript:alert(1)`,
		"the link is clickable and stops before the full stop; javascript: is left as text")
	require.Contains(t, page, `<iframe sandbox="" title="HTML body" srcdoc="&lt;p onclick=&#34;x()&#34;&gt;Hi&lt;/p&gt;&lt;script&gt;alert(3)&lt;/script&gt;">`,
		"the HTML body is shown only inside a sandboxed frame")
	require.Contains(t, page, "2025-03-14 15:09:26 UTC")
	require.Less(t, strings.Index(page, "eve@example.com"), strings.Index(page, "First message"), "newest first")
}

func TestOutboxJSON(t *testing.T) {
	t.Parallel()
	o := newTestOutbox(t)
	for name, req := range map[string]*http.Request{
		"query":  httptest.NewRequest(http.MethodGet, "/dev/outbox?format=json", nil),
		"accept": httptest.NewRequest(http.MethodGet, "/dev/outbox", nil),
	} {
		t.Run(name, func(t *testing.T) {
			if name == "accept" {
				req.Header.Set("Accept", "application/json")
			}
			rec := httptest.NewRecorder()
			o.ServeHTTP(rec, req)
			require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
			var got []map[string]any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			require.Len(t, got, 2)
			require.Equal(t, map[string]any{
				"seq":     float64(2),
				"sent_at": "2025-03-14T15:09:26Z",
				"to":      "Eve <eve@example.com>",
				"channel": "email",
				"subject": `<img src=x onerror=alert(1)>`,
				"text":    "Approve at https://example.com/verify?code=AB&x=1. Not javascript:alert(1) <script>alert(2)</script>",
				"html":    `<p onclick="x()">Hi</p><script>alert(3)</script>`,
				"locale":  "en",
				"meta":    map[string]any{"kind": "<b>alert</b>"},
			}, got[0])
			require.Equal(t, float64(1), got[1]["seq"])
		})
	}
}

func TestOutboxBrowserAcceptGetsHTMLAndOnlyGETIsAllowed(t *testing.T) {
	t.Parallel()
	o := newTestOutbox(t)
	req := httptest.NewRequest(http.MethodGet, "/dev/outbox", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8")
	rec := httptest.NewRecorder()
	o.ServeHTTP(rec, req)
	require.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))

	rec = httptest.NewRecorder()
	o.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/dev/outbox", nil))
	require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}

func TestOutboxEmptyPage(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	notify.NewOutbox(1).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/outbox", nil))
	require.Contains(t, rec.Body.String(), "No messages yet.")
}
