package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPendingGrantLookupsUseTheirIndexes: the lookups a request makes by user code, login hint and
// subject read the partial indexes of migration 00060 (SQLite's plan), not the whole table.
func TestPendingGrantLookupsUseTheirIndexes(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "plan.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	for _, tc := range []struct {
		name, query, index string
		args               []any
	}{
		{"user code", queryByUserCode, "pending_grants_user_code", []any{"device_code", "sig", 0}},
		{"login hint", queryByLoginHint, "pending_grants_login_hint", []any{"device_code", "alice", "pending", 0}},
		{"approved by subject", queryApprovedBySubject, "pending_grants_subject", []any{"device_code", "alice", 0, "client", "approved", "consumed", 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := s.DB().Query("EXPLAIN QUERY PLAN "+tc.query, tc.args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			require.Contains(t, strings.Join(plan, "\n"), "USING INDEX "+tc.index)
		})
	}
}
