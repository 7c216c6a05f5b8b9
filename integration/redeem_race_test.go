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
			counts, _ := race(t, n, func(i int) (int, map[string]interface{}, error) {
				status, body := es[i%len(es)].poll("demo-device", da["device_code"].(string))
				return status, body, nil
			})
			require.Equal(t, map[string]int{"200": 1, "400 invalid_grant": n - 1}, counts)
		})
	}
}

// race sends n requests at once (request(i) sends the i-th) and counts their answers: "200", or the
// status and error code ("400 invalid_grant"). It returns the bodies of the 200 answers too.
func race(t *testing.T, n int, request func(i int) (int, map[string]interface{}, error)) (map[string]int, []map[string]interface{}) {
	t.Helper()
	type answer struct {
		status int
		body   map[string]interface{}
		err    error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-begin
			a := &answers[i]
			a.status, a.body, a.err = request(i)
		}()
	}
	close(begin)
	wg.Wait()

	counts := map[string]int{}
	var won []map[string]interface{}
	for _, a := range answers {
		require.NoError(t, a.err)
		if a.status == http.StatusOK {
			require.NotEmpty(t, a.body["access_token"])
			won = append(won, a.body)
			counts["200"]++
			continue
		}
		counts[fmt.Sprintf("%d %v", a.status, a.body["error"])]++
	}
	return counts, won
}
