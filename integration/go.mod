module github.com/oauthkit/oauthkit/integration

go 1.26.0

replace github.com/oauthkit/oauthkit => ..

require (
	github.com/alexedwards/scs/postgresstore v0.0.0-20251002162104-209de6e426de
	github.com/alexedwards/scs/redisstore v0.0.0-20251002162104-209de6e426de
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/gomodule/redigo v1.9.3
	github.com/lib/pq v1.12.3
	github.com/oauthkit/oauthkit v0.0.0-00010101000000-000000000000
	github.com/oauthkit/oauthkit/pgclaim v0.0.0-00010101000000-000000000000
	github.com/oauthkit/oauthkit/redisclaim v0.0.0-00010101000000-000000000000
)

require (
	github.com/coreos/go-oidc/v3 v3.21.0 // indirect
	github.com/go-jose/go-jose/v4 v4.1.4 // indirect
	golang.org/x/oauth2 v0.38.0 // indirect
)

replace github.com/oauthkit/oauthkit/redisclaim => ../redisclaim

replace github.com/oauthkit/oauthkit/pgclaim => ../pgclaim
