package registration_test

// Fixed keys, so that golden files are stable. Generated once with crypto/rand; none is used for anything
// but these tests.
const (
	ecPublicJWK  = `{"kty":"EC","kid":"k1","crv":"P-256","x":"LJodfDcugsHlY7fUlmA0eLXrU-0ADzt4beMpMANtMGI","y":"z31y5Kq2Ru6p4u63u3j48FqkgNWA-uYST4m-cFFnzBs"}`
	ecPrivateJWK = `{"kty":"EC","kid":"k1","crv":"P-256","x":"LJodfDcugsHlY7fUlmA0eLXrU-0ADzt4beMpMANtMGI","y":"z31y5Kq2Ru6p4u63u3j48FqkgNWA-uYST4m-cFFnzBs","d":"klU2j-swlMTcEPD5OKKnnfKNvaMIcbCHWWVmqHKFWbA"}`
	rsaPublicJWK = `{"kty":"RSA","kid":"r1","n":"xlyLSzHSOT-T99iR2m8EFqimratQAS33gf5p16EBCX18ujROtdsW0bHQmG5qjSoQ1WCTA2XCgJfngEo4qf6hoGWzmlzXobsp2QO5SuTS2qSlNxcyI3qXGsh_eH1RYsIKrEZVKbefHIXBHs8sdxjwBl5cOjRXb5kB5vFC_Nt4qOfvQwMO9hHv9plGx5qbHlSITWrSptjqf1nIYUNpp1tVrOCmZ2-tvWTouL8x_s3fVcTAOKVGCxul1j4sdOqmBDQwvaP3Kc3Jp7JYY3Z48X9kVJWrbJnbNcJOHny5X6r4KpsdSvWb3K-WGf0DX9CKYjwLPtN_8Itu4C6Vsb-lZsoIyQ","e":"AQAB"}`
	rsa1024JWK   = `{"kty":"RSA","kid":"r0","n":"viwKfg9Sf5U87llVvZcHENkWIa_iFGKtOEobWdyENNC0ye0ZEKxz86Y6uvEqiNQ19Ow7pq0v_bVieMTjncy6JZnMYgNqBrOr1uy79PVRY2EfNg98gmosZNlTki0E_ea6R758AR3lEM-A1OUYJTEDuV96Sj-yO52o37Ax6Jw4TWs","e":"AQAB"}`
	octJWK       = `{"kty":"oct","kid":"s1","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}`
)
