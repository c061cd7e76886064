module github.com/oauthkit/oauthkit/pgclaim

go 1.26.0

replace github.com/oauthkit/oauthkit => ..

require github.com/oauthkit/oauthkit v0.0.0-00010101000000-000000000000

require (
	github.com/alexedwards/scs/v2 v2.9.0 // indirect
	github.com/coreos/go-oidc/v3 v3.21.0 // indirect
	github.com/go-jose/go-jose/v4 v4.1.4 // indirect
	golang.org/x/oauth2 v0.38.0 // indirect
)
