package compose

// Reciprocal holds the parts of Reciprocal OAuth.
type Reciprocal struct{}
