package memory

// SignInSessionCount is how many sign-in sessions the store holds, expired ones included (for tests).
func (s *MemoryStore) SignInSessionCount() int {
	s.signIn.mu.Lock()
	defer s.signIn.mu.Unlock()
	return len(s.signIn.sessions)
}
