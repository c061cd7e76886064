// Package integration holds the kit's multi-instance tests against real
// session stores (Redis through scs's redisstore, PostgreSQL through
// postgresstore), in their own module so that redigo and lib/pq never enter
// the library's go.mod. The tests skip unless REDIS_URL / DATABASE_URL are
// set; .ci/run starts both servers and sets them.
//
// They also test redisclaim.Claimer, the StateClaimer shared by every
// instance, with which concurrent replays of one callback spread over
// instances reach the token endpoint at most once.
//
// The client package is also tested here against an independent
// authorization server, ory/fosite in process (fosite_test.go), which
// enforces each client's registered auth method, PKCE, refresh rotation
// and RFC 7009 revocation.
//
// RP-Initiated Logout 1.0 and Back-Channel Logout 1.0 are tested against
// panva's oidc-provider (npm, OpenID Certified), which node runs from
// oidcprovider/ on loopback (oidcprovider_test.go). Those tests skip
// without node and npm, unless OAUTHKIT_REQUIRE_NODE=1 (set by .ci/run).
// logout_test.go runs them on three instances sharing Redis, then
// PostgreSQL: a logout received by one instance ends the sessions of the
// others.
//
// scale_test.go is the shared refresh: three instances × 50 concurrent
// Token calls per round against fosite (which revokes a grant whose old
// refresh token is reused) make exactly one refresh, with encrypted stores,
// a key rotation, a refresh outliving its lease and an unreachable store.
package integration
