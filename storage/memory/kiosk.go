package memory

// kioskStore holds the kiosk grant's in-memory state. Its zero value must be ready to use.
type kioskStore struct{}
