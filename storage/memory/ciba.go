package memory

// cibaStore holds the ciba grant's in-memory state. Its zero value must be ready to use.
type cibaStore struct{}
