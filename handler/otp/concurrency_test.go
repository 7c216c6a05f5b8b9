package otp_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fosite-contrib/grants/handler/otp"
)

// TestConcurrentGuessesStayWithinTheLimit: many wrong codes at once are each counted before they are
// compared, so no more than MaxAttempts are ever checked, and the challenge ends dead.
func TestConcurrentGuessesStayWithinTheLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := f.identify("1 Main St", "usage:read")
	f.send(c.OOBCode, "sms-1")
	code, _ := f.lastCode()

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		checked int // answers that say the code was compared (attempts_left)
	)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			guess := fmt.Sprintf("%06d", 100000+i)
			if guess == code {
				guess = "999999"
			}
			res := f.redeem(kioskID, c.OOBCode, guess)
			mu.Lock()
			defer mu.Unlock()
			if res.Status == http.StatusBadRequest && strings.Contains(string(res.Body), otp.AttemptsLeftParameter) {
				checked++
			}
		}(i)
	}
	wg.Wait()
	require.LessOrEqual(t, checked, 4, "at most MaxAttempts-1 wrong answers say attempts are left")
	res := f.redeem(kioskID, c.OOBCode, code)
	require.Equal(t, http.StatusBadRequest, res.Status, "the right code after the limit is refused")
}

// TestConcurrentRedemptionIssuesOnce: the right code presented many times at once yields tokens once.
func TestConcurrentRedemptionIssuesOnce(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f := newFixtureOn(t, b.open(t), nil)
			c := f.identify("1 Main St", "usage:read")
			f.send(c.OOBCode, "sms-1")
			code, _ := f.lastCode()
			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				ok     int
				server []string
			)
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res := f.redeem(kioskID, c.OOBCode, code)
					mu.Lock()
					defer mu.Unlock()
					if res.Status == http.StatusOK {
						ok++
					} else if res.Status >= 500 {
						server = append(server, string(res.Body))
					}
				}()
			}
			wg.Wait()
			require.Empty(t, server, "no server errors")
			require.Equal(t, 1, ok)
		})
	}
}
