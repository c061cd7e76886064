package oauthkit

import "sync/atomic"

// Stats are counters of failures the kit absorbs so that a user's request
// still succeeds, which a log line alone would leave unnoticed. Export them
// to the site's metrics (expvar, Prometheus) by reading Kit.Stats.
type Stats struct {
	// RevocationFailures counts logout revocations the provider refused or
	// that could not reach it; the local logout went ahead each time, so the
	// provider grant may still be usable.
	RevocationFailures uint64
	// IndexFailures counts SessionIndex writes that failed at login (or on
	// the retry of a later request); the login went ahead, but until the
	// write succeeds the provider's logout notifications and
	// LogoutEverywhere do not find that session.
	IndexFailures uint64
}

type stats struct {
	revocationFailures atomic.Uint64
	indexFailures      atomic.Uint64
}

// Stats returns the kit's counters since New.
func (k *Kit) Stats() Stats {
	return Stats{
		RevocationFailures: k.stats.revocationFailures.Load(),
		IndexFailures:      k.stats.indexFailures.Load(),
	}
}
