package notify_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/notify"
)

// The development outbox offers a reply box under each text message when ReplyURL is set, and only
// then; e-mails never get one.
func TestOutboxReplyBoxes(t *testing.T) {
	t.Parallel()
	page := func(o *notify.Outbox) string {
		rec := httptest.NewRecorder()
		o.ServeHTTP(rec, httptest.NewRequest("GET", "/dev/outbox", nil))
		b, err := io.ReadAll(rec.Result().Body)
		require.NoError(t, err)
		return string(b)
	}
	o := notify.NewOutbox(10)
	require.NoError(t, o.Send(t.Context(), smsTo("+14155550101")))
	require.NoError(t, o.Send(t.Context(), emailTo("ana@example.com")))
	require.NotContains(t, page(o), `class="reply"`, "a reply box without a ReplyURL")

	o.ReplyURL = "/dev/outbox/reply"
	p := page(o)
	require.Equal(t, 1, strings.Count(p, `<form class="reply" method="post" action="/dev/outbox/reply">`), "one reply box, for the text message only")
	require.Contains(t, p, `<input type="hidden" name="from" value="&#43;14155550101">`)
	require.Contains(t, p, `name="body"`)
}
