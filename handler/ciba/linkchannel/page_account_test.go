package linkchannel_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/ciba/linkchannel"
)

// TestLinkPageNamesTheAccount: the link page says which account approves with it (the subject, or
// Config.DescribeAccount's words for it), when the link was sent and until when it works, and keeps
// the "if you did not start this" warning beside two equal choices.
func TestLinkPageNamesTheAccount(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		describe func(context.Context, string) string
		want     string
	}{
		"subject":             {nil, "<b>alice</b>"},
		"described":           {func(_ context.Context, s string) string { return "Alice Liddell <" + s + "@example.com>" }, "<b>Alice Liddell &lt;alice@example.com&gt;</b>"},
		"described as nobody": {func(context.Context, string) string { return "" }, "<b>alice</b>"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(c *linkchannel.Config) { c.DescribeAccount = tc.describe })
			_, link := f.notify()
			status, page, _ := get(t, link)
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, page, `<dd id="account">`+tc.want+`</dd>`)
			require.Contains(t, page, "Sent</dt><dd>Fri 15 Jan, 08:00 UTC")
			require.Contains(t, page, "Link works until</dt><dd>Fri 15 Jan, 08:10 UTC")
			require.Contains(t, page, "If you did not start this yourself, choose Deny.")
			require.Contains(t, page, `<button class="allow" id="allow"`)
			require.Contains(t, page, `<button class="deny" id="deny"`)
		})
	}
}
