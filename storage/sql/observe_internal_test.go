package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOperation(t *testing.T) {
	for _, c := range []struct {
		name, query, want string
	}{
		{"select", "SELECT kind, state FROM pending_grants WHERE kind = ?", "select pending_grants"},
		{"select over lines", "SELECT a,\n\tb\n\tFROM\n\toutbox_messages WHERE x", "select outbox_messages"},
		{"insert", "INSERT INTO oauth2_access_tokens (signature) VALUES (?)", "insert oauth2_access_tokens"},
		{"update", "UPDATE pending_grants SET state = ?", "update pending_grants"},
		{"delete", "DELETE FROM pending_attempts WHERE window_end <= ?", "delete pending_attempts"},
		{"quoted, qualified", `SELECT 1 FROM "public"."pending_grants"`, "select public.pending_grants"},
		{"subquery", "SELECT COUNT(*) FROM (SELECT 1)", "select"},
		{"no table", "SELECT 1", "select"},
		{"cte", "WITH due AS (SELECT id FROM outbox_messages) UPDATE outbox_messages SET lease = ?", "with"},
		{"begin", "BEGIN IMMEDIATE", "begin"},
		{"unknown verb", "FROBNICATE everything", "other"},
		{"empty", "  ", "other"},
		{"not an identifier", "SELECT 1 FROM pending_grants';--", "select"},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, operation(c.query))
		})
	}
}
