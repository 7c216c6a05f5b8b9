package compose

// Reciprocal holds the parts of Reciprocal OAuth.
type Reciprocal struct{}

// ReciprocalConfig configures the Reciprocal grant.
type ReciprocalConfig struct{}
