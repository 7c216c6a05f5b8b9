package integration

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRedemptionRace: 32 token requests with one approved device code at once, over HTTP, on every
// store and spread over two instances sharing PostgreSQL (where the consume travels with the tokens
// and COMMIT, and a loser learns of the winner only at its commit): exactly one answer carries
// tokens, the others are invalid_grant (400), none is a server error.
func TestRedemptionRace(t *testing.T) {
	t.Parallel()
	for _, b := range refreshBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			es := startInstances(t, b.instances, b.dsn(t))
			status, da := es[0].post("/oauth2/device/auth", url.Values{"client_id": {"demo-device"}, "scope": {"openid offline_access"}}, nil)
			require.Equal(t, http.StatusOK, status, "%v", da)
			status, body := es[0].admin("/admin/device/approve", url.Values{"user_code": {da["user_code"].(string)}, "subject": {"alice"}})
			require.Equal(t, http.StatusOK, status, "%v", body)

			const n = 32
			type answer struct {
				status int
				body   map[string]interface{}
			}
			answers := make([]answer, n)
			var wg sync.WaitGroup
			begin := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-begin
					answers[i].status, answers[i].body = es[i%len(es)].poll("demo-device", da["device_code"].(string))
				}()
			}
			close(begin)
			wg.Wait()

			counts := map[string]int{}
			for _, a := range answers {
				if a.status == http.StatusOK {
					require.NotEmpty(t, a.body["access_token"])
					counts["200"]++
					continue
				}
				counts[fmt.Sprintf("%d %v", a.status, a.body["error"])]++
			}
			require.Equal(t, map[string]int{"200": 1, "400 invalid_grant": n - 1}, counts)
		})
	}
}
