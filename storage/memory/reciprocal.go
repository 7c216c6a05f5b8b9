package memory

// reciprocalStore holds the reciprocal grant's in-memory state. Its zero value must be ready to use.
type reciprocalStore struct{}
