// Package integration holds the kit's multi-instance tests against real
// session stores (Redis through scs's redisstore, PostgreSQL through
// postgresstore), in their own module so that redigo and lib/pq never enter
// the library's go.mod. The tests skip unless REDIS_URL / DATABASE_URL are
// set; .ci/run starts both servers and sets them.
//
// They also test redisclaim.Claimer, the StateClaimer shared by every
// instance, with which concurrent replays of one callback spread over
// instances reach the token endpoint at most once (security.md goal G5).
package integration
